"""``hydra/sweeper=grid``: Hydra's basic grid sweeper on the composition cache, which checks
every job before anything is written and lists the jobs with ``runner.dry_run=true``.

Hydra's basic sweeper composes every job once just to check that the batch composes, before
the launcher composes it again. This one checks through the cache the launcher then uses, so
a sweep pays Hydra's composition once per distinct set of config-group choices. The work is in
``runner.sweeps.grid``.

Another Hydra app's task (not ``python -m runner``'s) gets Hydra's basic sweep itself, with the
batches checked on the same cache: the runner's checks, dry run and ledger are the runner's.
"""

from typing import TYPE_CHECKING

from runner.sweeps.compat import basic_sweeper

if TYPE_CHECKING:  # for the type checker only: what runs takes it from runner.sweeps.compat
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
else:
    BasicSweeper = basic_sweeper()


class GridSweeper(BasicSweeper):
    task_function = None

    def setup(self, *, hydra_context, task_function, config):
        self.task_function = task_function
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments):
        from runner.sweeps.hydra_task import is_runner_task

        if not is_runner_task(self.task_function):
            return super().sweep(arguments)
        from runner.sweeps.grid import sweep

        return sweep(self, arguments)

    def validate_batch_is_legal(self, batch):
        from runner.sweeps.compose import cache_for

        cache = cache_for(self.hydra_context, self.config)
        for overrides in batch:
            cache.validate(list(overrides))
