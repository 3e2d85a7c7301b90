"""What a run writes: metrics.csv (streamed), summary.csv, and its row in the ledger runs.csv."""

import contextlib
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
# not_started: a sweep summary's row for a job its sweep ended before (runner.sweeps.planned)
STATUSES = ("ok", "diverged", "failed", "interrupted", "pruned", "not_started")
# The sweep summary's message for a job that left no summary.csv (it could not record itself).
UNRECORDED = "the job left no record of its own (killed by SIGKILL or out of memory?)"
LOCK_TIMEOUT = 120  # seconds a run waits for the ledger before giving up loudly


class MetricsWriter:
    """Append-only metrics.csv, flushed after every row so a crash or Ctrl-C keeps what was logged.

    Each row goes to the file whole or not at all: a write that fails (a full disk) is cut
    back to the rows before it, so the file never ends in a partial row."""

    def __init__(self, path, columns=METRIC_COLUMNS):
        self.path = Path(path)
        self.columns = list(columns)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
        self.closed = False
        self._write_whole(self._header())

    def use_columns(self, columns):
        """Rewrite the header before the first row: the columns depend on the task, known
        only once the data is loaded."""
        if list(columns) == self.columns:
            return
        self.columns = list(columns)
        os.ftruncate(self._fd, 0)
        self._write_whole(self._header())

    def write(self, row):
        buffer = io.StringIO()
        values = [_csv_value(row.get(column, "")) for column in self.columns]
        csv.writer(buffer, lineterminator="\r\n").writerow(values)  # as csv.DictWriter wrote it
        self._write_whole(buffer.getvalue())

    def _header(self):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow(self.columns)
        return buffer.getvalue()

    def _write_whole(self, text):
        _write_or_cut_back(self._fd, text.encode("utf-8"), sync=False)

    def close(self):
        if not self.closed:
            self.closed = True
            os.close(self._fd)


def _write_or_cut_back(fd, data, sync=True):
    """Append ``data`` at the end of ``fd`` in full, or cut the file back to its size before
    and re-raise (a full disk leaves no partial row)."""
    size = os.lseek(fd, 0, os.SEEK_END)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
            os.lseek(fd, size, os.SEEK_SET)
        raise


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
    file is rewritten with the union of columns, atomically, still under the lock; a line that
    cannot be read as a row is never dropped: it is moved, byte for byte, to ``runs.csv.damaged``
    beside the ledger (:func:`rewrite_rows`), and a warning names that file.
    """
    ledger = Path(ledger)
    ledger.parent.mkdir(parents=True, exist_ok=True)
    row = ordered_row(row)
    with FileLock(str(ledger) + ".lock", timeout=LOCK_TIMEOUT):
        header = _read_header(ledger)
        if header is not None and (problem := ledger_problem(ledger)) is not None:
            _set_aside_whole(ledger, problem)
            header = None
        if header is None:
            write_text_atomically(ledger, csv_text(list(row), [row.values()]))
            return
        if set(row) <= set(header):
            text = csv_text(header, [[row.get(column) for column in header]], header=False)
            _append_whole(ledger, _encoded(text))
            return
        columns = header + [column for column in row if column not in header]
        rewrite_rows(ledger, columns, lambda old: old, extra=[row])


def damaged_path(path):
    """Where lines of ``path`` that cannot be read as rows are kept: ``runs.csv.damaged``."""
    return Path(path).with_name(Path(path).name + ".damaged")


def _encoded(text):
    """Text as the file's bytes: what was read with surrogateescape is written back as it was."""
    return text.encode("utf-8", "surrogateescape")


def keep_damaged(path, data):
    """Append ``data`` (lines of ``path`` no reader can use) to ``path``.damaged, whole."""
    if not data.endswith(b"\n"):
        data += b"\n"
    target = damaged_path(path)
    fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        _write_or_cut_back(fd, data)
    finally:
        os.close(fd)
    return target


def _set_aside_whole(ledger, problem):
    """A ledger whose header cannot be read: its every byte to runs.csv.damaged, and the ledger
    starts again (the caller writes the new header with its row)."""
    data = Path(ledger).read_bytes()
    target = keep_damaged(ledger, data)
    Path(ledger).unlink()
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    warn(
        f"{ledger}: {problem}; its {lines} lines were moved, byte for byte, to {target} and a "
        "new ledger starts here (repair that header and append the rows back to count them)"
    )


def ledger_problem(path):
    """What keeps ``path`` from being read as a ledger, or None: a damaged header
    (:func:`header_problem`), or one without the run_id and status columns every ledger has."""
    problem = header_problem(path)
    if problem is not None:
        return problem
    names = set(_read_header(path) or [])
    missing = [name for name in ("run_id", "status") if name not in names]
    return f"its header has no {' or '.join(missing)} column: not a ledger" if missing else None


def _sample_rows(data, count=50):
    """The field lists of the first ``count`` whole lines of ``data`` (bytes after a header)."""
    lines = data.split(b"\n")[:-1][:count]
    try:
        return list(csv.reader(line.decode("utf-8", "surrogateescape") for line in lines))
    except csv.Error:
        return []


def rewrite_rows(path, columns, change, extra=()):
    """Rewrite the CSV ``path`` with the header ``columns``: every row that reads as one is
    passed through ``change`` ({column: text} -> {column: value}) and written under the new
    header, then the rows of ``extra``; atomically. A line that does not read as a row (a wrong
    field count, no valid status, a row cut short, bytes a CSV reader refuses) is kept byte for
    byte in ``path``.damaged, named by a warning. Bytes that are not UTF-8 pass through as
    they were. -> the number of lines set aside."""
    path = Path(path)
    header, records = _records(path.read_bytes())
    rows, damaged, lines = [], [], []
    for raw, fields in records:
        if fields is not None and not fields:  # a blank line: no row, kept as it was
            rows.append(None)
        elif _readable(fields, header):
            rows.append(change(dict(zip(header, fields, strict=False))))
            continue
        else:
            damaged.append(raw)
            lines.append(raw.line)
    text = csv_text(
        columns,
        (
            [row.get(column) for column in columns] if row is not None else []
            for row in [*rows, *map(ordered_row, extra)]
        ),
    )
    if damaged:
        target = keep_damaged(path, b"".join(bytes(raw) for raw in damaged))
        shown = ", ".join(map(str, lines[:10])) + (" ..." if len(lines) > 10 else "")
        warn(
            f"{path}: {len(lines)} damaged {'line' if len(lines) == 1 else 'lines'} ({shown}) "
            f"kept byte for byte in {target} while rewriting it with new columns"
        )
    write_bytes_atomically(path, _encoded(text))
    return len(lines)


class _Raw(bytes):
    """A record's bytes as they are in the file, with the line it starts on."""

    line: int


def _records(data):
    """A CSV file's bytes -> (header names, [(raw bytes, fields or None if unreadable)]).

    The csv module reads the lines one at a time as a record needs them (a quoted field may
    span lines), so each record's exact bytes are known. A last line without its newline is a
    row cut short: unreadable."""
    text = data.decode("utf-8", "surrogateescape")
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    taken = []

    def feed():
        for line in lines:
            taken.append(line)
            yield line

    reader = csv.reader(feed())
    header, records, number = None, [], 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error:
            fields = None
        raw = _Raw(_encoded("".join(taken)))
        raw.line, number = number, number + len(taken)
        taken.clear()
        if header is None:
            header = fields or []
            continue
        if not raw.endswith(b"\n"):
            fields = None
        records.append((raw, fields))
    return header or [], records


def _readable(fields, header, extra_statuses=()):
    """A record the readers take as a row: no more fields than the header (pandas fills the
    missing ones) and, in a file with a status column, a status that is one."""
    if fields is None or len(fields) > len(header):
        return False
    if "status" in header:
        at = header.index("status")
        return at < len(fields) and fields[at] in (*STATUSES, *extra_statuses)
    return True


def damaged_lines(data, extra_statuses=()):
    """How many records of the CSV bytes ``data`` a reader cannot take as rows (all of them,
    at least 1, when its header cannot be read or it is not UTF-8)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return max(1, data.count(b"\n"))
    header, records = _records(data)
    if not header or "" in header or not data.split(b"\n", 1)[1:]:
        return max(1, len(records))
    return sum(
        1
        for _raw, fields in records
        if fields != [] and not _readable(fields, header, extra_statuses)
    )


def _append_whole(path, data):
    """Append ``data`` to ``path`` in full, or leave the file as it was."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND)
    try:
        _drop_cut_tail(fd, path)
        _write_or_cut_back(fd, data)
    finally:
        os.close(fd)


def _drop_cut_tail(fd, path):
    """A file not ending in a newline ends in a row cut short by a crash (or an older version
    on a full disk): move that partial row to ``path``.damaged so the next one is not glued
    onto it -> new size."""
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
    target = keep_damaged(path, os.pread(fd, size - keep, keep))
    os.ftruncate(fd, keep)
    warn(
        f"{path} ended in a row cut short ({size - keep} bytes, an interrupted write); "
        f"moved it to {target}"
    )
    return keep


def _read_header(path):
    """The header's names, or None for a file that is missing or empty."""
    try:
        with open(path, "rb") as file:
            first = file.readline()
    except FileNotFoundError:
        return None
    if not first:
        return None
    return next(csv.reader([first.decode("utf-8", "surrogateescape")]), [])


def header_problem(path):
    """What is wrong with the header of the ledger or summary ``path``, or None: a file of one
    line cut short, names that are empty or repeated, or fewer names than its first row has
    fields (a header cut short and repaired by hand, or garbled)."""
    with open(path, "rb") as file:
        head = file.read(1 << 20)
    if not head:
        return "it is empty"
    first, newline, rest = head.partition(b"\n")
    text = first.decode("utf-8", "surrogateescape")
    try:
        names = next(csv.reader([text]), [])
    except csv.Error as error:
        return f"its header line cannot be read ({error})"
    if not newline:
        return "its header line is cut short (the file ends inside it)"
    stripped = [name.strip() for name in names]
    if "" in stripped:
        return f"its header line has an empty column name (column {stripped.index('') + 1})"
    repeated = sorted({name for name in stripped if stripped.count(name) > 1})
    if repeated:
        return f"its header line names {repeated[0]!r} twice"
    widths = [len(fields) for fields in _sample_rows(rest)]
    if widths and sum(width > len(names) for width in widths) * 2 > len(widths):
        return (
            f"its header line is cut short ({len(names)} names where its rows have "
            f"{max(widths)} fields)"
        )
    return None


def write_csv_atomically(frame, path):
    """Write to a temporary file and rename over ``path``: readers never see half a file, and a
    failed write (a full disk) leaves the old file as it was."""
    return write_text_atomically(path, frame.to_csv(index=False))


def write_text_atomically(path, text):
    """``text`` to ``path`` through a temporary file renamed over it: readers never see half a
    file; on any error (a full disk) the temporary file is removed and ``path`` is as it was."""
    return write_bytes_atomically(path, text.encode("utf-8", "surrogateescape"))


def write_bytes_atomically(path, data):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if error.filename in (None, str(tmp)):  # name the file asked for, not the temporary one
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def warn(message):
    print(f"warning: {message}", file=sys.stderr)


_SKIPPED = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")


class DamagedFile(ValueError):
    """A ledger or summary that cannot be read as one at all (empty, its header cut short or
    garbled); the message names the file and says what is wrong."""


def read_runs(path, **read_options):
    """A ledger or summary CSV -> DataFrame, one row per run.

    Damaged lines (a row cut short, rows glued together, a wrong field count, a status that
    is not one) are skipped, each with a warning naming its line; they are never counted.
    Bytes that are not UTF-8 are read as U+FFFD, with a warning naming their lines. A file
    whose header cannot be read (an empty file, a header cut short) raises DamagedFile.
    """
    import pandas as pd

    problem = header_problem(path)
    if problem is not None:
        raise DamagedFile(f"{path}: {problem}")
    read_options.setdefault(
        "index_col", False
    )  # a row with a field too many is skipped, never an index
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(path, on_bad_lines="warn", **read_options)
        except UnicodeDecodeError:
            lines = _lines_not_utf8(path)
            shown = ", ".join(map(str, lines[:5])) + (" ..." if len(lines) > 5 else "")
            warn(f"{path} line {shown}: bytes that are not UTF-8, read as \ufffd")
            frame = pd.read_csv(
                path, on_bad_lines="warn", encoding_errors="replace", **read_options
            )
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


def _lines_not_utf8(path):
    """The numbers of the lines of ``path`` that are not valid UTF-8."""
    found = []
    with open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                found.append(number)
    return found


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
