"""Several sweep jobs in one submitit task (``hydra.launcher.jobs_per_task``).

A small network's job trains in about a second and waits in a Slurm queue far longer, and
submitit starts a Python process per task: packing N jobs per task pays for that once per N.
Each job still goes through Hydra's ``run_job`` (its own folder, ``.hydra/``, ledger row).

A task that Slurm preempts (SIGTERM) or that reaches its time limit (submitit forwards Slurm's
warning as SIGUSR2, ``signal_delay_s`` before it) stops its running job, which records itself
``interrupted`` with the rows it logged, and starts none of its remaining jobs: they are not
run, and have no folder and no ledger row, so ``--resume`` runs them (and the interrupted one).
"""

import signal

from runner.errors import ConfigError
from runner.sweeps.result import JobResult

STOPS = {
    signal.SIGTERM: "interrupted: the task was preempted or cancelled (SIGTERM)",
    signal.SIGUSR2: "interrupted: the task reached its time limit (SIGUSR2)",
}


def launch_packed(launcher, job_overrides, initial_job_idx, one_per_task):
    """Submit the batch in packs of ``jobs_per_task`` -> one JobReturn per job, in order.
    ``one_per_task()``: the plugin's own launch, a task per job, for when the executor cannot
    be set up as hydra-submitit-launcher sets it up (``runner.sweeps.compat``)."""
    from hydra.core.singleton import Singleton

    from runner.sweeps import compat

    n = launcher.jobs_per_task
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(
            "hydra.launcher.jobs_per_task", n, "must be a positive integer (1: a task per job)"
        )
    try:
        executor = compat.submitit_executor(launcher.params, launcher.cluster, launcher.config)
    except compat.Moved as error:
        compat.moved(error, "one job per submitit task")
        return one_per_task()
    jobs = [(list(o), initial_job_idx + i) for i, o in enumerate(job_overrides)]
    packs = [jobs[start : start + n] for start in range(0, len(jobs), n)]
    state = Singleton.get_state()
    submitted = executor.map_array(launcher.run_pack, packs, [state] * len(packs))
    returns = {}
    for pack, task in zip(packs, submitted, strict=True):
        try:
            done = task.results()[0]
        except Exception:  # noqa: BLE001 - the task died: its jobs recorded what they could
            done = {}
        for overrides, idx in pack:
            returns[idx] = done.get(idx) or _not_run(overrides)
    return [returns[idx] for _, idx in jobs]


def run_pack(launcher, pack, singleton_state):
    """In the submitit task: run the pack's jobs in turn -> {job number: JobReturn}, without
    the jobs a stop signal left unstarted."""
    import submitit
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job, setup_globals
    from omegaconf import open_dict

    from runner.interrupts import Interrupted, set_reason

    Singleton.set_state(singleton_state)
    setup_globals()
    stopped = []

    def on_stop(signum, frame):
        stopped.append(signum)
        if running:  # the job's own handlers take SIGTERM; SIGUSR2 arrives here
            raise Interrupted(signum, STOPS[signum])

    running = []
    previous = {number: signal.signal(number, on_stop) for number in STOPS}
    results = {}
    try:
        for overrides, idx in pack:
            if stopped:
                break
            config = launcher.hydra_context.config_loader.load_sweep_config(
                launcher.config, overrides
            )
            with open_dict(config.hydra.job):
                config.hydra.job.id = f"{submitit.JobEnvironment().job_id}_{idx}"
                config.hydra.job.num = idx
            for number, reason in STOPS.items():
                set_reason(number, reason)
            running.append(idx)
            try:
                results[idx] = run_job(
                    hydra_context=launcher.hydra_context,
                    task_function=launcher.task_function,
                    config=config,
                    job_dir_key="hydra.sweep.dir",
                    job_subdir_key="hydra.sweep.subdir",
                )
            except KeyboardInterrupt:  # the job recorded itself interrupted
                stopped.append(signal.SIGTERM)
                results[idx] = _not_run(overrides)
            finally:
                running.clear()
            if JobResult.of_return(results[idx]).status == "interrupted":  # a stop the job took
                stopped.append(signal.SIGTERM)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return results


def _not_run(overrides):
    """What Hydra is told of a job the task did not finish: done, interrupted (it recorded
    itself so), with no objective."""
    from hydra.core.utils import JobReturn, JobStatus

    ret = JobReturn()
    ret.overrides = list(overrides)
    ret.task_name = "runner"
    ret.status = JobStatus.COMPLETED
    ret.return_value = JobResult("interrupted", message="interrupted")
    return ret
