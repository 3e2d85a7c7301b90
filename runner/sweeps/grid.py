"""The grid sweeper's work: Hydra's basic sweep, with every job checked to compose before
anything is written, what is done already looked up once, and ``runner.dry_run``.

Hydra's basic sweeper writes ``multirun.yaml`` and then validates one batch at a time, so a
job that does not compose is found after the sweep folder exists (and, for a resumed sweep,
after its ``multirun.yaml`` was written over). Here all jobs are validated through the
composition cache first, which costs what Hydra's validation of the same jobs costs.
"""

from pathlib import Path

from omegaconf import OmegaConf

from runner.checks import check_runner
from runner.errors import ConfigError
from runner.progress import say
from runner.sweeps.compose import cache_for
from runner.sweeps.dry_run import describe
from runner.sweeps.planned import forget_planned, write_planned
from runner.sweeps.prepare import expect_jobs, ledger_path, start


def sweep(sweeper, arguments):
    """BasicSweeper.sweep for the runner -> the batches' JobReturns (none for a dry run).

    The sweep declared in the config (``hydra.sweeper.params``) comes first, as in Hydra's
    ``BasicSweeper._parse_config``, read here from the sweeper's public ``params``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    config = sweeper.config
    settings = check_runner(config)
    params = [f"{key}={value}" for key, value in (sweeper.params or {}).items()]
    params.extend(arguments)
    parser = OverridesParser.create(config_loader=sweeper.hydra_context.config_loader)
    sweeper.overrides = sweeper.split_arguments(
        parser.parse_overrides(params), sweeper.max_batch_size
    )
    if not settings["dry_run"]:  # the pool's workers get ready on another core meanwhile
        expect_jobs(sweeper.launcher, max((len(batch) for batch in sweeper.overrides), default=0))
    cache = cache_for(sweeper.hydra_context, config)
    for batch in sweeper.overrides:
        for overrides in batch:
            cache.validate(list(overrides))
    sweep_dir = Path(str(config.hydra.sweep.dir))
    if settings["dry_run"]:
        every = settings["dry_run"] == "all"
        say(describe(cache, sweeper.overrides, ledger_path(config), settings["resume"], every))
        sweeper.batch_index = len(sweeper.overrides)
        return []
    sweep_dir.mkdir(parents=True, exist_ok=True)
    start(config, sweep_dir, settings["resume"])
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    write_planned(sweep_dir, sweeper.overrides)
    returns, initial_job_idx = [], 0
    while not sweeper.is_done():
        batch = sweeper.get_job_batch()
        try:
            results = sweeper.launcher.launch(batch, initial_job_idx=initial_job_idx)
        except ConfigError:  # the launcher refused the sweep (it lacks a package): nothing ran
            if not returns:
                forget_planned(sweep_dir)
            raise
        for result in results:
            _ = result.return_value  # raises the job's exception, as Hydra's sweeper does
        initial_job_idx += len(batch)
        returns.append(results)
    return returns
