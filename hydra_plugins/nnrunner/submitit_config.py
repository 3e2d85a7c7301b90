"""Configs of the packing submitit launchers: hydra-submitit-launcher's own, plus
``jobs_per_task``. Defined only when that package is installed (the [slurm] extra); without it
this module defines nothing, since Hydra's plugin scan imports it anyway and would warn about
an ImportError on every run."""

from dataclasses import dataclass

try:
    from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf
except ImportError:
    LocalQueueConf = SlurmQueueConf = None

if LocalQueueConf is not None:

    @dataclass
    class PackedLocalConf(LocalQueueConf):
        _target_: str = "hydra_plugins.nnrunner.submitit_launcher.PackedLocalLauncher"
        jobs_per_task: int = 1  # the sweep's jobs run one after another, N per submitit task
        # true: a task stopped at its time limit or preempted requeues itself with the jobs it
        # has not finished (its interrupted job starts again); false: they wait for --resume
        requeue: bool = False
        max_requeues: int = 3  # requeues of one task at most (with requeue=true)

    @dataclass
    class PackedSlurmConf(SlurmQueueConf):
        _target_: str = "hydra_plugins.nnrunner.submitit_launcher.PackedSlurmLauncher"
        jobs_per_task: int = 1  # N jobs per Slurm task: a small network's job trains in seconds
        # true: a task stopped at its time limit or preempted requeues itself with the jobs it
        # has not finished (its interrupted job starts again); false: they wait for --resume
        requeue: bool = False
        max_requeues: int = 3  # requeues of one task at most (with requeue=true)
