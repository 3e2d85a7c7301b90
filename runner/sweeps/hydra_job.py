"""Hydra's ``run_job``, for a config built for its job by the composition cache.

The same steps as ``hydra.core.utils.run_job`` in the same order, the same ``.hydra/`` files
and callbacks, without the copies that cost more than a short job (see ``run_job``). Used by
the pool's workers (``runner.sweeps.worker``) and by whatever runs a job in this process.
"""

import contextlib
import os
from pathlib import Path

from omegaconf import OmegaConf, open_dict

from runner.sweeps import compat


def run_job(task_function, config, callbacks, folder=None, whitelist=None):
    """Hydra's ``hydra.core.utils.run_job`` for a config that is this job's own (built for it
    from the composition cache): the same steps in the same order, the same ``.hydra/`` files
    and callbacks, for a fraction of the cost. Hydra sets the hydra config twice and
    deep-copies the whole config three times (the hydra node is most of it), which costs more
    than a forward-only job itself. Here the output folder is set first, the hydra config
    holds the job's own (read-only) hydra node instead of a copy of it, and the task's config
    is a copy of the rest alone. ``tests/test_compose_cache.py`` compares what both write and
    pass to the task and the callbacks, on Hydra 1.3 and 1.4, whose ``run_job`` differ in a
    few steps (``series`` below). On another series, and for a 1.4 job whose
    ``hydra.job.env_set`` interpolates (1.4 resolves it in its copy of the hydra node, which
    here is shared), Hydra's own ``run_job`` runs the job.
    """
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import read_write

    series = compat.hydra_series()
    if series is None:
        compat.moved(compat.untested_hydra(), "Hydra's own run_job for every job: slower")
    if series is None or (series != "1.3" and _env_set_interpolates(config)):
        return compat.hydra_run_job(task_function, config, callbacks, whitelist)
    hydra_config = HydraConfig.instance()
    old_cwd, old_hydra_cfg = os.getcwd(), hydra_config.cfg
    hydra_config.cfg = config  # so that hydra.sweep.dir/subdir resolve as in Hydra
    try:
        with compat.execution_whitelist(whitelist):
            output_dir = os.path.abspath(folder or job_folder(config))
            with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
                config.hydra.runtime.output_dir = output_dir
            OmegaConf.set_readonly(config.hydra, True)
            hydra_config.cfg = compat.hydra_part(config)
            task_cfg = compat.task_part(config)
            return _run(
                task_function, config, task_cfg, callbacks, hydra_config, output_dir, series
            )
    finally:
        hydra_config.cfg = old_hydra_cfg
        os.chdir(old_cwd)


def _env_set_interpolates(config):
    env_set = config.hydra.job.env_set
    return any(OmegaConf.is_interpolation(env_set, key) for key in env_set)


def _run(task_function, config, task_cfg, callbacks, hydra_config, output_dir, series):
    from hydra.core.utils import JobReturn, JobRuntime, JobStatus, env_override

    from runner.sweeps.yaml_files import to_yaml

    ret = JobReturn()
    ret.cfg = task_cfg
    ret.hydra_cfg = hydra_config.cfg
    ret.overrides = OmegaConf.to_container(config.hydra.overrides.task)
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    if hydra_config.cfg.hydra.job.chdir:  # None is false from version_base 1.2 on
        os.chdir(output_dir)
    ret.working_dir = os.getcwd()
    if config.hydra.output_subdir is not None:
        hydra_output = Path(output_dir) / str(config.hydra.output_subdir)
        hydra_output.mkdir(parents=True, exist_ok=True)
        for name, node in (
            ("config.yaml", task_cfg),
            ("hydra.yaml", hydra_config.cfg),
            ("overrides.yaml", config.hydra.overrides.task),
        ):
            (hydra_output / name).write_text(to_yaml(node), encoding="utf-8")
    if series != "1.3":  # 1.4 names the task before it runs, and ends a stopped job too
        ret.task_name = JobRuntime.instance().get("name")
    try:
        with env_override(hydra_config.cfg.hydra.job.env_set):
            callbacks.on_job_start(config=config, task_function=task_function)
            try:
                ret.return_value = task_function(task_cfg)
                ret.status = JobStatus.COMPLETED
            except Exception as error:  # noqa: BLE001 - Hydra's contract: the job's failure
                ret.return_value = error
                ret.status = JobStatus.FAILED
    except BaseException as error:  # a stop (KeyboardInterrupt, SystemExit) goes on up
        if series == "1.3":
            raise
        ret.return_value, ret.status = error, JobStatus.FAILED
        _flush_loggers()
        callbacks.on_job_end(config=config, job_return=ret)
        raise
    if series == "1.3":
        ret.task_name = JobRuntime.instance().get("name")
    _flush_loggers()
    callbacks.on_job_end(config=config, job_return=ret)
    return ret


def _flush_loggers():
    """Flush every logging handler, as Hydra's ``run_job`` does before ``on_job_end`` (its
    ``_flush_loggers`` walks the logging module's private handler list; this, the loggers)."""
    import logging

    loggers = [logging.getLogger()] + [
        logger
        for logger in list(logging.Logger.manager.loggerDict.values())
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            with contextlib.suppress(Exception):
                handler.flush()


def job_folder(config):
    """Where Hydra's run_job puts this job: hydra.sweep.dir / hydra.sweep.subdir."""
    return Path(str(OmegaConf.select(config, "hydra.sweep.dir"))) / str(
        OmegaConf.select(config, "hydra.sweep.subdir")
    )
