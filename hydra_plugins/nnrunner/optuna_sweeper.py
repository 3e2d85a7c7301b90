"""``hydra/sweeper=optuna``: a search on current Optuna, with pruning, seed replicates and a
study kept in the sweep folder. The work is in ``runner.sweeps.search``."""

from hydra.plugins.sweeper import Sweeper


class OptunaSweeper(Sweeper):
    def __init__(self, **settings):
        self.settings = settings  # checked when the sweep starts, in one line per mistake
        self.config = self.hydra_context = self.task_function = self.launcher = None

    def setup(self, *, hydra_context, task_function, config):
        from hydra.core.plugins import Plugins

        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )

    def sweep(self, arguments):
        from runner.sweeps.search.engine import sweep

        return sweep(self, arguments)
