"""``hydra/sweeper=grid``: Hydra's basic grid sweeper on the composition cache, which checks
every job before anything is written and lists the jobs with ``runner.dry_run=true``.

Hydra's basic sweeper composes every job once just to check that the batch composes, before
the launcher composes it again. This one checks through the cache the launcher then uses, so
a sweep pays Hydra's composition once per distinct set of config-group choices. The work is in
``runner.sweeps.grid``.
"""

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


class GridSweeper(BasicSweeper):
    def sweep(self, arguments):
        from runner.sweeps.grid import sweep

        return sweep(self, arguments)

    def validate_batch_is_legal(self, batch):
        from runner.sweeps.compose import cache_for

        cache = cache_for(self.hydra_context, self.config)
        for overrides in batch:
            cache.validate(list(overrides))
