"""The one exception type for mistakes a user can make in a config, an override or a file."""

import contextlib
import re

# nncore's argument errors read "<argument> must be ..., got <value>"
_ARGUMENT_ERROR = re.compile(r"^(?P<name>\w+) (?P<problem>must .*?)(?:, got (?P<value>.*))?$")


class ConfigError(ValueError):
    """A user's mistake, reported as one line: ``key=value: what is wrong; what is allowed``."""

    def __init__(self, key, value, problem):
        self.key, self.value, self.problem = key, value, problem
        super().__init__(f"{key}={_show(value)}: {problem}")


def _show(value):
    return "null" if value is None else str(value)


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
