"""The job's side of pruning: report the objective to the trial at every logged epoch and stop
when the pruner says so.

The channel is the study's storage, which works across processes and machines: the job opens
the study the sweeper made (its location follows from the same ``hydra.sweeper`` settings),
finds its trial by number (``runner.trial``, set by the sweeper) and reports there; the pruner,
built here from the same settings, decides from every trial's reports in the storage. With
seed replicates only the trial's first seed reports, and every seed asks: a trial's seeds are
judged by one curve and stop together.
"""

import math

from runner.sweeps.search import study as studies


def reporter(task_config, hydra_config, base_dir):
    """-> on_log(epoch, row) for the training loop, or None when nothing is to be reported
    (no pruner, not a search's trial, or a multi-objective search, which Optuna cannot prune)."""
    trial_number = (task_config.get("runner") or {}).get("trial")
    sweeper = hydra_config.sweeper
    if trial_number is None or sweeper.get("pruner") is None:
        return None
    pruner = studies.pruner_of(sweeper)
    names = studies.objectives(task_config)
    if pruner is None or len(names) != 1:
        return None
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    where = studies.location(sweeper, str(hydra_config.sweep.dir), base_dir)
    storage = studies.open_storage(where, made=True)
    study = optuna.load_study(study_name=where.name, storage=storage, pruner=pruner)
    study_id = storage.get_study_id_from_name(where.name)  # public: no Study._study_id
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, int(trial_number))
    trial = optuna.trial.Trial(study, trial_id)
    reports = _first_seed(task_config, sweeper)
    name, kind = names[0], type(pruner).__name__

    def on_log(epoch, row):
        value = row.get(name)
        if value is None or not math.isfinite(value):
            return None
        if reports:
            trial.report(float(value), step=epoch)
        if trial.should_prune():
            return f"pruned by {kind} at epoch {epoch} ({name} {value:.4g})"
        return None

    return on_log


def _first_seed(task_config, sweeper):
    seeds = seed_list(sweeper.get("seeds"), task_config.get("seed"))
    return len(seeds) == 1 or task_config.get("seed") == seeds[0]


def seed_list(seeds, base_seed):
    """``hydra.sweeper.seeds``: a count (that many seeds from the config's ``seed`` on) or a
    list of seeds -> the list (checked in ``runner.sweeps.search.settings``)."""
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        return [int(base_seed or 0) + i for i in range(seeds)]
    return [int(s) for s in seeds]
