"""Stopping a sweep whose jobs run in other processes without losing a running job's row.

A parallel launcher (joblib, submitit, a local Ray) answers Ctrl-C by killing its workers
outright, which would cut off a job before it records itself. So every job leaves a marker
in the sweep folder while it runs (``.running/<job>-<pid>``, naming its host and pid), and the
sweep's main process, on a stop signal, first writes ``.stop``, sends SIGTERM to the jobs
running on this machine, and waits until their markers are gone (each job removes its own
after its summary and ledger row are written) before it lets the launcher unwind. A job that
starts after ``.stop`` records itself interrupted without training.
"""

import contextlib
import os
import shutil
import signal
import socket
import time
from pathlib import Path

RUNNING = ".running"
STOP = ".stop"
FAILURES = ".failures"  # one empty file per failed job, counted against runner.max_failures
WAIT_SECONDS = 20  # longest wait for running jobs to record themselves; a second signal skips it


@contextlib.contextmanager
def running(sweep_dir, job):
    """Mark job number ``job`` as running in this process for the duration of the block."""
    folder = Path(sweep_dir) / RUNNING
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / f"{job}-{os.getpid()}"
    marker.write_text(f"{socket.gethostname()}\n{os.getpid()}\n")
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def count_failure(sweep_dir, job, limit):
    """Count a failed job; at ``limit`` failures (``runner.max_failures``) stop the sweep the
    gentle way: ``.stop`` is written, running jobs finish, jobs not started yet record
    themselves interrupted without training."""
    if sweep_dir is None or limit is None:
        return
    folder = Path(sweep_dir) / FAILURES
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / str(job)).touch()
        failed = sum(1 for _ in folder.iterdir())
        if failed >= limit and stop_reason(sweep_dir) is None:
            (Path(sweep_dir) / STOP).write_text(
                f"runner.max_failures={limit} reached: {failed} jobs failed\n"
            )


def clear(sweep_dir):
    """Forget a previous attempt's stop, failures and running markers (a resumed sweep)."""
    sweep_dir = Path(sweep_dir)
    with contextlib.suppress(OSError):
        (sweep_dir / STOP).unlink(missing_ok=True)
    for name in (FAILURES, RUNNING):
        shutil.rmtree(sweep_dir / name, ignore_errors=True)


def stop_reason(sweep_dir):
    """Why the sweep was told to stop, or None if it was not."""
    try:
        return (Path(sweep_dir) / STOP).read_text().strip() or "stopped"
    except OSError:
        return None


def stop(sweep_dir, reason, wait=WAIT_SECONDS):
    """Tell the sweep's jobs to stop and wait (at most ``wait`` s) until they have recorded."""
    sweep_dir = Path(sweep_dir)
    with contextlib.suppress(OSError):
        (sweep_dir / STOP).write_text(reason + "\n")
    signalled = set()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        pids = _local_job_pids(sweep_dir)
        if not pids:
            return
        for pid in pids - signalled:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
            signalled.add(pid)
        time.sleep(0.05)


def may_still_run(sweep_dir, job):
    """Whether job number ``job`` may still be running: its marker names a live process here,
    or another machine, where this one cannot tell (the job records itself there)."""
    host = socket.gethostname()
    for marker in (Path(sweep_dir) / RUNNING).glob(f"{job}-*"):
        try:
            marker_host, pid = marker.read_text().split()
        except (OSError, ValueError):
            return True  # being written: the job has just started
        if marker_host != host or _alive(int(pid)):
            return True
    return False


def _local_job_pids(sweep_dir):
    """Pids of jobs running on this machine in other processes, stale markers removed."""
    host, own = socket.gethostname(), os.getpid()
    pids = set()
    for marker in (sweep_dir / RUNNING).glob("*-*"):
        try:
            marker_host, pid = marker.read_text().split()
            pid = int(pid)
        except (OSError, ValueError):
            continue
        if marker_host != host or pid == own:
            continue
        if _alive(pid):
            pids.add(pid)
        else:
            marker.unlink(missing_ok=True)  # killed (SIGKILL, OOM) before it could clean up
    return pids


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
