"""What a sweep prints when it ends, as wide as the terminal (100 columns when the output is not
one): the best groups, then the jobs that did not finish ok. Everything else (every metric,
every job, full messages) is in summary.csv and ``python -m runner.compare``.

A regression sweep shows its RMSE and R² where a classification sweep shows accuracy (the
names come from ``runner.metric_names``).
"""

import math
import sys

import pandas as pd

from runner.metric_names import CLASSIFICATION, REGRESSION, headline, score_columns
from runner.progress import say
from runner.sweeps.labels import swept
from runner.text import clip, counted, terminal_width

CELL = 24  # widest value shown in a cell; longer ones end in "…"
LISTED = 10  # jobs that did not finish ok listed by name; the rest are counted


def best_groups(table, by, metric, width=None, task=CLASSIFICATION, jobs=None):
    """compare()'s table -> aligned text: the swept keys, runs, metric as mean ± half its 95%
    interval, then the task's scores, val_loss and seconds while they fit. Which groups are
    tied with the best is ``runner.compare``'s to say: its tests cost a second of imports at
    every sweep's end. ``jobs`` (the sweep's rows) gives the means of scores compare left out."""
    from runner.analysis.rendering import with_interval  # at the sweep's end, not its start

    width = width or terminal_width()
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
        (column, means.map(_number))
        for column in shown_columns(task)
        if column != metric and (means := _means(table, column, by, jobs)) is not None
    ]
    if table["not_ok"].any():
        optional.insert(0, ("not_ok", table["not_ok"].astype(int)))
    return _fitted(shown, optional, width)


def numbers_only(jobs, path):
    """The jobs with every metric cell that is neither empty nor a number (a reused job's
    garbled ledger row) made empty, each such cell named in a warning (at most five)."""
    from runner.analysis.ranking import METRICS, TEST_METRICS

    jobs = jobs.copy()
    bad_cells = []
    for column in [*METRICS, *TEST_METRICS, "best_val_loss", "seconds"]:
        if column not in jobs:
            continue
        numeric = pd.to_numeric(jobs[column], errors="coerce")
        text = jobs[column].astype(str).str.strip()
        bad = jobs[column].notna() & numeric.isna() & (text != "") & (text.str.lower() != "nan")
        bad_cells += [(index, column, jobs.at[index, column]) for index in jobs.index[bad]]
        jobs[column] = numeric
    for index, column, value in bad_cells[:5]:
        job = jobs.at[index, "job"] if "job" in jobs else index
        job = "-" if pd.isna(job) else int(job)
        say(
            f"warning: {path}: job {job}: {column} {str(value)[:40]!r} is not a number "
            "(its ledger row is damaged?); left out of the table",
            file=sys.stderr,
        )
    if len(bad_cells) > 5:
        more = counted(len(bad_cells) - 5, "more such cell")
        say(f"warning: {path}: {more}", file=sys.stderr)
    return jobs


def shown_columns(task):
    """Beside the ranked metric: the task's headline score and its higher-is-better ones
    (val_accuracy; val_rmse and val_r2), then val_loss and seconds."""
    scores = [headline(task)] + [c for c in score_columns(task, "val") if c.endswith("_r2")]
    return [*dict.fromkeys(scores), "val_loss", "seconds"]


def task_of_jobs(jobs):
    """Regression when the jobs recorded an RMSE (classification runs leave it empty)."""
    rmse = headline(REGRESSION)
    if rmse in jobs and pd.to_numeric(jobs[rmse], errors="coerce").notna().any():
        return REGRESSION
    return CLASSIFICATION


def _means(table, column, by, jobs):
    """Each group's mean of ``column``: compare's, or from the ok jobs; None if there is none."""
    if f"{column}_mean" in table:
        return table[f"{column}_mean"]
    if jobs is None or column not in jobs:
        return None
    ok = jobs[jobs["status"] == "ok"]
    values = ok[by].assign(_value=pd.to_numeric(ok[column], errors="coerce"))
    means = values.groupby(by, dropna=False)["_value"].mean().rename("_mean").reset_index()
    merged = table[by].merge(means, on=by, how="left")
    return None if merged["_mean"].isna().all() else merged["_mean"]


def _fitted(shown, optional, width):
    """Add the optional columns while they fit; drop swept keys (the last first) if needed."""
    text = _render(shown)
    for column, values in optional:
        candidate = shown.assign(**{column: values.to_numpy()})
        if _too_wide(_render(candidate), width):
            break
        shown, text = candidate, _render(candidate)
    while _too_wide(text, width) and len(shown.columns) > 2:  # many swept keys: keep the first ones
        shown = shown.drop(columns=shown.columns[len(shown.columns) - 3])
        text = _render(shown) + "\n(more swept keys in summary.csv)"
    return text


def not_ok(failed, jobs, width=None, listed=LISTED):
    """The jobs that did not finish ok, one line each and each within ``width`` columns: job,
    status, the overrides that set it apart from the sweep's other jobs (at most half the line),
    and what went wrong, last, cut where the line ends."""
    width = width or terminal_width()
    labels = dict(
        zip(jobs.index, swept(jobs.get("overrides", pd.Series("", jobs.index))), strict=True)
    )
    lines = []
    for index, row in failed.head(listed).iterrows():
        job = "-" if pd.isna(row.get("job")) else str(int(row["job"]))
        head = f"  job {job:>4}  {row['status']:<11}  "
        room = width - len(head)
        label = clip(labels.get(index, ""), max(room // 2, 10))
        message = (f"{label}: " if label else "") + str(row.get("message") or "")
        lines.append(head + clip(message, room))
    if len(failed) > listed:
        more = counted(len(failed) - listed, "more job")
        lines.append(clip(f"  ... and {more} (status and message in summary.csv)", width))
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
