"""What ``--resume`` replays from a sweep folder: overrides of the runner's own config only.

A sweep folder may come from someone else (a colleague's archive, a shared disk), and its
``multirun.yaml`` is replayed as a command line. Much of Hydra's config names code: a
``_target_`` is instantiated, ``hydra.callbacks`` are called, ``hydra.job.env_set`` sets
``LD_PRELOAD`` for the jobs, ``hydra.job_logging`` hands classes to ``logging.config``,
``hydra.searchpath`` or a ``--config-dir`` adds YAML that can do all of these, and a launcher's
``setup`` lines run in a shell. So a saved override is replayed only when it is one of:

- a key or config group of the runner's own config (``conf/``: ``model``, ``trainer.epochs``,
  ``experiment=...``), whose value names no ``_target_``;
- ``hydra/launcher``, ``hydra/sweeper`` and its ``sampler`` and ``pruner`` groups, set to one
  of the runner's options (:data:`OPTIONS`);
- a setting of the sweep itself (:data:`HYDRA_KEYS`), or of the launcher and sweeper
  (``hydra.launcher.*``, ``hydra.sweeper.*``) other than those that run commands
  (:data:`COMMAND_KEYS`) or name a class;
- a ``_target_`` of the runner's own (``runner.stack.EXECUTION_WHITELIST``), or an Optuna
  sampler or pruner for the sweeper's.

Anything else is refused in one line before Hydra sees it, unless the user says the folder is
trusted (``--trust-folder``).
"""

from __future__ import annotations

from pathlib import Path

from runner.stack import EXECUTION_WHITELIST

CONF = Path(__file__).resolve().parents[2] / "conf"

# hydra/<group>=<option> the runner ships (hydra_plugins/nnrunner/config.py, conf/hydra/),
# plus Hydra's basic launcher and sweeper (Hydra's own code, offered in the docs)
OPTIONS = {
    "hydra/launcher": {
        "pool",
        "basic",
        "joblib",
        "ray",
        "ray_cluster",
        "submitit_local",
        "submitit_slurm",
        "slurm",
    },
    "hydra/sweeper": {"grid", "optuna", "race", "basic"},
    "hydra/sweeper/sampler": {"tpe", "random", "cmaes", "grid", "qmc", "nsgaii"},
    "hydra/sweeper/pruner": {"none", "median", "asha", "successive_halving", "hyperband"},
}
# hydra.* keys that only place or shape the sweep
HYDRA_KEYS = (
    "hydra.mode",
    "hydra.sweep.dir",
    "hydra.sweep.subdir",
    "hydra.run.dir",
    "hydra.job.chdir",
    "hydra.job.name",
)
HYDRA_PREFIXES = ("hydra.launcher.", "hydra.sweeper.")
# keys of a launcher or sweeper that run commands or change the jobs' environment
COMMAND_KEYS = {
    "setup",
    "srun_args",
    "additional_parameters",
    "runtime_env",
    "env_vars",
    "worker_process_setup_hook",
    "py_modules",
    "working_dir",
}
OPTUNA_TARGETS = ("optuna.samplers.", "optuna.pruners.")


class Refused(Exception):
    """A saved override that names code; the message says which and why (one line)."""


def own_names(conf: Path = CONF) -> set[str]:
    """The first words of the runner's own config: its groups (conf/'s folders) and the
    top-level keys of conf/config.yaml."""
    import yaml

    names = {p.name for p in conf.iterdir() if p.is_dir() and p.name != "hydra"}
    primary = yaml.safe_load((conf / "config.yaml").read_text()) or {}
    names |= {str(k) for k in primary if k not in ("defaults", "hydra")}
    return names


def check(overrides: list[str], names: set[str] | None = None) -> None:
    """Every saved override (hydra's and the task's, as typed) -> Refused for the first that is
    not the runner's own (see the module's docstring)."""
    names = own_names() if names is None else names
    for override in overrides:
        problem = why_refused(str(override), names)
        if problem is not None:
            raise Refused(f"{override}: {problem}")


def why_refused(override: str, names: set[str]) -> str | None:
    """What is wrong with replaying ``override``, or None when it is the runner's own."""
    key, _, value = override.partition("=")
    key = key.lstrip("+~").split("@", 1)[0].strip()
    value = value.strip().strip("'\"")
    if "_target_" in override:
        return _target_problem(key, value)
    if key.startswith("hydra/"):
        options = OPTIONS.get(key)
        if options is None:
            return f"{key} is not a config group of the runner's plugins"
        if value not in options:
            return (
                f"{key}={value} is not one of the runner's options ({', '.join(sorted(options))})"
            )
        return None
    if key == "hydra" or key.startswith("hydra."):
        if key in HYDRA_KEYS:
            return None
        if key.startswith(HYDRA_PREFIXES):
            parts = key.split(".")[2:]
            named = [p for p in parts if p in COMMAND_KEYS or p.startswith("_")]
            if named:
                return f"{named[0]} is a launcher or sweeper setting that runs commands"
            return None
        return f"{key} is not a setting of the sweep that the runner replays"
    first = key.replace("/", ".").split(".", 1)[0]
    if first not in names:
        return f"{first} is not a key or config group of the runner's config"
    return None


def _target_problem(key: str, value: str) -> str | None:
    if key.endswith("._target_") and value in EXECUTION_WHITELIST:
        return None
    sweeper_part = key in ("hydra.sweeper.sampler._target_", "hydra.sweeper.pruner._target_")
    if sweeper_part and value.startswith(OPTUNA_TARGETS):
        return None
    return "a _target_ that is not one of the runner's own names code to run"


def config_source_problem(config) -> str | None:
    """A saved command that named a config folder or primary config of its own (``--config-dir``,
    ``--config-name``): that YAML could name any code -> what it named, or None."""
    name = config.hydra.job.get("config_name")
    if name and name != "config":
        return f"--config-name {name}"
    for source in config.hydra.runtime.get("config_sources") or []:
        if source.get("provider") == "command-line":
            return f"--config-dir {source.path}"
    return None
