"""``data.sep``: the character between a CSV's fields, given or detected from the file's start.

Detection reads the first lines only (at most :data:`SAMPLE_BYTES`), so it costs the same for
any file size, and the file is then parsed by pandas' C engine with that separator. (pandas'
own ``sep=None`` sniffs the same way but then parses the whole file with its python engine,
several times slower.) A header with a single candidate character in it settles the question
at once; a header with several (a quoted ``"a,b";c`` or a tab file with a comma in a name) is
settled by which candidate splits the first lines into the same number of fields, the most,
comma first on a tie.
"""

import csv

from runner.errors import ConfigError

AUTO = "auto"
CANDIDATES = (",", ";", "\t", "|")
NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
ALIASES = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
SAMPLE_BYTES = 64 * 1024
SAMPLE_LINES = 20


def check_sep(value):
    """``data.sep`` as given -> the separator, or AUTO; a config error otherwise."""
    if value == AUTO or value is None:
        return AUTO
    sep = ALIASES.get(value, value) if isinstance(value, str) else value
    if not (isinstance(sep, str) and len(sep) == 1 and sep not in "\"'\n\r"):
        raise ConfigError(
            "data.sep",
            value,
            "auto, or one character between fields (e.g. ';', '|', or tab)",
        )
    return sep


def resolve_sep(value, path):
    """The separator to read ``path`` with: ``data.sep`` as given, or detected when auto."""
    sep = check_sep(value)
    return detect(path) if sep == AUTO else sep


def shown(sep):
    """';' -> "semicolon-separated (';')", for messages."""
    name = NAMES.get(sep)
    return f"{name}-separated ({sep!r})" if name else f"separated by {sep!r}"


def detect(path):
    """The separator of the CSV at ``path``: comma unless its first lines say otherwise."""
    lines = _first_lines(path)
    header = next((line for line in lines if line.strip()), "")
    present = [c for c in CANDIDATES if c in header]
    if len(present) <= 1:
        return present[0] if present else ","
    return max(present, key=lambda sep: _score(lines, sep))


def _first_lines(path):
    with open(path, encoding="utf-8", errors="replace", newline="") as file:
        sample = file.read(SAMPLE_BYTES)
    lines = sample.splitlines()
    if len(sample) == SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # cut off mid-line
    return lines[:SAMPLE_LINES]


def _score(lines, sep):
    """(all lines split alike, fields in the header, is a comma): larger is likelier."""
    widths = [len(row) for row in csv.reader(lines, delimiter=sep) if row]
    if not widths:
        return (False, 0, sep == ",")
    return (len(set(widths)) == 1 and widths[0] > 1, widths[0], sep == ",")
