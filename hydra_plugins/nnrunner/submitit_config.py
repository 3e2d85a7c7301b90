"""Configs of the packing submitit launchers: hydra-submitit-launcher's own, plus
``jobs_per_task``. Imported only when that package is installed (the [slurm] extra)."""

from dataclasses import dataclass

from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf


@dataclass
class PackedLocalConf(LocalQueueConf):
    _target_: str = "hydra_plugins.nnrunner.submitit_launcher.PackedLocalLauncher"
    jobs_per_task: int = 1  # the sweep's jobs run one after another, N per submitit task


@dataclass
class PackedSlurmConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.nnrunner.submitit_launcher.PackedSlurmLauncher"
    jobs_per_task: int = 1  # N jobs per Slurm task: a small network's job trains in seconds
