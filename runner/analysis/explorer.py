"""The data behind the report's interactive views, one section (dataset, task, objective) at a
time: the swept keys and how to draw them, every run's values and rerun command, the groups
(mean over seeds), packed learning curves, and a search's trials and importances.

Everything is plain JSON; the page (``explorer.js``) draws it with Apache ECharts. Columns are lists
(one entry per run) rather than one object per run, which keeps 1000 runs small.
"""

import math
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from runner import metric_names
from runner.analysis import curve_data, grouping

# the metrics the views offer, those with values in a section: each split's scores (accuracy;
# RMSE, MAE, R² for regression) and loss, validation first
METRICS = (
    *(
        name
        for split in ("val", "test", "train")
        for name in (
            *metric_names.score_columns(metric_names.CLASSIFICATION, split),
            *metric_names.score_columns(metric_names.REGRESSION, split),
            f"{split}_loss",
        )
    ),
    "seconds",
)
LOG_DECADES = 1.5  # positive values spanning more than this many decades: a log axis
LINEAR_GRID = 0.1  # steps this even (relative spread) are a linear grid, even over decades


def section(title, runs, keys, metric, common, by=None):
    """The page data of one section's runs: ``keys`` are the axes (the swept config keys), the
    groups are by ``by`` (default: ``keys``), colour and rank by ``metric``; ``common``: the
    config every run of the section shares (shown once, not per run)."""
    by = keys if by is None else by
    runs = runs.reset_index(drop=True)
    ok = (runs["status"] == "ok").to_numpy() if "status" in runs else np.ones(len(runs), bool)
    metrics = [m for m in _ordered(metric) if _has_values(runs, m)]
    keys = [_key(runs, name) for name in keys if name in runs]
    replicates = [c for c in ("seed", *sorted(grouping.REPLICATES)) if c in runs]
    group_of, groups = _groups(runs, by, ok)
    return {
        "title": title,
        "metric": metric,
        "metrics": [{"name": m, "higher": metric_names.higher_is_better(m)} for m in metrics],
        "score": _score(metrics),
        "keys": keys,
        "replicates": replicates,
        "runs": {
            "id": _texts(runs, "run_id"),
            "status": _texts(runs, "status"),
            "ok": ok.tolist(),
            "group": group_of,
            "values": {k["name"]: _values(runs[k["name"]], k) for k in keys},
            "replicates": {r: _plain_list(runs[r]) for r in replicates},
            "metrics": {m: _numbers(runs[m]) for m in metrics},
            "command": [
                _command(o) for o in runs.get("overrides", pd.Series("", index=runs.index))
            ],
            "folder": _texts(runs, "run_dir"),
            "message": _texts(runs, "message"),
            "best_epoch": _numbers(
                runs.get("best_epoch", pd.Series(dtype=float, index=runs.index))
            ),
        },
        "groups": groups,
        "curves": curve_data.read_all(runs.get("run_dir", pd.Series("", index=runs.index))),
        "searches": _searches(runs),
        "common": {k: _plain(v) for k, v in common.items()},
    }


def _score(metrics):
    """The score the curves show beside the loss: accuracy, or RMSE for a regression section."""
    task = metric_names.task_of_columns(metrics)
    return metric_names.headline(task).split("_", 1)[1]


def common_config(runs):
    """{key: value} of the config keys every run of ``runs`` shares."""
    shared = {}
    for column in grouping.config_columns(runs):
        values = runs[column]
        if values.nunique(dropna=False) == 1 and values.notna().all():
            shared[column] = values.iloc[0]
    return shared


def _ordered(metric):
    return [metric, *[m for m in METRICS if m != metric]]


def _has_values(runs, column):
    return column in runs and pd.to_numeric(runs[column], errors="coerce").notna().any()


def _key(runs, name):
    """How a swept key is drawn: numeric (on a log axis when the sweep was log-spaced) or
    categorical (its values in first-seen order)."""
    values = runs[name]
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == values.notna().sum() and numeric.notna().any():
        return {"name": name, "kind": "numeric", "log": _log_spaced(runs, name, numeric)}
    categories = [str(v) for v in pd.unique(values.dropna().astype(str))]
    return {"name": name, "kind": "categorical", "categories": categories}


def _log_spaced(runs, name, numeric):
    """A key searched with ``tag(log, ...)``, or positive values drawn better on a log scale:
    spanning more than ``LOG_DECADES`` decades (0.0005, 0.005, 0.05) unless they are a linear
    grid (1, 25, 50, 75, 100), or a decade or more spaced more evenly in log than in linear
    steps (8, 16, 32, 64, 128)."""
    if _searched_on_log(runs, name):
        return True
    distinct = np.unique(numeric.dropna().to_numpy(float))
    if len(distinct) < 2 or distinct[0] <= 0 or distinct[-1] / distinct[0] < 10:
        return False
    if len(distinct) == 2:
        return bool(np.log10(distinct[-1] / distinct[0]) > LOG_DECADES)
    linear, logs = _unevenness(distinct), _unevenness(np.log(distinct))
    if np.log10(distinct[-1] / distinct[0]) > LOG_DECADES:
        return bool(linear > LINEAR_GRID)
    return bool(logs < linear)


def _unevenness(values):
    """Spread of the steps between sorted values relative to their mean: 0 for an even grid."""
    steps = np.diff(values)
    return float(np.std(steps) / np.mean(steps))


def _searched_on_log(runs, name):
    for sweep_dir in _sweep_dirs(runs):
        try:
            params = OmegaConf.load(sweep_dir / "multirun.yaml").hydra.sweeper.get("params") or {}
        except Exception:  # noqa: BLE001 - no readable multirun.yaml: decide from the values
            continue
        if "log" in str(params.get(name, "")):
            return True
    return False


def _sweep_dirs(runs):
    if "sweep_dir" not in runs:
        return []
    found = [Path(str(d)) for d in runs["sweep_dir"].dropna().unique() if str(d)]
    return [d for d in found if d.is_dir()]


def _values(column, key):
    if key["kind"] == "numeric":
        return _numbers(pd.to_numeric(column, errors="coerce"))
    return [None if pd.isna(v) else str(v) for v in column]


def _groups(runs, by, ok):
    """(group index per run, [{label, members}]): runs that differ only in seed or fold share a
    group; a run that did not finish ok is in no group (-1)."""
    group_of = [-1] * len(runs)
    groups = []
    present = [b for b in by if b in runs]
    if not present or not ok.any():
        return group_of, groups
    ok_runs = runs[ok]
    for key, part in ok_runs.groupby(present, dropna=False, sort=False):
        values = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{b}={_short(v)}" for b, v in zip(present, values, strict=True))
        for index in part.index:
            group_of[index] = len(groups)
        groups.append({"label": label, "members": [int(i) for i in part.index]})
    return group_of, groups


def _command(overrides):
    """The single run of a job: ``python -m runner`` and its overrides; a search preset's run
    is told to run once (``hydra.mode=RUN``) rather than search again."""
    words = override_words(overrides) if isinstance(overrides, str) else []
    if any(w.startswith("hparams_search=") for w in words):
        words.append("hydra.mode=RUN")
    return " ".join(["python -m runner", *(shlex.quote(w) for w in words)])


# What starts an override: ``key=``, ``+key=``, ``++key=`` (a group: ``model=``), ``~key``.
_OVERRIDE_START = re.compile(r"(?:\+\+?)?[A-Za-z_][\w./@-]*=|~[A-Za-z_][\w./@-]*(?:=|$)")


def override_words(text):
    """The ledger's ``overrides`` (the job's overrides joined by spaces) -> one string per
    override, as typed: a value with spaces (``+note=a b``, ``+x='c d'``) stays one override.
    A word starts a new override only outside quotes and when it looks like one (``key=``)."""
    words, space = [], ""
    for piece in re.split(r"(\s+)", text.strip()):
        if piece.isspace() or not piece:
            space = piece
            continue
        open_quote = words and (words[-1].count("'") % 2 or words[-1].count('"') % 2)
        if words and (open_quote or not _OVERRIDE_START.match(piece)):
            words[-1] += space + piece
        else:
            words.append(piece)
        space = ""
    return words


def _searches(runs):
    """[{sweep, objective, directions, trials, importances, front}] of the Optuna searches the
    runs came from (their sweep folders' ``optimization_results.yaml`` and ``trials.csv``)."""
    found = []
    for sweep_dir in _sweep_dirs(runs):
        results_file, trials_file = (
            sweep_dir / "optimization_results.yaml",
            sweep_dir / "trials.csv",
        )
        if not (results_file.is_file() and trials_file.is_file()):
            continue
        try:
            results = OmegaConf.to_container(OmegaConf.load(results_file))
            trials = pd.read_csv(trials_file)
        except Exception:  # noqa: BLE001 - a search folder being written; the rest still shows
            continue
        names = results.get("objective")
        names = names if isinstance(names, list) else [names]
        columns = ["value"] if "value" in trials else [f"values_{i}" for i in range(len(names))]
        found.append(
            {
                "sweep": str(sweep_dir),
                "objective": names,
                "directions": results.get("directions", []),
                "number": _plain_list(trials["number"]),
                "state": _plain_list(trials.get("state", pd.Series("", index=trials.index))),
                "values": [_numbers(trials[c]) if c in trials else [] for c in columns],
                "importances": results.get("importances") or {},
                "front": [s.get("number") for s in results.get("solutions", [])],
            }
        )
    return found


def _texts(runs, column):
    if column not in runs:
        return [""] * len(runs)
    return ["" if _missing(v) else str(v) for v in runs[column]]


def _numbers(column):
    values = pd.to_numeric(column, errors="coerce").to_numpy(float)
    return [float(v) if math.isfinite(v) else None for v in values]


def _plain_list(column):
    return [_plain(v) for v in column]


def _plain(value):
    if _missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, int | float | bool | str) else str(value)


def _missing(value):
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)
