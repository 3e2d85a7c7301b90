"""Which runs are compared with which: sections that never mix datasets, tasks or objectives,
groups by every config key that differs, one run per experiment (``run_key``), and the value a
run is ranked by (at its last epoch, or at its best one)."""

from pathlib import Path

import pandas as pd

from runner.metric_names import CLASSIFICATION, REGRESSION
from runner.records import RUN_COLUMNS, warn

GROUP_CHOICES = ["model", "data", "loss", "optimizer"]
REGRESSION_LOSSES = {"mse", "mae"}
# Config keys that never define a group: the seed is what a group averages over; the others
# change what a run shows or where it writes (the run key leaves them out too).
NOT_GROUPING = ("seed", "paths", "runner", "hydra")
PRESENTATION = {"trainer.plots", "trainer.progress", "trainer.log_every"}
# What a group averages over besides the seed: the validation fold of k-fold (data.fold).
REPLICATES = {"data.fold"}


class GroupingError(Exception):
    """Reported as one line by the command."""


def task_of(runs):
    """Per run: "regression" or "classification": the task the run recorded (``data.task``,
    resolved from ``auto``); for rows of earlier versions, a regression score or loss."""
    loss = runs.get("loss", pd.Series("", index=runs.index)).astype(str)
    task = loss.map(lambda name: REGRESSION if name in REGRESSION_LOSSES else CLASSIFICATION)
    if "train_rmse" in runs:
        task = task.where(runs["train_rmse"].isna(), REGRESSION)
    if "data.task" in runs:
        recorded = runs["data.task"].astype(str)
        task = task.where(~recorded.isin([CLASSIFICATION, REGRESSION]), recorded)
    return task


def dataset_of(runs):
    """Per run: what identifies its dataset. A CSV is its content's SHA-256 and the target
    column (a renamed or moved copy is the same dataset, two files never are); rows of earlier
    versions without the hash fall back to the file's path; generated data is its group."""
    data = _column(runs, "data").astype(str)
    target = _column(runs, "data.target").astype(str)
    path = _column(runs, "data.path").astype(str)
    sha = _column(runs, "data_sha256").astype(str)
    by_hash = "sha256:" + sha + " target:" + target
    by_path = "path:" + path + " target:" + target
    csv = (data == "csv") | (sha != "")
    return data.where(~csv, by_hash.where(sha != "", by_path))


def sections(runs):
    """[(title, runs)]: one per dataset, task and objective, biggest first; a ledger of one
    kind gives one section. Runs on two different files never share a section."""
    keys = pd.DataFrame(
        {
            "dataset": dataset_of(runs),
            "task": task_of(runs),
            "objective": _column(runs, "objective"),
        },
        index=runs.index,
    )
    found = []
    for values, part in keys.groupby(list(keys.columns), dropna=False, sort=False):
        _, task, objective = (_text(v) for v in values)
        title = " · ".join(
            p
            for p in (
                _dataset_title(runs.loc[part.index]),
                task,
                f"objective={objective}" if objective else "",
            )
            if p
        )
        found.append((title, runs.loc[part.index]))
    found = sorted(found, key=lambda item: -len(item[1]))
    # rows that say nothing of their dataset or objective (a job killed before it could record
    # itself) are listed with the biggest section rather than as a section of their own
    unknown = [i for i, (_, part) in enumerate(found) if _says_nothing(part)]
    if unknown and len(unknown) < len(found):
        rest = [item for i, item in enumerate(found) if i not in unknown]
        title, biggest = rest[0]
        extra = [found[i][1] for i in unknown]
        rest[0] = (title, pd.concat([biggest, *extra]).sort_index())
        found = rest
    return found


def _dataset_title(part):
    """``data=spiral``, or for a CSV the file's name(s), its target and the start of its hash:
    ``data=csv iris.csv (target species, sha256 1f2e3d4c)``."""
    data = _text(_column(part, "data").iloc[0]) if len(part) else ""
    sha = _column(part, "data_sha256").astype(str)
    if data != "csv" and not (sha != "").any():
        return f"data={data}" if data else ""
    names = _column(part, "data.path").astype(str).map(lambda p: Path(p).name if p else "")
    names = [n for n in names.value_counts().index if n]
    shown = ", ".join(names[:2]) + (f" and {len(names) - 2} more" if len(names) > 2 else "")
    target = _text(_column(part, "data.target").iloc[0])
    about = [
        f"target {target}" if target else "",
        f"sha256 {sha.iloc[0][:8]}" if sha.iloc[0] else "",
    ]
    about = ", ".join(a for a in about if a)
    return " ".join(p for p in ("data=csv", shown, f"({about})" if about else "") if p)


def _says_nothing(part):
    return all(
        name not in part or part[name].isna().all() or (part[name].astype(str) == "").all()
        for name in ("data", "objective", "data_sha256")
    )


def _column(runs, name):
    if name in runs:
        return runs[name].astype(object).where(runs[name].notna(), "")
    return pd.Series("", index=runs.index, dtype=object)


def _text(value):
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def default_metric(runs):
    """What ranks the runs, everywhere (compare, report, ``predict best``): the objective they
    recorded (``objective``, val_loss unless set), in its direction; for runs that recorded
    none or no value of it, val_accuracy (classification) or val_loss (regression)."""
    objectives = _column(runs, "objective").astype(str)
    objectives = [o for o in objectives.unique() if o]
    preferred = objectives[:1] if len(objectives) == 1 else []
    task = task_of(runs).iloc[0] if len(runs) else CLASSIFICATION
    fallback = ["val_loss", "val_rmse"] if task == REGRESSION else ["val_accuracy", "val_loss"]
    for metric in [*preferred, *fallback, "train_accuracy", "train_rmse", "train_loss"]:
        if metric in runs.columns and pd.to_numeric(runs[metric], errors="coerce").notna().any():
            return metric
    return None


def config_columns(runs):
    """The columns that hold a config value: the group choices and every flattened key."""
    leading = set(RUN_COLUMNS) - set(GROUP_CHOICES)
    return [c for c in runs.columns if c not in leading and not c.startswith("best_")]


def groupable(column):
    head = column.split(".")[0]
    return head not in NOT_GROUPING and column not in PRESENTATION | REPLICATES


def default_by(runs):
    """Every config key whose value differs between the ok runs, minus those another chosen key
    already decides (``model`` decides ``model.layers.1.units``) unless the user swept it: what
    tells the groups apart."""
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    chosen = []
    candidates = [c for c in GROUP_CHOICES if c in ok] + [
        c for c in config_columns(ok) if c not in GROUP_CHOICES
    ]
    typed = _overridden_keys(ok)  # what the user swept names the groups before what follows
    candidates.sort(key=lambda c: 0 if c in GROUP_CHOICES else 1 if c in typed else 2)
    for column in candidates:
        if not groupable(column) or ok[column].nunique(dropna=False) < 2:
            continue
        if column in typed:  # a key the user swept is a column even when another decides it
            chosen.append(column)  # (a search: each trial's learning rate is unique)
            continue
        if chosen and ok.groupby(chosen, dropna=False)[column].nunique(dropna=False).max() <= 1:
            continue  # decided by the keys chosen so far
        chosen.append(column)
    return chosen


def swept_keys(runs, by):
    """``by`` and every other key a user's overrides set to more than one value among the ok
    runs (a search's parameters that the groups do not need, say): the axes of the explorer."""
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    typed = sorted(_overridden_keys(ok))
    more = [k for k in typed if k in ok and k not in by and groupable(k) and ok[k].nunique() > 1]
    return [*by, *more]


def _overridden_keys(runs):
    if "overrides" not in runs:
        return set()
    keys = set()
    for text in runs["overrides"].dropna().astype(str).unique():
        keys.update(word.split("=", 1)[0].lstrip("+~") for word in text.split() if "=" in word)
    return keys


def one_per_experiment(runs):
    """-> (runs with one row per run_key, how many repeats were left out). The row kept is the
    latest ok one, else the latest; runs without a key (an earlier version's) are all kept."""
    if "run_key" not in runs or runs["run_key"].isna().all():
        return runs, 0
    keyed = runs["run_key"].notna() & (runs["run_key"].astype(str) != "")
    order = pd.DataFrame(
        {
            "ok": runs.get("status", pd.Series("", index=runs.index)) == "ok",
            "started": runs.get("started_at", pd.Series("", index=runs.index)).astype(str),
        }
    ).sort_values(["ok", "started"], kind="stable")
    ordered = runs.loc[order.index]
    latest = ordered[keyed.loc[order.index]].drop_duplicates("run_key", keep="last")
    kept = pd.concat([latest, runs[~keyed]]).sort_index()
    return kept, len(runs) - len(kept)


def values_at(runs, metric, at):
    """The value each run is ranked by: its last logged ``metric`` ("last"), or ``metric`` at
    the epoch where its val_loss was lowest ("best"; read from its metrics.csv, the ledger's
    best_val_loss for val_loss itself) -> (Series, the runs ranked at their last epoch instead).

    A run whose metrics.csv cannot be read (gone, damaged) or has no val_loss is ranked at its
    last epoch, and a warning names it: never left out, never silently."""
    values = pd.to_numeric(runs[metric], errors="coerce")
    if at == "last":
        return values, []
    if metric == "val_loss" and "best_val_loss" in runs:
        return pd.to_numeric(runs["best_val_loss"], errors="coerce"), []
    best = values.copy()
    fallen_back = []
    names = runs["run_id"] if "run_id" in runs else pd.Series(runs.index, index=runs.index)
    for index, run_dir in runs.get("run_dir", pd.Series(dtype=object)).items():
        value, why = _best_of(Path(str(run_dir)) / "metrics.csv", metric)
        if why is None:
            best[index] = value
        else:
            fallen_back.append(f"{names[index]} ({why})")
    if fallen_back:
        shown = "; ".join(fallen_back[:5]) + (
            f"; and {len(fallen_back) - 5} more" if len(fallen_back) > 5 else ""
        )
        warn(f"--at best: {len(fallen_back)} runs ranked at their last epoch instead: {shown}")
    return best, fallen_back


def _best_of(path, metric):
    """(``metric`` at the epoch of lowest val_loss in the metrics.csv ``path``, None), or
    (None, why it cannot be told)."""
    try:
        metrics = pd.read_csv(path, usecols=lambda c: c in ("val_loss", metric))
    except FileNotFoundError:
        return None, "no metrics.csv"
    except (OSError, ValueError, pd.errors.EmptyDataError) as error:
        return None, f"metrics.csv cannot be read: {str(error).splitlines()[0][:80]}"
    if "val_loss" not in metrics or metric not in metrics:
        return None, f"its metrics.csv has no {'val_loss' if 'val_loss' not in metrics else metric}"
    losses = pd.to_numeric(metrics["val_loss"], errors="coerce")
    if losses.isna().all():
        return None, "its metrics.csv has no val_loss value"
    return pd.to_numeric(metrics[metric], errors="coerce").iloc[int(losses.idxmin())], None
