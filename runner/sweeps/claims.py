"""A job claims its run_key before it trains, so two sweeps at once never train one experiment
twice.

Each sweep looks its jobs up in a snapshot of the ledger taken when it started
(``runner.sweeps.reuse``), so two sweeps started together would both find a key missing and
both train it. So a job that is about to train locks ``.claims/<run_key>`` beside the ledger and
holds it until its ledger row is written; the operating system lets the lock go when its
process dies, however it dies. Once it holds the lock, the job writes its name in the file
(host, pid, start time). A claim that finds a name there already knows another process has
claimed the key since the snapshot (or before it) and reads the ledger again before training:
a run that ended ``ok`` meanwhile is reused, anything else (a failed run, a holder killed
mid-run) is run. A claim held by a live process is waited for, then treated the same way. A
claim that finds the file empty is the key's first, and costs one small file and no read of the
ledger.

The lock is ``fcntl.flock`` on that one file, not ``filelock``: filelock truncates the file it
locks when it opens it (so the holder's name could not live in it), and its bookkeeping costs a
good part of a forward-only job, of which a sweep may run thousands. Where there is no
``fcntl`` (Windows) the lock is filelock's on ``<run_key>.lock`` beside the file.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

FOLDER = ".claims"
POLL_SECONDS = 0.05
_made: set[Path] = set()  # claim folders this process has made


@dataclass
class Claim:
    """A held claim: ``contended`` when another process claimed the key before (waited for, or
    it left its name): the ledger must be read again before training. ``waited_for``: who held
    it while this job waited, for the job's line."""

    contended: bool
    waited_for: str | None = None


def folder_of(ledger: Path) -> Path:
    return Path(ledger).parent / FOLDER


@contextlib.contextmanager
def claimed(ledger: Path, key: str, on_wait=None) -> Iterator[Claim]:
    """Hold the claim of ``key`` (beside ``ledger``) for the block. ``on_wait(holder)`` is called
    once when another live process holds it and this one waits."""
    folder = folder_of(ledger)
    if folder not in _made:
        folder.mkdir(parents=True, exist_ok=True)
        _made.add(folder)
    path = folder / key
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    held_by: list[str] = []

    def before_waiting():
        held_by.append(_name(_read(fd)) or "another process")
        if on_wait is not None:
            on_wait(held_by[0])

    try:
        with _locked(fd, path, before_waiting) as waited:
            earlier = _name(_read(fd))
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, _own_name().encode())
            yield Claim(waited or earlier is not None, held_by[0] if held_by else None)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(fd: int, path: Path, before_waiting) -> Iterator[bool]:
    """Lock the open claim file (``before_waiting()`` first when another process holds it)
    -> whether this one waited."""
    if fcntl is None:
        from filelock import FileLock, Timeout

        lock = FileLock(f"{path}.lock", thread_local=False)
        waited = False
        try:
            lock.acquire(timeout=0)
        except Timeout:
            waited = True
            before_waiting()
            lock.acquire(poll_interval=POLL_SECONDS)
        try:
            yield waited
            return
        finally:
            lock.release()
    waited = False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        waited = True
        before_waiting()
        fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield waited
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _read(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 200)


def holder(folder: Path, key: str) -> str | None:
    """Who holds (or last held) the claim of ``key``: 'pid P on HOST (since T)', or None."""
    try:
        return _name((Path(folder) / key).read_bytes())
    except OSError:
        return None


def _own_name() -> str:
    return f"{socket.gethostname()}\n{os.getpid()}\n{time.strftime('%Y-%m-%d %H:%M:%S')}\n"


def _name(data: bytes) -> str | None:
    try:
        host, pid, since = data.decode().split("\n")[:3]
    except (UnicodeDecodeError, ValueError):
        return None
    return f"pid {pid} on {host} (since {since})"
