"""Words and widths for what the commands print: plurals, the terminal's width, cut lines."""

import shutil

WIDTH = 100  # columns when the output is not a terminal (a pipe, a log file, CI)


def counted(n, noun, plural=None):
    """``counted(1, "job")`` -> "1 job", ``counted(2, "job")`` -> "2 jobs"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def terminal_width():
    """The terminal's width in columns (``COLUMNS`` if set), 100 when it is not a terminal."""
    return max(40, shutil.get_terminal_size((WIDTH, 24)).columns)


def clip(text, width):
    """``text`` cut to ``width`` characters, ending in "…" when it was cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"
