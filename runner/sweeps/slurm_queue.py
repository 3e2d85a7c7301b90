"""What a sweep asks of Slurm itself, around submitit: that the controller answers and the
partition exists before anything is submitted, and the state of the sweep's tasks while it
waits, quietly.

submitit follows its tasks with ``sacct``. On a cluster that keeps no accounting (a small or
test cluster, ``AccountingStorageType=accounting_storage/none``) every poll then fails: sacct
prints its complaint and submitit a warning, which Hydra's root handler prints again, every few
seconds; and a task that died without writing its result (killed, out of memory, a lost node)
never counts as finished, so the sweep waits for ever. Here sacct is asked once; without
accounting the sweep says so in one line and follows its tasks with ``squeue`` instead, a task
gone from the queue being finished.
"""

import logging
import subprocess
import sys
from contextlib import contextmanager

from runner.errors import ConfigError
from runner.progress import say

PING_TIMEOUT_S = 10
# squeue's states of a task still in the queue (anything else, or absent: it has ended)
WAITING = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED"}


class SlurmUnreachable(ConnectionError):
    """No Slurm controller answers; the message is the line the user sees (an OSError: the
    entry point prints it as one line and exits 1)."""


def preflight(partition):
    """Before a sweep submits: the controller answers within PING_TIMEOUT_S, and ``partition``
    (when given) is one ``sinfo`` lists. sbatch would retry an absent controller for a minute and
    print its retries, and refuse a wrong partition with a traceback."""
    try:
        ping = _run(["scontrol", "ping"])
    except FileNotFoundError:
        raise SlurmUnreachable(
            "hydra/launcher=slurm: scontrol is not installed here; run the sweep on a Slurm "
            "login node, or choose hydra/launcher=submitit_local or pool"
        ) from None
    except subprocess.TimeoutExpired:
        ping = None
    if ping is None or ping.returncode != 0 or " is UP" not in ping.stdout:
        said = (ping.stdout or ping.stderr).strip().splitlines() if ping else []
        reason = said[0] if said else f"no answer in {PING_TIMEOUT_S} s"
        raise SlurmUnreachable(
            f"hydra/launcher=slurm: the Slurm controller is not reachable ({reason})"
        )
    if partition is None:
        return
    listed = _run(["sinfo", "--noheader", "--format=%R"]).stdout.split()
    if str(partition) not in listed:
        raise ConfigError(
            "hydra.launcher.partition",
            partition,
            f"is not a partition of this cluster; sinfo lists: {', '.join(listed) or 'none'}",
        )


def _run(command):
    return subprocess.run(command, capture_output=True, text=True, timeout=PING_TIMEOUT_S)


def has_accounting():
    """Whether ``sacct`` answers on this cluster."""
    try:
        return _run(["sacct", "--noheader", "--jobs=1", "--format=JobID"]).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


_said = set()  # notes said already by this process: a race or a search launches many times


def watch_without_accounting(jobs):
    """Give ``jobs`` (submitit's Slurm jobs of one launch) a watcher that reads ``squeue``, when
    the cluster has no accounting; said once per sweep, however many launches it makes."""
    if not jobs or has_accounting():
        return
    from runner.sweeps import compat

    if "no accounting" not in _said:
        _said.add("no accounting")
        say(
            "note: this Slurm keeps no job accounting (sacct answers nothing); the sweep follows "
            "its tasks with squeue",
            file=sys.stderr,
        )
    watcher = compat.squeue_watcher(squeue_states)
    for job in jobs:
        compat.use_watcher(job, watcher)


def squeue_states(job_ids):
    """{task id: state} of the array tasks of ``job_ids`` still in Slurm's queue; a task not
    listed has left it (its state then reads ``ENDED``)."""
    try:
        listed = _run(
            ["squeue", "--noheader", "--array", "--format=%i|%T", f"--jobs={','.join(job_ids)}"]
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None  # ask again at the next poll
    states = {}
    for line in listed.splitlines():
        task, _, state = line.strip().partition("|")
        states[task] = state if state in WAITING else "ENDED"
    return states


@contextmanager
def quiet_submitit():
    """submitit's log lines once, not also through the root logger (Hydra's handler)."""
    log = logging.getLogger("submitit")
    before = log.propagate
    log.propagate = False
    try:
        yield
    finally:
        log.propagate = before
