"""A sweep's jobs in submitit tasks, ``hydra.launcher.jobs_per_task`` of them per task.

A small network's job trains in about a second and waits in a Slurm queue far longer, and
submitit starts a Python process per task: packing N jobs per task pays for that once per N.
Each job still goes through Hydra's ``run_job`` (its own folder, ``.hydra/``, ledger row).

A task that Slurm preempts or cancels (SIGTERM) or that reaches its time limit (submitit asks
Slurm for SIGUSR2 ``signal_delay_s`` before it) stops its running job, which records itself
``interrupted`` with the rows it logged, and starts none of its remaining jobs: they are
``not_started``, with no folder and no ledger row, and ``--resume`` runs them (and the
interrupted one). With ``hydra.launcher.requeue=true`` the task instead leaves submitit the
jobs still to run (its checkpoint): a task at its time limit requeues itself, and a preempted
one is requeued by Slurm, at most ``max_requeues`` times; each time the interrupted job starts
again in its folder.
"""

import signal

from runner.errors import ConfigError
from runner.sweeps.result import JobResult

STOPS = {
    signal.SIGTERM: "interrupted: the task was preempted or cancelled (SIGTERM)",
    signal.SIGUSR2: "interrupted: the task reached its time limit (SIGUSR2)",
}
NOT_STARTED = "not started: its task ended before it began (--resume runs it)"


def launch_packed(launcher, job_overrides, initial_job_idx, one_per_task):
    """Submit the batch in packs of ``jobs_per_task`` -> one JobReturn per job, in order.
    ``one_per_task()``: the plugin's own launch, a task per job, for when the executor cannot
    be set up as hydra-submitit-launcher sets it up (``runner.sweeps.compat``)."""
    from hydra.core.singleton import Singleton

    from runner.sweeps import compat, slurm_queue

    n = launcher.jobs_per_task
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(
            "hydra.launcher.jobs_per_task", n, "must be a positive integer (1: a task per job)"
        )
    params = dict(launcher.params)
    if launcher.requeue:  # submitit's own bound on requeues at the time limit
        params["max_num_timeout"] = max(params.get("max_num_timeout") or 0, launcher.max_requeues)
    try:
        executor = compat.submitit_executor(params, launcher.cluster, launcher.config)
    except compat.Moved as error:
        compat.moved(error, "one job per submitit task")
        return one_per_task()
    jobs = [(list(o), initial_job_idx + i) for i, o in enumerate(job_overrides)]
    packs = [jobs[start : start + n] for start in range(0, len(jobs), n)]
    state = Singleton.get_state()
    task = PackTask(launcher, launcher.max_requeues if launcher.requeue else 0)
    returns = {}
    with slurm_queue.quiet_submitit():
        submitted = executor.map_array(task, packs, [state] * len(packs))
        if launcher.cluster == "slurm":
            slurm_queue.watch_without_accounting(submitted)
        for pack, job in zip(packs, submitted, strict=True):
            try:
                done = job.results()[0]
            except Exception:  # noqa: BLE001 - the task died: its jobs recorded what they could
                done = {}
            for overrides, idx in pack:
                returns[idx] = done.get(idx) or _not_run(overrides)
    return [returns[idx] for _, idx in jobs]


class PackTask:
    """What a submitit task runs: a pack of jobs in turn (``run_pack``). submitit asks it for a
    checkpoint when Slurm stops the task: the jobs still to run, while requeues are left."""

    def __init__(self, launcher, requeues_left=0):
        self.launcher = launcher
        self.requeues_left = requeues_left
        self.ended = set()  # in the task: jobs that ran to an end other than interrupted

    def __call__(self, pack, singleton_state):
        return run_pack(self, pack, singleton_state)

    def checkpoint(self, pack, singleton_state):
        """-> the submission of this pack's jobs that have not ended, or None (no requeue)."""
        import submitit

        remaining = [job for job in pack if job[1] not in self.ended]
        if self.requeues_left < 1 or not remaining:
            return None
        again = PackTask(self.launcher, self.requeues_left - 1)
        return submitit.helpers.DelayedSubmission(again, remaining, singleton_state)


def run_pack(task, pack, singleton_state):
    """In the submitit task: run the pack's jobs in turn -> {job number: JobReturn}, without
    the jobs a stop signal left unstarted. With requeues left, a stop hands submitit the jobs
    still to run instead (``_requeue``), and the task ends without a result."""
    import submitit
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job, setup_globals
    from omegaconf import open_dict

    from runner.interrupts import Interrupted, set_reason

    launcher = task.launcher
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
                continue  # not ended: a requeued task runs it again
            finally:
                running.clear()
            if JobResult.of_return(results[idx]).status == "interrupted":  # a stop the job took
                stopped.append(signal.SIGTERM)
            else:
                task.ended.add(idx)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if stopped and task.requeues_left > 0:
        _requeue(previous, stopped[0])
    return results


def _requeue(submitit_handlers, signum):
    """Leave the rest of the pack to submitit: at the time limit (SIGUSR2) it checkpoints and
    requeues the task (``max_num_timeout`` times at most); on SIGTERM (Slurm preempting or
    cancelling the task) it checkpoints and the task exits, and a preempted task that Slurm
    requeues runs the checkpoint. Both end this process without a result."""
    from runner.sweeps import compat

    handler = compat.submitit_signal_handler(submitit_handlers.get(signal.SIGUSR2))
    if handler is None:
        return
    if signum == signal.SIGUSR2:
        handler.checkpoint_and_try_requeue(signum)
    else:
        handler.checkpoint_and_exit(signum)


def _not_run(overrides):
    """What Hydra is told of a job the task did not finish: done, not started (or interrupted,
    which its own folder then says), with no objective."""
    from hydra.core.utils import JobReturn, JobStatus

    ret = JobReturn()
    ret.overrides = list(overrides)
    ret.task_name = "runner"
    ret.status = JobStatus.COMPLETED
    ret.return_value = JobResult("not_started", message=NOT_STARTED)
    return ret
