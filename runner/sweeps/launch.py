"""The pool launcher's work: every job of a batch to a worker as one frees up, results back.

The thin Hydra plugin class (``hydra_plugins/nnrunner/pool_launcher.py``) hands its batch
here. Jobs are composed through the sweep's composition cache; a job whose worker dies is
recorded ``failed`` with the reason and its worker replaced; a stop signal lets the running
jobs record themselves (see ``runner.sweeps.stopping``) before the workers are closed.
"""

import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

from runner.errors import ConfigError
from runner.sweeps import context
from runner.sweeps.compose import Recipe, cache_for
from runner.sweeps.progress import SweepProgress
from runner.sweeps.result import JobResult


@dataclass
class Job:
    idx: int
    overrides: list
    recipe: Recipe | None  # None when the job was composed in full
    config_bytes: bytes | None = None  # the full composition, pickled, when there is no recipe


def available_cores():
    """The cores this process may use (its affinity, which a cluster or taskset may narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_count(n_jobs, jobs):
    """``hydra.launcher.n_jobs`` checked -> the number of workers for ``jobs`` jobs."""
    if n_jobs is None:
        n_jobs = available_cores()
    elif isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ConfigError(
            "hydra.launcher.n_jobs",
            n_jobs,
            f"must be a positive integer (1 runs the jobs in this process, one after another) "
            f"or null for one worker per core ({available_cores()} here)",
        )
    return max(1, min(n_jobs, jobs))


class Session:
    """One sweep's workers and progress, kept across its batches (a search sends a batch of
    ``n_jobs`` trials at a time): the workers start once per sweep, not once per batch."""

    def __init__(self, launcher, cache):
        self.cache = cache
        self.setup = _setup(launcher, cache)
        self.task = launcher.task_function  # what runs in this process, as it is
        self.progress = SweepProgress(expected=_expected_jobs(launcher.config))
        self.labels = {}  # job -> the overrides that set it apart, to name it in messages
        self.runner = None  # in this process (n_jobs=1)
        self.pool = None

    def run(self, jobs, n, outcomes):
        from runner.sweeps.labels import swept

        self.labels.update(
            zip((j.idx for j in jobs), swept(" ".join(j.overrides) for j in jobs), strict=True)
        )
        self.progress.add(len(jobs))
        if n > 1 and not self.setup.shippable:
            if self.runner is None:
                _say_in_this_process(self.task)
            n = 1
        if n == 1 and self.pool is None:
            self._in_this_process(jobs, outcomes)
        else:
            self._in_workers(jobs, n, outcomes)

    def _in_this_process(self, jobs, outcomes):
        from runner.sweeps.worker import JobRunner

        if self.runner is None:
            self.runner = JobRunner(self.setup, self.task)
        for key, data in self.cache.bases.items():
            self.runner.add_base(key, data)
        for job in jobs:
            config = self.runner.config(job.idx, job.recipe, job.config_bytes)
            outcomes[job.idx] = result = self.runner.run(job.idx, config)
            self._finished(job, result)

    def _in_workers(self, jobs, n, outcomes):
        from runner.sweeps.pool import Pool

        if self.pool is None:
            _import_meanwhile(CLOSING_IMPORTS)
            self.pool = Pool(n, self.setup)
        self.pool.grow(n)
        pending = list(reversed(jobs))
        while pending or self.pool.busy():
            for worker in self.pool.idle():
                if not pending:
                    break
                self.pool.submit(worker, pending.pop(), self.cache.bases)
            for job, result, death in self.pool.results():
                if result is None:
                    result = _lost(job, self.cache, self.setup, death)
                outcomes[job.idx] = result
                self._finished(job, result)

    def _finished(self, job, result):
        label = self.labels.get(job.idx)
        self.progress.finished(
            f"{job.idx} ({label})" if label else job.idx,
            result.status,
            result.message,
            reused=result.reused,
        )

    def close(self, at_once=False):
        self.progress.close()
        if self.pool is not None:
            self.pool.close(wait_seconds=2 if at_once else 10)
            self.pool = None


# what the sweep's closing table imports (scipy's statistics among them)
CLOSING_IMPORTS = (
    "runner.sweeps.closing",
    "runner.analysis.ranking",
    "runner.analysis.runs",
    "runner.analysis.rendering",
    "scipy.special",  # the intervals' (runner.analysis.stats imports it where it is used)
)


def _import_meanwhile(modules):
    """Import ``modules`` in a thread of their own while this process waits for its workers'
    server and then for their jobs, rather than after the last job, when nothing else runs."""
    import importlib
    import threading

    def imports():
        for name in modules:
            importlib.import_module(name)

    threading.Thread(target=imports, name="nnrunner-imports", daemon=True).start()


def launch(launcher, job_overrides, initial_job_idx):
    """Run the batch -> one JobReturn per job, in the batch's order."""
    from hydra.core.utils import setup_globals

    setup_globals()
    config = launcher.config
    n = worker_count(launcher.n_jobs, len(job_overrides))
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    cache = cache_for(launcher.hydra_context, config)
    session = kept_session(launcher, cache, Session)
    jobs = [_job(cache, initial_job_idx + i, list(o)) for i, o in enumerate(job_overrides)]
    outcomes = {}
    try:
        session.run(jobs, n, outcomes)
    except BaseException:
        context.of(config).close(at_once=True)
        raise
    return [_job_return(job, outcomes[job.idx]) for job in jobs]


def expect(launcher, jobs: int) -> None:
    """A sweep of ``jobs`` jobs at most per batch is about to start: when they will go to worker
    processes, start the pool's fork server now (``runner.sweeps.pool.start_server``). A bad
    ``n_jobs`` is left for ``launch`` to report, as before."""
    try:
        n = worker_count(launcher.n_jobs, jobs)
    except ConfigError:
        return
    if n > 1:
        from runner.sweeps.pool import start_server

        start_server()


def kept_session(launcher, cache, kind):
    """The launcher's session (``kind``: its workers and progress) kept on the sweep's context
    across batches: started by the first batch, or by one whose composition cache is new."""
    sweep = context.of(launcher.config)
    session = sweep.session
    if not isinstance(session, kind) or session.cache is not cache:
        sweep.close()
        session = sweep.session = kind(launcher, cache)
    return session


def _say_in_this_process(task):
    from runner.progress import say
    from runner.sweeps.worker import pickled

    say(
        f"note: the task function cannot go to worker processes ({pickled(task)[1]}); "
        "the jobs run in this process, one at a time",
        file=sys.stderr,
    )


def _expected_jobs(config):
    """How many jobs a search will run (its ``n_trials``), for the progress line; None for a
    grid, whose batches say it."""
    from omegaconf import OmegaConf

    trials = OmegaConf.select(config, "hydra.sweeper.n_trials", default=None)
    return trials if isinstance(trials, int) and not isinstance(trials, bool) else None


def _job(cache, idx, overrides):
    recipe = cache.recipe(overrides)
    if recipe is not None:
        return Job(idx, overrides, recipe)
    full = cache.load(overrides)
    return Job(idx, overrides, None, pickle.dumps(full, protocol=pickle.HIGHEST_PROTOCOL))


def _setup(launcher, cache):
    """The sweep's Setup. A function at the top level of an importable module goes by
    reference (the worker imports it again: the runner's own task); any other callable (an
    object, a closure, a function of the script run as ``__main__``) is pickled by value with
    cloudpickle, once per sweep, and sent once to each worker. The launching process's OmegaConf
    resolvers travel with it, as Hydra's own launchers carry them in the singleton state."""
    from hydra.core.singleton import Singleton

    from runner.sweeps.hydra_task import chdir_unset, is_runner_task
    from runner.sweeps.worker import Setup, describe_task, pickled

    task = launcher.task_function
    reference = describe_task(task)
    task_bytes = pickled(task)[0] if reference is None else None
    module, name, unwrap = reference or (None, None, 0)
    resolvers, _ = pickled(Singleton.get_state()["omegaconf_resolvers"])
    job_name = str(launcher.config.hydra.job.name)
    foreign = not is_runner_task(task)
    return Setup(
        module,
        name,
        unwrap,
        job_name,
        cache.context,
        task_bytes,
        resolvers,
        foreign,
        foreign and chdir_unset(),
    )


def _lost(job, cache, setup, death, status="failed"):
    """A job whose worker died under it (a segfault, os._exit, the OOM killer): recorded
    ``status`` (failed) here, unless it had recorded itself already."""
    from omegaconf import open_dict

    from runner.sweeps.sweep_job import record_lost

    config = pickle.loads(job.config_bytes) if job.recipe is None else None
    if config is None:
        config = setup.compose.build(cache.bases[job.recipe.base], job.recipe, cache.parser)
    with open_dict(config):
        config.hydra.job.id, config.hydra.job.num = str(job.idx), job.idx  # id: a string
    record_lost(config, death, status)
    return JobResult.lost(death, status)


def _job_return(job, result):
    """Hydra's JobReturn: a job whose task raised is FAILED (the basic sweeper re-raises it, a
    search marks the trial failed); any other holds its JobResult, which the sweepers read (a
    lost job's too). A foreign task's job (runner.sweeps.hydra_task) gets its own return value
    and the rest of Hydra's fields."""
    from hydra.core.utils import JobReturn, JobStatus

    from runner.sweeps.hydra_task import Returned, fill

    ret = JobReturn()
    ret.overrides = job.overrides
    ret.task_name = "runner"
    if result.raised is not None:
        ret.status, ret.return_value = JobStatus.FAILED, result.raised
    elif isinstance(result.returned, Returned):
        ret.status = JobStatus.COMPLETED
        fill(ret, result.returned)
    else:
        ret.status, ret.return_value = JobStatus.COMPLETED, result
    return ret
