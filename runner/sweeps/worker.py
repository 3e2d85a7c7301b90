"""One job of a sweep, run where the pool puts it: in a worker process or in the launching one.

A worker is forked, with the heavy imports already done, from a server process started once
per sweep; it keeps one BLAS thread (so workers, not BLAS, share the cores), builds each job's
config from the composition cache's recipe, and runs it as Hydra's ``run_job`` would
(``runner.sweeps.hydra_job``: the job folder, its ``.hydra/`` files, the callbacks), with
everything the job prints going to ``job.log`` in its folder; what comes back is the job's
:class:`~runner.sweeps.result.JobResult`.
"""

import contextlib
import os
import pickle
import sys
from dataclasses import dataclass

from omegaconf import OmegaConf, open_dict

from runner.sweeps import compat
from runner.sweeps.hydra_job import job_folder, run_job
from runner.sweeps.result import JobResult

LOG_NAME = "job.log"


@dataclass
class Setup:
    """What every job of a sweep shares, sent once to each worker. The task function travels
    by reference (``task_module``, ``task_name``, ``unwrap``: a function at the top level of an
    importable module, imported again) or by value (``task_bytes``: any other callable)."""

    task_module: str | None
    task_name: str | None
    unwrap: int  # how many functools.wraps layers lie between the module attribute and the task
    job_name: str
    compose: object  # runner.sweeps.compose.Context
    task_bytes: bytes | None = None  # the task pickled by cloudpickle, when not by reference
    resolvers: bytes | None = None  # the launching process's OmegaConf resolvers (cloudpickle)
    foreign: bool = False  # not the runner's task: Hydra's job logging, JobReturn's fields back
    chdir_unset: bool = False  # a foreign job with hydra.job.chdir unset runs in its folder

    @property
    def shippable(self):
        """Whether a worker process can get the task function."""
        return self.task_bytes is not None or self.task_module is not None


def task_function(setup):
    """The task function, in a worker: imported again, or unpickled."""
    if setup.task_bytes is not None:
        return pickle.loads(setup.task_bytes)
    if setup.task_module is None:
        raise TypeError("the task function could not be sent to this process (see the note)")
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
    """(module, name, unwrap depth) by which a worker imports the task function again, or None
    when it is none of a module's own functions (an object, a closure, a lambda, a function of
    the script run as ``__main__``, which a worker cannot import by that name)."""
    module_name = getattr(function, "__module__", None)
    name = getattr(function, "__name__", None)
    if module_name in (None, "__main__", "__mp_main__") or name is None:
        return None
    candidate, depth = getattr(sys.modules.get(module_name), name, None), 0
    while candidate is not function:
        candidate = getattr(candidate, "__wrapped__", None)
        if candidate is None:  # a nested function, or a decorator without functools.wraps
            return None
        depth += 1
    return module_name, name, depth


def pickled(value):
    """``value`` pickled by value with cloudpickle -> (bytes, None), or (None, why not)."""
    try:
        import cloudpickle
    except ImportError:
        return None, "cloudpickle is not installed"
    try:
        return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), None
    except Exception as error:  # noqa: BLE001 - whatever stops it, the jobs run here instead
        return None, f"{type(error).__name__}: {error}"


def add_resolvers(resolvers_bytes):
    """Register the launching process's resolvers that this process lacks (one registered at
    run time, as Hydra's launcher suite does), through Hydra's singleton state, as Hydra's own
    launchers hand it to their workers."""
    from hydra.core.singleton import Singleton

    shipped = pickle.loads(resolvers_bytes)
    missing = {name: r for name, r in shipped.items() if not OmegaConf.has_resolver(name)}
    if missing:
        state = Singleton.get_state()
        state["omegaconf_resolvers"].update(missing)
        Singleton.set_state(state)


class JobRunner:
    """Runs jobs one after another in this process."""

    def __init__(self, setup, task=None):
        """``task``: the task function itself, when it runs in the launching process."""
        from hydra.core.utils import setup_globals

        setup_globals()
        if task is None and setup.resolvers is not None:
            add_resolvers(setup.resolvers)
        self.setup = setup
        self.task = task if task is not None else task_function(setup)
        if setup.foreign:
            from runner.sweeps.hydra_task import HydraTask

            self.task = HydraTask(self.task, setup.chdir_unset)
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
            config.hydra.job.id = str(idx)  # a string field (OmegaConf 2.4 warns otherwise)
            config.hydra.job.num = idx
        return config

    def run(self, idx, config, check_done=True):
        """Run one job -> its JobResult. A task that raised is an ``error`` result, not a crash.
        ``check_done=False``: the launcher looked the job up in the ledger already."""
        from hydra.core.utils import JobRuntime, JobStatus

        from runner.errors import name_the_file
        from runner.sweeps import reuse
        from runner.sweeps.sweep_job import hinted

        whitelist = getattr(self.setup.compose, "execution_whitelist", None)
        if self.callbacks is None:
            self.callbacks = compat.job_callbacks(config, whitelist)
        JobRuntime.instance().set("name", self.setup.job_name)
        folder = job_folder(config)
        reused, found = reuse.before_job(config, folder) if check_done else (None, None)
        if reused is not None:
            return reuse.reused_result(reused, config)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with _output_to(folder / LOG_NAME), hinted(prechecked=found):
                ret = run_job(self.task, config, self.callbacks, folder, whitelist)
        except OSError as error:  # a full disk: its traceback stays here, so name its file now
            raise name_the_file(error, default=folder) from None
        if ret.status == JobStatus.FAILED:  # the task raised it: Hydra kept it in the return
            name_the_file(compat.failure_of(ret), default=folder)
        return JobResult.of_return(ret)


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


def serve(connection, setup_bytes):
    """A worker process's life: run the jobs sent over ``connection`` until told to stop.

    What it was forked with (the modules its server loaded) is frozen first: the collector
    then goes over the jobs' own objects only, and leaves the shared pages unwritten."""
    import gc

    from threadpoolctl import threadpool_limits

    gc.freeze()

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
            result = runner.run(idx, runner.config(idx, recipe, config_bytes))
        except KeyboardInterrupt:
            result = JobResult("interrupted", message="interrupted")
        except Exception as error:  # noqa: BLE001 - reported as the job's, the worker goes on
            result = JobResult.error(error)
        try:
            connection.send(result)
        except (BrokenPipeError, OSError):
            return
