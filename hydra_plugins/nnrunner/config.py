"""Structured configs of the plugins: ``hydra/launcher=pool``, ``hydra/sweeper=grid`` (the
defaults for ``-m``, set in conf/runner/default.yaml), ``hydra/sweeper=race`` and
``hydra/sweeper=optuna`` with its ``sampler`` and ``pruner`` groups. Plain dataclasses: Hydra imports this module at every
start-up, so nothing here imports Optuna."""

import inspect
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class PoolLauncherConf:
    _target_: str = "hydra_plugins.nnrunner.pool_launcher.PoolLauncher"
    # worker processes; null = one per core this process may use; 1 = in this process, in turn
    n_jobs: Any = None


@dataclass
class RayConf:
    # keyword arguments of ray.init: address null starts a local instance, an address (or
    # "auto") joins a running cluster; num_cpus etc. size a local one
    init: dict = field(default_factory=lambda: {"address": None})
    remote: dict = field(default_factory=lambda: {"num_cpus": 1})  # resources per task


@dataclass
class RayLauncherConf:
    _target_: str = "hydra_plugins.nnrunner.ray_launcher.RayLauncher"
    ray: RayConf = field(default_factory=RayConf)
    chunk_s: float = 3.0  # jobs per task sized so a task runs about this long
    jobs_per_task: Any = None  # a fixed number of jobs per task instead
    shared_fs: bool = False  # true: workers write the sweep folder and ledger themselves


@dataclass
class GridSweeperConf:
    _target_: str = "hydra_plugins.nnrunner.grid_sweeper.GridSweeper"
    max_batch_size: int | None = None  # jobs handed to the launcher at a time; null: all
    params: Any | None = None  # the sweep declared in a config: {key: "a,b,c"}


@dataclass
class RaceSweeperConf:
    _target_: str = "hydra_plugins.nnrunner.race_sweeper.RaceSweeper"
    min_seeds: int = 3  # seeds every configuration runs before the first elimination
    max_seeds: int = 10  # seeds a configuration gets at most; the race ends when survivors reach it
    # confidence at which a configuration shown worse than the best is eliminated (Friedman's
    # test, then Conover's post-hoc test against the best; Wilcoxon's signed-rank test for two)
    level: float = 0.95
    budget: Any = None  # runs the race may spend in all, first round included; null: no limit
    # minimize | maximize; null: from the objective's name (a loss minimized, an accuracy maximized)
    direction: Any = None
    params: Any | None = None  # the grid declared in a config: {key: "a,b,c"}


@dataclass
class TPESamplerConf:
    _target_: str = "optuna.samplers.TPESampler"
    seed: int | None = 0
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    multivariate: bool = False


@dataclass
class RandomSamplerConf:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: int | None = 0


@dataclass
class CmaEsSamplerConf:
    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: int | None = 0
    n_startup_trials: int = 1
    sigma0: float | None = None
    # CMA-ES samples numbers only; choice() keys are sampled at random, said once (docs/how-to/search.md)
    warn_independent_sampling: bool = False


@dataclass
class GridSamplerConf:
    _target_: str = "optuna.samplers.GridSampler"  # search_space: from the sweep's params
    seed: int | None = 0


@dataclass
class QMCSamplerConf:
    _target_: str = "optuna.samplers.QMCSampler"
    seed: int | None = 0
    qmc_type: str = "sobol"
    scramble: bool = True
    warn_asynchronous_seeding: bool = False  # the seed is always given


@dataclass
class NSGAIISamplerConf:
    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: int | None = 0
    population_size: int = 50


@dataclass
class NoPrunerConf:
    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class MedianPrunerConf:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5
    n_warmup_steps: int = 0  # reports (every trainer.log_every epochs) before any pruning
    interval_steps: int = 1


@dataclass
class SuccessiveHalvingPrunerConf:  # asynchronous successive halving (ASHA)
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    # epochs before the first rung: the first report (the step a job reports is its epoch)
    min_resource: Any = "${trainer.log_every}"
    reduction_factor: int = 3
    min_early_stopping_rate: int = 0


@dataclass
class HyperbandPrunerConf:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: Any = "${trainer.log_every}"  # epochs before the first rung
    max_resource: Any = "auto"
    reduction_factor: int = 3


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.nnrunner.optuna_sweeper.OptunaSweeper"
    _recursive_: bool = False  # the sampler and pruner are built when the search starts
    defaults: list = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])
    sampler: Any = MISSING  # hydra/sweeper/sampler=tpe|random|cmaes|grid|qmc|nsgaii
    pruner: Any = MISSING  # hydra/sweeper/pruner=none|median|asha|hyperband
    # minimize | maximize, or one per objective; null: from the objective's name (a loss is
    # minimized, an accuracy maximized, n_parameters and seconds minimized)
    direction: Any = None
    # null or "journal": Optuna's JournalStorage file study.log in the sweep folder (safe on
    # network file systems); "sqlite": study.db there; or a URL (sqlite:///spiral.db) or .log path;
    # journal+postgresql://USER@HOST/DATABASE: the same journal in a PostgreSQL table
    storage: Any = None
    study_name: str | None = None  # null: the sweep folder's name
    n_trials: int = 20  # trials to run now; a continued study runs this many more
    n_jobs: int = 1  # trials proposed and run at a time
    seeds: Any = 1  # seeds per trial (their mean is the objective), or a list of seeds
    max_failure_rate: float = 1.0  # a failed trial is recorded and the search goes on
    params: Any = None  # the search space: {key: "interval(0.001, 0.1)"}


_store = ConfigStore.instance()
# Hydra 1.4 warns when a config replaces another's (ours replace joblib's and submitit's)
# unless told it is meant; 1.3's ConfigStore.store has no such parameter.
_REPLACE = {"replace": True} if "replace" in inspect.signature(ConfigStore.store).parameters else {}
_store.store(group="hydra/launcher", name="pool", node=PoolLauncherConf, provider="nnrunner")
_store.store(group="hydra/launcher", name="ray", node=RayLauncherConf, provider="nnrunner")
_store.store(group="hydra/sweeper", name="grid", node=GridSweeperConf, provider="nnrunner")
_store.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="nnrunner")
_store.store(group="hydra/sweeper", name="race", node=RaceSweeperConf, provider="nnrunner")
for _name, _node in {
    "tpe": TPESamplerConf,
    "random": RandomSamplerConf,
    "cmaes": CmaEsSamplerConf,
    "grid": GridSamplerConf,
    "qmc": QMCSamplerConf,
    "nsgaii": NSGAIISamplerConf,
}.items():
    _store.store(group="hydra/sweeper/sampler", name=_name, node=_node, provider="nnrunner")
for _name, _node in {
    "none": NoPrunerConf,
    "median": MedianPrunerConf,
    "asha": SuccessiveHalvingPrunerConf,
    "successive_halving": SuccessiveHalvingPrunerConf,  # Optuna's name for the same
    "hyperband": HyperbandPrunerConf,
}.items():
    _store.store(group="hydra/sweeper/pruner", name=_name, node=_node, provider="nnrunner")


def _store_submitit():
    """submitit_local and submitit_slurm with ``jobs_per_task``, when hydra-submitit-launcher is
    installed (the [slurm] extra); its own configs are replaced by these."""
    from hydra_plugins.nnrunner import submitit_config as packed

    if packed.LocalQueueConf is None:
        return
    for name, node in (
        ("submitit_local", packed.PackedLocalConf),
        ("submitit_slurm", packed.PackedSlurmConf),
    ):
        _store.store(group="hydra/launcher", name=name, node=node, provider="nnrunner", **_REPLACE)


_store_submitit()


try:
    from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf
except ImportError:
    JobLibLauncherConf = None

if JobLibLauncherConf is not None:

    @dataclass
    class QuietJoblibConf(JobLibLauncherConf):
        """hydra-joblib-launcher's keys, with the pool's console (one progress line for the
        sweep, each job's lines in its job.log)."""

        _target_: str = "hydra_plugins.nnrunner.joblib_launcher.QuietJoblibLauncher"


def _store_joblib():
    """Our joblib config in place of hydra-joblib-launcher's own, when that is installed."""
    if JobLibLauncherConf is not None:
        _store.store(
            group="hydra/launcher",
            name="joblib",
            node=QuietJoblibConf,
            provider="nnrunner",
            **_REPLACE,
        )


_store_joblib()
