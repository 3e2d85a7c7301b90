"""Name -> class lookup shared by every registry (ACTIVATIONS, LOSSES, ...)."""

import inspect


def lookup(table, kind, name):
    """Return ``table[name]``; an unknown name raises ValueError listing the valid ones."""
    try:
        return table[name]
    except (KeyError, TypeError):
        choices = ", ".join(sorted(table))
        raise ValueError(f"unknown {kind} '{name}'; choose one of: {choices}") from None


def accepted_options(cls):
    """Keyword arguments ``cls`` accepts, in signature order."""
    params = inspect.signature(cls).parameters.values()
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def create(table, kind, name, **options):
    """Build ``table[name](**options)``; a misspelt option names itself and the valid ones."""
    cls = lookup(table, kind, name)
    allowed = accepted_options(cls)
    for key in options:
        if key not in allowed:
            raise ValueError(
                f"unknown option '{key}' for {kind} '{name}'; "
                f"choose from: {', '.join(allowed) or '(none)'}"
            )
    return cls(**options)
