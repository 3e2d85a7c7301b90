"""Hydra's own launcher and sweeper suites (``hydra.test_utils.launcher_common_tests``), run on
``hydra/launcher=pool`` and ``hydra/sweeper=grid`` the way Hydra's plugins run them
(plugins/hydra_joblib_launcher/tests/test_joblib_launcher.py,
examples/plugins/example_sweeper_plugin/tests): a plugin that passes them works for any Hydra
app. Nothing is skipped or adapted. The suites hand the pool task functions that are no
module-level function (Hydra's ``SweepTaskFunction`` object wrapping a closure): with two
workers those are sent to the workers pickled by value; with ``n_jobs=1`` (and for a sweep of
one job) they run in this process."""

import os
from pathlib import Path

import pytest
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.test_utils.launcher_common_tests import (
    BatchedSweeperTestSuite,
    IntegrationTestSuite,
    LauncherTestSuite,
)

from hydra_plugins.nnrunner.grid_sweeper import GridSweeper
from hydra_plugins.nnrunner.pool_launcher import PoolLauncher

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _version_base_unset(monkeypatch):
    """Hydra's harness names no version_base: its suites expect the defaults of an app that
    names none (Hydra 1.3: the job runs in its folder), whatever an earlier test set."""
    from hydra import version
    from hydra.core.singleton import Singleton

    monkeypatch.delitem(Singleton._instances, version.VersionBase, raising=False)


def test_discovery():
    """Hydra lists both among its plugins (as the joblib plugin's test_discovery asks)."""
    assert PoolLauncher.__name__ in [c.__name__ for c in Plugins.instance().discover(Launcher)]
    assert GridSweeper.__name__ in [c.__name__ for c in Plugins.instance().discover(Sweeper)]


WORKERS = ["hydra.launcher.n_jobs=2"]  # a sweep of two jobs or more runs in two workers
IN_PROCESS = ["hydra.launcher.n_jobs=1"]  # every job in this process, in turn


@pytest.mark.parametrize(
    "launcher_name, overrides",
    [("pool", WORKERS), ("pool", IN_PROCESS)],
    ids=["workers", "in-process"],
)
class TestPoolLauncher(LauncherTestSuite):
    """Hydra's launcher suite on the pool."""


@pytest.fixture
def _script_finds_the_plugins(monkeypatch):
    """The suite's app runs as a script in a subprocess. Hydra 1.3 cannot list the plugin
    folder of an editable install (hydra issue 2359; Hydra 1.4 reads our entry points), so
    the checkout's root goes on its path, as ``pip install -e . --config-settings
    editable_mode=compat`` would put it (tests/test_plugin_discovery.py tests the installs)."""
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), path])))


@pytest.mark.usefixtures("_script_finds_the_plugins")
@pytest.mark.parametrize(
    "task_launcher_cfg, extra_flags",
    [({}, ["-m", "hydra/launcher=pool", *WORKERS])],
    ids=["pool"],
)
class TestPoolLauncherIntegration(IntegrationTestSuite):
    """Hydra's integration suite: real apps in a subprocess, run with -m on the pool."""


@pytest.mark.parametrize(
    "launcher_name, overrides",
    [("basic", ["hydra/sweeper=grid"]), ("pool", ["hydra/sweeper=grid", *WORKERS])],
    ids=["basic", "pool"],
)
class TestGridSweeper(LauncherTestSuite):
    """Hydra's launcher suite through the grid sweeper (as Hydra's example sweeper runs it)."""


@pytest.mark.parametrize(
    "launcher_name, overrides",
    [
        ("basic", ["hydra/sweeper=grid", "hydra.sweeper.max_batch_size=2"]),
        ("pool", ["hydra/sweeper=grid", "hydra.sweeper.max_batch_size=2", *WORKERS]),
    ],
    ids=["basic", "pool"],
)
class TestGridSweeperWithBatching(BatchedSweeperTestSuite):
    """Batches of at most two jobs never step on each other's folders."""


@pytest.mark.usefixtures("_script_finds_the_plugins")
@pytest.mark.parametrize(
    "task_launcher_cfg, extra_flags",
    [({}, ["-m", "hydra/sweeper=grid", "hydra/launcher=pool", *WORKERS])],
    ids=["grid+pool"],
)
class TestGridSweeperIntegration(IntegrationTestSuite):
    """Hydra's integration suite through the grid sweeper."""
