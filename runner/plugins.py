"""Make nnrunner's Hydra plugins visible to Hydra however the project was installed.

Hydra 1.3 finds plugins by listing the folders of the ``hydra_plugins`` namespace package. A
regular install (``pip install .``, a wheel) puts ``hydra_plugins/nnrunner`` in such a folder;
an editable install by setuptools 64 or newer (``pip install -e .``, PEP 660) serves it through
an import hook that the listing cannot see (hydra issue 2359), so ``hydra/launcher=pool``
would be "not found". Importing the plugin modules registers their configs, and
``Plugins.register`` is Hydra's own way to add a plugin class it did not find.
"""


def make_visible():
    from hydra.core.plugins import Plugins

    # Hydra's first scan re-executes its core plugin modules, so a class derived from one (our
    # grid sweeper from BasicSweeper) must be imported after it.
    plugins = Plugins.instance()
    from hydra_plugins.nnrunner import config  # registers the configs below

    # Hydra's scan may have imported hydra-submitit-launcher's configs after ours: ours again
    config._store_submitit()
    config._store_joblib()
    from hydra_plugins.nnrunner.grid_sweeper import GridSweeper
    from hydra_plugins.nnrunner.optuna_sweeper import OptunaSweeper
    from hydra_plugins.nnrunner.pool_launcher import PoolLauncher
    from hydra_plugins.nnrunner.ray_launcher import RayLauncher

    for plugin in (PoolLauncher, RayLauncher, GridSweeper, OptunaSweeper, *_submitit(), *_joblib()):
        plugins.register(plugin)


def _submitit():
    """The packing submitit launchers, when hydra-submitit-launcher is installed ([slurm])."""
    from hydra_plugins.nnrunner import submitit_launcher as packed

    if packed.LocalLauncher is None:
        return ()
    return (packed.PackedLocalLauncher, packed.PackedSlurmLauncher)


def _joblib():
    """joblib with the pool's console, when hydra-joblib-launcher is installed."""
    from hydra_plugins.nnrunner import joblib_launcher

    return () if joblib_launcher.JoblibLauncher is None else (joblib_launcher.QuietJoblibLauncher,)
