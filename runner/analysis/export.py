"""``python -m runner.export mlflow``: runs into MLflow, for teams that already use it.

Each run becomes an MLflow run:
- its flattened config as params;
- its per-epoch metrics from ``metrics.csv``, with the epoch as the step;
- the summary's metrics that have no curve (test, best, n_parameters, seconds, ...). Where the
  kept value differs from the last epoch's (``trainer.keep=best``), it is logged as
  ``kept_<name>``;
- the run folder as artifacts;
- its status mapped to MLflow's.

The export is idempotent. Each MLflow run carries the runner's ``run_id`` and ``run_key`` as
tags, and an exported run is skipped next time. A run whose export was cut short (no
``nnrunner.export=complete`` tag) is replaced.

The default store is ``$MLFLOW_TRACKING_URI`` when set, as for MLflow itself, else MLflow's own
default, SQLite in ``./mlflow.db``. MLflow 3 refuses a file store (``./mlruns``) unless
``MLFLOW_ALLOW_FILE_STORE=true`` is set, and it is in maintenance mode: without the variable
the export says so in one line. A ``file:`` URI works when that variable is set.

Artifacts go next to the store, as ``mlflow server --default-artifact-root`` puts them: an
experiment the export makes in ``sqlite:///x/mlflow.db`` keeps its runs' files in
``x/mlartifacts/<experiment>``, never in ``./mlruns`` of whatever folder the export ran in (a
file store keeps them inside itself; a server decides for itself).
"""

import argparse
import contextlib
import math
import os
import re
import sys
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pandas as pd

from runner.analysis import grouping
from runner.analysis.compare import selected_runs
from runner.analysis.runs import CompareError

DEFAULT_URI = "sqlite:///mlflow.db"
ARTIFACTS = "mlartifacts"  # beside a SQLite store, as `mlflow server` names its artifact root
DEFAULT_EXPERIMENT = "nnrunner"
STATUS = {  # the runner's status -> MLflow's RunStatus
    "ok": "FINISHED",
    "failed": "FAILED",
    "diverged": "FAILED",
    "interrupted": "KILLED",
    "pruned": "KILLED",
}
CURVES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
SUMMARY_METRICS = (
    *CURVES,
    "test_loss",
    "test_accuracy",
    "best_val_loss",
    "best_val_accuracy",
    "best_epoch",
    "epochs_done",
    "n_parameters",
    "seconds",
)
BATCH = {"metrics": 1000, "params": 100}  # MLflow's log_batch limits
TAG = "nnrunner."


class ExportError(Exception):
    """Reported as one line by the command."""


def export(runs, tracking_uri=DEFAULT_URI, experiment=DEFAULT_EXPERIMENT, say=print):
    """Put ``runs`` (ledger rows) into MLflow -> (exported, already there)."""
    with _quiet_migrations():
        return _export(runs, tracking_uri, experiment, say)


@contextlib.contextmanager
def _quiet_migrations():
    """Nothing below WARNING is logged while the export runs: MLflow's database migrations set
    up their own console logging (alembic at INFO: by ``logging.config.fileConfig`` up to 3.6, by
    level in 3.7), which no logger's level overrides, and print some 40 lines on a new store."""
    import logging

    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(previous)


def _export(runs, tracking_uri, experiment, say):
    client = _client(tracking_uri)
    experiment_id = _experiment(client, experiment, artifact_location(tracking_uri, experiment))
    done, partial = _exported(client, experiment_id)
    for run_id in partial:
        client.delete_run(run_id)
    exported = skipped = 0
    config_keys = grouping.config_columns(runs)
    for _, row in runs.iterrows():
        key = _text(row.get("run_id"))
        if key and key in done:
            skipped += 1
            continue
        _export_run(client, experiment_id, row, config_keys)
        exported += 1
        if exported % 100 == 0:
            say(f"export: {exported} runs so far")
    return exported, skipped


def _client(tracking_uri):
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ExportError(
            'MLflow is not installed: pip install -e ".[mlflow]" (or pip install mlflow)'
        ) from None
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # "Creating initial tables..." is noise
    if tracking_uri.startswith(("http://", "https://")):
        _check_reachable(tracking_uri)
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient(tracking_uri=tracking_uri)
    except MlflowException as error:
        if "MLFLOW_ALLOW_FILE_STORE" in str(error):
            raise ExportError(_file_store_refused(tracking_uri)) from None
        raise ExportError(f"MLflow: {str(error).splitlines()[0]}") from None


def _file_store_refused(tracking_uri):
    """MLflow 3's refusal of a file store, as one line with both ways out."""
    folder = Path(_local_path(tracking_uri)).parent
    return (
        f"MLflow 3 refuses the file store {tracking_uri} unless MLFLOW_ALLOW_FILE_STORE=true is "
        f"set; use a database store, --tracking-uri sqlite:///{folder / 'mlflow.db'}, or set "
        "the variable"
    )


def _local_path(uri):
    """The path of a ``file:`` URI or a plain path (MLflow reads both as a file store)."""
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path) if uri.startswith("file:") else uri


def artifact_location(tracking_uri, experiment):
    """Where a new experiment keeps its runs' files: ``mlartifacts/<experiment>`` beside a SQLite
    store; None (MLflow's own choice) for a server, a file store or another database."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    database = tracking_uri.removeprefix("sqlite:///").split("?", 1)[0]
    if database in ("", ":memory:"):
        return None
    folder = re.sub(r"[^\w.-]+", "_", experiment).strip(".") or "experiment"
    return (Path(database).parent / ARTIFACTS / folder).resolve().as_uri()


def _check_reachable(uri):
    """A tracking server that does not answer is one line, at once; MLflow's own client would
    retry for minutes."""
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as answer:
            answer.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ExportError(
            f"cannot reach the MLflow tracking server at {uri} ({reason}); is `mlflow server` running there?"
        ) from None


def _experiment(client, name, artifacts=None):
    """The experiment's id, made (keeping its files in ``artifacts``) when it is new."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_experiment_by_name(name)
        if found is not None and found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        if found is not None:
            return found.experiment_id
        return client.create_experiment(name, artifact_location=artifacts)
    except MlflowException as error:
        raise ExportError(f"MLflow: {str(error).splitlines()[0]}") from None


def _exported(client, experiment_id):
    """({runner run_id} exported whole, [MLflow run ids of exports cut short])."""
    done, partial, token = set(), [], None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string=f"tags.`{TAG}run_id` != ''", max_results=1000,
            page_token=token,
        )  # fmt: skip
        for run in page:
            tags = run.data.tags
            if tags.get(f"{TAG}export") == "complete":
                done.add(tags[f"{TAG}run_id"])
            else:
                partial.append(run.info.run_id)
        token = page.token
        if not token:
            return done, partial


def _export_run(client, experiment_id, row, config_keys):
    from mlflow.entities import Metric, Param

    started = _milliseconds(row.get("started_at"))
    seconds = _number(row.get("seconds")) or 0.0
    tags = {
        f"{TAG}run_id": _text(row.get("run_id")),
        f"{TAG}run_key": _text(row.get("run_key")),
        f"{TAG}status": _text(row.get("status")),
        f"{TAG}run_dir": _text(row.get("run_dir")),
        f"{TAG}sweep_dir": _text(row.get("sweep_dir")),
        f"{TAG}message": _text(row.get("message"))[:5000],
        "mlflow.source.name": "python -m runner " + _text(row.get("overrides")),
    }
    run = client.create_run(
        experiment_id,
        start_time=started,
        tags={k: v for k, v in tags.items() if v},
        run_name=(_text(row.get("overrides")) or "defaults")[:250],
    )
    run_id = run.info.run_id
    params = [
        Param(key, _text(row[key])[:6000]) for key in config_keys if not _missing(row.get(key))
    ]
    curves, last = _curves(row.get("run_dir"), started)
    metrics = [Metric(k, v, started, s) for k, v, s in curves]
    step = int(_number(row.get("epochs_done")) or 0)
    for name in SUMMARY_METRICS:
        value = _number(row.get(name))
        if value is None:
            continue
        if name not in last:
            metrics.append(Metric(name, value, started, step))
        elif not math.isclose(value, last[name], rel_tol=1e-6, abs_tol=1e-12):
            metrics.append(Metric(f"kept_{name}", value, started, step))
    for start in range(0, len(params), BATCH["params"]):
        client.log_batch(run_id, params=params[start : start + BATCH["params"]])
    for start in range(0, len(metrics), BATCH["metrics"]):
        client.log_batch(run_id, metrics=metrics[start : start + BATCH["metrics"]])
    run_dir = Path(_text(row.get("run_dir")))
    if run_dir.is_dir():
        client.log_artifacts(run_id, str(run_dir))
    client.set_tag(run_id, f"{TAG}export", "complete")
    client.set_terminated(
        run_id,
        status=STATUS.get(_text(row.get("status")), "FAILED"),
        end_time=started + int(seconds * 1000) if started else None,
    )


def _curves(run_dir, timestamp):
    """([(name, value, epoch)] of the run's metrics.csv, {name: last value})."""
    path = Path(_text(run_dir)) / "metrics.csv"
    try:
        metrics = pd.read_csv(path, usecols=lambda c: c == "epoch" or c in CURVES)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return [], {}
    found, last = [], {}
    for name in CURVES:
        if name not in metrics:
            continue
        series = pd.to_numeric(metrics[name], errors="coerce")
        for epoch, value in zip(metrics["epoch"], series, strict=True):
            if math.isfinite(value):
                found.append((name, float(value), int(epoch)))
        finite = series.dropna()
        if len(finite):
            last[name] = float(finite.iloc[-1])
    return found, last


def _milliseconds(text):
    try:
        return int(datetime.fromisoformat(_text(text)).timestamp() * 1000)
    except ValueError:
        return None


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value):
    return "" if _missing(value) else str(value)


def _missing(value):
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m runner.export", description="Put runs into another tool."
    )
    targets = parser.add_subparsers(dest="target", required=True, metavar="TARGET")
    mlflow = targets.add_parser(
        "mlflow",
        help="MLflow: params, per-epoch metrics, files as artifacts, status",
        description="Put runs into MLflow; running it again adds only the runs not yet there.",
    )
    mlflow.add_argument(
        "sources",
        nargs="*",
        help="runs.csv ledgers, summary.csv files, sweep or run folders (default: outputs/runs.csv)",
    )
    mlflow.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI,
        help="an MLflow tracking URI: a server (http://host:5000) or a local store "
        f"(default: $MLFLOW_TRACKING_URI, else {DEFAULT_URI})",
    )
    mlflow.add_argument(
        "--experiment",
        default=DEFAULT_EXPERIMENT,
        help=f"the MLflow experiment to put them in, made if new (default: {DEFAULT_EXPERIMENT})",
    )
    mlflow.add_argument("--where", metavar="EXPR", help="keep the runs for which EXPR holds")
    mlflow.add_argument("--status", help="keep runs of these statuses, e.g. ok")
    args = parser.parse_args(argv)
    args.since = args.last = None
    args.all_repeats = True  # every run is its own MLflow run, repeats too
    try:
        runs, _ = selected_runs(args)
        exported, skipped = export(runs, args.tracking_uri, args.experiment)
    except (CompareError, ExportError) as error:
        print(f"export: {error}", file=sys.stderr)
        return 2
    view = (
        args.tracking_uri
        if args.tracking_uri.startswith(("http://", "https://"))
        else f"mlflow ui --backend-store-uri {args.tracking_uri}"
    )
    print(
        f"export: {exported} runs into MLflow experiment '{args.experiment}' at "
        f"{args.tracking_uri}"
        + (f" ({skipped} were there already)" if skipped else "")
        + f"; to see them: {view}"
    )
    return 0
