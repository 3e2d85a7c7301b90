"""Hydra's composition, paid once per distinct set of config-group choices in a sweep.

Hydra composes every job of a sweep from scratch (the sweeper once to validate the batch, the
launcher again), most of a short job's cost (BENCHMARKS.md). But jobs that choose the
same config groups (``model=dense2 data=spiral``) differ only in values (``seed=3``), and
Hydra itself builds a config as the group composition with the value overrides applied on
top. So the group part is composed once with Hydra and kept (pickled, so a copy costs one
unpickling, and a worker process can be sent it once); a job's config is such a copy with
Hydra's own override parser and applier run over the job's value overrides, and the
bookkeeping Hydra does after applying overrides (``hydra.overrides``, and on Hydra 1.3
``hydra.job.override_dirname``, which 1.4 works out from ``hydra.overrides`` when read)
redone for the job. The reaches into Hydra this takes are in ``runner.sweeps.compat``; where
one is missing, or the Hydra is of a series this was not checked against, every job is
composed in full (one warning). A :class:`Recipe` says how to build one
job's config that way, so the building can happen in the worker that runs the job.

Anything this cannot be sure of goes through Hydra's full composition instead: sweep syntax
left in an override, keys whose meaning depends on the composition itself (``hydra.overrides``,
``hydra.runtime``, ``hydra.job.env_*``, ...) or that Hydra 1.4 checks after it
(``hydra.aliases``, ``hydra.launcher``, ``hydra.sweeper``), a dict value, a ``@package`` on a
key that is no group, and any error (which the full composition then reports in Hydra's own
words).
``tests/test_compose_cache.py`` compares both paths byte for byte over a wide matrix of forms.
"""

import hashlib
import pickle
import re
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from runner.sweeps import compat

# Value overrides of these keys change what Hydra derives during composition: never fast.
_DERIVED = (
    "hydra.overrides",
    "hydra.runtime",
    "hydra.job.env_copy",
    "hydra.job.env_set",
    "hydra.job.override_dirname",
    "hydra.job.config_name",
    "hydra.job.name",
    "hydra.aliases",  # 1.4: read-only while overrides apply, compared after
    "hydra.launcher",  # 1.4: a job may not change the sweep's launcher or sweeper
    "hydra.sweeper",
)

# key=value with a plain key and a value no sweep, list, dict, quote or interpolation
_SIMPLE = re.compile(r"([+~]{0,2}[A-Za-z_][A-Za-z0-9_.\-/]*)=([A-Za-z0-9_.+\-/]+)")


def cache_for(hydra_context: Any, master_config: DictConfig) -> "ComposeCache":
    """The composition cache of the sweep of ``master_config``, which its sweeper and launcher
    share (``runner.sweeps.context``)."""
    from runner.sweeps import context

    sweep = context.of(master_config)
    loader = hydra_context.config_loader
    if sweep.compose is None or sweep.compose.loader is not loader:
        sweep.compose = ComposeCache(loader, master_config, compat.whitelist_of(hydra_context))
    return sweep.compose


@dataclass(frozen=True)
class Recipe:
    """One job's config as a cached base plus value overrides."""

    base: str  # key of the composed base in ComposeCache.bases
    overrides: tuple[str, ...]  # the job's sweep overrides, all of them, in order
    values: tuple[str, ...]  # those among them that are value overrides, applied on the base


@dataclass
class Context:
    """What building a config from a recipe needs besides the base: the same for every job."""

    master_hydra: list[str]  # the master config's hydra overrides, first in every job's list
    resolver_cache: dict  # the master config's resolved ${now:...} and the like
    # what runs a job needs of the sweep's Hydra context: its execution whitelist (Hydra 1.4)
    execution_whitelist: Any = None

    def build(self, base_bytes: bytes, recipe: Recipe, parser: Any = None) -> DictConfig:
        """The job's config from its base (pickled) and recipe: a new DictConfig."""
        parser = parser or _parser()
        config = pickle.loads(base_bytes)
        OmegaConf.set_cache(config, self.resolver_cache)
        parsed = parser.parse_overrides(list(recipe.overrides))
        values = [o for o in parsed if o.input_line in recipe.values]
        compat.apply_overrides(values, config)
        app = [o for o in parsed if not o.is_hydra_override()]
        hydra = config.hydra
        hydra.overrides.hydra = self.master_hydra + [
            o.input_line for o in parsed if o.is_hydra_override()
        ]
        hydra.overrides.task = [o.input_line for o in app]
        compat.set_override_dirname(config, app)
        return config


def _parser(config_loader=None):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create(config_loader=config_loader)


class ComposeCache:
    """``load(overrides)`` gives what ``config_loader.load_sweep_config(master, overrides)``
    gives, composing with Hydra only once per distinct set of group overrides."""

    def __init__(self, config_loader, master_config, execution_whitelist=None):
        self.loader = config_loader
        self.master = master_config
        self.parser = _parser(config_loader)
        self.context = Context(
            master_hydra=list(OmegaConf.to_container(master_config.hydra.overrides.hydra)),
            resolver_cache=OmegaConf.get_cache(master_config),
            execution_whitelist=execution_whitelist,
        )
        problem = compat.fast_composition(master_config)
        if problem is not None:
            compat.moved(problem, "every job composed by Hydra in full")
        self.enabled = problem is None
        from runner.sweeps import yaml_files  # noqa: F401 - says here, at the sweep's start,

        # if OmegaConf's dumper moved (the workers, which write the files, say it in job.log)
        self._groups = {}  # key -> whether it names a config group
        self.bases = {}  # key -> pickled config composed from the group overrides alone
        self._validated = set()  # override shapes already shown to compose
        self._kinds = {}  # key of a simple override -> "group" or "value"
        self._recipes = {}  # overrides -> Recipe or None: the sweeper and the launcher ask alike
        self.fast = self.full = 0

    def recipe(self, overrides: list[str]) -> Recipe | None:
        """How to build this job's config from a cached base, or None: compose it in full."""
        key = tuple(overrides)
        if key not in self._recipes:
            self._recipes[key] = self._recipe(key)
        return self._recipes[key]

    def _recipe(self, overrides):
        if not self.enabled:
            return None
        split = self._split(list(overrides))
        if split is None:
            return None
        groups, values = split
        key = hashlib.sha1("\0".join(groups).encode()).hexdigest()[:16]
        if key not in self.bases:
            base = self.loader.load_sweep_config(self.master, list(groups))
            self.bases[key] = pickle.dumps(base, protocol=pickle.HIGHEST_PROTOCOL)
        return Recipe(key, tuple(overrides), tuple(values))

    def load(self, overrides: list[str]) -> DictConfig:
        """The sweep config of one job: a new DictConfig the caller may change."""
        overrides = list(overrides)
        try:
            recipe = self.recipe(overrides)
            config = None
            if recipe is not None:
                config = self.context.build(self.bases[recipe.base], recipe, self.parser)
        except Exception:  # noqa: BLE001 - the full composition reports it in Hydra's words
            config = None
        if config is not None:
            self.fast += 1
            return config
        self.full += 1
        return self.loader.load_sweep_config(self.master, overrides)

    def validate(self, overrides):
        """Raise what Hydra would raise composing this job, composing only what is new: a
        job whose group choices and overridden keys were seen composes alike (values of
        application keys are untyped), unless a value lands under ``hydra.`` (typed)."""
        recipe = self.recipe(overrides)
        if recipe is None:
            self.load(overrides)
            return None
        shape = (recipe.base, tuple(_key_shape(v) for v in recipe.values))
        if shape not in self._validated or any(
            v.lstrip("+~").startswith("hydra.") for v in recipe.values
        ):
            self.load(overrides)
            self._validated.add(shape)
        return recipe

    def _split(self, overrides):
        """(group overrides, value overrides) of the job, or None when not sure.

        A simple override (``seed=7``: a plain key, a value of letters, digits and ``_.+-/``,
        so no sweep, list, dict, quote or interpolation) whose key was seen before in a parsed
        override is classified as that one was, without Hydra's parser (about a millisecond
        an override, most of a big grid's validation).
        """
        groups, values = [], []
        unparsed = [o for o in overrides if self._kind_of_simple(o) is None]
        parsed = iter(self.parser.parse_overrides(unparsed)) if unparsed else iter(())
        for line in overrides:
            kind = self._kind_of_simple(line)
            if kind is None:
                kind = self._kind(next(parsed))
            if kind is None:
                return None
            (groups if kind == "group" else values).append(line)
        return groups, values

    def _kind_of_simple(self, line):
        match = _SIMPLE.fullmatch(line)
        return self._kinds.get(match.group(1)) if match else None

    def _kind(self, override):
        """ "group", "value", or None (compose in full) for a parsed override."""
        if override.is_sweep_override() or isinstance(override.value(), dict):
            return None
        try:
            is_group = self._is_group(override.key_or_group)
        except Exception:  # noqa: BLE001 - Hydra 1.4 refuses a .yml beside the groups: compose in full
            return None
        if is_group:
            kind = "group"
        elif override.key_or_group.startswith(_DERIVED) or override.package is not None:
            return None
        else:
            kind = "value"
        match = _SIMPLE.fullmatch(override.input_line)
        if match:
            self._kinds[match.group(1)] = kind
        return kind

    def _is_group(self, key):
        if key not in self._groups:
            self._groups[key] = _group_exists(self.loader, key)
        return self._groups[key]


def _group_exists(loader, key):
    """Whether ``key`` (``model``, ``hydra/launcher``) is a config group, by the config
    loader's public ``list_groups``."""
    parent, _, name = key.rpartition("/")
    return name in loader.list_groups(parent)


def _key_shape(override):
    """``+a.b=1`` -> ``+a.b``: what decides whether an override applies, not its value."""
    return override.split("=", 1)[0]
