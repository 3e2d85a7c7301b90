"""``python -m runner.compare``: many runs -> one table, grouped, averaged over seeds, best first.

The command line; the runs are read by ``runs``, ranked by ``ranking`` and shown by
``rendering``.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd

from runner.analysis import grouping, query, stats
from runner.analysis.ranking import (
    METRICS,
    compare,
    default_by,
    default_metric,
    diff,
    group_curves,
    group_label,
    pivot,
    pivot_means,
)
from runner.analysis.rendering import format_groups, format_not_ok, render
from runner.analysis.runs import (
    DEFAULT_LEDGER,
    UNRECORDED_NOTE,
    CompareError,
    count_unrecorded,
    load_runs,
)
from runner.commands import run_command  # noqa: F401 - runner.compare's entry point
from runner.errors import os_problem
from runner.metric_names import higher_is_better
from runner.records import write_text_atomically
from runner.text import counted


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
        print(f"\n{metric}, {args.pivot[0]} x {args.pivot[1]}: {pivot_means(part, by, args.pivot)}")
        print(grid.to_string(float_format=lambda v: f"{v:.4g}", na_rep="-"))
    if args.out:
        fmt = args.format if args.format in ("json", "markdown") else "csv"
        try:
            write_text_atomically(Path(args.out), render(results, fmt, args.only_changed))
        except OSError as error:  # a full disk, a folder that is not there or not writable
            print(f"compare: {os_problem(error)}; the table was not written", file=sys.stderr)
            return 1
        if args.format == "text":
            print(f"\ntable written to {args.out}")
    if args.plot:
        title, part, by, metric, *_ = results[0]
        return _plot(args.plot, part, by, metric, grid)
    return 0


def _print_text(results, args, repeats, total):
    level = f"{args.ci:.0%}"
    method = "t" if args.ci_method == "t" else "BCa bootstrap"
    header = counted(total, "run") + (
        f" ({repeats} {'repeat' if repeats == 1 else 'repeats'} of the same experiments not "
        "counted; --all-repeats counts them)"
        if repeats
        else ""
    )
    print(header)
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
            print(f"\nnot averaged: {counted(len(not_ok), 'run')} did not finish ok")
            print(format_not_ok(not_ok))


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
