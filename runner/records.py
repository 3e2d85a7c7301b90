"""What a run writes: metrics.csv (streamed), summary.csv, and its row in the ledger runs.csv."""

import csv
import math
import os
from pathlib import Path

import pandas as pd
from filelock import FileLock

METRIC_COLUMNS = [
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "regularization_loss",
    "learning_rate",
    "seconds",
]
# Leading ledger columns, in order; every flattened config key follows them.
RUN_COLUMNS = [
    "run_id",
    "status",
    "message",
    "started_at",
    "seconds",
    "run_dir",
    "overrides",
    "sweep_dir",
    "job",
    "model",
    "data",
    "loss",
    "optimizer",
    "epochs_done",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "best_val_loss",
    "best_val_accuracy",
    "n_parameters",
]
# The sweep summary's message for a job that left no summary.csv (it could not record itself).
UNRECORDED = "the job left no record of its own (killed by SIGKILL or out of memory?)"
LOCK_TIMEOUT = 120  # seconds a run waits for the ledger before giving up loudly


class MetricsWriter:
    """Append-only metrics.csv, flushed after every row so a crash or Ctrl-C keeps what was logged."""

    def __init__(self, path, columns=METRIC_COLUMNS):
        self.path = Path(path)
        self.columns = list(columns)
        self._file = open(self.path, "w", newline="")  # noqa: SIM115 - closed in close()
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")
        self._writer.writeheader()
        self._file.flush()

    def write(self, row):
        self._writer.writerow({k: _csv_value(v) for k, v in row.items()})
        self._file.flush()

    def close(self):
        if not self._file.closed:
            self._file.close()


def _csv_value(value):
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)  # shortest exact repr: re-reading gives the same float
    return value


def flatten(mapping, prefix=""):
    """Nested dicts and lists -> {dotted.key: scalar}; lists are indexed (``model.layers.0.units``)."""
    items = mapping.items() if isinstance(mapping, dict) else enumerate(mapping)
    flat = {}
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, (dict, list)):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def ordered_row(row):
    """Ledger columns first, in their fixed order, then the config keys in config order."""
    head = {k: row.get(k) for k in RUN_COLUMNS}
    return {**head, **{k: v for k, v in row.items() if k not in head}}


def write_summary(run_dir, row):
    """summary.csv in the run folder: one row, the same columns as the ledger."""
    path = Path(run_dir) / "summary.csv"
    write_csv_atomically(pd.DataFrame([ordered_row(row)]), path)
    return path


def append_to_ledger(ledger, row):
    """Append ``row`` to the ledger under a file lock; parallel runs lose and garble nothing.

    When the row brings columns the ledger lacks (a new config key), the file is rewritten
    with the union of columns, atomically, still under the lock.
    """
    ledger = Path(ledger)
    ledger.parent.mkdir(parents=True, exist_ok=True)
    row = ordered_row(row)
    with FileLock(str(ledger) + ".lock", timeout=LOCK_TIMEOUT):
        header = _read_header(ledger)
        if header is not None and set(row) <= set(header):
            frame = pd.DataFrame([row], columns=header)
            with open(ledger, "a", newline="") as file:
                frame.to_csv(file, header=False, index=False)
                file.flush()
                os.fsync(file.fileno())
            return
        frame = pd.DataFrame([row])
        if header is not None:
            existing = pd.read_csv(ledger, dtype=str, keep_default_na=False)
            columns = header + [c for c in frame.columns if c not in header]
            frame = pd.concat([existing, frame.astype(object)], ignore_index=True)[columns]
        write_csv_atomically(frame, ledger)


def _read_header(path):
    try:
        with open(path, newline="") as file:
            return next(csv.reader(file), None)
    except FileNotFoundError:
        return None


def write_csv_atomically(frame, path):
    """Write to a temporary file and rename over ``path``: readers never see half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as file:
        frame.to_csv(file, index=False)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    return path


def read_runs(path):
    """A ledger or summary CSV -> DataFrame."""
    return pd.read_csv(path)
