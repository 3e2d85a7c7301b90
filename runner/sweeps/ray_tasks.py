"""The Ray side of ``hydra/launcher=ray``: a task runs a chunk of a sweep's jobs and streams
each job's result back as it finishes.

Without a shared file system (``hydra.launcher.shared_fs=false``, the default) a job runs in a
scratch folder of the worker's own: its sweep folder and ledger are there, and when it ends
its files (metrics.csv, summary.csv, params.npz, ``.hydra/``, job.log, ...) and the ledger row
it appended are sent back as bytes, with the scratch paths in them written as the driver's
paths, for the driver to write into its sweep folder and ledger. The scratch folder is then
removed. With a shared file system the job writes where the driver would, as the pool does.
"""

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import open_dict, read_write

SCRATCH_ENV = "NNRUNNER_RAY_SCRATCH"  # where workers make their scratch folders (default: tmp)
_runners: dict = {}  # id of the sweep's setup -> JobRunner: one per worker process and sweep


@dataclass
class Shipped:
    """One job's result as the driver needs it."""

    idx: int
    result: object  # runner.sweeps.result.JobResult
    seconds: float  # the job's wall time on the worker, to size later chunks
    files: dict = field(default_factory=dict)  # path inside the job folder -> bytes
    ledger_rows: str = ""  # the CSV lines (no header) the job appended, driver's paths in them
    ledger_header: str = ""


class StopFlag:
    """A Ray actor in the driver's sweep: set when the sweep is told to stop (Ctrl-C), polled
    by every task, which then interrupts its running job the way a stop signal would."""

    def __init__(self):
        self.reason = None

    def set(self, reason):
        self.reason = reason

    def get(self):
        return self.reason


class _StopWatch:
    """Polls the StopFlag in a thread; interrupts this worker's job, but only while armed."""

    POLL_SECONDS = 0.5

    def __init__(self, flag):
        self.flag, self.reason = flag, None
        self._armed, self._lock, self._done = False, threading.Lock(), threading.Event()
        if flag is not None:
            self.node = _this_node()  # asked now, while the node is there to answer
            threading.Thread(target=self._watch, name="nnrunner-stop", daemon=True).start()

    def _watch(self):
        import ray

        while not self._done.wait(self.POLL_SECONDS):
            try:
                reason = ray.get(self.flag.get.remote())
            except Exception as error:  # noqa: BLE001 - the driver, or this node, is gone
                # Ray does not tell one from the other: a node being stopped loses its raylet
                # first, and the flag with it. The line names this node either way.
                reason = (
                    f"the Ray node it ran on ({self.node}) lost the sweep's driver "
                    f"({type(error).__name__}): the node or the driver stopped"
                )
            if reason:
                self.reason = reason
                with self._lock:
                    if self._armed:
                        from runner.interrupts import interrupt_self

                        interrupt_self(f"interrupted: {reason}", signal.SIGINT)
                return

    @contextlib.contextmanager
    def armed(self):
        with self._lock:
            self._armed = True
        try:
            yield
        finally:
            with self._lock:
                self._armed = False

    def close(self):
        self._done.set()


def _this_node():
    """``node <IP>, ID <Ray's node ID>`` of the node this worker runs on."""
    import ray

    try:
        return (
            f"node {ray.util.get_node_ip_address()}, ID {ray.get_runtime_context().get_node_id()}"
        )
    except Exception:  # noqa: BLE001 - only for a message
        return "node unknown"


def run_chunk(setup_id, setup, bases, jobs, places, flag=None):
    """Run ``jobs`` ([(idx, recipe, config_bytes)]) one after another -> yield a Shipped each.

    ``places`` is None on a shared file system, else (the driver's sweep folder, its ledger):
    the job then runs in scratch and its files travel back. Once ``flag`` says stop, the
    running job is interrupted (and records itself so) and no further job of the chunk starts.
    """
    runner = _runner(setup_id, setup, bases)
    # Ray's workers block SIGINT; the stop is delivered as one, as a terminal's Ctrl-C would be
    blocked = signal.SIGINT in signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    watch = _StopWatch(flag)
    try:
        for idx, recipe, config_bytes in jobs:
            if watch.reason:
                return
            started = time.perf_counter()
            config = runner.config(idx, recipe, config_bytes)
            shipped = _one(runner, idx, config, places, watch)
            shipped.seconds = time.perf_counter() - started
            yield shipped
    finally:
        watch.close()
        if blocked:
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])


def _one(runner, idx, config, places, watch):
    if places is None:
        return Shipped(idx, _run(runner, idx, config, True, watch), 0.0)
    scratch = Path(tempfile.mkdtemp(prefix="nnrunner-ray-", dir=os.environ.get(SCRATCH_ENV)))
    try:
        return _run_in_scratch(runner, idx, config, scratch, places, watch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _runner(setup_id, setup, bases):
    from threadpoolctl import threadpool_limits

    from runner.sweeps.worker import JobRunner

    runner = _runners.get(setup_id)
    if runner is None:
        threadpool_limits(limits=1, user_api="blas")  # the tasks, not BLAS, share the cores
        _runners.clear()
        runner = _runners[setup_id] = JobRunner(setup)
    for key, data in bases.items():
        if key not in runner.bases:
            runner.add_base(key, data)
    return runner


def _run(runner, idx, config, check_done, watch):
    """The job -> JobResult; a stop arriving while it runs (or just after) is its result."""
    from runner.sweeps.result import JobResult

    result = None
    try:
        with watch.armed():
            result = runner.run(idx, config, check_done=check_done)
    except KeyboardInterrupt:  # the job recorded itself interrupted, or had ended ok
        pass
    except Exception as error:  # noqa: BLE001 - the job's, reported; the task goes on
        result = JobResult.error(error)
    return result or JobResult("interrupted", message="interrupted")


def _run_in_scratch(runner, idx, config, scratch, places, watch):
    from runner.sweeps.hydra_job import job_folder
    from runner.sweeps.sweep_job import hinted

    sweep_dir, ledger = places
    scratch_sweep, scratch_ledger = scratch / "sweep", scratch / "runs.csv"
    with read_write(config), open_dict(config):
        config.hydra.sweep.dir = str(scratch_sweep)
    folder = job_folder(config)
    with hinted(ledger=scratch_ledger):
        result = _run(runner, idx, config, False, watch)  # the driver looked it up already
    swaps = [(str(scratch_sweep), sweep_dir), (str(scratch_ledger), ledger)]
    files = {}
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                files[str(path.relative_to(folder))] = _as_driver_sees(path, swaps)
    header = rows = ""
    if scratch_ledger.is_file():
        header, _, rows = _swap(scratch_ledger.read_text(), swaps).partition("\n")
    return Shipped(idx, result, 0.0, files, rows, header)


TEXT_SUFFIXES = (".csv", ".yaml", ".log", ".json", ".txt")


def _as_driver_sees(path, swaps):
    data = path.read_bytes()
    if path.suffix in TEXT_SUFFIXES:
        try:
            return _swap(data.decode("utf-8"), swaps).encode("utf-8")
        except UnicodeDecodeError:
            return data
    return data


def _swap(text, swaps):
    for old, new in swaps:
        text = text.replace(old, new)
    return text
