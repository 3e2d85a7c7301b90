"""``hydra/launcher=pool``: a sweep's jobs on a pool of worker processes on this machine."""

from hydra.plugins.launcher import Launcher


class PoolLauncher(Launcher):
    """Worker processes started once per sweep, one job each at a time, one BLAS thread each;
    ``n_jobs`` of them (default: one per core), or the jobs one by one in this process (1)."""

    def __init__(self, n_jobs=None):
        self.n_jobs = n_jobs
        self.config = self.hydra_context = self.task_function = None

    def setup(self, *, hydra_context, task_function, config):
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def expect(self, jobs):
        """A sweeper says how many jobs its batches hold at most, before the first: the pool
        gets ready for them while the sweep starts."""
        from runner.sweeps.launch import expect

        expect(self, jobs)

    def launch(self, job_overrides, initial_job_idx):
        from runner.sweeps.launch import launch

        return launch(self, job_overrides, initial_job_idx)
