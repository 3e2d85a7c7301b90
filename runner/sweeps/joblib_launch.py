"""``hydra/launcher=joblib``'s work, with the pool's console.

Hydra's joblib launcher logs every job's overrides and lets every worker print to the console,
so a small sweep interleaves a hundred lines. Here each job runs as Hydra's ``execute_job``
does, with what it prints going to ``job.log`` in its folder (as under the pool), and the
launching process reports each job as joblib hands its result back: one progress line for the
whole sweep (``runner.sweeps.progress``).
"""

import contextlib
from pathlib import Path

from runner.sweeps import context
from runner.sweeps.progress import SweepProgress


def launch(launcher, job_overrides, initial_job_idx):
    """Run the batch on joblib's workers -> one JobReturn per job, in the batch's order."""
    from hydra.core.singleton import Singleton
    from hydra.core.utils import configure_log, setup_globals
    from joblib import Parallel, delayed

    from runner.sweeps.labels import swept

    setup_globals()
    config = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    settings = {**launcher.joblib, "backend": "loky"}  # threads are incompatible with Hydra
    _numbers(settings)
    sweep = context.of(config)  # the progress line counts across the sweep's batches
    if not isinstance(sweep.session, SweepProgress):
        sweep.close()
        sweep.session = SweepProgress()
    progress = sweep.session
    progress.add(len(job_overrides))
    labels = swept(" ".join(o) for o in job_overrides)
    state = Singleton.get_state()
    jobs = (
        delayed(execute_job)(
            initial_job_idx + i, o, launcher.hydra_context, config, launcher.task_function, state
        )
        for i, o in enumerate(job_overrides)
    )
    returns = {}
    try:
        for idx, ret, status, message, reused in Parallel(
            **settings, return_as="generator_unordered"
        )(jobs):
            returns[idx] = ret
            label = labels[idx - initial_job_idx]
            progress.finished(f"{idx} ({label})" if label else idx, status, message, reused)
    finally:
        progress.close()
    return [returns[initial_job_idx + i] for i in range(len(job_overrides))]


def _numbers(settings):
    """joblib's keys that take a number or an expression, given as text in the config, as
    numbers where they read as one (what hydra-joblib-launcher 1.2.0's private
    ``_core.process_joblib_cfg`` does, written here on joblib's public keyword arguments)."""
    for key in ("pre_dispatch", "batch_size", "max_nbytes"):
        value = settings.get(key)
        if value:
            with contextlib.suppress(ValueError, TypeError):
                settings[key] = int(value)


def execute_job(idx, overrides, hydra_context, config, task_function, singleton_state):
    """In a joblib worker: hydra-joblib-launcher's ``execute_job`` with the job's output in its
    job.log -> (idx, JobReturn, status, message, reused) for the launching process's progress."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job, setup_globals
    from omegaconf import open_dict

    from runner.sweeps.hydra_job import job_folder
    from runner.sweeps.result import JobResult
    from runner.sweeps.worker import LOG_NAME, _output_to

    setup_globals()
    Singleton.set_state(singleton_state)
    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    folder = job_folder(sweep_config)
    folder.mkdir(parents=True, exist_ok=True)
    with _output_to(folder / LOG_NAME):
        ret = run_job(
            hydra_context=hydra_context,
            config=sweep_config,
            task_function=task_function,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
    result = JobResult.of_return(ret)
    return idx, ret, result.status, result.message, result.reused
