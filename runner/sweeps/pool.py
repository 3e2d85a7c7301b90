"""Worker processes for a sweep: started once, fed one job at a time, replaced when one dies.

Workers come from a fork server that has imported the runner once (``forkserver`` with
preload), so each starts in milliseconds with everything loaded and none of the launching
process's threads; where there is no fork server (Windows) they are spawned.
"""

import contextlib
import multiprocessing
import pickle
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from runner.sweeps.worker import serve

PRELOAD = [
    "runner.sweeps.worker",
    "runner.sweeps.sweep_job",
    "runner.train",
    "runner.app",  # the runner's task function, which each worker would import again
]


def _context():
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def start_server():
    """Start the fork server now, without waiting for it: its imports then run on another core
    while this process checks the sweep and writes its folder, instead of after, when the first
    worker is asked for. A server already running is kept; without fork servers, nothing."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    from multiprocessing import forkserver

    _context()
    forkserver.ensure_running()


@dataclass
class Worker:
    process: object
    connection: object
    bases: set = field(default_factory=set)  # cached compositions this worker already holds
    job: object = None  # the job it runs now, or None when idle


class Pool:
    """``n`` worker processes; ``submit`` a job to an idle one, ``results`` as they finish."""

    def __init__(self, n, setup):
        self._context = _context()
        self._setup = pickle.dumps(setup, protocol=pickle.HIGHEST_PROTOCOL)
        self.workers = [self._start() for _ in range(n)]

    def _start(self):
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=serve, args=(child, self._setup), daemon=True, name="nnrunner-worker"
        )
        process.start()
        child.close()
        return Worker(process, parent)

    def grow(self, n):
        """At least ``n`` workers (a later batch may be larger than the first)."""
        while len(self.workers) < n:
            self.workers.append(self._start())

    def idle(self):
        return [w for w in self.workers if w.job is None]

    def busy(self):
        return [w for w in self.workers if w.job is not None]

    def submit(self, worker, job, bases):
        """Send ``job`` (with the composed bases its recipe needs and the worker lacks)."""
        recipe = job.recipe
        if recipe is not None and recipe.base not in worker.bases:
            worker.connection.send(("base", recipe.base, bases[recipe.base]))
            worker.bases.add(recipe.base)
        worker.connection.send(("job", job.idx, recipe, job.config_bytes))
        worker.job = job

    def results(self):
        """Wait for the next finished jobs -> [(job, JobResult or None if its worker died, how)]."""
        busy = self.busy()
        ready = set(wait([w.connection for w in busy] + [w.process.sentinel for w in busy]))
        finished = []
        for worker in busy:
            outcome = None
            if worker.connection in ready:
                try:
                    outcome = worker.connection.recv()
                except (EOFError, OSError):
                    outcome = None
            elif worker.process.sentinel not in ready:
                continue
            job, worker.job = worker.job, None
            if outcome is None:
                worker.process.join(5)
                finished.append((job, None, _how_it_ended(worker.process.exitcode)))
                self._replace(worker)
            else:
                finished.append((job, outcome, None))
        return finished

    def _replace(self, worker):
        self.workers[self.workers.index(worker)] = self._start()

    def close(self, wait_seconds=5):
        """Tell every worker to stop; kill those still there after ``wait_seconds`` in all."""
        for worker in self.workers:
            with contextlib.suppress(BrokenPipeError, OSError):
                worker.connection.send(("stop",))
        deadline = time.monotonic() + wait_seconds
        for worker in self.workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)
            worker.connection.close()


def _how_it_ended(exitcode):
    if exitcode is None:
        return "worker died"
    if exitcode < 0:
        return f"worker died: signal {-exitcode} ({signal.Signals(-exitcode).name})"
    return f"worker died: exit code {exitcode}"
