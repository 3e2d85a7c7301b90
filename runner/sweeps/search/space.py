"""Hydra's sweep syntax -> Optuna distributions.

``interval(a, b)`` is a float range, ``int(interval(a, b))`` an integer one, and
``tag(log, ...)`` samples either on a log scale; ``range(a, b, step)`` is a stepped range whose
last value is the last one ``range`` yields (Hydra's ``range`` excludes its stop, as Python's
does); ``choice(...)`` and ``a,b,c`` are categorical. Anything else is a fixed override passed
to every trial.
"""

import math
from dataclasses import dataclass, field

from runner.errors import ConfigError

SYNTAX = "interval(a, b), int(interval(a, b)), tag(log, interval(a, b)), range(a, b, step), choice(a, b, ...)"


@dataclass
class Space:
    distributions: dict = field(default_factory=dict)  # key -> optuna distribution
    fixed: list = field(default_factory=list)  # overrides every trial gets, as typed
    texts: dict = field(default_factory=dict)  # key -> its range as typed, for messages


def parse(declared, arguments):
    """``hydra.sweeper.params`` ({key: text}) and the command line's overrides -> Space; a
    command-line override of a declared key replaces it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    lines = {}
    for key, text in (declared or {}).items():
        lines[str(key)] = (f"hydra.sweeper.params.{key}", f"{key}={text}")
    for line in arguments:
        key = line.split("=", 1)[0].lstrip("~+")
        lines[key] = (key, line)
    space = Space()
    for where, line in lines.values():
        try:
            override = parser.parse_override(line)
        except HydraException as error:
            first = str(error).strip().splitlines()[0]
            raise ConfigError(
                where,
                line.split("=", 1)[-1],
                f"does not parse ({first}); the search understands {SYNTAX}",
            ) from None
        if not override.is_sweep_override():
            space.fixed.append(line)
            continue
        text = line.split("=", 1)[1]
        space.distributions[override.get_key_element()] = distribution(where, override, text)
        space.texts[override.get_key_element()] = text
    if not space.distributions:
        raise ConfigError(
            "hydra.sweeper.params",
            None,
            f"declares nothing to search; give at least one key a range, e.g. {SYNTAX}",
        )
    return space


def distribution(where, override, text):
    from hydra.core.override_parser.types import (
        ChoiceSweep,
        IntervalSweep,
        RangeSweep,
        Transformer,
    )
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    value = override.value()
    log = "log" in (value.tags or set())
    if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
        if log:
            raise ConfigError(where, text, "tag(log, ...) needs an interval, not a choice")
        choices = list(override.sweep_iterator(transformer=Transformer.encode))
        for choice in choices:
            if not isinstance(choice, (str, int, float, bool, type(None))):
                raise ConfigError(where, text, "choice() takes plain values (numbers, words, null)")
        if len(set(choices)) != len(choices):
            raise ConfigError(where, text, "lists a value twice")
        return CategoricalDistribution(choices)
    if isinstance(value, RangeSweep):
        if log:
            raise ConfigError(
                where,
                text,
                "a stepped range cannot be log-spaced; use tag(log, int(interval(a, b)))",
            )
        values = list(override.sweep_iterator())
        if not values:
            raise ConfigError(where, text, "is an empty range")
        if all(isinstance(v, int) for v in values):
            return IntDistribution(values[0], values[-1], step=int(value.step))
        step = float(value.step)
        last = float(value.start) + step * math.floor((values[-1] - value.start) / step + 1e-9)
        return FloatDistribution(float(value.start), last, step=step)
    if isinstance(value, IntervalSweep):
        low, high = value.start, value.end
        if not low < high:
            raise ConfigError(where, text, "needs its start below its end")
        if log and low <= 0:
            raise ConfigError(where, text, "a log-spaced interval must start above 0")
        if isinstance(low, int) and isinstance(high, int):
            return IntDistribution(low, high, log=log)
        return FloatDistribution(float(low), float(high), log=log)
    raise ConfigError(where, text, f"is not a search range; the search understands {SYNTAX}")


def grid_of(space):
    """The search space as the grid sampler's lists of values; only discrete keys have one."""
    from optuna.distributions import CategoricalDistribution

    grid = {}
    for key, dist in space.distributions.items():
        if isinstance(dist, CategoricalDistribution):
            grid[key] = list(dist.choices)
        elif getattr(dist, "step", None) is not None and not getattr(dist, "log", False):
            count = int(round((dist.high - dist.low) / dist.step)) + 1
            grid[key] = [dist.low + i * dist.step for i in range(count)]
        else:
            raise ConfigError(
                f"hydra.sweeper.params.{key}",
                space.texts.get(key),
                "is continuous; the grid sampler needs choice() or range(a, b, step) for every key",
            )
    return grid


def as_overrides(params, space):
    """A trial's parameters -> the overrides that run it (the search's, then the fixed ones)."""
    return [f"{key}={_typed(value)}" for key, value in params.items()] + list(space.fixed)


def _typed(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def described(space):
    """{key: distribution as JSON}: what a stored study remembers of its space."""
    from optuna.distributions import distribution_to_json

    return {key: distribution_to_json(d) for key, d in sorted(space.distributions.items())}
