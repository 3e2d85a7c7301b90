"""``python -m runner.compare``: many runs -> one table, grouped, averaged over seeds, best first."""

import argparse
import os
import re
import shlex
import sys
from pathlib import Path

import pandas as pd

from runner.records import UNRECORDED, read_runs

METRICS = ["val_accuracy", "val_loss", "train_accuracy", "train_loss"]
CURVE_METRICS = set(METRICS)  # columns of metrics.csv that make a curve
GROUP_CHOICES = ["model", "data", "loss", "optimizer"]
NOT_GROUPABLE = {"seed", "hydra", "paths"}  # overrides that never define a group
PRESENTATION = {"trainer.plots", "trainer.progress", "trainer.log_every"}  # change what a run shows
DEFAULT_LEDGER = Path("outputs") / "runs.csv"


class CompareError(Exception):
    """A problem with the sources or options; reported as one line."""


def load_runs(sources):
    """Ledger files, summary.csv files, sweep or run folders -> one DataFrame, one row per run."""
    frames = []
    for source in sources or [DEFAULT_LEDGER]:
        for path in _csv_files(Path(source)):
            try:
                frame = read_runs(path)
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


def default_by(runs):
    """The groups a user means: the keys they overrode (except seed) whose values differ
    between the runs that finished ok."""
    ok = runs[runs["status"] == "ok"]
    keys = []
    for overrides in ok.get("overrides", pd.Series(dtype=object)).dropna():
        for key in overridden_keys(overrides):
            groupable = (
                key.split(".")[0] not in NOT_GROUPABLE
                and key not in PRESENTATION
                and not key.endswith(".name")
            )
            if key not in keys and groupable and "/" not in key:
                keys.append(key)
    by = [k for k in keys if k in ok.columns and ok[k].nunique(dropna=False) > 1]
    return by or [c for c in GROUP_CHOICES if c in runs.columns][:1]


# A key at the start of the overrides or after a space: `model=..`, `+a.b=..`, `~x`, `g@pkg=..`.
_OVERRIDE_KEY = re.compile(r"(?:^|\s)[+~]{0,2}([A-Za-z_][\w.\-/@]*)(?==|\s|$)")


def overridden_keys(overrides):
    """The keys named in a ledger's ``overrides`` text. Shell-style quoting is honoured where
    it parses; where it does not (Hydra's ``+note='it\\'s'``), keys are found by their shape,
    so one odd value never breaks the reading of a whole ledger."""
    try:
        items = shlex.split(str(overrides))
    except ValueError:
        return _OVERRIDE_KEY.findall(str(overrides))
    return [_OVERRIDE_KEY.findall(item)[0] for item in items if _OVERRIDE_KEY.match(item)]


def default_metric(runs):
    for metric in METRICS:
        if metric in runs.columns and runs[metric].notna().any():
            return metric
    raise CompareError("the runs have no metric values yet (every run failed?)")


UNRECORDED_NOTE = (
    "of these jobs left no record of their own (killed by SIGKILL or out of memory?): "
    "their rows come from the sweep summary, marked failed, and no ledger row exists"
)


def count_unrecorded(runs):
    """Rows the sweep summary wrote for jobs that could not record themselves."""
    if "message" not in runs:
        return 0
    return int(runs["message"].astype(str).str.startswith(UNRECORDED).sum())


def higher_is_better(metric):
    return "acc" in metric


def compare(runs, by, metric):
    """-> (table of ok runs per group, best first; DataFrame of runs that did not finish ok)."""
    for column in [*by, metric]:
        if column not in runs.columns:
            raise CompareError(
                f"no column '{column}' in the runs; columns include: {', '.join(_useful_columns(runs))}"
            )
    ok = runs[runs["status"] == "ok"]
    others = [m for m in METRICS if m in runs.columns and m != metric]
    extra = [*others, *(["seconds"] if "seconds" in runs.columns else [])]
    numeric = ok[[metric, *extra]].apply(pd.to_numeric, errors="coerce")
    grouped = pd.concat([ok[by], numeric], axis=1).groupby(by, dropna=False, sort=False)
    table = grouped[metric].agg(["count", "mean", "std"])
    table.columns = ["runs", f"{metric}_mean", f"{metric}_std"]
    for column in extra:
        table[f"{column}_mean"] = grouped[column].mean()
    not_ok = runs[runs["status"] != "ok"]
    table["not_ok"] = (
        not_ok.groupby(by, dropna=False).size().reindex(table.index).fillna(0).astype(int)
        if len(not_ok)
        else 0
    )
    table = table.sort_values(
        f"{metric}_mean", ascending=not higher_is_better(metric), na_position="last"
    )
    return table.reset_index(), not_ok


def group_label(key, by):
    values = key if isinstance(key, tuple) else (key,)
    return ", ".join(f"{column}={_short(value)}" for column, value in zip(by, values, strict=True))


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def group_curves(runs, by, metric):
    """{group label: DataFrame(epoch, one column per ok run)} of ``metric`` per epoch, read from
    each run's metrics.csv (runs whose folder is gone are skipped)."""
    column = (
        metric if metric in CURVE_METRICS else ("val_accuracy" if "acc" in metric else "val_loss")
    )
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


def format_not_ok(not_ok, width=110):
    """The runs left out of the averages, with what went wrong."""
    columns = [
        c for c in ["run_id", "job", "status", "overrides", "message"] if c in not_ok.columns
    ]
    shown = not_ok[columns].copy()
    for column in ("job",):
        if column in shown and shown[column].notna().all():
            shown[column] = shown[column].astype(int)
    if "message" in shown:
        shown["message"] = shown["message"].fillna("").astype(str).str.slice(0, width)
    return shown.to_string(index=False, na_rep="-")


def add_selection_arguments(parser):
    """The arguments that choose and group runs, shared with ``runner.report``."""
    parser.add_argument(
        "sources",
        nargs="*",
        help=f"runs.csv ledgers, summary.csv files, sweep or run folders (default: {DEFAULT_LEDGER})",
    )
    parser.add_argument(
        "--by",
        help="comma-separated columns to group on, e.g. model,optimizer.learning_rate (default: the keys you overrode, except seed)",
    )
    parser.add_argument(
        "--metric",
        help="column to rank by (default: val_accuracy, else val_loss); losses rank low first, accuracies high first",
    )
    parser.add_argument(
        "--pivot",
        nargs=2,
        metavar=("ROW", "COL"),
        help="also show the metric as a ROW x COL grid, e.g. optimizer.learning_rate model.width",
    )


def select(args):
    """Parsed selection arguments -> (runs, by, metric); raises CompareError."""
    runs = load_runs(args.sources)
    by = [c.strip() for c in args.by.split(",") if c.strip()] if args.by else default_by(runs)
    return runs, by, args.metric or default_metric(runs)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m runner.compare",
        description="Group runs, average over seeds and sort best first.",
    )
    add_selection_arguments(parser)
    parser.add_argument("--out", help="also write the table to this CSV file")
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help="draw the groups' validation curves (mean line, min-max band over runs); with --pivot, the grid as a heatmap",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        runs, by, metric = select(args)
        table, not_ok = compare(runs, by, metric)
        grid = pivot(runs, *args.pivot, metric) if args.pivot else None
    except CompareError as error:
        print(f"compare: {error}", file=sys.stderr)
        return 2
    order = "higher" if higher_is_better(metric) else "lower"
    print(f"{len(runs)} runs, grouped by {', '.join(by)}; ranked by {metric} ({order} is better)\n")
    print(format_table(table))
    if len(not_ok):
        print(f"\nnot averaged: {len(not_ok)} runs did not finish ok")
        print(format_not_ok(not_ok))
    unrecorded = count_unrecorded(runs)
    if unrecorded:
        print(f"\nnote: {unrecorded} {UNRECORDED_NOTE}")
    if grid is not None:
        print(f"\n{metric} (mean over ok runs), {args.pivot[0]} x {args.pivot[1]}:")
        print(grid.to_string(float_format=lambda v: f"{v:.4g}", na_rep="-"))
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"\ntable written to {args.out}")
    if args.plot:
        return _plot(args.plot, runs, by, metric, grid)
    return 0


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
    """Exit with ``main()``'s status; a reader that goes away (``| head``) ends it quietly."""
    try:
        sys.exit(main())
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
