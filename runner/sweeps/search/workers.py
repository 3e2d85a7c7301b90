"""Several processes searching one study: each takes a worker number, so their samplers are
seeded apart.

A sampler is seeded from ``hydra.sweeper.sampler.seed`` and the study's trial count, so the same
command proposes the same trials. Two processes that open one study at the same moment see the
same count and would propose the same trials. So each process takes the lowest free worker
number of the study: a ``filelock`` lock ``.<storage file>.worker-<n>.lock`` beside the study's
file, held for the search and let go by the operating system when the process dies. A process
alone on its study is worker 0 and seeds as before; a second one at the same time is worker 1,
and its sampler's seed is mixed with that number. A study behind a database URL has no file to
lock beside: every process is worker 0 there (give each a ``hydra.sweeper.sampler.seed``).
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

MOST = 256  # worker numbers tried; more processes than this share the last seeds


class WorkerSlot:
    """This process's worker number on a study (0 when alone or when the study is not a file)."""

    def __init__(self, base: Path | None):
        self.base = base
        self.number = 0
        self._lock: FileLock | None = None
        if base is None:
            return
        for number in range(MOST):
            lock = FileLock(str(_lock_path(base, number)), thread_local=False)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            self.number, self._lock = number, lock
            return

    def others_active(self) -> bool:
        """Whether another process holds a worker number of this study now."""
        if self.base is None:
            return False
        for path in self.base.parent.glob(_lock_path(self.base, "*").name):
            if self._lock is not None and path == Path(self._lock.lock_file):
                continue
            probe = FileLock(str(path), thread_local=False)
            try:
                probe.acquire(timeout=0)
            except Timeout:
                return True
            probe.release()
        return False

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def _lock_path(base: Path, number) -> Path:
    """``.study.log.worker-0.lock`` beside ``study.log``: hidden, as the sweep folder's own."""
    return base.parent / f".{base.name}.worker-{number}.lock"


def study_file(where) -> Path | None:
    """The file a study lives in (a journal file, an SQLite database), or None for a server."""
    if where.kind == "journal":
        return Path(where.target)
    if where.target.startswith("sqlite:///"):
        return Path(where.target[len("sqlite:///") :])
    return None


def take(where) -> WorkerSlot:
    """This process's worker number on the study at ``where`` (a Location), held until
    :meth:`WorkerSlot.release` or the process ends."""
    base = study_file(where)
    if base is not None:
        base.parent.mkdir(parents=True, exist_ok=True)
    return WorkerSlot(base)
