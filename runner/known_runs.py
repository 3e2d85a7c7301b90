"""What the ledger knows: for every ``run_key``, where its latest ``ok`` row and its latest row
of any status are, read fast enough to ask before every sweep.

A ledger of many runs is tens of MB of CSV, and pandas reads even three columns of it slower
than a sweep may wait (BENCHMARKS.md). But the first three columns of every row the runner
writes are ``run_id`` (27 characters, always), ``run_key`` (16 hex digits) and ``status``, none
ever quoted, so they sit at fixed offsets from each line's start: the scan finds line starts with numpy and reads those
bytes in place. What was scanned is kept beside the ledger (``.runs.csv.index.npz``) with the
byte offset it reached, so the next lookup reads only the rows appended since. A row is found
again by its byte offset and read with the csv module, and checked to carry the key it was
found under, so a ledger rewritten meanwhile is noticed, never misread.

Ledgers written before ``run_key`` existed are brought up to date once (:func:`upgrade`): the
key of each earlier run is computed from its saved ``.hydra/config.yaml``.
"""

import csv
import hashlib
import mmap
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runner.records import RUN_COLUMNS, STATUSES, ledger_problem, warn

RUN_ID_WIDTH = 27  # YYYYmmdd-HHMMSS-ffffff-xxxx
KEY_WIDTH = 16
_KEY_AT = RUN_ID_WIDTH + 1
_STATUS_AT = _KEY_AT + KEY_WIDTH + 1
_CHECK_BYTES = 4096  # the bytes before the scanned end that must be unchanged for the index to hold


@dataclass
class Scan:
    """Every row of the ledger the scan could read, in file order."""

    keys: np.ndarray  # S16; b"" for a row without a key (an earlier version's, not upgraded)
    statuses: np.ndarray  # index into STATUSES
    offsets: np.ndarray  # byte offset of the row's first character

    @property
    def unknown(self):
        """Rows without a key: their runs cannot be recognised."""
        return int((self.keys == b"").sum())


@dataclass
class Known:
    """run_key -> byte offset of its latest ok row and of its latest row, for a set of keys."""

    keys: np.ndarray  # S16, sorted, unique
    ok: np.ndarray  # offset of the latest ok row, -1 if none
    latest: np.ndarray  # offset of the latest row of any status
    unknown: int = 0

    def offset(self, key, mode):
        """The row a job of this key reuses under ``runner.resume=mode`` (auto: its latest ok
        row; all: its latest row of any status), or None."""
        if mode not in ("auto", "all") or not len(self.keys):
            return None
        key = key.encode() if isinstance(key, str) else key
        at = int(np.searchsorted(self.keys, key))
        if at == len(self.keys) or self.keys[at] != key:
            return None
        offset = int((self.ok if mode == "auto" else self.latest)[at])
        return offset if offset >= 0 else None

    def save(self, path):
        """Write atomically; on any error (a full disk) the temporary file is removed."""
        tmp = Path(path).with_name(f".{Path(path).name}.{os.getpid()}.tmp.npz")
        try:
            np.savez(tmp, keys=self.keys, ok=self.ok, latest=self.latest, unknown=self.unknown)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path):
        """-> Known; a file that is not one (cut short, garbled, a folder) raises ValueError."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(data["keys"], data["ok"], data["latest"], int(data["unknown"]))
        except (OSError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(
                f"{path} is damaged or not a snapshot of the ledger ({error})"
            ) from None


def known(ledger, keep_index=True):
    """The Known of every key in ``ledger`` (empty if there is none)."""
    return summarise(scan(ledger, keep_index))


def summarise(found):
    """A Scan -> Known: per key, the last ok row and the last row (later rows win)."""
    keyed = found.keys != b""
    keys, statuses, offsets = found.keys[keyed], found.statuses[keyed], found.offsets[keyed]
    if not len(keys):
        empty = np.array([], dtype="S16")
        return Known(empty, np.array([], np.int64), np.array([], np.int64), found.unknown)
    unique, last = _last_of_each(keys)
    ok = np.full(len(unique), -1, dtype=np.int64)
    is_ok = statuses == STATUSES.index("ok")
    if is_ok.any():
        ok_keys, ok_last = _last_of_each(keys[is_ok])
        ok[np.searchsorted(unique, ok_keys)] = offsets[is_ok][ok_last]
    return Known(unique, ok, offsets[last], found.unknown)


def _last_of_each(keys):
    """(sorted unique keys, index of each one's last occurrence in ``keys``)."""
    reversed_keys = keys[::-1]
    unique, first_in_reversed = np.unique(reversed_keys, return_index=True)
    return unique, len(keys) - 1 - first_in_reversed


def scan_of_nothing():
    return Scan(np.array([], dtype="S16"), np.array([], np.int8), np.array([], np.int64))


def scan(ledger, keep_index=True):
    """Scan ``ledger`` -> Scan, reading only what was appended since the last scan (whose
    index is kept beside the ledger unless ``keep_index`` is false: a dry run writes nothing)."""
    ledger = Path(ledger)
    try:
        with open(ledger, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            header = file.readline()
            if size == 0:
                return scan_of_nothing()
            if not fast_layout(header):
                problem = ledger_problem(ledger)
                if problem is not None:
                    warn(f"{ledger}: {problem}; no earlier run in it is recognised, every job runs")
                    return scan_of_nothing()
                raise LayoutError(ledger)
            index_path = _index_path(ledger)
            previous, start = _load_index(index_path, file, header, size)
            end, new = _scan_file(file, start, size)
    except FileNotFoundError:
        return scan_of_nothing()
    except IsADirectoryError:
        warn(f"{ledger} is a folder, not a ledger; no earlier run is recognised, every job runs")
        return scan_of_nothing()
    found = new if previous is None else _concat(previous, new)
    if keep_index and (previous is None or len(new.keys)):
        _save_index(index_path, found, header, end, _check_bytes(ledger, end))
    return found


def _scan_file(file, start, size):
    """Scan bytes ``start`` to ``size`` of the open ledger, in place (memory-mapped, no copy)
    -> (end of the last whole line, Scan). A last line cut short is not read (records warns)."""
    if size <= start:
        return start, scan_of_nothing()
    with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        end = mapped.rfind(b"\n", start, size) + 1
        if end <= start:
            return start, scan_of_nothing()
        raw = np.frombuffer(mapped, dtype=np.uint8, count=end - start, offset=start)
        try:
            return end, _scan_bytes(raw, start)
        finally:
            del raw  # the map closes only once no array looks into it


class LayoutError(Exception):
    """The ledger's first columns are not run_id, run_key, status (an earlier version's)."""


def fast_layout(header):
    columns = next(csv.reader([header.decode("utf-8", "replace")]), [])
    return columns[:3] == ["run_id", "run_key", "status"]


def _scan_bytes(raw, base):
    """The rows in ``raw`` (uint8, whole lines, the first at byte ``base`` of the file) -> Scan."""
    if not len(raw):
        return scan_of_nothing()
    ends = np.flatnonzero(raw == 10)
    starts = np.concatenate(([0], ends[:-1] + 1))
    last = len(raw) - 1

    def at(offset, rows=slice(None)):
        return raw[np.minimum(starts[rows] + offset, last)]

    shaped = np.flatnonzero((at(8) == ord("-")) & (at(RUN_ID_WIDTH) == ord(",")))
    key_first = at(_KEY_AT, shaped)
    keyed = shaped[(key_first != ord(",")) & (at(_STATUS_AT - 1, shaped) == ord(","))]
    keyless = shaped[key_first == ord(",")]
    rows = np.concatenate((keyed, keyless))
    status = np.concatenate((_statuses(at, keyed, _STATUS_AT), _statuses(at, keyless, _KEY_AT + 1)))
    keys = np.zeros(len(rows), dtype="S16")
    if len(keyed):
        spans = np.minimum(starts[keyed, None] + np.arange(_KEY_AT, _KEY_AT + KEY_WIDTH), last)
        keys[: len(keyed)] = np.ascontiguousarray(raw[spans]).view("S16").ravel()
    valid = status >= 0
    order = np.argsort(rows[valid], kind="stable")  # file order
    offsets = starts[rows[valid]].astype(np.int64) + base
    return Scan(keys[valid][order], status[valid][order], offsets[order])


_WIDEST = max(len(name) for name in STATUSES) + 1


def _statuses(at, rows, first):
    """Index into STATUSES of the status field starting at byte ``first`` of these rows, -1 if
    it is none: the field's bytes gathered once, compared with each status and its comma."""
    found = np.full(len(rows), -1, dtype=np.int8)
    if not len(rows):
        return found
    block = np.stack([at(first + i, rows) for i in range(_WIDEST)], axis=1)
    for code, name in enumerate(STATUSES):
        pattern = np.frombuffer(name.encode() + b",", dtype=np.uint8)
        found[(block[:, : len(pattern)] == pattern).all(axis=1)] = code
    return found


def _concat(a, b):
    return Scan(
        np.concatenate((a.keys, b.keys)),
        np.concatenate((a.statuses, b.statuses)),
        np.concatenate((a.offsets, b.offsets)),
    )


def _index_path(ledger):
    return ledger.with_name(f".{ledger.name}.index.npz")


def _load_index(path, file, header, size):
    """(the Scan kept for this ledger, the offset it reached), or (None, offset of the first
    row) when there is none or the ledger changed other than by appending."""
    first_row = len(header)
    try:
        with np.load(path) as data:
            if bytes(data["header"]) != header:
                return None, first_row
            end = int(data["end"])
            if end > size or end < first_row:
                return None, first_row
            file.seek(max(first_row, end - _CHECK_BYTES))
            if _digest(file.read(end - file.tell())) != bytes(data["check"]):
                return None, first_row
            return Scan(data["keys"], data["statuses"], data["offsets"]), end
    except Exception:  # noqa: BLE001 - a cache cut short or garbled (BadZipFile, ...): scan again
        return None, first_row


def _save_index(path, found, header, end, check):
    """Keep the scan for next time; a cache, so a folder that cannot take it only costs time."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
    try:
        np.savez(
            tmp,
            keys=found.keys,
            statuses=found.statuses,
            offsets=found.offsets,
            header=np.frombuffer(header, dtype=np.uint8),
            end=end,
            check=np.frombuffer(check, dtype=np.uint8),
        )
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _check_bytes(ledger, end):
    with open(ledger, "rb") as file:
        header = len(file.readline())
        file.seek(max(header, end - _CHECK_BYTES))
        return _digest(file.read(end - file.tell()))


def _digest(data):
    return hashlib.sha256(data).digest()


def row_at(ledger, offset):
    """The ledger row starting at byte ``offset`` -> {column: text}."""
    with open(ledger, newline="", encoding="utf-8", errors="surrogateescape") as file:
        header = next(csv.reader(file))
        file.seek(offset)
        values = next(csv.reader(file), [])
    return dict(zip(header, values, strict=False))


def upgrade(ledger, base_dir):
    """Give a ledger written before run keys existed its ``run_key`` column in place, each
    earlier run's key computed from its saved ``.hydra/config.yaml`` -> (keys filled in, runs
    left unknown), or None if the ledger needed nothing. Rewritten atomically under its lock."""
    from filelock import FileLock

    from runner.records import LOCK_TIMEOUT, rewrite_rows
    from runner.run_key import key_of_saved_run

    ledger = Path(ledger)
    counts = [0, 0]

    def with_key(row):
        if not row.get("run_key"):
            key = key_of_saved_run(row.get("run_dir") or "", base_dir)
            counts[key is None] += 1
            row["run_key"] = key or ""
        return row

    with FileLock(str(ledger) + ".lock", timeout=LOCK_TIMEOUT):
        with open(ledger, "rb") as file:
            first = file.readline()
        if fast_layout(first) or ledger_problem(ledger) is not None:
            return None
        names = next(csv.reader([first.decode("utf-8", "surrogateescape")]), [])
        names = names if "run_key" in names else [*names, "run_key"]
        head = [column for column in RUN_COLUMNS if column in names]
        rewrite_rows(ledger, head + [n for n in names if n not in head], with_key)
    return tuple(counts)


def upgrade_note(ledger, counts):
    filled, unknown = counts
    note = f"{ledger}: an earlier version's ledger; run_key filled in for {filled} runs from their saved .hydra/config.yaml"
    if unknown:
        note += f"; {unknown} runs have no saved config and are treated as unknown (they are run again when asked for)"
    return note
