"""``hydra/sweeper=race``: a grid raced over seeds, spending them only where the ranking is
still undecided. The work is in ``runner.sweeps.race``."""

from typing import TYPE_CHECKING

from runner.sweeps.compat import basic_sweeper

if TYPE_CHECKING:  # for the type checker only: what runs takes it from runner.sweeps.compat
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
else:
    BasicSweeper = basic_sweeper()


class RaceSweeper(BasicSweeper):
    """Hydra's basic sweeper for parsing the grid and setting up the launcher; its own keys
    (min_seeds, max_seeds, level, budget, direction) are read from ``hydra.sweeper`` when the
    race starts, and checked there."""

    def __init__(self, params=None, **race_keys):
        super().__init__(max_batch_size=None, params=params)

    def sweep(self, arguments):
        from runner.sweeps.race.sweep import sweep

        return sweep(self, arguments)

    def validate_batch_is_legal(self, batch):
        from runner.sweeps.compose import cache_for

        cache = cache_for(self.hydra_context, self.config)
        for overrides in batch:
            cache.validate(list(overrides))
