"""The ranked group tables as a person reads them (aligned text) and as machines do (CSV,
JSON, markdown)."""

import pandas as pd

from runner.analysis.ranking import METRICS, TEST_METRICS
from runner.text import clip, terminal_width


def format_table(table, digits=4):
    """Aligned text a person reads at a glance."""
    if table.empty:
        return "(no runs finished ok)"
    shown = table.copy()
    for column in shown.columns:  # 3.0 read back from a CSV with gaps shows as 3
        values = pd.to_numeric(shown[column], errors="coerce")
        if values.notna().all() and (values % 1 == 0).all() and shown[column].dtype.kind == "f":
            shown[column] = values.astype("Int64")
    return shown.to_string(index=False, float_format=lambda v: f"{v:.{digits}g}", na_rep="-")


def format_not_ok(not_ok, width=None):
    """The runs left out of the averages, one line each, with what went wrong last, cut to the
    terminal's width (``width``; 100 columns when not a terminal)."""
    width = width or terminal_width()
    columns = [c for c in ["run_id", "job", "status", "overrides"] if c in not_ok.columns]
    shown = not_ok[columns].copy()
    for column in ("job",):
        if column in shown and shown[column].notna().all():
            shown[column] = shown[column].astype(int)
    if "overrides" in shown:
        shown["overrides"] = shown["overrides"].fillna("").astype(str).map(lambda t: clip(t, 40))
    lines = shown.to_string(index=False, na_rep="-").splitlines()
    messages = not_ok["message"].fillna("").astype(str) if "message" in not_ok else None
    if messages is not None:
        lines[0] += "  message"
        lines[1:] = [f"{line}  {m}" for line, m in zip(lines[1:], messages, strict=True)]
    return "\n".join(clip(line, width) for line in lines)


def format_groups(table, by, metric, only_changed=False, digits=4):
    """The group table as aligned text (see :func:`shown_groups`)."""
    if table.empty:
        return "(no runs finished ok)"
    return format_table(shown_groups(table, by, metric, only_changed, digits), digits)


def shown_groups(table, by, metric, only_changed=False, digits=4):
    """The group table as a person reads it: keys, n, the metric as mean ± half the interval,
    the other metrics' means, and who is tied with the best."""
    shown = table[by].copy()
    shown["n"] = table["n"]
    shown[metric] = [
        with_interval(m, lo, hi, digits)
        for m, lo, hi in zip(
            table[f"{metric}_mean"], table[f"{metric}_low"], table[f"{metric}_high"], strict=True
        )
    ]
    for column in [*METRICS, *TEST_METRICS, "seconds"]:
        if column != metric and f"{column}_mean" in table:
            shown[column] = table[f"{column}_mean"]
    if table["not_ok"].any():
        shown["not_ok"] = table["not_ok"]
    shown["vs best"] = [
        f"tied best (p={p:.2g})" if verdict == "tied best" and p == p else verdict
        for verdict, p in zip(table["vs_best"], table["p_value"], strict=True)
    ]
    if only_changed:
        keep = [
            c for c in shown.columns if c in ("n", metric) or shown[c].nunique(dropna=False) > 1
        ]
        shown = shown[keep]
    return shown


def with_interval(mean, low, high, digits=4, single=" (n=1)"):
    """``mean ± half its interval``; a group of one run has no interval: its value and
    ``single``."""
    if mean is None or mean != mean:
        return "-"
    if low is None or low != low:
        return f"{mean:.{digits}g}{single}"
    return f"{mean:.{digits}g} ± {(high - low) / 2:.2g}"


def render(results, fmt, only_changed=False):
    """The tables of every section in a machine-readable format, a ``section`` column first."""
    frames = []
    for title, _part, by, metric, table, _not_ok in results:
        frame = table.copy()
        if only_changed:
            frame = frame[
                [c for c in frame.columns if c not in by or frame[c].nunique(dropna=False) > 1]
            ]
        frame.insert(0, "section", title)
        frame.insert(1, "metric", metric)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True, sort=False)
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "json":
        return table.to_json(orient="records", indent=1) + "\n"
    return _markdown(table)


def _markdown(table):
    def cell(value):
        if isinstance(value, float):
            return "" if value != value else f"{value:.4g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"
