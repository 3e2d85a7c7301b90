"""Runs -> the ranked group table: per group the mean over seeds, its interval, and whether
the statistics tell it from the best; plus the curves, pivot and diff of the same runs."""

import difflib
import math
from pathlib import Path

import numpy as np
import pandas as pd

from runner.analysis import grouping, query, stats
from runner.analysis.grouping import GROUP_CHOICES
from runner.analysis.runs import CompareError
from runner.metric_names import higher_is_better

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


def default_by(runs):
    """The config keys that tell the ok runs' groups apart (see ``grouping.default_by``); when
    every run shares one config, its model choice, so the table has one row."""
    return grouping.default_by(runs) or [c for c in GROUP_CHOICES if c in runs.columns][:1]


def default_metric(runs):
    metric = grouping.default_metric(runs)
    if metric is None:
        raise CompareError("the runs have no metric values yet (every run failed?)")
    return metric


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
                f"no column '{name}' to pivot on; columns include: {', '.join(useful_columns(runs))}"
            )
    ok = runs[runs["status"] == "ok"]
    return ok.pivot_table(index=row, columns=column, values=metric, aggfunc="mean")


def pivot_means(runs, by, shown):
    """What each cell of a pivot is the mean of: the seeds, and every grouping key not shown."""
    ok = runs[runs["status"] == "ok"]
    hidden = [c for c in by if c not in shown and c in ok and ok[c].nunique(dropna=False) > 1]
    over = ", ".join(["seeds", *hidden]) if hidden else "seeds"
    section = "" if len(runs) == len(ok) else " (ok runs only)"
    return f"each cell is the mean over {over}{section}"


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


def check_columns(runs, columns, option):
    for column in columns:
        if column not in runs.columns:
            close = difflib.get_close_matches(column, list(runs.columns), n=3, cutoff=0.6)
            hint = (
                f"did you mean {', '.join(close)}?"
                if close
                else (f"columns include: {', '.join(useful_columns(runs))}")
            )
            raise CompareError(f"{option} {column}: no column '{column}' in the runs; {hint}")


def useful_columns(runs):
    return [c for c in runs.columns if c in GROUP_CHOICES or "." in c or c in METRICS][:25]
