"""``hydra/launcher=submitit_local|submitit_slurm`` (and the ``slurm`` preset) with packing:
``hydra.launcher.jobs_per_task=N`` runs N of a sweep's jobs one after another in one submitit
task, each with its own folder and ledger row (runner.sweeps.packing does the work).

The classes are defined with or without hydra-submitit-launcher (the [slurm] extra): Hydra 1.3's
plugin scan imports this module anyway, and Hydra 1.4 loads both classes through their
``hydra.plugins`` entry points (pyproject.toml), so neither may fail or warn on an install
without it. There they are launchers whose sweep stops at once with one line saying how to
install the extra (``submitit_local`` and ``submitit_slurm`` are then no config options either:
runner.errors says the same when one is chosen)."""

from hydra.plugins.launcher import Launcher

INSTALL = "pip install -e '.[slurm]'"

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
        LocalLauncher,
        SlurmLauncher,
    )
except ImportError:
    LocalLauncher = SlurmLauncher = None


class _WithoutSubmitit(Launcher):
    """In place of hydra-submitit-launcher's launchers when it is not installed. Abstract (no
    ``launch``, which _Packing gives), so no plugin scan lists it as a launcher of its own."""

    def __init__(self, **params):
        self.params = params

    def setup(self, *, hydra_context, task_function, config):
        pass


class _Packing:
    cluster: str | None = None  # submitit's name for the executor: "local" or "slurm"

    def __init__(self, jobs_per_task=1, requeue=False, max_requeues=3, **params):
        super().__init__(**params)
        self.jobs_per_task = jobs_per_task
        self.requeue = requeue
        self.max_requeues = max_requeues

    def setup(self, *, hydra_context, task_function, config):
        """Before the sweep writes anything: a Slurm controller that answers and a partition
        it has (runner.sweeps.slurm_queue.preflight)."""
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        if self.cluster == "slurm" and LocalLauncher is not None:
            from runner.sweeps.slurm_queue import preflight

            preflight(self.params.get("partition"))

    def launch(self, job_overrides, initial_job_idx):
        if LocalLauncher is None:
            from runner.errors import ConfigError

            raise ConfigError(
                "hydra/launcher",
                f"submitit_{self.cluster}",
                f"needs hydra-submitit-launcher and submitit, which are not installed: {INSTALL}",
            )
        from runner.sweeps.packing import launch_packed

        return launch_packed(
            self,
            job_overrides,
            initial_job_idx,
            lambda: super(_Packing, self).launch(job_overrides, initial_job_idx),
        )


# the base is the extra's launcher when it is installed: a type checker sees one of the two
class PackedLocalLauncher(_Packing, LocalLauncher or _WithoutSubmitit):  # type: ignore[misc]
    """submitit's local executor, N jobs per task."""

    cluster = "local"


class PackedSlurmLauncher(_Packing, SlurmLauncher or _WithoutSubmitit):  # type: ignore[misc]
    """Slurm through submitit, N jobs per Slurm task."""

    cluster = "slurm"
