"""A task that is not the runner's, run by the pool as Hydra's launchers run a job.

The runner's own task speaks the pool's job protocol: it logs to job.log, records a ledger row
and returns its JobResult, and that is all the pool sends back. Any other Hydra app's task is
owed what Hydra's ``run_job`` gives (``hydra.test_utils.launcher_common_tests`` checks it):
the job's logging configured from ``hydra.job_logging`` (``<job name>.log`` in its folder)
and a JobReturn holding the task's config, the hydra config and the working directory.
:class:`HydraTask` wraps such a task where the job runs and hands those back with the value.
"""

import copy
import inspect
import os
import sys
from dataclasses import dataclass


def is_runner_task(task):
    """Whether ``task`` is ``python -m runner``'s own, which speaks the pool's job protocol."""
    app = sys.modules.get("runner.app")  # not imported: not the runner
    return app is not None and task is inspect.unwrap(app.task)


@dataclass
class Returned:
    """What a job of a foreign task hands back, beside its status: JobReturn's fields."""

    value: object
    cfg: object  # the task's config
    hydra_cfg: object  # the job's hydra config
    working_dir: str
    task_name: str


def chdir_unset():
    """What ``hydra.job.chdir`` unset means in this process: Hydra 1.3 runs the job in its
    folder when the app's version_base is below 1.2; 1.4 never does."""
    from hydra import version

    base_at_least = getattr(version, "base_at_least", None)  # gone in Hydra 1.4
    return base_at_least is not None and not base_at_least("1.2")


class HydraTask:
    """``task`` with Hydra's job logging around it -> a :class:`Returned`; its exceptions
    propagate unchanged (the job fails as Hydra's would). ``chdir_unset``: what
    :func:`chdir_unset` said where the sweep started."""

    def __init__(self, task, chdir_unset=False):
        self.task = task
        self.chdir_unset = chdir_unset

    def __call__(self, cfg):
        from hydra.core.hydra_config import HydraConfig
        from hydra.core.utils import configure_log

        hydra = HydraConfig.get()
        if hydra.job.chdir is None and self.chdir_unset:
            os.chdir(hydra.runtime.output_dir)  # the pool's run_job goes back after the job
        configure_log(hydra.job_logging, hydra.verbose)
        value = self.task(cfg)
        return Returned(
            value,
            cfg,
            copy.deepcopy(HydraConfig.instance().cfg),
            os.getcwd(),
            str(hydra.job.name),
        )


def fill(ret, returned):
    """Hydra's JobReturn ``ret`` completed from a :class:`Returned`."""
    ret.return_value = returned.value
    ret.cfg = returned.cfg
    ret.hydra_cfg = returned.hydra_cfg
    ret.working_dir = returned.working_dir
    ret.task_name = returned.task_name
    return ret
