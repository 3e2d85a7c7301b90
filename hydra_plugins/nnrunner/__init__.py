"""nnrunner's Hydra plugins: the pool launcher, the grid sweeper and the Optuna sweeper.

Hydra imports every module here at start-up, so these modules only define the thin classes
it discovers and their configs; the work is in ``runner.sweeps``, imported when a sweep runs.

Hydra 1.3 finds the classes by scanning this namespace package; Hydra 1.4 also through the
``hydra.plugins`` entry points (pyproject.toml), which import one class's module and so this
package first: the configs (``hydra/launcher=pool``, ...) are registered here, either way.
"""

from hydra_plugins.nnrunner import config  # noqa: F401 - registers the plugins' configs
