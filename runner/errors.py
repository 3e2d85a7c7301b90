"""The one exception type for mistakes a user can make in a config, an override or a file."""

import contextlib
import errno
import re
import sys
import traceback

# nncore's argument errors read "<argument> must be ..., got <value>"
_ARGUMENT_ERROR = re.compile(r"^(?P<name>\w+) (?P<problem>must .*?)(?:, got (?P<value>.*))?$")


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


def os_problem(error):
    """An OSError as ``file: what went wrong (why, when it is known)``."""
    where = f"{error.filename}: " if error.filename else ""
    hint = {
        errno.ENOSPC: " (the disk is full)",
        errno.EDQUOT: " (disk quota exceeded)",
        errno.EFBIG: " (file size limit reached)",
        errno.EROFS: " (read-only file system)",
        errno.EACCES: " (no permission)",
    }.get(error.errno, "")
    return f"{where}{error.strerror or error}{hint}"


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

    What a user can cause (Hydra's own config errors, an unresolvable interpolation, a full or
    read-only disk) is one line; anything else is a bug and keeps its traceback.
    """
    from hydra.errors import CompactHydraException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(error, CompactHydraException):  # unknown group option, bad override syntax
        print(f"error: {hydra_problem(error)}", file=sys.stderr)
    elif isinstance(error, ConfigError):
        print(f"error: {error}", file=sys.stderr)
    elif isinstance(error, OSError):
        print(f"error: {os_problem(error)}", file=sys.stderr)
    elif type(error).__name__ == "TerminatedWorkerError":  # joblib's worker died (kill -9, OOM)
        codes = next((line for line in str(error).splitlines() if "exit codes" in line), "")
        print(
            f"error: a worker process of the launcher died ({codes.strip() or 'killed'}); "
            "the sweep stopped, and the summary marks the job that ran there failed",
            file=sys.stderr,
        )
    elif isinstance(error, OmegaConfBaseException):
        key = getattr(error, "full_key", None)
        message = str(getattr(error, "msg", error)).splitlines()[0]
        print(f"error: {key}: {message}" if key else f"error: {message}", file=sys.stderr)
    elif _raised_while_composing(error):  # an override Hydra could not apply
        lines = str(error).splitlines() or [type(error).__name__]
        key = next((line.split(":", 1)[1].strip() for line in lines if "full_key:" in line), "")
        where = f" (applying the override of {key})" if key else ""
        print(f"error: {lines[0]}{where}", file=sys.stderr)
    else:
        traceback.print_exception(error)
    return 1


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
            first += f"; available: {', '.join(options)}"
        if missing.group(1) == "hydra/launcher" and missing.group(2).startswith("submitit"):
            first += "; it comes with hydra-submitit-launcher: pip install -e '.[slurm]'"
    elif re.search(r"Could not override '([^']+)'", first) and "not in struct" in str(
        error.__cause__ or ""
    ):
        key = re.search(r"Could not override '([^']+)'", first).group(1)
        first = (
            f"{key}: no such key in this config (python -m runner --help lists them); "
            f"to add one anyway, write +{key}=..."
        )
    elif isinstance(error.__cause__, OmegaConfBaseException):
        first += f" ({str(error.__cause__).splitlines()[0]})"
    return first


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
