"""``hydra/launcher=ray``: a sweep's jobs on a local Ray instance or a cluster, in chunks."""

from hydra.plugins.launcher import Launcher


class RayLauncher(Launcher):
    """Jobs in Ray tasks of about ``chunk_s`` seconds each (or ``jobs_per_task`` jobs), each
    job's result streamed back as it ends; without ``shared_fs`` the files come back too."""

    def __init__(self, ray=None, chunk_s=3.0, jobs_per_task=None, shared_fs=False):
        self.ray = ray or {}
        self.chunk_s = chunk_s
        self.jobs_per_task = jobs_per_task
        self.shared_fs = shared_fs
        self.config = self.hydra_context = self.task_function = None

    def setup(self, *, hydra_context, task_function, config):
        from runner.sweeps.ray_launch import prepare

        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function
        prepare(config)

    def launch(self, job_overrides, initial_job_idx):
        from runner.sweeps.ray_launch import launch

        return launch(self, job_overrides, initial_job_idx)
