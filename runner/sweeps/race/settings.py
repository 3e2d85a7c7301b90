"""``hydra.sweeper`` of a race, checked before anything is written: one line per mistake."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import OmegaConf

from runner.errors import ConfigError


@dataclass(frozen=True)
class RaceSettings:
    min_seeds: int
    max_seeds: int
    level: float
    budget: int | None
    direction: str  # minimize | maximize
    objective: str


def check_settings(config) -> RaceSettings:
    """``config`` (the sweep's, with ``hydra.sweeper`` and ``objective``) -> RaceSettings."""
    from runner.sweeps.search.study import directions, objectives

    sweeper = OmegaConf.to_container(config.hydra.sweeper, resolve=True)
    assert isinstance(sweeper, dict)  # hydra.sweeper is always a mapping
    min_seeds = _count("min_seeds", sweeper.get("min_seeds"), 2)
    max_seeds = _count("max_seeds", sweeper.get("max_seeds"), 2)
    if min_seeds > max_seeds:
        raise ConfigError(
            "hydra.sweeper.min_seeds",
            min_seeds,
            f"must be at most hydra.sweeper.max_seeds ({max_seeds}): every configuration starts "
            "with min_seeds seeds and a survivor gets up to max_seeds",
        )
    level = sweeper.get("level")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ConfigError(
            "hydra.sweeper.level",
            level,
            "must be a number between 0 and 1 (0.95: a configuration is eliminated when the "
            "test shows it worse than the best at 95% confidence)",
        )
    budget = sweeper.get("budget")
    if budget is not None:
        budget = _count("budget", budget, 1, " or null (no limit but max_seeds)")
    names = objectives(config)
    if len(names) > 1:
        raise ConfigError(
            "objective",
            "[" + ", ".join(names) + "]",
            "a race ranks configurations by one objective; choose one name "
            "(hydra/sweeper=optuna searches several at once)",
        )
    (direction,) = directions(config.hydra.sweeper, names)
    return RaceSettings(min_seeds, max_seeds, float(level), budget, direction, names[0])


def _count(key, value, minimum, extra=""):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"hydra.sweeper.{key}", value, f"must be an integer of at least {minimum}{extra}"
        )
    return value
