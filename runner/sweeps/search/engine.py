"""The search loop: ask Optuna for ``n_jobs`` trials, run each as one job per seed through
the configured launcher, tell Optuna how each trial ended, and at the end say what was found.

Everything a user can get wrong (the space, the sampler, the pruner, the storage, directions
against objectives, a key the config does not have) is checked before the first trial runs.
"""

import contextlib
import math
import re
import time
from pathlib import Path

from omegaconf import OmegaConf

from runner.errors import ConfigError
from runner.progress import say
from runner.sweeps.search import space as spaces
from runner.sweeps.search import study as studies
from runner.sweeps.search import workers
from runner.sweeps.search.pruning import seed_list


def sweep(sweeper, arguments):
    """The Optuna sweeper's ``sweep`` -> the batches' JobReturns."""
    optuna = require_optuna()

    from runner.sweeps.compose import cache_for

    config = sweeper.config
    settings = check_settings(config.hydra.sweeper)
    search = spaces.parse(config.hydra.sweeper.get("params"), arguments)
    names = studies.objectives(config)
    dirs = studies.directions(config.hydra.sweeper, names)
    grid = spaces.grid_of(search) if studies.is_grid_sampler(config.hydra.sweeper) else None
    pruner = studies.pruner_of(config.hydra.sweeper)
    if pruner is not None and len(names) > 1:
        raise ConfigError(
            "hydra.sweeper.pruner",
            type(pruner).__name__,
            f"cannot prune a multi-objective search (objective={names}); use hydra/sweeper/pruner=none",
        )
    sampler = studies.sampler_of(config.hydra.sweeper, 0, grid)  # checked before any write
    _say_what_cmaes_cannot(sampler, search)
    seeds = seed_list(settings["seeds"], config.get("seed"))
    cache = cache_for(sweeper.hydra_context, config)
    _check_keys(cache, search, seeds)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    where = studies.location(config.hydra.sweeper, sweep_dir, Path.cwd())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = studies.open_storage(where)
    study, continued = studies.open_study(
        where, storage, dirs, spaces.described(search), names, pruner=pruner
    )
    sweep_dir.mkdir(parents=True, exist_ok=True)
    first_trial = _first_trial_of_sweep(sweep_dir, study)
    n_trials = settings["n_trials"]
    again = set()
    slot = workers.take(where)
    if _resumed(sweep_dir):
        # trials left running by this sweep folder's earlier process; while another process
        # searches the same study, its running trials are its own, not this folder's
        mine = _running_in(sweep_dir, study) if slot.others_active() else None
        interrupted = _mark_interrupted(study, storage, mine)
        n_trials -= _finished_since(study, first_trial, interrupted)
        again = interrupted | _interrupted_since(study, first_trial)
        _run_again(study, again, n_trials)
    done_before = len(study.trials)
    study.sampler = studies.sampler_of(config.hydra.sweeper, done_before, grid, slot.number)
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    if grid is not None:
        n_trials = min(n_trials, _grid_left(grid, study))
    if continued:
        say(
            f"continuing study '{where.name}' ({done_before} trials so far) in {where.shown}: "
            f"{max(n_trials, 0)} more"
        )
    from runner.sweeps.search import results

    run = Search(sweeper, study, search, names, seeds, settings)
    run.cut_off = job_folders_of(sweep_dir, again)
    found = lambda: results.report(  # noqa: E731
        study, search, names, seeds, sweep_dir, where, config, run.overhead, slot.others_active
    )
    try:
        run.go(n_trials)
    except BaseException as error:
        # a stop signal, or too many failures: this process's trials running now (when the
        # storage still answers; a resume marks them otherwise)
        with contextlib.suppress(Exception):
            _mark_interrupted(study, storage, run.asked)
        lost = storage_lost(error, where)
        if lost is None:
            with contextlib.suppress(Exception):  # what was found so far, if it can be said
                found()
            raise
        raise lost from None
    finally:
        slot.release()
    found()
    return run.returns


class StorageLost(ConnectionError):
    """The study's storage stopped answering mid-search; the message is the user's one line
    (an OSError: the entry point prints it and exits 1)."""


def storage_lost(error, where):
    """A StorageLost for an error of the study's database (Optuna's StorageInternalError,
    SQLAlchemy's OperationalError, wrapped or not), or None for any other error."""
    chain, seen = error, []
    while chain is not None and len(seen) < 10:
        seen.append(chain)
        chain = chain.__cause__ or chain.__context__
    kinds = {"StorageInternalError", "OperationalError", "InterfaceError"}
    found = next((e for e in seen if type(e).__name__ in kinds), None)
    if found is None:
        return None
    cause = next((e for e in reversed(seen) if type(e).__name__ in kinds), found)
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return StorageLost(
        f"hydra.sweeper.storage={where.shown}: the study's storage stopped answering "
        f"({reason}); the trials that finished are in the ledger, and "
        "python -m runner --resume SWEEP_DIR continues the study once it answers again"
    )


def require_optuna():
    """Optuna, or one line saying how to install it (it is the ``[optuna]`` extra)."""
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "hydra/sweeper",
            "optuna",
            'needs Optuna, which is not installed: pip install -e ".[optuna]"',
        ) from None
    return optuna


class Search:
    """The ask-run-tell loop of one sweep."""

    def __init__(self, sweeper, study, search, names, seeds, settings):
        self.sweeper, self.study, self.search = sweeper, study, search
        self.names, self.seeds, self.settings = names, seeds, settings
        sweep_dir = Path(str(sweeper.config.hydra.sweep.dir))
        self.job_idx = _next_job(sweep_dir)
        self.cut_off = {}  # trial -> its job folders' numbers, for the trials run again
        self.asked = set()  # numbers of the trials this process asked for
        self.returns = []
        self.overhead = []  # seconds of ask + tell + storage per trial

    def go(self, n_trials):
        failures = finished = 0
        left = n_trials
        while left > 0:
            batch = min(self.settings["n_jobs"], left)
            clock = time.perf_counter()
            trials = [self.study.ask(self.search.distributions) for _ in range(batch)]
            self.asked.update(t.number for t in trials)
            runnable = not_repeats(self.study, trials)
            asked = time.perf_counter() - clock
            jobs, returns = [], []
            for first_job, launch in self._launches(runnable):
                jobs += launch
                returns += self._launch(launch, first_job)
            clock = time.perf_counter()
            by_trial = {}
            for (trial, _, _), ret in zip(jobs, returns, strict=True):
                by_trial.setdefault(trial.number, (trial, []))[1].append(ret)
            for trial, rets in by_trial.values():
                failed = self._tell(trial, rets)
                failures += failed
            told = time.perf_counter() - clock
            self.overhead.extend([(asked + told) / batch] * batch)
            finished += batch
            left -= batch
            if runnable and failures / max(finished, 1) > self.settings["max_failure_rate"]:
                raise ConfigError(
                    "hydra.sweeper.max_failure_rate",
                    self.settings["max_failure_rate"],
                    f"exceeded: {failures} of {finished} trials failed; the search stopped "
                    "(their messages are in the sweep's summary.csv)",
                )

    def _launches(self, trials):
        """The trials' jobs -> [(first job number, [(trial, seed, overrides)])]: a trial that
        reruns one cut off by a stop or a kill runs in that trial's job folders (so the sweep
        ends with one row per job, the earlier attempt's files moved aside); the others get
        the next numbers, together."""
        new, launches = [], []
        for trial in trials:
            jobs = [(trial, seed, self._overrides(trial, seed)) for seed in self.seeds]
            folders = self.cut_off.pop(trial.user_attrs.get("retry_of"), None)
            if folders is not None and len(folders) == len(jobs) and _consecutive(folders):
                launches.append((folders[0], jobs))
            else:
                new += jobs
        if new:
            launches.append((self.job_idx, new))
            self.job_idx += len(new)
        return launches

    def _launch(self, jobs, first_job):
        overrides = [overrides for _, _, overrides in jobs]
        returns = self.sweeper.launcher.launch(overrides, initial_job_idx=first_job)
        self.returns.append(returns)
        return list(returns)

    def _overrides(self, trial, seed):
        extra = [f"seed={seed}"] if len(self.seeds) > 1 else []
        return (
            spaces.as_overrides(trial.params, self.search)
            + extra
            + [f"runner.trial={trial.number}"]
        )

    def _tell(self, trial, rets):
        """Tell Optuna how the trial's jobs ended (their JobResults) -> 1 if it failed, else 0."""
        import optuna

        from runner.sweeps.result import JobResult

        values, problems, pruned = [], [], False
        for ret in rets:
            result = JobResult.of_return(ret)
            if result.status == "pruned":
                pruned = True
            elif not result.ok:
                problems.append(
                    f"{result.status}: {result.message}" if result.message else result.status
                )
            else:
                value = result.objective if result.returned is None else result.returned
                values.append(value if isinstance(value, (list, tuple)) else [value])
        if pruned:
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return 0
        finite = [
            v for v in values if all(isinstance(x, (int, float)) and math.isfinite(x) for x in v)
        ]
        if problems or not finite or len(finite) < len(values):
            trial.set_user_attr("problem", (problems or ["no finite objective"])[0][:500])
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return 1
        columns = list(zip(*finite, strict=True))
        means = [sum(c) / len(c) for c in columns]
        if len(self.seeds) > 1:  # one attribute: each write is a storage commit
            trial.set_user_attr(
                "seeds",
                {"seeds": list(self.seeds), "std": [_std(c) for c in columns], "values": finite},
            )
        self.study.tell(trial, means if len(means) > 1 else means[0])
        return 0


def not_repeats(study, trials):
    """The asked ``trials`` that are to run. A proposal equal to a finished trial gets that
    trial's values without running again (a discrete space, or a continued study, may propose
    one). The finished trials are read once for the batch: each read of a database study costs
    several statements (Optuna reads the running trials back too), so one read per trial was a
    good part of the sweeper's own cost per trial."""
    import optuna

    finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return [t for t in trials if not _repeat_of_finished(study, t, finished)]


def _repeat_of_finished(study, trial, finished):
    """Whether ``trial`` repeats one of ``finished`` (told that one's values if so)."""
    for earlier in finished:
        if earlier.number != trial.number and earlier.params == trial.params:
            trial.set_user_attr("repeat_of", earlier.number)
            study.tell(trial, earlier.values if len(earlier.values) > 1 else earlier.values[0])
            say(
                f"trial {trial.number}: the same parameters as trial {earlier.number}, "
                "which is done; not run again"
            )
            return True
    return False


def _say_what_cmaes_cannot(sampler, search):
    from optuna.distributions import CategoricalDistribution

    if type(sampler).__name__ != "CmaEsSampler":
        return
    chosen = [k for k, d in search.distributions.items() if isinstance(d, CategoricalDistribution)]
    if chosen:
        say(
            f"note: CMA-ES searches numbers; {', '.join(chosen)} "
            f"{'is' if len(chosen) == 1 else 'are'} sampled at random"
        )


def _std(values):
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def check_settings(sweeper):
    """The loop's own settings of ``hydra.sweeper``, checked -> a dict."""
    settings = {
        key: OmegaConf.to_container(sweeper, resolve=True).get(key)
        for key in ("n_trials", "n_jobs", "seeds", "max_failure_rate")
    }
    for key in ("n_trials", "n_jobs"):
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"hydra.sweeper.{key}", value, "must be a positive integer")
    seeds = settings["seeds"]
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ConfigError(
                "hydra.sweeper.seeds", seeds, "must be a positive integer or a list of seeds"
            )
    elif not (
        isinstance(seeds, list)
        and seeds
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
        and len(set(seeds)) == len(seeds)
    ):
        raise ConfigError(
            "hydra.sweeper.seeds",
            seeds,
            "must be a positive integer or a list of distinct seeds >= 0",
        )
    rate = settings["max_failure_rate"]
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ConfigError("hydra.sweeper.max_failure_rate", rate, "must be a number from 0 to 1")
    return settings


def _check_keys(cache, search, seeds):
    """Compose a job at each end of every range and with every choice, so a key the config does
    not have, or a group option that does not exist, is found before any trial runs."""
    from optuna.distributions import CategoricalDistribution

    first = {k: _ends(d)[0] for k, d in search.distributions.items()}
    seed = [f"seed={seeds[0]}"] if len(seeds) > 1 else []

    def compose(params):
        cache.validate(spaces.as_overrides(params, search) + seed + ["runner.trial=0"])

    for key, dist in search.distributions.items():
        values = list(dist.choices) if isinstance(dist, CategoricalDistribution) else _ends(dist)
        for value in values:
            try:
                compose({**first, key: value})
            except Exception as error:  # noqa: BLE001 - Hydra's and OmegaConf's kinds
                culprit = _culprit(compose, first, key, value)
                raise ConfigError(
                    f"hydra.sweeper.params.{culprit[0]}", culprit[1], _composition_problem(error)
                ) from None


def _culprit(compose, first, key, value):
    """(key, value) of the one search key that does not compose on its own, if one does not;
    else the one being checked when the combination failed."""
    for other, other_value in {**first, key: value}.items():
        try:
            compose({other: other_value})
        except Exception:  # noqa: BLE001
            return other, other_value
    return key, value


def _ends(dist):
    from optuna.distributions import CategoricalDistribution

    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    return [dist.low, dist.high]


def _composition_problem(error):
    from runner.errors import hydra_problem

    return f"does not compose: {hydra_problem(error)}"


START_FILE = ".search.json"  # the study's trial count when this sweep folder first started


def _first_trial_of_sweep(sweep_dir, study):
    """The number of the first trial this sweep folder ran (a study may hold earlier ones)."""
    import json

    path = Path(sweep_dir) / START_FILE
    if path.exists():
        return json.loads(path.read_text())["first_trial"]
    first = len(study.trials)
    path.write_text(json.dumps({"study_name": study.study_name, "first_trial": first}))
    return first


def _resumed(sweep_dir):
    from runner.sweeps.resume import resuming

    folder = resuming()
    return folder is not None and Path(folder).resolve() == Path(sweep_dir).resolve()


def _running_in(sweep_dir, study):
    """Numbers of the study's RUNNING trials that have a job folder in ``sweep_dir``."""
    import optuna

    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    return set(job_folders_of(sweep_dir, {t.number for t in running}))


def _mark_interrupted(study, storage, only=None):
    """Trials still RUNNING (their sweep was stopped) -> FAIL, marked interrupted, so that a
    resumed sweep runs that many again. -> their numbers. ``only``: just these trial numbers
    (this process's, when another process searches the same study). ``storage``: the study's,
    opened by the sweep; a trial is found in it by its public number, not Optuna's private ids."""
    import optuna

    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    if only is not None:
        running = [t for t in running if t.number in only]
    if running:
        study_id = storage.get_study_id_from_name(study.study_name)
    for trial in running:
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_user_attr(trial_id, "interrupted", True)
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    return {t.number for t in running}


def _interrupted_since(study, first_trial):
    return {
        t.number
        for t in study.get_trials(deepcopy=False)
        if t.number >= first_trial and t.user_attrs.get("interrupted")
    }


def _run_again(study, numbers, room):
    """Queue the parameters of interrupted trials not yet run again, first in line."""
    import optuna

    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    states = optuna.trial.TrialState
    tried = {
        tuple(sorted(t.params.items()))
        for t in trials.values()
        if t.state in (states.COMPLETE, states.PRUNED, states.WAITING)
    }
    for number in sorted(numbers)[: max(room, 0)]:
        params = trials[number].params
        if params and tuple(sorted(params.items())) not in tried:
            study.enqueue_trial(params, user_attrs={"retry_of": number})
            tried.add(tuple(sorted(params.items())))


def _finished_since(study, first_trial, interrupted=()):
    """Trials of this sweep folder that ended (complete, pruned or failed, not interrupted)."""
    import optuna

    states = optuna.trial.TrialState
    return sum(
        t.number >= first_trial
        and t.state in (states.COMPLETE, states.PRUNED, states.FAIL)
        and not t.user_attrs.get("interrupted")
        and t.number not in interrupted
        for t in study.get_trials(deepcopy=False)
    )


def _grid_left(grid, study):
    import optuna

    total = math.prod(len(values) for values in grid.values())
    done = len(
        study.get_trials(
            deepcopy=False,
            states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED),
        )
    )
    return max(total - done, 0)


def _consecutive(numbers):
    return list(numbers) == list(range(numbers[0], numbers[0] + len(numbers)))


_TRIAL = re.compile(r"^- runner\.trial=(\d+)\s*$", re.MULTILINE)


def job_folders_of(sweep_dir, trials):
    """{trial: [its job folders' numbers]} for the trials ``trials``, from each job folder's
    ``.hydra/overrides.yaml`` (written before the job runs, so a job killed at once has it)."""
    found = {}
    for path in Path(sweep_dir).glob("*/.hydra/overrides.yaml"):
        if not path.parent.parent.name.isdigit():
            continue
        try:
            match = _TRIAL.search(path.read_text())
        except OSError:
            continue
        if match and int(match.group(1)) in trials:
            found.setdefault(int(match.group(1)), []).append(int(path.parent.parent.name))
    return {trial: sorted(numbers) for trial, numbers in found.items()}


def _next_job(sweep_dir):
    """The next job number in the sweep folder: a resumed sweep's new jobs get new folders."""
    numbers = [int(p.name) for p in Path(sweep_dir).glob("*") if p.name.isdigit() and p.is_dir()]
    return max(numbers, default=-1) + 1
