"""What a run writes: metrics.csv (streamed), summary.csv, and its row in the ledger runs.csv."""

import csv
import io
import math
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np
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
# A regression run's metrics.csv: RMSE, MAE and R² in place of accuracy (runner.metric_names).
REGRESSION_METRIC_COLUMNS = [
    "epoch",
    "train_loss",
    "train_rmse",
    "val_loss",
    "val_rmse",
    "val_mae",
    "val_r2",
    "regularization_loss",
    "learning_rate",
    "seconds",
]
GROUPS = ("model", "data", "loss", "optimizer")  # the config groups whose choices a row records
# Leading ledger columns, in order; every flattened config key follows them.
RUN_COLUMNS = [
    "run_id",
    "run_key",
    "status",
    "message",
    "started_at",
    "seconds",
    "run_dir",
    "reused_from",
    "overrides",
    "sweep_dir",
    "job",
    "trial",  # the search trial a job ran for (runner.trial), empty outside a search
    "model",
    "data",
    "loss",
    "optimizer",
    "epochs_done",
    "best_epoch",  # the logged epoch where trainer.early_stopping.monitor was best
    "train_loss",  # train_*, val_*, test_*: of the parameters kept (trainer.keep)
    "train_accuracy",  # *_accuracy: classification runs; *_rmse, *_mae, *_r2: regression runs
    "val_loss",
    "val_accuracy",
    "test_loss",  # the held-out test split (data.test_fraction), evaluated once at the end
    "test_accuracy",
    "best_val_loss",
    "best_val_accuracy",
    "n_parameters",
    "train_rmse",
    "val_rmse",
    "val_mae",
    "val_r2",
    "test_rmse",
    "test_mae",
    "test_r2",
    "data_sha256",  # data=csv: the SHA-256 of the file's content (compare's sections); else empty
]
STATUSES = ("ok", "diverged", "failed", "interrupted", "pruned")
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

    def use_columns(self, columns):
        """Rewrite the header before the first row: the columns depend on the task, known
        only once the data is loaded."""
        if list(columns) == self.columns:
            return
        self.columns = list(columns)
        self._file.seek(0)
        self._file.truncate()
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


def ledger_at(value, base_dir):
    """``paths.ledger`` as an absolute path: a relative one starts at the folder the run was
    started from (``base_dir``)."""
    ledger = Path(str(value)).expanduser()
    return ledger if ledger.is_absolute() else Path(base_dir) / ledger


def write_summary(run_dir, row):
    """summary.csv in the run folder: one row, the same columns as the ledger."""
    path = Path(run_dir) / "summary.csv"
    row = ordered_row(row)
    write_text_atomically(path, csv_text(list(row), [row.values()]))
    return path


def csv_text(columns, rows, header=True):
    """CSV lines exactly as pandas' ``to_csv(index=False)`` writes these values, at a fraction
    of its cost for the few rows a run writes (a sweep writes thousands of such rows)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()


def _cell(value):
    """A value as pandas writes it in a column of its own: nothing for None and NaN, shortest
    round-trip text for floats (numpy's own for float32), str() for the rest."""
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if value != value else str(value)
    return value


def append_to_ledger(ledger, row):
    """Append ``row`` to the ledger under a file lock; parallel runs lose and garble nothing.

    The row is appended whole or not at all: on any error (a full disk) the file is cut back
    to its size before. When the row brings columns the ledger lacks (a new config key), the
    file is rewritten with the union of columns, atomically, still under the lock.
    """
    ledger = Path(ledger)
    ledger.parent.mkdir(parents=True, exist_ok=True)
    row = ordered_row(row)
    with FileLock(str(ledger) + ".lock", timeout=LOCK_TIMEOUT):
        header = _read_header(ledger)
        if header is None:
            write_text_atomically(ledger, csv_text(list(row), [row.values()]))
            return
        if set(row) <= set(header):
            text = csv_text(header, [[row.get(column) for column in header]], header=False)
            _append_whole(ledger, text.encode("utf-8"))
            return
        import pandas as pd  # only here: a run and a sweep's jobs start without it

        frame = pd.DataFrame([row])
        existing = read_runs(ledger, dtype=str, keep_default_na=False)
        columns = header + [c for c in frame.columns if c not in header]
        frame = pd.concat([existing, frame.astype(object)], ignore_index=True)[columns]
        write_csv_atomically(frame, ledger)


def _append_whole(path, data):
    """Append ``data`` to ``path`` in full, or leave the file as it was."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND)
    try:
        size = _drop_cut_tail(fd, path)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def _drop_cut_tail(fd, path):
    """A file not ending in a newline ends in a row cut short by a crash (or an older version
    on a full disk): remove that partial row so the next one is not glued onto it -> new size."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            keep = start + newline + 1
            break
        end = start
    else:
        keep = 0
    os.ftruncate(fd, keep)
    warn(f"{path} ended in a row cut short ({size - keep} bytes, an interrupted write); removed it")
    return keep


def _read_header(path):
    try:
        with open(path, newline="") as file:
            return next(csv.reader(file), None)
    except FileNotFoundError:
        return None


def write_csv_atomically(frame, path):
    """Write to a temporary file and rename over ``path``: readers never see half a file, and a
    failed write (a full disk) leaves the old file as it was."""
    return write_text_atomically(path, frame.to_csv(index=False))


def write_text_atomically(path, text):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def warn(message):
    print(f"warning: {message}", file=sys.stderr)


_SKIPPED = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")


def read_runs(path, **read_options):
    """A ledger or summary CSV -> DataFrame, one row per run.

    Damaged lines (a row cut short, rows glued together, a wrong field count, a status that
    is not one) are skipped, each with a warning naming its line; they are never counted.
    """
    import pandas as pd

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        frame = pd.read_csv(path, on_bad_lines="warn", **read_options)
    skipped = []
    for warning in caught:
        for line, expected, saw in _SKIPPED.findall(str(warning.message)):
            skipped.append(int(line))
            warn(f"{path} line {line} is damaged ({saw} fields where {expected} belong); skipped")
    if len(frame) and not _ends_with_newline(path):
        warn(f"{path} line {_line_count(path)} is cut short (an interrupted write); skipped")
        frame = frame.iloc[:-1]
    if "status" in frame.columns:
        known = frame["status"].isin(STATUSES)
        for index in frame.index[~known][:5]:
            status = frame.at[index, "status"]
            line = _line_of(index, skipped)
            warn(f"{path} line {line} has no valid status ({status!r}); skipped")
        frame = frame[known]
    return frame.reset_index(drop=True)


def _line_of(index, skipped):
    """File line of data row ``index`` (the header is line 1), given the lines skipped."""
    line = index + 2
    for bad in sorted(skipped):
        if bad <= line:
            line += 1
    return line


def _ends_with_newline(path):
    with open(path, "rb") as file:
        file.seek(0, os.SEEK_END)
        if file.tell() == 0:
            return True
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"


def _line_count(path):
    with open(path, "rb") as file:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 20), b"")) + 1
