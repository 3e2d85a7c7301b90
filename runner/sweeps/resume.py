"""``python -m runner --resume SWEEP_DIR [overrides...]``: that sweep's command again, in place.

Hydra has no resume; what it keeps of a sweep is ``multirun.yaml`` in its folder, whose
``hydra.overrides`` are the command line that started it. Resuming rebuilds that command line
(``-m``, its hydra overrides with ``hydra.sweep.dir`` pinned to the folder, its task overrides,
then whatever is typed after the folder) before Hydra parses the arguments. The jobs then
decide for themselves, as in any sweep (``runner.sweeps.reuse``): a job whose run is ``ok`` in
its own folder does nothing, the others run again in their folders.

A sweep folder may come from someone else, so what it replays is checked first
(``runner.sweeps.replayable``): only overrides of the runner's own config keys and plugins; a
``_target_`` outside the runner's own, ``hydra.callbacks``, another ``hydra/...`` option, a
launcher's shell ``setup`` or a config folder of its own is refused in one line before Hydra
sees it, unless ``--trust-folder`` is given. Hydra 1.4's whitelist refuses a foreign callback
too; this check also covers 1.3, and what no whitelist sees (environment, logging, search path).
"""

import re
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from runner.errors import available_options
from runner.stack import EXECUTION_WHITELIST
from runner.sweeps import replayable
from runner.sweeps.flags import RESUME, TRUST_FOLDER
from runner.text import clip

FLAG = RESUME
_active: list[str] = []  # the folder being resumed, for error messages
TASK = "hydra.overrides.task"  # the overrides a resume replays
DETAIL = 200  # widest reader's error shown in the one line about a damaged multirun.yaml


class ResumeError(Exception):
    """A --resume that cannot be done; the message is the one line the user sees."""


def rewrite(args, trust=False):
    """Command-line arguments (without the program) -> the arguments Hydra is given.
    ``trust`` (``--trust-folder``): replay the folder's overrides whatever they name."""
    if not any(a == FLAG or a.startswith(FLAG + "=") for a in args):
        return args
    folder, rest = _split(args)
    sweep_dir = Path(folder).expanduser().absolute()
    config = _multirun_config(folder, sweep_dir)
    overrides = OmegaConf.to_container(config.hydra.overrides, resolve=False)  # as typed
    if not trust:
        _refuse_what_is_not_ours(folder, overrides["hydra"] + overrides["task"], config)
    hydra = [o for o in overrides["hydra"] if not o.startswith(("hydra.mode=", "hydra.sweep.dir="))]
    front = ["-m"]
    name = config.hydra.job.get("config_name")
    if name and name != "config":
        front += ["--config-name", str(name)]
    for source in config.hydra.runtime.get("config_sources") or []:
        if source.get("provider") == "command-line":
            front += ["--config-dir", str(source.path)]
    pinned = f"hydra.sweep.dir='{_quoted(str(sweep_dir))}'"
    rest = [a for a in rest if a not in ("-m", "--multirun")]
    _active[:] = [folder]
    return front + hydra + overrides["task"] + rest + [pinned]


def resuming():
    """The folder given to --resume in this process, or None."""
    return _active[0] if _active else None


def _split(args):
    rest, folder, i = [], None, 0
    while i < len(args):
        arg = args[i]
        if arg == FLAG:
            if i + 1 >= len(args) or args[i + 1].startswith("-"):
                raise ResumeError(f"{FLAG} needs a sweep folder: {FLAG} outputs/sweeps/DATE/TIME")
            folder, i = args[i + 1], i + 2
            continue
        if arg.startswith(FLAG + "="):
            folder = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return folder, rest


def _multirun_config(folder, sweep_dir):
    saved = sweep_dir / "multirun.yaml"
    if not sweep_dir.is_dir():
        raise ResumeError(f"{FLAG} {folder}: no such folder")
    if saved.is_dir():
        raise ResumeError(f"{FLAG} {folder}: {saved.name} is a folder, not the config Hydra saves")
    if not saved.is_file():
        hint = ""
        if (sweep_dir / ".hydra" / "overrides.yaml").is_file():
            hint = " (it is one job's or one run's folder; give the sweep folder above it)"
        raise ResumeError(
            f"{FLAG} {folder}: not a sweep folder: it has no multirun.yaml, which every sweep "
            f"folder (outputs/sweeps/DATE/TIME) has{hint}"
        )
    unreadable = (
        f"{FLAG} {folder}: {saved.name} cannot be read (damaged, or not the file Hydra writes)"
    )
    if saved.stat().st_size == 0:
        raise ResumeError(f"{unreadable}: it is empty")
    try:
        config = OmegaConf.load(saved)
    except Exception as error:  # noqa: BLE001 - damaged YAML, not UTF-8: one line either way
        raise ResumeError(f"{unreadable}: {_why(error)}") from None
    missing = _not_as_hydra_writes(config)
    if missing:
        raise ResumeError(
            f"{unreadable}: it has no {missing}, which every sweep's multirun.yaml has"
        )
    return config


def _not_as_hydra_writes(config):
    """What a resume reads of multirun.yaml that is missing or of another type (a file edited
    by hand, or some other YAML) -> its description, or None when all is there."""
    if not isinstance(config, DictConfig):
        return "hydra section"
    for key in ("hydra.overrides.hydra", TASK):
        value = OmegaConf.select(config, key)
        if not isinstance(value, ListConfig) or not all(isinstance(v, str) for v in value):
            return f"list of overrides {key}"
    for key in ("hydra.job", "hydra.runtime"):
        if not isinstance(OmegaConf.select(config, key), DictConfig):
            return f"section {key}"
    if not isinstance(OmegaConf.select(config, "hydra.callbacks"), DictConfig | None):
        return "section hydra.callbacks"
    sources = OmegaConf.select(config, "hydra.runtime.config_sources")
    if sources is not None and not (
        isinstance(sources, ListConfig) and all(isinstance(v, DictConfig) for v in sources)
    ):
        return "list of config sources hydra.runtime.config_sources"
    return None


def _why(error, width=DETAIL):
    """What reading a YAML file met, on one line of at most ``width`` characters: YAML's
    problem and its line (not the several lines YAML writes, naming the file again)."""
    mark = getattr(error, "problem_mark", None)
    if mark is not None and getattr(error, "problem", None):
        text = f"{error.problem} at line {mark.line + 1}, column {mark.column + 1}"
    else:
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return clip(" ".join(text.split()) or type(error).__name__, width)


def _refuse_what_is_not_ours(folder, overrides, config):
    """A saved override, callback or config source that is not the runner's own (see
    ``runner.sweeps.replayable``) -> ResumeError naming it, before anything is instantiated."""
    trust = f"give {TRUST_FOLDER} to replay it anyway, only for a folder you made or trust as code"
    try:
        replayable.check([str(o) for o in overrides])
    except replayable.Refused as error:
        raise ResumeError(
            f"{FLAG} {folder}: refused: multirun.yaml replays {error}; a sweep folder's config "
            f"is data, never code; {trust}"
        ) from None
    saved = OmegaConf.select(config, "hydra.callbacks")
    callbacks = OmegaConf.to_container(saved, resolve=False) if saved is not None else {}
    for name, callback in callbacks.items():
        target = callback.get("_target_") if isinstance(callback, dict) else None
        if target is not None and str(target) not in EXECUTION_WHITELIST:
            raise ResumeError(
                f"{FLAG} {folder}: refused: multirun.yaml sets hydra.callbacks.{name}._target_="
                f"{target}, which is not one of the runner's own targets; a sweep folder's "
                f"config is data, never code; {trust}"
            )
    source = replayable.config_source_problem(config)
    if source is not None:
        raise ResumeError(
            f"{FLAG} {folder}: refused: multirun.yaml replays {source}, a config of its own "
            f"whose YAML may name any code; {trust}"
        )


def _quoted(text):
    return text.replace("\\", "\\\\").replace("'", "\\'")


def explain(error, folder, args):
    """A Hydra composition error met while resuming -> one line naming the folder and the
    override that no longer composes (a config group option renamed since, a key removed)."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    first = lines[0] if lines else type(error).__name__
    missing = re.search(r"Could not (?:find|load) '([^']+)/([^']+)'", first)
    options = available_options(lines)
    bad = None
    if missing:
        group = missing.group(1).split("/")[-1]
        bad = next(
            (a for a in args if a.lstrip("+~").split("=", 1)[0].split("@")[0] == group), None
        )
        first = f"no option '{missing.group(2)}' in config group '{missing.group(1)}'"
        if options:
            first += f"; available: {', '.join(options)}"
    else:
        key = re.search(r"override '([^']+)'", first) or re.search(r"Key '([^']+)'", first)
        if key:
            bad = next((a for a in args if a.lstrip("+~").split("=", 1)[0] == key.group(1)), None)
        detail = next((line for line in lines[1:] if "struct" in line or "append" in line), "")
        first = first + (f" ({detail.strip()})" if detail else "")
    where = f"its override {bad} no longer composes" if bad else "its overrides no longer compose"
    return f"error: {FLAG} {folder}: {where}: {first}; nothing was run"
