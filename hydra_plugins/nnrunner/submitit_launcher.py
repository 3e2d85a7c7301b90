"""``hydra/launcher=submitit_local|submitit_slurm`` (and the ``slurm`` preset) with packing:
``hydra.launcher.jobs_per_task=N`` runs N of a sweep's jobs one after another in one submitit
task, each with its own folder and ledger row (runner.sweeps.packing does the work).

Defined only when hydra-submitit-launcher is installed (the [slurm] extra); without it this
module defines nothing, since Hydra's plugin scan imports it anyway and would warn about an
ImportError on every run."""

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
        LocalLauncher,
        SlurmLauncher,
    )
except ImportError:
    LocalLauncher = SlurmLauncher = None


class _Packing:
    cluster = None  # submitit's name for the executor: "local" or "slurm"

    def __init__(self, jobs_per_task=1, **params):
        super().__init__(**params)
        self.jobs_per_task = jobs_per_task

    def launch(self, job_overrides, initial_job_idx):
        from runner.sweeps.packing import launch_packed

        if self.jobs_per_task == 1:
            return super().launch(job_overrides, initial_job_idx)
        return launch_packed(
            self,
            job_overrides,
            initial_job_idx,
            lambda: super(_Packing, self).launch(job_overrides, initial_job_idx),
        )

    def run_pack(self, pack, singleton_state):
        from runner.sweeps.packing import run_pack

        return run_pack(self, pack, singleton_state)


if LocalLauncher is not None:

    class PackedLocalLauncher(_Packing, LocalLauncher):
        """submitit's local executor, N jobs per task."""

        cluster = "local"

    class PackedSlurmLauncher(_Packing, SlurmLauncher):
        """Slurm through submitit, N jobs per Slurm task."""

        cluster = "slurm"
