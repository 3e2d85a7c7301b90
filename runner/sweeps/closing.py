"""What a sweep prints when it ends, in at most 100 columns: the best groups, then the jobs that
did not finish ok. Everything else (every metric, every job, full messages) is in summary.csv
and ``python -m runner.compare``.
"""

import math

import pandas as pd

WIDTH = 100
CELL = 24  # widest value shown in a cell; longer ones end in "…"
LISTED = 10  # jobs that did not finish ok listed by name; the rest are counted


def best_groups(table, by, metric, width=WIDTH):
    """compare()'s table -> aligned text: the swept keys, runs, metric as mean ± half its 95%
    interval, then val_loss and seconds while they fit. Which groups are tied with the best is
    ``runner.compare``'s to say: its tests cost a second of imports at every sweep's end."""
    from runner.analysis.compare import with_interval  # at the sweep's end, not its start

    if table.empty:
        return "(no runs finished ok)"
    names = _short_names(by)
    shown = pd.DataFrame({names[key]: table[key].map(_cell) for key in by})
    shown["runs"] = table["n"].astype(int)
    shown[metric] = [
        with_interval(m, low, high, single="")
        for m, low, high in zip(
            table[f"{metric}_mean"], table[f"{metric}_low"], table[f"{metric}_high"], strict=True
        )
    ]
    optional = [
        (column, table[f"{column}_mean"].map(_number))
        for column in ("val_loss", "val_accuracy", "seconds")
        if column != metric and f"{column}_mean" in table
    ]
    if table["not_ok"].any():
        optional.insert(0, ("not_ok", table["not_ok"].astype(int)))
    text = _render(shown)
    for column, values in optional:
        candidate = shown.assign(**{column: values})
        if _too_wide(_render(candidate), width):
            break
        shown, text = candidate, _render(candidate)
    while _too_wide(text, width) and len(shown.columns) > 2:  # many swept keys: keep the first ones
        shown = shown.drop(columns=shown.columns[len(shown.columns) - 3])
        text = _render(shown) + "\n(more swept keys in summary.csv)"
    return text


def swept(overrides_of_jobs):
    """Each job's overrides without those every job shares: what tells it from the others."""
    lists = [str(o or "").split() for o in overrides_of_jobs]
    shared = set.intersection(*map(set, lists)) if len(lists) > 1 else set()
    return [" ".join(o for o in job if o not in shared) for job in lists]


def not_ok(failed, jobs, width=WIDTH, listed=LISTED):
    """The jobs that did not finish ok, one line each: job, status, the overrides that set it
    apart from the sweep's other jobs, and what went wrong."""
    lines = []
    labels = dict(
        zip(jobs.index, swept(jobs.get("overrides", pd.Series("", jobs.index))), strict=True)
    )
    for index, row in failed.head(listed).iterrows():
        job = "-" if pd.isna(row.get("job")) else str(int(row["job"]))
        head = f"  job {job:>4}  {row['status']:<11}  "
        label = labels.get(index, "")
        message = (f"{label}: " if label else "") + str(row.get("message") or "")
        room = width - len(head)
        lines.append(head + (message if len(message) <= room else message[: room - 1] + "…"))
    if len(failed) > listed:
        lines.append(f"  ... and {len(failed) - listed} more (status and message in summary.csv)")
    return "\n".join(lines)


def _short_names(by):
    """Swept keys by their last part (``learning_rate``) where that is still unambiguous."""
    last = [key.rsplit(".", 1)[-1] for key in by]
    return {
        key: (short if last.count(short) == 1 else key) for key, short in zip(by, last, strict=True)
    }


def _cell(value):
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= CELL else text[: CELL - 1] + "…"


def _number(value):
    return (
        "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"
    )


def _render(frame):
    return frame.to_string(index=False)


def _too_wide(text, width):
    return max(len(line) for line in text.splitlines()) > width
