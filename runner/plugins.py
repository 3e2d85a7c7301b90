"""Make nnrunner's Hydra plugins visible to Hydra however the project was installed.

Hydra 1.3 finds plugins by listing the folders of the ``hydra_plugins`` namespace package. A
regular install (``pip install .``, a wheel) puts ``hydra_plugins/nnrunner`` in such a folder;
an editable install by setuptools 64 or newer (``pip install -e .``, PEP 660) serves it through
an import hook that the listing cannot see (hydra issue 2359), so ``hydra/launcher=pool``
would be "not found". Hydra 1.4 also reads the ``hydra.plugins`` entry points that
pyproject.toml declares, which an editable install has too. Where Hydra found nothing (1.3
after an editable install), importing the plugin modules registers their configs, and
``Plugins.register`` is Hydra's own way to add a plugin class it did not find. Another Hydra
app gets the same with ``from runner.plugins import make_visible; make_visible()`` before
its ``@hydra.main`` (docs/explanation/sweeps.md, "In another Hydra app"), or with an editable
install Hydra 1.3 can list (``pip install -e . --config-settings editable_mode=compat``).
"""


def make_visible():
    from hydra.core.plugins import Plugins

    # Hydra's first scan re-executes its core plugin modules, so a class derived from one (our
    # grid sweeper from BasicSweeper) must be imported after it.
    plugins = Plugins.instance()
    from hydra_plugins.nnrunner import config  # registers the configs below

    # Hydra 1.3's scan re-executes the plugin modules it lists: hydra-submitit-launcher's and
    # joblib's configs may have been stored again after ours. Ours again, then (where they are
    # ours already, as always on 1.4, storing them again would only warn).
    if not _stored_by_us("hydra/launcher/joblib.yaml"):
        config._store_joblib()
    if not all(_stored_by_us(f"hydra/launcher/submitit_{k}.yaml") for k in ("local", "slurm")):
        config._store_submitit()
    from hydra_plugins.nnrunner.grid_sweeper import GridSweeper
    from hydra_plugins.nnrunner.optuna_sweeper import OptunaSweeper
    from hydra_plugins.nnrunner.pool_launcher import PoolLauncher
    from hydra_plugins.nnrunner.race_sweeper import RaceSweeper
    from hydra_plugins.nnrunner.ray_launcher import RayLauncher

    sweepers = (GridSweeper, OptunaSweeper, RaceSweeper)
    for plugin in (PoolLauncher, RayLauncher, *sweepers, *_submitit(), *_joblib()):
        plugins.register(plugin)  # a class Hydra found already stays listed once


def _stored_by_us(path):
    """Whether the ConfigStore's config at ``path`` is ours (or absent: nothing to redo)."""
    from hydra.core.config_store import ConfigStore

    try:
        return ConfigStore.instance().load(path).provider == "nnrunner"
    except Exception:  # noqa: BLE001 - not stored (the package is not installed)
        return True


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
