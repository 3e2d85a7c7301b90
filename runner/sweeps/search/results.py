"""What a search found, printed and saved in the sweep folder: the best trial (or, for several
objectives, the Pareto front), its parameters and the command that reruns it, the parameters'
importances (Optuna's default evaluator, PED-ANOVA), ``optimization_results.yaml`` and
``trials.csv`` (one row per trial: parameters, values, state, seeds' spread, jobs)."""

import shlex
import statistics
import sys

from omegaconf import OmegaConf

from runner.progress import say


def report(study, search, names, seeds, sweep_dir, where, config, overhead, others_active=None):
    """Say and save what the study holds now. ``others_active()``: whether another process is
    searching the same study, whose trials may still change these counts (then they are said to
    be a snapshot)."""
    import optuna

    states = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    counts = {state: sum(t.state == state for t in trials) for state in states}
    stopped = sum(t.state == states.FAIL and bool(t.user_attrs.get("interrupted")) for t in trials)
    results = {
        "name": "optuna",
        "study_name": where.name,
        "storage": where.target,
        "objective": names if len(names) > 1 else names[0],
        "directions": [d.name.lower() for d in study.directions],
        "seeds": seeds,
        "trials": {
            "complete": counts[states.COMPLETE],
            "pruned": counts[states.PRUNED],
            "failed": counts[states.FAIL] - stopped,
            "interrupted": stopped,
        },
    }
    if overhead:
        results["sweeper_ms_per_trial"] = round(1000 * statistics.median(overhead), 2)
    lines = [
        f"search: {len(trials)} trials in study '{where.name}': {counts[states.COMPLETE]} "
        f"complete, {counts[states.PRUNED]} pruned, {counts[states.FAIL] - stopped} failed"
        + (f", {stopped} interrupted" if stopped else "")
        + _snapshot(trials, states, others_active)
    ]
    complete = [t for t in trials if t.state == states.COMPLETE]
    if complete and len(names) == 1:
        best = study.best_trial
        results.update(_described(best, names, search, config))
        results["best_params"] = dict(best.params)
        results["best_value"] = best.value
        spread = _spread(best, names, 0)
        lines.append(f"best: trial {best.number}: {names[0]} {best.value:.4g}{spread}")
        lines.append(f"  {_params(best.params)}")
        lines.append(f"  rerun: {results['command']}")
    elif complete:
        front = study.best_trials
        results["solutions"] = [_described(t, names, search, config) for t in front]
        lines.append(
            f"Pareto front: {len(front)} trials ({', '.join(f'{n} {d.name.lower()}d' for n, d in zip(names, study.directions, strict=True))})"
        )
        for t in sorted(front, key=lambda t: t.values[0]):
            values = "  ".join(f"{n} {v:.4g}" for n, v in zip(names, t.values, strict=True))
            lines.append(f"  trial {t.number:>4}: {values}   {_params(t.params)}")
    importances = _importances(study, names)
    if importances:
        results["importances"] = importances
        first = importances[names[0]]
        lines.append("importance: " + ", ".join(f"{k} {v:.2f}" for k, v in first.items()))
    _save_trials(study, sweep_dir / "trials.csv")
    OmegaConf.save(OmegaConf.create(results), sweep_dir / "optimization_results.yaml")
    lines.append(
        f"saved: optimization_results.yaml, trials.csv in {_relative(sweep_dir)}; "
        f"open the study with: {where.dashboard}"
    )
    say("\n".join(lines))
    return results


def _snapshot(trials, states, others_active):
    """'; a snapshot: ...' when another process may still add or finish trials, else ''."""
    running = sum(t.state == states.RUNNING for t in trials)
    if running or (others_active is not None and others_active()):
        still = f" ({running} running)" if running else ""
        return f"; a snapshot: another process is still searching this study{still}"
    return ""


def _described(trial, names, search, config):
    found = {
        "number": trial.number,
        "params": dict(trial.params),
        "values": dict(zip(names, trial.values, strict=True)),
        "command": rerun_command(trial.params, config, _seeds(trial).get("seeds")),
    }
    if _seeds(trial):
        found["std"] = dict(zip(names, _seeds(trial)["std"], strict=True))
        found["seeds"] = _seeds(trial)["seeds"]
    return found


def _seeds(trial):
    """{seeds, std, values} of a trial run on several seeds, or {}."""
    return trial.user_attrs.get("seeds") or {}


def rerun_command(params, config, seeds=None):
    """The single run of a trial's configuration: the sweep's own overrides, its search turned
    off (``hydra.mode=RUN``), the trial's parameters (and its first seed, when it had several)."""
    searched = set(params)
    typed = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    kept = [o for o in typed if o.split("=", 1)[0].lstrip("+~") not in searched | {"seed"}]
    from runner.sweeps.search.space import _typed

    chosen = [f"{k}={_typed(v)}" for k, v in params.items()]
    seed = [f"seed={seeds[0]}"] if seeds else []
    words = ["python", "-m", "runner", *kept, "hydra.mode=RUN", *chosen, *seed]
    return " ".join(shlex.quote(w) for w in words)


def _spread(trial, names, index):
    std, seeds = _seeds(trial).get("std"), _seeds(trial).get("seeds")
    if not std or not seeds:
        return ""
    return f" (mean of {len(seeds)} seeds, std {std[index]:.3g})"


def _params(params):
    return "  ".join(f"{k}={_short(v)}" for k, v in params.items())


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _importances(study, names):
    """{objective: {param: importance}} from the finished trials, or {} when there are too few
    (or a single parameter) to say anything."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 3 or len(study.best_trials[0].params) < 2:
        return {}
    importance = _importance_without_sklearn()
    found = {}
    for index, name in enumerate(names):
        try:
            values = importance.get_param_importances(
                study,
                evaluator=importance.PedAnovaImportanceEvaluator(),
                target=(lambda t, i=index: t.values[i]) if len(names) > 1 else None,
            )
        except (RuntimeError, ValueError, ZeroDivisionError):  # too little variation to rank
            return {}
        found[name] = {k: round(float(v), 4) for k, v in values.items()}
    return found


def _importance_without_sklearn():
    """``optuna.importance``, imported without scikit-learn.

    Its package imports the fANOVA and mean-decrease-impurity evaluators, and with them
    ``sklearn.ensemble``: over a second at the end of every search (BENCHMARKS.md), for
    evaluators the runner does not use (PED-ANOVA needs neither). Optuna imports scikit-learn inside ``try_import``, so
    with it hidden for this one import those two evaluators are only unavailable in this
    process. A process that has imported scikit-learn already gets the module as it is.
    """
    if "sklearn" in sys.modules or "optuna.importance" in sys.modules:
        import optuna.importance

        return optuna.importance
    sys.modules["sklearn"] = None  # "import sklearn" raises ImportError
    try:
        import optuna.importance
    finally:
        if sys.modules.get("sklearn", False) is None:
            del sys.modules["sklearn"]
    return optuna.importance


def _save_trials(study, path):
    frame = study.trials_dataframe(
        attrs=("number", "value", "params", "state", "duration", "user_attrs")
    )
    frame.columns = [
        str(c).replace("params_", "").replace("user_attrs_", "") for c in frame.columns
    ]
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)


def _relative(path):
    from runner.job import relative

    return relative(path)
