"""A CSV file's header as messages use it: two columns of one name refused (pandas would
rename the second ``a.1`` without a word), and the names shown briefly, never a file that is
not a table (``data.path=`` a password file must not print its first entry)."""

import re

SHOWN_COLUMNS = 10  # names a message lists at most
SHOWN_CHARS = 40  # characters of each name it shows at most
_MANGLED = re.compile(r"^(?P<name>.*)\.(?P<n>\d+)$")  # pandas' rename of a repeated name
# a header of one column shows its name only if it reads like a column's name
_PLAIN_NAME = re.compile(r"^[\w][\w .()%#+\-]{0,39}$")


def repeated_name(columns, path, sep):
    """The first column name the header of ``path`` holds twice, or None. pandas renames a
    repeated ``a`` to ``a.1``; only when such a name appears is the header read again raw."""
    columns = [str(c) for c in columns]
    present = set(columns)
    if not any((m := _MANGLED.match(c)) and m["name"] in present for c in columns):
        return None
    import pandas as pd

    raw = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
    seen = set()
    for name in raw.iloc[0].tolist() if len(raw) else []:
        if name in seen and name != "":
            return name
        seen.add(name)
    return None


def looks_like_table(columns):
    """Whether a header reads like column names: several columns, or one plain name."""
    columns = [str(c) for c in columns]
    if len(columns) >= 2:
        return True
    return bool(columns) and bool(_PLAIN_NAME.match(columns[0]))


def shown_columns(columns):
    """``"columns: a, b, c"`` with at most SHOWN_COLUMNS names, each cut to SHOWN_CHARS
    characters; ``"its first line does not read as column names"`` for a file that does not
    look like a CSV table (nothing of it is shown)."""
    columns = [str(c) for c in columns]
    if not looks_like_table(columns):
        return "its first line does not read as column names (is it a CSV file?)"
    names = [_cut(c) for c in columns[:SHOWN_COLUMNS]]
    more = len(columns) - SHOWN_COLUMNS
    return "columns: " + ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _cut(name):
    name = re.sub(r"[\x00-\x1f\x7f]", "?", name)  # a quoted name may hold a line break
    return name if len(name) <= SHOWN_CHARS else name[: SHOWN_CHARS - 3] + "..."
