"""Choosing runs before they are compared: ``--where`` (pandas query syntax, dotted names
allowed), ``--since``, ``--status``, ``--last``; and finding one run by folder, id or key."""

import difflib
import re
from pathlib import Path

import pandas as pd

from runner.records import STATUSES

_NAME = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_\d][\w]*)+")
_QUOTED = re.compile(r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`)")


class QueryError(Exception):
    """Reported as one line by the command."""


def where(runs, expression):
    """The runs for which ``expression`` holds. Dotted column names (``optimizer.learning_rate``)
    are written as they are; pandas needs them in backticks, which is done here outside quotes."""
    text = _backtick_dotted(expression, set(runs.columns))
    try:
        mask = runs.eval(text, engine="python")
    except Exception as error:  # noqa: BLE001 - any failure of the user's expression
        problem = str(error).splitlines()[0] if str(error) else type(error).__name__
        names = [n for n in _NAME.findall(expression) if n not in runs.columns]
        undefined = re.search(r"name '([^']+)' is not defined", problem)
        if undefined:
            names.append(undefined.group(1))
        if names:
            close = difflib.get_close_matches(names[0], list(runs.columns), n=3, cutoff=0.6)
            problem = f"no column {', '.join(names)}" + (
                f"; did you mean {', '.join(close)}?" if close else ""
            )
        raise QueryError(f"--where {expression!r}: {problem}") from None
    if not isinstance(mask, pd.Series) or mask.dtype != bool:
        raise QueryError(f"--where {expression!r}: is not a condition (true or false per run)")
    return runs[mask]


def _backtick_dotted(expression, columns):
    parts = _QUOTED.split(expression)
    for i in range(0, len(parts), 2):  # even parts lie outside quotes
        parts[i] = _NAME.sub(lambda m: f"`{m[0]}`" if m[0] in columns else m[0], parts[i])
    return "".join(parts)


def since(runs, date):
    try:
        start = pd.Timestamp(date)
    except ValueError:
        raise QueryError(
            f"--since {date}: not a date (e.g. 2026-12-01 or 2026-12-01T14:00)"
        ) from None
    started = pd.to_datetime(runs.get("started_at"), errors="coerce")
    return runs[started >= start]


def status(runs, wanted):
    names = [s.strip() for s in wanted.split(",") if s.strip()]
    bad = [n for n in names if n not in STATUSES]
    if bad:
        raise QueryError(
            f"--status {wanted}: unknown status {', '.join(bad)}; choose from {', '.join(STATUSES)}"
        )
    return runs[runs["status"].isin(names)]


def last(runs, count):
    started = pd.to_datetime(runs.get("started_at"), errors="coerce")
    return runs.loc[started.sort_values(kind="stable").index[-count:]].sort_index()


def find_run(runs, ref):
    """One run by its folder, run_id or run_key (the latest row of that key) -> a row."""
    if "run_dir" in runs:
        path = Path(ref).expanduser()
        if path.exists():
            wanted = str(path.resolve())
            dirs = runs["run_dir"].astype(str).map(lambda d: str(Path(d).resolve()))
            match = runs[dirs == wanted]
            if len(match):
                return match.iloc[-1]
    for column in ("run_id", "run_key"):
        if column in runs:
            match = runs[runs[column].astype(str) == ref]
            if len(match):
                return match.iloc[-1]
    raise QueryError(f"--diff {ref}: no run with that folder, run_id or run_key in the sources")
