"""Structured configs of the plugins, registered as ``hydra/launcher=pool`` and
``hydra/sweeper=grid`` (the defaults for ``-m``, set in conf/runner/default.yaml)."""

from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class PoolLauncherConf:
    _target_: str = "hydra_plugins.nnrunner.pool_launcher.PoolLauncher"
    # worker processes; null = one per core this process may use; 1 = in this process, in turn
    n_jobs: Any = None


@dataclass
class GridSweeperConf:
    _target_: str = "hydra_plugins.nnrunner.grid_sweeper.GridSweeper"
    max_batch_size: int | None = None
    params: Any | None = None  # the sweep declared in a config: {key: "a,b,c"}


ConfigStore.instance().store(
    group="hydra/launcher", name="pool", node=PoolLauncherConf, provider="nnrunner"
)
ConfigStore.instance().store(
    group="hydra/sweeper", name="grid", node=GridSweeperConf, provider="nnrunner"
)
