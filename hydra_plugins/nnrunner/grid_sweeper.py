"""``hydra/sweeper=grid``: Hydra's basic grid sweeper, validating through the composition cache.

Hydra's basic sweeper composes every job once just to check that the batch composes, before
the launcher composes it again. This one checks through the cache the launcher then uses, so
a sweep pays Hydra's composition once per distinct set of config-group choices.
"""

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


class GridSweeper(BasicSweeper):
    def validate_batch_is_legal(self, batch):
        from runner.sweeps.compose import cache_for

        cache = cache_for(self.hydra_context, self.config)
        for overrides in batch:
            cache.validate(list(overrides))
