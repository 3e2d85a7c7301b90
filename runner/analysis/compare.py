"""``python -m runner.compare``: many runs -> one table, grouped, averaged over seeds, best first."""

import argparse
import difflib
import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from runner.analysis import grouping, query, stats
from runner.analysis.grouping import GROUP_CHOICES
from runner.metric_names import higher_is_better
from runner.records import UNRECORDED, read_runs

# shown beside the ranked metric, those the runs have values of (accuracy for classification;
# RMSE, MAE and R² for regression)
METRICS = [
    "val_accuracy",
    "val_rmse",
    "val_r2",
    "val_loss",
    "train_accuracy",
    "train_rmse",
    "train_loss",
    "val_mae",
]
CURVE_METRICS = set(METRICS)  # columns of metrics.csv that make a curve
# shown beside the ranked metric when runs have a test split; never ranked by default: picking
# the best run on its test figure would make that figure as optimistic as the validation one
TEST_METRICS = ["test_accuracy", "test_rmse", "test_r2", "test_loss"]
DEFAULT_LEDGER = Path("outputs") / "runs.csv"
TEXT_COLUMNS = {
    "run_id": str,
    "run_key": str,
    "reused_from": str,
    "run_dir": str,
    "data_sha256": str,
}


class CompareError(Exception):
    """A problem with the sources or options; reported as one line."""


def load_runs(sources):
    """Ledger files, summary.csv files, sweep or run folders -> one DataFrame, one row per run."""
    frames = []
    for source in sources or [DEFAULT_LEDGER]:
        for path in _csv_files(Path(source)):
            try:
                frame = read_runs(path, dtype=TEXT_COLUMNS)  # a key of digits stays text
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
                raise CompareError(f"{path} is not a readable CSV file ({error})") from None
            if "status" not in frame.columns:
                raise CompareError(
                    f"{path} has no 'status' column; pass a runs.csv ledger, a summary.csv or a run/sweep folder"
                )
            frames.append(frame)
    runs = pd.concat(frames, ignore_index=True, sort=False)
    if "run_id" in runs.columns:
        keep = runs["run_id"].isna() | ~runs["run_id"].duplicated()
        runs = runs[keep].reset_index(drop=True)
    return runs


def _csv_files(source):
    if source.is_file():
        return [source]
    if source.is_dir():
        if (source / "summary.csv").is_file():
            return [source / "summary.csv"]
        found = sorted(source.rglob("summary.csv"))
        if found:
            return found
        raise CompareError(
            f"{source} holds no summary.csv; pass a sweep folder, a run folder or a runs.csv ledger"
        )
    if source == DEFAULT_LEDGER:
        raise CompareError(
            f"no ledger at {source}; run `python -m runner` first, or pass sweep or run folders"
        )
    raise CompareError(f"no such file or folder: {source}")


UNRECORDED_NOTE = (
    "of these jobs left no record of their own (killed by SIGKILL or out of memory?): "
    "their rows come from the sweep summary, marked failed, and no ledger row exists"
)


def count_unrecorded(runs):
    """Rows the sweep summary wrote for jobs that could not record themselves."""
    if "message" not in runs:
        return 0
    return int(runs["message"].astype(str).str.startswith(UNRECORDED).sum())


def default_by(runs):
    """The config keys that tell the ok runs' groups apart (see ``grouping.default_by``); when
    every run shares one config, its model choice, so the table has one row."""
    return grouping.default_by(runs) or [c for c in GROUP_CHOICES if c in runs.columns][:1]


def default_metric(runs):
    metric = grouping.default_metric(runs)
    if metric is None:
        raise CompareError("the runs have no metric values yet (every run failed?)")
    return metric


def check_columns(runs, columns, option):
    for column in columns:
        if column not in runs.columns:
            close = difflib.get_close_matches(column, list(runs.columns), n=3, cutoff=0.6)
            hint = (
                f"did you mean {', '.join(close)}?"
                if close
                else (f"columns include: {', '.join(_useful_columns(runs))}")
            )
            raise CompareError(f"{option} {column}: no column '{column}' in the runs; {hint}")


def compare(runs, by, metric, level=0.95, method="t", at="last", seed=0, ties=True):
    """-> (table of ok runs per group, best first; DataFrame of runs that did not finish ok).

    Each group has ``n``, the mean and std of ``metric`` and the ``level`` confidence interval
    of the mean (``_low``, ``_high``; Student's t, or the BCa bootstrap), and ``vs_best``:
    ``best``, ``tied`` (a test on the runs cannot tell it from the best at ``level``; its
    p-value in ``p_value``), empty (worse), or ``n=1`` (one run: nothing to tell). With
    ``ties=False`` no test is run (and ``scipy.stats``, half a second to import, not loaded):
    ``vs_best`` is empty but for the best.
    """
    check_columns(runs, by, "--by")
    check_columns(runs, [metric], "--metric")
    ok = runs[runs["status"] == "ok"]
    _check_numeric(ok, metric)
    values, _ = grouping.values_at(ok, metric, at)
    others = [m for m in METRICS if m != metric and _has_values(ok, m)]
    tested = [m for m in TEST_METRICS if _has_values(ok, m)]
    extra = [*others, *tested, *(["seconds"] if "seconds" in runs.columns else [])]
    frame = ok[by].copy()
    frame["_value"] = values
    for column in extra:
        frame[column] = pd.to_numeric(ok[column], errors="coerce")
    grouped = frame.groupby(by, dropna=False, sort=False)
    table = grouped["_value"].agg(["count", "mean", "std"]).reset_index()
    table.columns = [*by, "n", f"{metric}_mean", f"{metric}_std"]
    for column in extra:
        table[f"{column}_mean"] = grouped[column].mean().to_numpy()
    if table.empty:
        for column in (f"{metric}_low", f"{metric}_high", "not_ok", "vs_best", "p_value"):
            table[column] = []
        return table, runs[runs["status"] != "ok"]
    samples, seeds = _per_group(grouped.ngroup().to_numpy(), len(table), values, ok)
    low, high = stats.intervals(samples, level=level, method=method, seed=seed)
    table.insert(len(by) + 3, f"{metric}_low", low)
    table.insert(len(by) + 4, f"{metric}_high", high)
    not_ok = runs[runs["status"] != "ok"]
    table["not_ok"] = 0
    if len(not_ok) and len(table):
        counts = not_ok.groupby(by, dropna=False).size().rename("_not_ok").reset_index()
        table = table.merge(counts, on=by, how="left")
        table["not_ok"] = table.pop("_not_ok").fillna(0).astype(int)
    # groups of fewer than 2 runs are listed after the ranked ones: one run is not a ranking
    ranked = pd.DataFrame(
        {"few": [len(v) < 2 for v in samples], "mean": table[f"{metric}_mean"]}
    ).sort_values(
        ["few", "mean"],
        ascending=[True, not higher_is_better(metric)],
        na_position="last",
        kind="stable",
    )
    order = ranked.index
    table = table.loc[order].reset_index(drop=True)
    samples = [samples[i] for i in order]
    seeds = [seeds[i] for i in order]
    if ties:
        table["vs_best"], table["p_value"] = _against_best(
            samples, seeds, table[f"{metric}_low"], table[f"{metric}_high"], level
        )
    else:  # no test, no claim: a ranking without one is only an order
        table["vs_best"] = [_few(v) for v in samples]
        table["p_value"] = math.nan
    return table, not_ok


def _has_values(runs, column):
    return column in runs and pd.to_numeric(runs[column], errors="coerce").notna().any()


def _few(values):
    return f"n={len(values)}" if len(values) < 2 else ""


def _per_group(codes, groups, values, ok):
    """Each group's values (NaN left out) and the seeds they came from, in table order."""
    values = values.to_numpy(dtype=float)
    seed_column = ok["seed"].to_numpy() if "seed" in ok else np.arange(len(ok))
    if "data.fold" in ok and ok["data.fold"].notna().any():  # a run is a (seed, fold) pair
        seed_column = (ok["seed"].astype(str) + "/" + ok["data.fold"].astype(str)).to_numpy()
    order = np.argsort(codes, kind="stable")
    cuts = np.searchsorted(codes[order], np.arange(1, groups))
    samples, seeds = [], []
    for part in np.split(order, cuts):
        present = part[~np.isnan(values[part])]
        samples.append(values[present])
        seeds.append(seed_column[present])
    return samples, seeds


def _against_best(samples, seeds, low, high, level):
    """Per group, in table order (the groups of 2 runs or more first, best mean first):
    ``best`` (every other ranked group is told apart from it at ``level``), ``tied best`` (it
    and every group a test cannot tell from it; the first's p-value is empty), "" (worse),
    ``n=1`` (one run: listed, not ranked), with the test's p-value."""
    verdicts, p_values = [_few(v) for v in samples], [math.nan] * len(samples)
    if not samples or len(samples[0]) < 2:
        return verdicts, p_values
    rivals = [i for i in range(1, len(samples)) if len(samples[i]) >= 2]
    for i in rivals:
        if high.iloc[i] < low.iloc[0] or low.iloc[i] > high.iloc[0]:  # apart: no test needed
            continue
        p, _ = stats.difference_test(samples[0], samples[i], seeds[0], seeds[i])
        p_values[i] = p
        if p >= 1 - level:
            verdicts[i] = "tied best"
    if rivals:
        verdicts[0] = "tied best" if "tied best" in verdicts else "best"
    return verdicts, p_values


def _check_numeric(ok, metric):
    """A metric cell that is neither empty nor a number is named, not silently dropped."""
    column = ok[metric]
    numeric = pd.to_numeric(column, errors="coerce")
    bad = column.notna() & numeric.isna() & (column.astype(str).str.strip() != "")
    if bad.any():
        where = ok.loc[bad, "run_id"] if "run_id" in ok else ok.index[bad]
        pairs = list(zip(where.index, where, strict=True))[:5]
        shown = ", ".join(f"{name} ({column[i]!r})" for i, name in pairs)
        more = f" and {int(bad.sum()) - 5} more" if bad.sum() > 5 else ""
        raise CompareError(f"--metric {metric}: not a number in runs {shown}{more}")


def group_label(key, by):
    values = key if isinstance(key, tuple) else (key,)
    return ", ".join(f"{column}={_short(value)}" for column, value in zip(by, values, strict=True))


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def group_curves(runs, by, metric):
    """{group label: DataFrame(epoch, one column per ok run)} of ``metric`` per epoch, read from
    each run's metrics.csv (runs whose folder is gone are skipped)."""
    plain = metric.removeprefix("best_").removeprefix("test_").removeprefix("val_")
    column = metric if metric in CURVE_METRICS else f"val_{plain}"
    column = column if column in CURVE_METRICS else "val_loss"
    curves = {}
    ok = runs[runs["status"] == "ok"]
    for key, group in ok.groupby(by, dropna=False, sort=False):
        series = []
        for run_id, run_dir in zip(group.get("run_id", group.index), group["run_dir"], strict=True):
            path = Path(str(run_dir)) / "metrics.csv"
            if path.is_file():
                metrics = pd.read_csv(path)
                if column in metrics:
                    series.append(metrics.set_index("epoch")[column].rename(str(run_id)))
        if series:
            curves[group_label(key, by)] = pd.concat(series, axis=1).sort_index().reset_index()
    return curves, column


def pivot(runs, row, column, metric):
    """Mean of ``metric`` over ok runs as a ``row`` x ``column`` grid."""
    for name in (row, column):
        if name not in runs.columns:
            raise CompareError(
                f"no column '{name}' to pivot on; columns include: {', '.join(_useful_columns(runs))}"
            )
    ok = runs[runs["status"] == "ok"]
    return ok.pivot_table(index=row, columns=column, values=metric, aggfunc="mean")


def _pivot_means(runs, by, shown):
    """What each cell of a pivot is the mean of: the seeds, and every grouping key not shown."""
    ok = runs[runs["status"] == "ok"]
    hidden = [c for c in by if c not in shown and c in ok and ok[c].nunique(dropna=False) > 1]
    over = ", ".join(["seeds", *hidden]) if hidden else "seeds"
    section = "" if len(runs) == len(ok) else " (ok runs only)"
    return f"each cell is the mean over {over}{section}"


def _useful_columns(runs):
    return [c for c in runs.columns if c in GROUP_CHOICES or "." in c or c in METRICS][:25]


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
    width = width or shutil.get_terminal_size((100, 24)).columns
    columns = [c for c in ["run_id", "job", "status", "overrides"] if c in not_ok.columns]
    shown = not_ok[columns].copy()
    for column in ("job",):
        if column in shown and shown[column].notna().all():
            shown[column] = shown[column].astype(int)
    if "overrides" in shown:
        shown["overrides"] = shown["overrides"].fillna("").astype(str).map(lambda t: _cut(t, 40))
    lines = shown.to_string(index=False, na_rep="-").splitlines()
    messages = not_ok["message"].fillna("").astype(str) if "message" in not_ok else None
    if messages is not None:
        lines[0] += "  message"
        lines[1:] = [f"{line}  {m}" for line, m in zip(lines[1:], messages, strict=True)]
    return "\n".join(_cut(line, width) for line in lines)


def _cut(text, width):
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _count(n, word):
    """``1 run``, ``2 runs``."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def add_selection_arguments(parser):
    """The arguments that choose and group runs, shared with ``runner.report``."""
    parser.add_argument(
        "sources",
        nargs="*",
        help=f"runs.csv ledgers, summary.csv files, sweep or run folders (default: {DEFAULT_LEDGER})",
    )
    parser.add_argument(
        "--by",
        help="comma-separated columns to group on, e.g. model,optimizer.learning_rate (default: every config key that differs, except seed)",
    )
    parser.add_argument(
        "--metric",
        help="column to rank by (default: the objective the runs recorded, val_loss unless set; the same rule picks predict's best); losses, RMSE and MAE rank low first, accuracies and R² high first",
    )
    parser.add_argument(
        "--pivot",
        nargs=2,
        metavar=("ROW", "COL"),
        help="also show the metric as a ROW x COL grid, e.g. optimizer.learning_rate model.width",
    )
    parser.add_argument(
        "--where",
        metavar="EXPR",
        help="keep the runs for which EXPR holds (pandas query syntax, dotted names allowed), e.g. \"model == 'dense3' and optimizer.learning_rate < 0.05\"",
    )
    parser.add_argument("--since", metavar="DATE", help="keep runs started on or after DATE")
    parser.add_argument("--status", help="keep runs of these statuses, e.g. ok or failed,diverged")
    parser.add_argument("--last", type=int, metavar="N", help="keep the N runs started last")
    parser.add_argument(
        "--all-repeats",
        action="store_true",
        help="count every run, also repeats of the same experiment (same run_key); by default one run per key counts",
    )


def selected_runs(args):
    """The sources' runs filtered as asked -> (runs, repeats of an experiment left out)."""
    runs = load_runs(args.sources)
    try:
        if args.where:
            runs = query.where(runs, args.where)
        if args.since:
            runs = query.since(runs, args.since)
        if args.status:
            runs = query.status(runs, args.status)
        if args.last:
            runs = query.last(runs, args.last)
    except query.QueryError as error:
        raise CompareError(str(error)) from None
    if runs.empty:
        raise CompareError("no runs are left after --where/--since/--status/--last")
    if args.all_repeats:
        return runs.reset_index(drop=True), 0
    runs, repeats = grouping.one_per_experiment(runs)
    return runs.reset_index(drop=True), repeats


def _listed(text):
    return [c.strip() for c in text.split(",") if c.strip()] if text else []


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m runner.compare",
        description="Group runs, average over seeds with confidence intervals, and sort best "
        "first, a section per dataset, task and objective.",
    )
    add_selection_arguments(parser)
    parser.add_argument(
        "--ci",
        type=float,
        default=0.95,
        help="confidence level of the intervals and tests (default 0.95)",
    )
    parser.add_argument(
        "--ci-method",
        choices=stats.METHODS,
        default="t",
        help="t: Student's t interval (right at 3-5 seeds; the default); bootstrap: BCa, seeded, for skewed metrics and 20 or more seeds",
    )
    parser.add_argument(
        "--at",
        choices=("last", "best"),
        default="last",
        help="the metric at the last epoch (default) or at the epoch of lowest val_loss (from metrics.csv)",
    )
    parser.add_argument(
        "--seeds-needed",
        action="store_true",
        help="estimate how many seeds would tell the top two groups apart at the current spread",
    )
    parser.add_argument(
        "--diff",
        nargs=2,
        metavar=("A", "B"),
        help="show what differs between two runs (run folders, run_ids or run_keys)",
    )
    parser.add_argument(
        "--only-changed",
        action="store_true",
        help="hide the table's columns that are the same in every row",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="how to print the tables: text (default), csv, json, markdown",
    )
    parser.add_argument(
        "--out", help="also write the tables to this file (csv, or json/markdown by --format)"
    )
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help="draw the groups' validation curves (mean line, min-max band over runs); with --pivot, the grid as a heatmap",
    )
    args = parser.parse_args(argv)
    if not 0 < args.ci < 1:
        parser.error(f"--ci {args.ci}: a level between 0 and 1, e.g. 0.9")
    return args


FORMATS = ("text", "csv", "json", "markdown")


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.diff:
            print(diff(load_runs(args.sources), *args.diff))
            return 0
        runs, repeats = selected_runs(args)
        results = []
        for title, part in grouping.sections(runs):
            by = _listed(args.by) or default_by(part)
            metric = args.metric or grouping.default_metric(part)
            if metric is None:  # nothing finished ok here: its runs are listed, not ranked
                metric = next((m for m in METRICS if m in part), METRICS[0])
                part = part.assign(**{metric: part.get(metric)})
            table, not_ok = compare(part, by, metric, args.ci, args.ci_method, args.at)
            results.append((title, part, by, metric, table, not_ok))
        if all(r[4].empty for r in results) and args.metric is None:
            default_metric(runs)  # raises: the runs have no metric values yet
        grid = pivot(results[0][1], *args.pivot, results[0][3]) if args.pivot else None
    except CompareError as error:
        print(f"compare: {error}", file=sys.stderr)
        return 2
    if args.format == "text":
        _print_text(results, args, repeats, len(runs))
    else:
        print(render(results, args.format, args.only_changed), end="")
    unrecorded = count_unrecorded(runs)
    if unrecorded and args.format == "text":
        print(f"\nnote: {unrecorded} {UNRECORDED_NOTE}")
    if grid is not None:
        title, part, by, metric, *_ = results[0]
        print(
            f"\n{metric}, {args.pivot[0]} x {args.pivot[1]}: {_pivot_means(part, by, args.pivot)}"
        )
        print(grid.to_string(float_format=lambda v: f"{v:.4g}", na_rep="-"))
    if args.out:
        fmt = args.format if args.format in ("json", "markdown") else "csv"
        Path(args.out).write_text(render(results, fmt, args.only_changed))
        if args.format == "text":
            print(f"\ntable written to {args.out}")
    if args.plot:
        title, part, by, metric, *_ = results[0]
        return _plot(args.plot, part, by, metric, grid)
    return 0


def _print_text(results, args, repeats, total):
    level = f"{args.ci:.0%}"
    method = "t" if args.ci_method == "t" else "BCa bootstrap"
    counted = _count(total, "run") + (
        f" ({repeats} {'repeat' if repeats == 1 else 'repeats'} of the same experiments not "
        "counted; --all-repeats counts them)"
        if repeats
        else ""
    )
    print(counted)
    for title, _part, by, metric, table, not_ok in results:
        order = "higher" if higher_is_better(metric) else "lower"
        at = "at the epoch of lowest val_loss" if args.at == "best" else "at the last epoch"
        if len(results) > 1 or title:
            print(f"\n== {title} ==")
        recorded = _part.get("objective", pd.Series(dtype=object)).dropna().astype(str)
        why = " (the runs' objective)" if metric in set(recorded) else ""
        print(
            f"grouped by {', '.join(by)}; ranked by {metric}{why} {at} ({order} is better); "
            f"± is the {level} {method} interval of the mean; tied best: not told apart from the "
            f"best at {level}; a group of one run is listed, not ranked\n"
        )
        print(format_groups(table, by, metric, args.only_changed))
        if args.seeds_needed:
            print(_seeds_needed(table, _part, by, metric, args))
        if len(not_ok):
            print(f"\nnot averaged: {_count(len(not_ok), 'run')} did not finish ok")
            print(format_not_ok(not_ok))


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


def _seeds_needed(table, runs, by, metric, args):
    if len(table) < 2:
        return "\nseeds needed: there is one group; nothing to tell apart"
    ok = runs[runs["status"] == "ok"]
    values, _ = grouping.values_at(ok, metric, args.at)
    groups = []
    for i in (0, 1):
        match = pd.Series(True, index=ok.index)
        for column in by:
            key = table[column].iloc[i]
            match &= ok[column].isna() if key != key else ok[column] == key
        groups.append(values[match].dropna().to_numpy())
    needed = stats.seeds_needed(groups[0], groups[1], args.ci)
    names = [group_label(tuple(table[by].iloc[i]), by) for i in (0, 1)]
    if needed is None:
        return f"\nseeds needed: {names[0]} and {names[1]} show no gap to estimate from (n={len(groups[0])}, {len(groups[1])})"
    return (
        f"\nseeds needed: about {needed} per group to tell {names[0]} from {names[1]} "
        f"at {args.ci:.0%} with {stats.POWER:.0%} power, if the gap and spread are what "
        f"{len(groups[0])} and {len(groups[1])} runs show"
    )


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


def diff(runs, a, b):
    """What differs between two runs: the config keys whose values differ, then the metrics."""
    try:
        first, second = query.find_run(runs, a), query.find_run(runs, b)
    except query.QueryError as error:
        raise CompareError(str(error)) from None
    keys = [
        c
        for c in grouping.config_columns(runs)
        if (grouping.groupable(c) or c == "seed") and not _same(first.get(c), second.get(c))
    ]
    lines = [f"A: {_describe(first)}", f"B: {_describe(second)}", ""]
    if keys:
        frame = pd.DataFrame(
            {
                "key": keys,
                "A": [config_value(first.get(k)) for k in keys],
                "B": [config_value(second.get(k)) for k in keys],
            }
        )
        lines += [f"{len(keys)} config keys differ:", frame.to_string(index=False, na_rep="-")]
    else:
        lines.append(
            "the configs are the same (the run_key says so too)"
            if first.get("run_key") == second.get("run_key")
            else "the configs are the same"
        )
    metrics = [
        m
        for m in [*METRICS, "best_val_loss", "best_val_accuracy", "epochs_done", "seconds"]
        if m in runs
    ]
    frame = pd.DataFrame(
        {
            "metric": metrics,
            "A": [pd.to_numeric(first.get(m), errors="coerce") for m in metrics],
            "B": [pd.to_numeric(second.get(m), errors="coerce") for m in metrics],
        }
    )
    frame["B - A"] = frame["B"] - frame["A"]
    lines += ["", frame.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="-")]
    return "\n".join(lines)


def config_value(value):
    """A config value as the config holds it: floats in their shortest exact form (1e-07,
    0.0005, not 0.0), whole numbers without ``.0`` (a CSV column with gaps reads ints as
    floats), nothing for a key the run did not have."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    return str(value)


def _same(x, y):
    missing = lambda v: v is None or (isinstance(v, float) and v != v)  # noqa: E731
    if missing(x) or missing(y):
        return missing(x) and missing(y)
    return str(x) == str(y) or (
        pd.to_numeric(x, errors="coerce") == pd.to_numeric(y, errors="coerce")
    )


def _describe(row):
    parts = [str(row.get(c)) for c in ("run_id", "status") if c in row]
    return " ".join(parts) + f"  {row.get('run_dir', '')}"


def _plot(path, runs, by, metric, grid):
    from runner.analysis import plots

    if grid is not None:
        plots.heatmap(grid, metric, path)
    else:
        curves, column = group_curves(runs, by, metric)
        if not curves:
            print("compare: no metrics.csv found for the ok runs; nothing to plot", file=sys.stderr)
            return 2
        plots.overlaid_curves(curves, column, path)
    print(f"plot written to {path}")
    return 0


def run_command(main):
    """Exit with ``main()``'s status; a reader that goes away (``| head``) ends it quietly, and
    so does Ctrl-C, with 130 (README, "Exit codes")."""
    try:
        sys.exit(main())
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted by SIGINT (Ctrl-C)", file=sys.stderr)
        sys.exit(130)
