"""The run-level settings (seed, dtype, objective, ``trainer.*``), checked all at once, and the
keys nothing reads, so that a typo at the top level is not silently ignored."""

import re

from omegaconf import OmegaConf

from runner.best_epoch import KEEP_MODES, MONITORS
from runner.errors import ConfigError, Problems
from runner.progress import MODES as PROGRESS_MODES
from runner.records import flatten

# what a run can return to a sweeper (``objective``: one of these, or a list for a
# multi-objective search)
OBJECTIVES = (
    "val_loss",
    "val_accuracy",
    "train_loss",
    "train_accuracy",
    "best_val_loss",
    "best_val_accuracy",
    "n_parameters",
    "seconds",
    "val_rmse",  # regression runs
    "val_mae",
    "val_r2",
    "train_rmse",
)
TRAINER_KEYS = (
    "epochs",
    "batch_size",
    "shuffle",
    "log_every",
    "plots",
    "progress",
    "stop_on_divergence",
    "early_stopping",
    "keep",
)
EARLY_STOPPING_DEFAULTS = {"patience": None, "monitor": "val_loss", "min_delta": 0.0}
# Top-level keys the runner reads; any other is only read through an interpolation, or not at all.
READ_KEYS = (
    "seed",
    "dtype",
    "objective",
    "trainer",
    "runner",
    "paths",
    "model",
    "data",
    "loss",
    "optimizer",
)
RESUME_MODES = ("auto", "never", "all")
RUNNER_KEYS = ("resume", "dry_run", "max_failures", "trial")
_REFERENCE = re.compile(r"\$\{([\w.]+)")


def check_trainer(cfg):
    """-> ``trainer.*`` as a dict plus ``seed``; every mistake is reported together."""
    trainer = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer.setdefault("keep", "auto")
    problems = Problems()
    for key in trainer:
        if key not in TRAINER_KEYS:
            with problems.check():
                raise ConfigError(
                    f"trainer.{key}",
                    trainer[key],
                    f"unknown key; allowed: {', '.join(TRAINER_KEYS)}",
                )
    with problems.check():
        _integer("trainer.epochs", trainer.get("epochs"), minimum=0)
    with problems.check():
        _integer("trainer.log_every", trainer.get("log_every"), minimum=1)
    if trainer.get("batch_size") is not None:
        with problems.check():
            _integer("trainer.batch_size", trainer["batch_size"], 1, " or null (full batch)")
    for key in ("shuffle", "stop_on_divergence"):
        with problems.check():
            if not isinstance(trainer.get(key), bool):
                raise ConfigError(f"trainer.{key}", trainer.get(key), "must be true or false")
    with problems.check():
        if trainer.get("plots") not in (True, False, "auto"):
            raise ConfigError(
                "trainer.plots",
                trainer.get("plots"),
                "must be true, false or auto (in a single run, not in a sweep)",
            )
    with problems.check():
        _choice("trainer.progress", trainer.get("progress"), PROGRESS_MODES)
    with problems.check():
        trainer["early_stopping"] = _early_stopping(trainer.get("early_stopping"))
    with problems.check():
        _choice("trainer.keep", trainer.get("keep"), KEEP_MODES)
    with problems.check():
        _integer("seed", cfg.get("seed"), minimum=0)
    with problems.check():
        _choice("dtype", cfg.get("dtype"), ("float32", "float64"))
    with problems.check():
        check_objective(cfg.get("objective"))
    problems.raise_any()
    return {**trainer, "seed": cfg.seed}


def _early_stopping(given):
    """``trainer.early_stopping.*`` checked, with its defaults (off) filled in."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ConfigError(
            "trainer.early_stopping",
            given,
            "must be a group of keys: patience, monitor, min_delta "
            "(e.g. trainer.early_stopping.patience=500)",
        )
    settings = {**EARLY_STOPPING_DEFAULTS, **given}
    problems = Problems()
    for key in settings:
        if key not in EARLY_STOPPING_DEFAULTS:
            with problems.check():
                raise ConfigError(
                    f"trainer.early_stopping.{key}",
                    settings[key],
                    f"unknown key; allowed: {', '.join(EARLY_STOPPING_DEFAULTS)}",
                )
    if settings["patience"] is not None:
        with problems.check():
            _integer(
                "trainer.early_stopping.patience",
                settings["patience"],
                1,
                " (epochs without improvement) or null (off)",
            )
    with problems.check():
        _choice("trainer.early_stopping.monitor", settings["monitor"], tuple(MONITORS))
    delta = settings["min_delta"]
    with problems.check():
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta >= 0:
            raise ConfigError("trainer.early_stopping.min_delta", delta, "must be a number >= 0")
    problems.raise_any()
    return settings


def check_runner(cfg):
    """-> ``runner.*`` (how a sweep treats work already done) as a dict, checked."""
    runner = OmegaConf.to_container(cfg.get("runner") or OmegaConf.create(), resolve=True)
    runner = {"resume": "auto", "dry_run": False, "max_failures": None, "trial": None, **runner}
    problems = Problems()
    for key in runner:
        if key not in RUNNER_KEYS:
            with problems.check():
                raise ConfigError(
                    f"runner.{key}", runner[key], f"unknown key; allowed: {', '.join(RUNNER_KEYS)}"
                )
    with problems.check():
        _choice("runner.resume", runner["resume"], RESUME_MODES)
    with problems.check():
        if not isinstance(runner["dry_run"], bool) and runner["dry_run"] != "all":
            raise ConfigError(
                "runner.dry_run", runner["dry_run"], "must be true, false or all (every job's line)"
            )
    if runner["max_failures"] is not None:
        with problems.check():
            _integer("runner.max_failures", runner["max_failures"], 1, " or null (never stop)")
    if runner["trial"] is not None:
        with problems.check():
            _integer("runner.trial", runner["trial"], 0, " (set by the Optuna sweeper) or null")
    problems.raise_any()
    return runner


def check_objective(value):
    """-> ``objective`` as a list of metric names: one name, or a list of distinct ones."""
    from omegaconf import ListConfig

    names = list(value) if isinstance(value, (list, ListConfig)) else [value]
    unknown = any(not isinstance(name, str) or name not in OBJECTIVES for name in names)
    if not names or unknown or len(set(names)) < len(names):
        shown = (
            "[" + ", ".join(map(str, names)) + "]"
            if isinstance(value, (list, ListConfig))
            else value
        )
        raise ConfigError(
            "objective",
            shown,
            f"choose one of: {', '.join(OBJECTIVES)}, or a list of distinct ones",
        )
    return names


def _integer(key, value, minimum, extra=""):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(key, value, f"must be {kind}{extra}")


def _choice(key, value, allowed):
    if value not in allowed:
        raise ConfigError(key, value, f"choose one of: {', '.join(allowed)}")


def unread_keys(cfg):
    """Warnings for top-level keys no part of the run reads (``+foo.bar=1``): a typo, usually."""
    raw = OmegaConf.to_container(cfg, resolve=False)
    referenced = {ref.split(".")[0] for text in _strings(raw) for ref in _REFERENCE.findall(text)}
    notes = []
    for key in raw:
        if key in READ_KEYS or key in referenced:
            continue
        shown = ", ".join(f"{k}={v}" for k, v in flatten({key: raw[key]}).items()) or key
        notes.append(
            f"{shown}: nothing reads '{key}', so it changes nothing (the run reads "
            f"{', '.join(READ_KEYS)}, and keys used in ${{...}} interpolations)"
        )
    return notes


def _strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def check_task_metrics(cfg, task):
    """``objective`` and ``trainer.early_stopping.monitor`` name a metric the run's task
    records: no accuracy for a regression run, no RMSE, MAE or R² for a classifier."""
    from runner.metric_names import REGRESSION

    regression = task == REGRESSION
    wrong, use = (
        (("accuracy",), "val_rmse, val_mae, val_r2, train_rmse")
        if regression
        else (
            ("rmse", "mae", "r2"),
            "val_accuracy, train_accuracy",
        )
    )
    stopping = (cfg.get("trainer") or {}).get("early_stopping") or {}
    chosen = {
        "objective": cfg.get("objective"),
        "trainer.early_stopping.monitor": stopping.get("monitor"),
    }
    for key, value in chosen.items():
        names = (
            list(value) if isinstance(value, (list, tuple)) or OmegaConf.is_list(value) else [value]
        )
        for name in names:
            if str(name).rsplit("_", 1)[-1] in wrong:
                raise ConfigError(
                    key,
                    name,
                    f"a {task} run does not record it; choose the loss or one of: {use}",
                )
