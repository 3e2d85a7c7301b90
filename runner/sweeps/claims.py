"""A job claims its run_key before it trains, so two sweeps at once never train one experiment
twice.

Each sweep looks its jobs up in a snapshot of the ledger taken when it started
(``runner.sweeps.reuse``), so two sweeps started together would both find a key missing and
both train it. So a job that is about to train takes ``.claims/<run_key>.lock`` beside the
ledger (a ``filelock`` lock, let go by the operating system when its process dies, however it
dies) and holds it until its ledger row is written. Beside the lock, ``.claims/<run_key>``
names the last holder (pid, host, start time); it is made once, by the key's first claim, and
never removed, so a claim that finds it already there knows another process has claimed the
key since the snapshot (or before it) and reads the ledger again before training: a run that
ended ``ok`` meanwhile is reused, anything else (a failed run, a holder killed mid-run) is run.
A claim held by a live process is waited for, then treated the same way. A claim that finds
nothing there is the key's first, and costs two small files and no read of the ledger.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

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
    lock = FileLock(str(folder / f"{key}.lock"), thread_local=False)
    waited_for = None
    try:
        lock.acquire(timeout=0)
    except Timeout:
        waited_for = holder(folder, key) or "another process"
        if on_wait is not None:
            on_wait(waited_for)
        lock.acquire(poll_interval=POLL_SECONDS)
    try:
        first = _name_holder(folder / key)
        yield Claim(contended=waited_for is not None or not first, waited_for=waited_for)
    finally:
        lock.release()


def holder(folder: Path, key: str) -> str | None:
    """Who holds (or last held) the claim of ``key``: 'pid P on HOST (since T)', or None."""
    try:
        host, pid, since = (folder / key).read_text().split("\n")[:3]
    except (OSError, ValueError):
        return None
    return f"pid {pid} on {host} (since {since})"


def _name_holder(path: Path) -> bool:
    """Write this process's name in the claim -> whether this is the key's first claim."""
    text = f"{socket.gethostname()}\n{os.getpid()}\n{time.strftime('%Y-%m-%d %H:%M:%S')}\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        first = True
    except FileExistsError:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        first = False
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    return first
