"""One job of a sweep, run where the pool puts it: in a worker process or in the launching one.

A worker is forked, with the heavy imports already done, from a server process started once
per sweep; it keeps one BLAS thread (so workers, not BLAS, share the cores), builds each job's
config from the composition cache's recipe, and runs it through Hydra's own ``run_job`` (the
job folder, its ``.hydra/`` files, the callbacks), with everything the job prints going to
``job.log`` in its folder.
"""

import contextlib
import os
import pickle
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf, open_dict

LOG_NAME = "job.log"


@dataclass
class Setup:
    """What every job of a sweep shares, sent once to each worker."""

    task_module: str
    task_name: str
    unwrap: int  # how many functools.wraps layers lie between the module attribute and the task
    job_name: str
    compose: object  # runner.sweeps.compose.Context


@dataclass
class Outcome:
    """What came of one job, as the launching process needs it."""

    idx: int
    status: str  # the run's status (ok, failed, ...), or "error" when the task raised
    message: str = ""
    value: object = None  # the task's return value (the objective) or the exception


def task_function(setup):
    function = getattr(
        sys.modules.get(setup.task_module) or _import(setup.task_module), setup.task_name
    )
    for _ in range(setup.unwrap):
        function = function.__wrapped__
    return function


def _import(name):
    import importlib

    return importlib.import_module(name)


def describe_task(function):
    """(module, name, unwrap depth) by which a worker finds the task function again."""
    module = sys.modules[function.__module__]
    candidate, depth = getattr(module, function.__name__), 0
    while candidate is not function:
        candidate = getattr(candidate, "__wrapped__", None)
        if candidate is None:
            raise TypeError(
                "the pool launcher needs the task function defined at module level and any "
                "decorator around @hydra.main to use functools.wraps"
            )
        depth += 1
    return function.__module__, function.__name__, depth


class JobRunner:
    """Runs jobs one after another in this process."""

    def __init__(self, setup):
        from hydra.core.utils import setup_globals

        setup_globals()
        self.setup = setup
        self.task = task_function(setup)
        self.bases = {}
        self.parser = None
        self.callbacks = None

    def add_base(self, key, data):
        self.bases[key] = data

    def config(self, idx, recipe=None, config_bytes=None):
        """The job's config: built from a recipe, or the fully composed one that was sent."""
        if recipe is not None:
            from runner.sweeps.compose import _parser

            self.parser = self.parser or _parser()
            config = self.setup.compose.build(self.bases[recipe.base], recipe, self.parser)
        else:
            config = pickle.loads(config_bytes)
        with open_dict(config):
            config.hydra.job.id = idx
            config.hydra.job.num = idx
        return config

    def run(self, idx, config):
        """Run one job -> Outcome. A task that raises is an "error" outcome, not a crash."""
        from hydra._internal.callbacks import Callbacks
        from hydra.core.utils import JobRuntime, JobStatus, run_job
        from hydra.types import HydraContext

        from runner import job as job_module

        if self.callbacks is None:
            self.callbacks = Callbacks(config)
        JobRuntime.instance().set("name", self.setup.job_name)
        folder = job_folder(config)
        folder.mkdir(parents=True, exist_ok=True)
        job_module.last_row.clear()
        with _output_to(folder / LOG_NAME):
            ret = run_job(
                hydra_context=HydraContext(config_loader=None, callbacks=self.callbacks),
                task_function=self.task,
                config=config,
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
                configure_logging=False,
            )
        row = job_module.last_row
        if ret.status == JobStatus.FAILED:
            error = ret._return_value
            return Outcome(idx, "error", f"{type(error).__name__}: {error}", _picklable(error))
        return Outcome(idx, row.get("status", "ok"), row.get("message") or "", ret.return_value)


def job_folder(config):
    """Where Hydra's run_job puts this job: hydra.sweep.dir / hydra.sweep.subdir."""
    return Path(str(OmegaConf.select(config, "hydra.sweep.dir"))) / str(
        OmegaConf.select(config, "hydra.sweep.subdir")
    )


@contextlib.contextmanager
def _output_to(path):
    """Everything written to stdout and stderr, by Python or below it, goes to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _picklable(error):
    try:
        pickle.dumps(error)
    except Exception:  # noqa: BLE001 - anything the launching process can still be told
        return RuntimeError("".join(traceback.format_exception_only(type(error), error)).strip())
    return error


def serve(connection, setup_bytes):
    """A worker process's life: run the jobs sent over ``connection`` until told to stop."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    runner = JobRunner(pickle.loads(setup_bytes))
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError, KeyboardInterrupt):  # the launching process is gone or stopping
            return
        kind = message[0]
        if kind == "stop":
            return
        if kind == "base":
            runner.add_base(*message[1:])
            continue
        _, idx, recipe, config_bytes = message
        try:
            outcome = runner.run(idx, runner.config(idx, recipe, config_bytes))
        except KeyboardInterrupt:
            outcome = Outcome(idx, "interrupted", "interrupted")
        except Exception as error:  # noqa: BLE001 - reported as the job's, the worker goes on
            outcome = Outcome(idx, "error", f"{type(error).__name__}: {error}", _picklable(error))
        try:
            connection.send(outcome)
        except (BrokenPipeError, OSError):
            return
