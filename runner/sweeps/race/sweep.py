"""The race sweeper's work: the grid the sweep declares, checked as the grid sweeper checks it,
then raced (``runner.sweeps.race.race``), with ``race.csv`` and the closing lines at the end."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from runner.checks import check_runner
from runner.errors import ConfigError
from runner.progress import say
from runner.sweeps.compose import cache_for
from runner.sweeps.dry_run import describe
from runner.sweeps.planned import forget_planned, write_planned
from runner.sweeps.prepare import expect_jobs, ledger_path, start
from runner.sweeps.race import outcome
from runner.sweeps.race.race import Race, results_of
from runner.sweeps.race.settings import check_settings


def sweep(sweeper, arguments):
    """The race sweeper's ``sweep`` -> the rounds' JobReturns (none for a dry run)."""
    config = sweeper.config
    runner_settings = check_runner(config)
    settings = check_settings(config)
    configurations, first_seed = _configurations(sweeper, arguments)
    seeds = list(range(first_seed, first_seed + settings.max_seeds))
    first_round = len(configurations) * settings.min_seeds
    if not runner_settings["dry_run"]:  # the pool's workers get ready on another core meanwhile
        expect_jobs(sweeper.launcher, min(first_round, launcher_width(config)))
    cache = cache_for(sweeper.hydra_context, config)
    for overrides in configurations:
        cache.validate(overrides + [f"seed={seeds[0]}"])
    _check_objective_recorded(cache, configurations, seeds[0])
    if settings.budget is not None and settings.budget < first_round:
        raise ConfigError(
            "hydra.sweeper.budget",
            settings.budget,
            f"is less than the first round: {len(configurations)} configurations x min_seeds="
            f"{settings.min_seeds} = {first_round} runs",
        )
    sweep_dir = Path(str(config.hydra.sweep.dir))
    if runner_settings["dry_run"]:
        every = runner_settings["dry_run"] == "all"
        first = [[c + [f"seed={s}"] for s in seeds[: settings.min_seeds] for c in configurations]]
        say(describe(cache, first, ledger_path(config), runner_settings["resume"], every))
        say(
            f"race: this is round 1; the survivors then get up to {settings.max_seeds} seeds "
            f"each (at most {len(configurations) * settings.max_seeds} runs)"
        )
        return []
    sweep_dir.mkdir(parents=True, exist_ok=True)
    start(config, sweep_dir, runner_settings["resume"])
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    launches = Launches(sweeper, sweep_dir)
    race = Race(configurations, seeds, settings, launcher_width(config), launches)
    try:
        race.run()
    except KeyboardInterrupt:  # a stop signal: where the race stood, then the sweep's own end
        race.stopped = True
        outcome.write(race, sweep_dir)
        say(outcome.closing_lines(race, settings.objective)[0])
        raise
    if not race.recorded():
        why = f" (the first run: {race.first_problem})" if race.first_problem else ""
        raise ConfigError(
            "objective",
            settings.objective,
            f"was recorded by no run of the race's first round, so nothing can be ranked{why}",
        )
    outcome.write(race, sweep_dir)
    if race.stopped:
        say(outcome.closing_lines(race, settings.objective)[0])
        return launches.returns
    for line in outcome.closing_lines(race, settings.objective):
        say(line)
    return launches.returns


class Launches:
    """The race's ``launch``: each round's jobs through the configured launcher, numbered on from
    the last, with ``.planned.csv`` listing every job launched so far (the summary then counts
    a job a stop left unstarted)."""

    def __init__(self, sweeper, sweep_dir):
        self.sweeper, self.sweep_dir = sweeper, sweep_dir
        self.batches: list[list[list[str]]] = []
        self.returns = []
        self.next_job = 0

    def __call__(self, batch):
        self.batches.append(batch)
        write_planned(self.sweep_dir, self.batches)
        try:
            results = self.sweeper.launcher.launch(batch, initial_job_idx=self.next_job)
        except ConfigError:  # the launcher refused the sweep (it lacks a package): nothing ran
            if not self.returns:
                forget_planned(self.sweep_dir)
            raise
        for result in results:
            _ = result.return_value  # raises the job's exception, as Hydra's sweeper does
        self.next_job += len(batch)
        self.returns.append(results)
        return results_of(results)


def _configurations(sweeper, arguments):
    """The grid the sweep declares (``hydra.sweeper.params`` first, then the command line) ->
    (its configurations as override lists, the first seed). A ``seed=N`` sets the first seed;
    a sweep over seeds is the race's to choose."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = [f"{key}={value}" for key, value in (sweeper.params or {}).items()]
    params.extend(arguments)
    parser = OverridesParser.create(config_loader=sweeper.hydra_context.config_loader)
    parsed = parser.parse_overrides(params)
    first_seed = sweeper.config.get("seed", 0)
    kept = []
    for override in parsed:
        if override.key_or_group != "seed":
            kept.append(override)
        elif override.is_sweep_override():
            raise ConfigError(
                "seed",
                override.input_line.split("=", 1)[-1] if override.input_line else "",
                "is the race's to choose: each configuration gets the seeds from seed on, "
                "min_seeds first and up to hydra.sweeper.max_seeds; give one seed to start from",
            )
        else:
            first_seed = override.value()
    if isinstance(first_seed, bool) or not isinstance(first_seed, int) or first_seed < 0:
        raise ConfigError("seed", first_seed, "must be an integer >= 0 (the race's first seed)")
    (configurations,) = sweeper.split_arguments(kept, None) or [[[]]]
    configurations = [list(c) for c in configurations]
    if len(configurations) < 2:
        raise ConfigError(
            "hydra/sweeper",
            "race",
            f"needs at least two configurations to race, and the sweep gives "
            f"{len(configurations)}; sweep a key with a,b,c (model.width=4,16,64)",
        )
    return configurations, first_seed


NEITHER_DATA_NOR_OBJECTIVE = ("model.", "optimizer.")  # value overrides of these keys


def _check_objective_recorded(cache, configurations, seed):
    """The objective is a metric each configuration's task records (no accuracy for a
    regression, no RMSE for a classifier), found before any run: each distinct dataset of the
    grid is loaded once here, as its first run would load it. Configurations that differ only
    in values of the model or the optimizer share their data and objective: composed once."""
    import numpy as np

    from runner.checks import check_task_metrics
    from runner.data import load_dataset

    seen, composed = set(), set()
    for overrides in configurations:
        shape = tuple(o for o in overrides if not o.startswith(NEITHER_DATA_NOR_OBJECTIVE))
        if shape in composed:
            continue
        composed.add(shape)
        config = cache.load(overrides + [f"seed={seed}"])
        data = OmegaConf.to_yaml(config.data)
        if data in seen:
            continue
        seen.add(data)
        draws = np.random.SeedSequence(seed).spawn(2)[0].spawn(3)
        dataset = load_dataset(config.data, draws, config.dtype, Path.cwd())
        check_task_metrics(config, dataset.task)


def launcher_width(config) -> int:
    """How many jobs a round gives the launcher: its ``n_jobs`` (the pool's and joblib's
    workers), else this machine's cores. A Slurm array's ``array_parallelism`` (256 by default)
    says what Slurm may run, not what the cluster will: rounds that wide would spend every seed
    in round 2."""
    from runner.sweeps.launch import available_cores

    value = OmegaConf.select(config.hydra.launcher, "n_jobs", default=None)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return available_cores()
