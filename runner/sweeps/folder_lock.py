"""One process runs a sweep folder at a time: the sweep's main process holds a file lock in it.

Two ``--resume`` of one folder at once would both train the jobs that are not done, into the
same job folders. So before a sweep's first job its main process takes ``.sweep.lock`` (a
``filelock`` lock, which the operating system lets go when the process dies, however it dies)
and writes who it is beside it (``.sweep.holder``: pid, host, start time), removed when the
sweep ends. A second process finds the lock held and says by whom in one line (exit 2), or
waits for it with ``--wait``. A holder file left by a process that is gone (SIGKILL, a power
cut) names a stale lock: it is taken over with a line saying so. Workers of the sweep (pool,
joblib, Ray, Slurm) never take it: only the main process does, in ``runner.sweeps.prepare``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

LOCK = ".sweep.lock"
HOLDER = ".sweep.holder"
POLL_SECONDS = 0.2


class FolderBusy(Exception):
    """The sweep folder is run by another live process; the message is the one line shown."""


@dataclass
class Holder:
    pid: int | None
    host: str
    since: str

    def __str__(self) -> str:
        pid = f"pid {self.pid}" if self.pid is not None else "an unknown process"
        return f"{pid} on {self.host or 'an unknown host'} (since {self.since or 'unknown'})"

    def gone(self) -> bool:
        """Whether it is a process of this machine that no longer exists."""
        if self.pid is None or self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


_held: dict[Path, FileLock] = {}  # sweep folder -> its lock, held by this process
_waits: list[bool] = [False]  # --wait was given to this process


def wait_when_busy(wait: bool) -> None:
    """``--wait``: a sweep folder run by another process is waited for, not refused."""
    _waits[0] = bool(wait)


def hold(sweep_dir: Path, wait: bool | None = None, say=print) -> None:
    """Take the sweep folder's lock for this process (again: a no-op). Another live holder ->
    FolderBusy, or with ``wait`` (default: whether --wait was given) wait until it ends. A
    stale holder is taken over, said."""
    wait = _waits[0] if wait is None else wait
    sweep_dir = Path(sweep_dir).absolute()
    if sweep_dir in _held:
        return
    sweep_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(sweep_dir / LOCK), thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = read_holder(sweep_dir)
        who = str(holder) if holder is not None else "another process"
        if holder is not None and holder.gone():
            who += ", which is gone (a process it started still holds the lock)"
        if not wait:
            raise FolderBusy(
                f"{sweep_dir} is being run by {who}: one process runs a sweep folder at a "
                "time; give --wait to wait for it to end"
            ) from None
        say(f"waiting: {sweep_dir} is being run by {who}")
        lock.acquire(poll_interval=POLL_SECONDS)
    earlier = read_holder(sweep_dir)
    if earlier is not None and earlier.pid != os.getpid():
        say(
            f"note: {sweep_dir}: taking over the lock of {earlier}, which ended without releasing it"
        )
    _write_holder(sweep_dir)
    _held[sweep_dir] = lock


def release(sweep_dir: Path | None = None) -> None:
    """Let the sweep folder go (every folder this process holds, when none is named)."""
    folders = list(_held) if sweep_dir is None else [Path(sweep_dir).absolute()]
    for folder in folders:
        lock = _held.pop(folder, None)
        if lock is None:
            continue
        with contextlib.suppress(OSError):
            (folder / HOLDER).unlink(missing_ok=True)
        lock.release()


atexit.register(release)  # a Hydra app that ends without the runner's entry point lets go too


def read_holder(sweep_dir: Path) -> Holder | None:
    """Who last took the folder's lock and has not let it go, or None."""
    try:
        found = json.loads((Path(sweep_dir) / HOLDER).read_text())
        pid = found.get("pid")
        return Holder(
            int(pid) if isinstance(pid, int) else None,
            str(found.get("host", "")),
            str(found.get("since", "")),
        )
    except (OSError, ValueError, AttributeError):
        return None


def _write_holder(sweep_dir: Path) -> None:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since})
    tmp = sweep_dir / f"{HOLDER}.{os.getpid()}.tmp"
    tmp.write_text(text + "\n")
    os.replace(tmp, sweep_dir / HOLDER)
