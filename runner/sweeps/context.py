"""One sweep's shared state in the launching process, from its start to its summary.

Hydra builds a sweep's pieces separately: the runner's callback, the sweeper, the launcher
(which may run several batches), and hands each the same config object. What they share lives
on one :class:`SweepContext` for that config: the composition cache, the launcher's workers
and progress line kept across batches, the stop signals received, the sweep folder the entry
point summarises at the end. The runner's callback starts it (``runner.sweeps.callback``); in
a Hydra app without that callback the launcher or sweeper that meets a new config starts it.
A process runs one sweep at a time, so there is one current context; a new sweep's config
replaces it (and closes what the previous one left open).
"""

from __future__ import annotations

import atexit
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from omegaconf import DictConfig


class Closable(Protocol):
    def close(self, at_once: bool = False) -> None: ...


@dataclass(eq=False)
class SweepContext:
    """The state of the sweep whose config is ``config`` (compared by identity)."""

    config: DictConfig
    sweep_dir: Path | None = None  # prepared by the runner's callback: summarised at the end
    compose: Any = None  # runner.sweeps.compose.ComposeCache, made by the first that needs it
    session: Closable | None = None  # the launcher's workers or progress, across its batches
    stop_signals: list[int] = field(default_factory=list)  # received while it ran

    def close(self, at_once: bool = False) -> None:
        """End what the launcher kept open (its workers; ``at_once``: without waiting long)."""
        session, self.session = self.session, None
        if session is not None:
            session.close(at_once=at_once)


_current: SweepContext | None = None


def start(config: DictConfig, sweep_dir: Path | None = None) -> SweepContext:
    """A new sweep of ``config`` starts: it becomes the current one."""
    global _current
    if _current is not None:
        _current.close(at_once=True)
    _current = SweepContext(config, Path(sweep_dir) if sweep_dir is not None else None)
    return _current


def of(config: DictConfig) -> SweepContext:
    """The context of the sweep whose config is ``config``, started if it is a new one."""
    if _current is not None and _current.config is config:
        return _current
    return start(config)


def current() -> SweepContext | None:
    """The sweep running in this process, or None."""
    return _current


def finish() -> SweepContext | None:
    """The current sweep is over: close what its launcher kept open -> its context, or None."""
    global _current
    ending, _current = _current, None
    if ending is not None:
        ending.close()
    return ending


atexit.register(finish)
