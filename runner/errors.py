"""The one exception type for mistakes a user can make in a config, an override or a file,
and the exit codes every command ends with."""

import contextlib
import difflib
import errno
import io
import os
import re
import shutil
import sys
import traceback
from pathlib import Path

# nncore's argument errors read "<argument> must be ..., got <value>"
_ARGUMENT_ERROR = re.compile(r"^(?P<name>\w+) (?P<problem>must .*?)(?:, got (?P<value>.*))?$")

# Exit codes of every command (docs/reference/exit-codes.md); 130 and 143 are 128 + the signal's number.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNFINISHED = 0, 1, 2, 3


class ConfigError(ValueError):
    """A user's mistake, reported as one line: ``key=value: what is wrong; what is allowed``."""

    def __init__(self, key, value, problem):
        self.key, self.value, self.problem = key, value, problem
        super().__init__(f"{key}={_show(value)}: {problem}")


def _show(value):
    """The value as a user types it in an override (YAML: null, true, false)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class ConfigErrors(ConfigError):
    """Several mistakes of one config, reported together on one line, the first one first."""

    def __init__(self, errors):
        self.errors = list(errors)
        first = self.errors[0]
        ValueError.__init__(self, "; ".join(str(e) for e in self.errors))
        self.key, self.value, self.problem = first.key, first.value, first.problem


class Problems:
    """Collects ConfigErrors from several checks so the user hears of all of them at once.

    >>> problems = Problems()
    >>> with problems.check():
    ...     check_one()
    >>> problems.raise_any()
    """

    def __init__(self):
        self.errors = []

    @contextlib.contextmanager
    def check(self):
        try:
            yield
        except ConfigErrors as error:
            self.errors.extend(error.errors)
        except ConfigError as error:
            self.errors.append(error)

    def raise_any(self):
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise ConfigErrors(self.errors)


@contextlib.contextmanager
def config_key(prefix, options):
    """Re-raise nncore's ValueError as a ConfigError naming the config key it came from.

    ``options`` are the keyword arguments given under ``prefix`` (e.g. ``optimizer``): an
    error about ``learning_rate`` becomes one about ``optimizer.learning_rate``.
    """
    try:
        yield
    except ConfigError:
        raise
    except ValueError as error:
        match = _ARGUMENT_ERROR.match(str(error))
        if match and match["name"] in options:
            name = match["name"]
            raise ConfigError(f"{prefix}.{name}", options[name], match["problem"]) from None
        raise ConfigError(prefix, _describe(options), str(error)) from None


def _describe(options):
    return "{" + ", ".join(f"{k}: {v}" for k, v in options.items()) + "}"


_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # the disk (or a quota) has no room left


def os_problem(error, path=None):
    """An OSError as ``file: what went wrong (why, when it is known)``; ``path``: the file
    being written when the error does not name one (a flush of an open file does not). A full
    disk says how much room is left where the file goes."""
    filename = error.filename or path or _file_being_written(error)
    where = f"{filename}: " if filename else ""
    hint = {
        errno.ENOSPC: " (the disk is full",
        errno.EDQUOT: " (disk quota exceeded",
        errno.EFBIG: " (file size limit reached",
        errno.EROFS: " (read-only file system",
        errno.EACCES: " (no permission",
    }.get(error.errno, "")
    if hint and error.errno in _FULL and filename:
        hint += free_space(filename)
    return f"{where}{error.strerror or error}{hint + ')' if hint else ''}"


def name_the_file(error, default=None):
    """Give an OSError that names no file the name of the file it was raised writing, if its
    traceback tells (see :func:`_file_being_written`), else ``default`` (the folder it was
    writing in) -> ``error``. Call it where the error is caught in the process that raised it:
    the name survives pickling, the traceback does not (a sweep's worker sends a job's error
    to the main process)."""
    if isinstance(error, OSError) and not error.filename:
        found = _file_being_written(error)
        error.filename = found if found is not None else (str(default) if default else None)
    return error


def _file_being_written(error):
    """The name of the open file nearest where ``error`` was raised: a write or flush that
    fails (a full disk) raises an OSError that names no file, and the frame that wrote it
    holds the file object (Hydra's own config files are written so)."""
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in frame.f_locals.values():
            name = getattr(value, "name", None)
            # not sys.stderr ("<stderr>"): a job's output may go to a log on the full disk,
            # and the caller's default names the folder better than a stream's pseudo-name
            if isinstance(value, io.IOBase) and isinstance(name, str) and not name.startswith("<"):
                return name
    return None


def free_space(path):
    """``"; 12 KiB free in /folder"`` for the file system holding ``path`` (its nearest
    existing folder), or ``""`` when that cannot be told."""
    folder = Path(os.fsdecode(path)).absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    return f"; {_size(free)} free in {folder}"


def _size(count):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def disk_error(error):
    """The OSError behind ``error``: itself, or a full or read-only disk among its causes and
    contexts (a launcher re-raises a job's error wrapped, or a second error is raised while
    handling it); None otherwise, and for a bug raised while handling some other OSError."""
    if isinstance(error, OSError):
        return error
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _FULL | {errno.EROFS}:
            return error
        error = error.__cause__ or error.__context__
    return None


def check_resolvable(cfg):
    """The config resolved, as plain containers; a ConfigError naming the key if any
    interpolation (``${...}``) cannot be resolved."""
    from omegaconf import OmegaConf
    from omegaconf.errors import InterpolationResolutionError

    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except InterpolationResolutionError as error:
        key = getattr(error, "full_key", None) or "config"
        raw = OmegaConf.to_container(cfg, resolve=False)
        for part in str(key).split("."):
            raw = raw.get(part) if isinstance(raw, dict) else None
        problem = str(getattr(error, "msg", error)).splitlines()[0]
        raise ConfigError(key, raw, f"cannot be resolved: {problem}") from None


def report_uncaught(error):
    """Print an exception that reached the entry point -> exit status.

    What a user can cause is one line: a mistake in the config or the overrides (Hydra's own
    errors, an unresolvable interpolation) exits 2; a full or read-only disk, or a launcher's
    worker that died, exits 1 like a failed run; anything else is a bug and keeps its traceback.
    """
    line, code = _one_line(error)
    if line is None:
        traceback.print_exception(error)
        return EXIT_FAILED
    print(f"error: {line}", file=sys.stderr)
    return code


def _one_line(error):
    """-> (the line that says what went wrong, exit code), or (None, None) for a bug."""
    from hydra.errors import CompactHydraException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(error, CompactHydraException):  # unknown group option, bad override syntax
        return hydra_problem(error), EXIT_USAGE
    if isinstance(error, ConfigError):
        return str(error), EXIT_USAGE
    if disk_error(error) is not None:
        return os_problem(disk_error(error)), EXIT_FAILED
    if type(error).__name__ == "TerminatedWorkerError":  # joblib's worker died (kill -9, OOM)
        codes = next((line for line in str(error).splitlines() if "exit codes" in line), "")
        return (
            f"a worker process of the launcher died ({codes.strip() or 'killed'}); "
            "the sweep stopped, and the summary marks the job that ran there failed"
        ), EXIT_FAILED
    if isinstance(error, OmegaConfBaseException):
        key = getattr(error, "full_key", None)
        message = str(getattr(error, "msg", error)).splitlines()[0]
        return (f"{key}: {message}" if key else message), EXIT_USAGE
    if isinstance(error, ValueError) and str(error).startswith("Only one of --run, --multirun"):
        return (  # Hydra's check of its own flags: -m with --cfg, --info, ...
            "-m (--multirun) cannot be combined with --cfg, --info or --run: give one of them "
            "(--cfg job shows one job's config: drop -m and give one value per key)"
        ), EXIT_USAGE
    if _raised_while_composing(error):  # an override Hydra could not apply
        lines = str(error).splitlines() or [type(error).__name__]
        key = next((line.split(":", 1)[1].strip() for line in lines if "full_key:" in line), "")
        where = f" (applying the override of {key})" if key else ""
        return f"{lines[0]}{where}", EXIT_USAGE
    return None, None


def hydra_problem(error):
    """Hydra's composition or override-syntax error -> one line: the override, what is wrong,
    and the options there are (Hydra lists them one per line, then its search path)."""
    from hydra.errors import OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    lines = [line for line in str(error).splitlines() if line.strip()]
    first = lines[0] if lines else type(error).__name__
    if isinstance(error, OverrideParseException):
        return (
            f"the override {error.override!r} does not parse: {first} (see python -m runner --help)"
        )
    missing = re.search(r"Could not (?:find|load) '([^']+)/([^']+)'", first)
    if missing:
        first = f"no option '{missing.group(2)}' in config group '{missing.group(1)}'"
        options = available_options(lines)
        if options:
            close = did_you_mean(missing.group(2), options)
            first += f"; {close + ' ' if close else ''}available: {', '.join(options)}"
        if missing.group(1) == "hydra/launcher" and missing.group(2).startswith("submitit"):
            first += "; it comes with hydra-submitit-launcher: pip install -e '.[slurm]'"
    elif re.search(r"Could not override '([^']+)'", first) and "not in struct" in str(
        error.__cause__ or ""
    ):
        key = re.search(r"Could not override '([^']+)'", first).group(1)
        close = _keys_near(key, error.__cause__)
        first = (
            f"{key}: no such key in this config{'; ' + close if close else ''} "
            f"(python -m runner --help lists them; to add one anyway, write +{key}=...)"
        )
    elif isinstance(error.__cause__, OmegaConfBaseException):
        first += f" ({str(error.__cause__).splitlines()[0]})"
    return first


def did_you_mean(name, candidates, prefix=""):
    """``"did you mean a, b?"`` for the candidates close to ``name`` (difflib), each shown after
    ``prefix``; ``""`` when none is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=3, cutoff=0.6)
    return f"did you mean {', '.join(prefix + c for c in close)}?" if close else ""


def _keys_near(key, cause):
    """A "did you mean" among the keys beside the unknown one (``trainer.epoch``: epochs)."""
    parent = getattr(cause, "parent_node", None)
    try:
        siblings = [k for k in parent if k != "hydra"] if parent is not None else []
    except Exception:  # noqa: BLE001 - no hint rather than a second error
        siblings = []
    prefix, _, name = key.rpartition(".")
    return did_you_mean(name, siblings, prefix + "." if prefix else "")


def available_options(lines):
    """The options Hydra lists under "Available options in ..." in an error message."""
    options, listing = [], False
    for line in lines:
        if line.startswith("Available options"):
            listing = True
            continue
        if listing and line.startswith("\t"):
            options.append(line.strip())
        elif listing:
            break
    return options


def _raised_while_composing(error):
    frames = traceback.extract_tb(error.__traceback__)
    return any(frame.name == "load_configuration" for frame in frames)
