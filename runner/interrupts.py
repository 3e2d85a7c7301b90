"""How a run ends when it is told to stop, so that every way of stopping is recorded.

SIGINT is Ctrl-C; SIGTERM is what ``kill``, Slurm (on preemption and time-out) and Kubernetes
send; SIGHUP comes when the terminal goes away. Each becomes an :class:`Interrupted` exception
in the main thread, so the training loop unwinds through the code that writes the records,
and the command exits with 128 + the signal's number, as a shell reports it. SIGKILL cannot
be caught: a run killed that way leaves its rows so far and no ledger row.
"""

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; ``reason`` is what the run records in ``message``."""

    def __init__(self, signum=signal.SIGINT, reason=None):
        self.signum = int(signum)
        self.reason = reason or f"interrupted by {signal_name(signum)}"
        super().__init__(self.reason)

    def __reduce__(self):  # crosses process boundaries (joblib, Ray) intact
        return (Interrupted, (self.signum, self.reason))

    @property
    def exit_code(self):
        return 128 + self.signum


def signal_name(signum):
    name = signal.Signals(signum).name
    return f"{name} (Ctrl-C)" if signum == signal.SIGINT else name


def as_interrupted(error):
    """Any KeyboardInterrupt (Python's own for an unhandled Ctrl-C) as an Interrupted."""
    return error if isinstance(error, Interrupted) else Interrupted(signal.SIGINT)


def _in_main_thread():
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def raising(on_signal=None):
    """Within the block, each stop signal raises :class:`Interrupted` in the main thread.

    ``on_signal(signum)``, if given, runs first and may itself raise (or return to let the
    default Interrupted be raised). Outside the main thread this does nothing: Python only
    delivers signals there.
    """
    if not _in_main_thread():
        yield
        return

    def handler(signum, frame):
        if on_signal is not None:
            on_signal(signum)
        raise Interrupted(signum, _pending_reason.pop(signum, None))

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


class deferred:
    """Hold stop signals back while records are written, so no signal can cut them short;
    ``pending`` is the first signal held, re-raised by the caller when the writing is done."""

    def __enter__(self):
        self.pending = None
        self._previous = {}
        if _in_main_thread():
            self._previous = {s: signal.signal(s, self._hold) for s in STOP_SIGNALS}
        return self

    def _hold(self, signum, frame):
        if self.pending is None:
            self.pending = signum

    def __exit__(self, *exc):
        for s, old in self._previous.items():
            signal.signal(s, old)
        return False


@contextlib.contextmanager
def indivisible():
    """A step no stop signal splits in two (a metrics row written *and* counted): a signal
    that arrives within is held, then delivered to the handler of the moment once the step
    is done, so it stops the run just after the step, never halfway through it."""
    held = deferred()
    try:
        with held:
            yield
    finally:
        if held.pending is not None:
            signal.raise_signal(held.pending)


_pending_reason = {}  # signum -> the message its Interrupted carries, when known better


def set_reason(signum, reason):
    """The next ``signum`` raised as Interrupted records ``reason`` instead of its name."""
    _pending_reason[signum] = reason


def interrupt_self(reason, signum=signal.SIGTERM):
    """Deliver a stop signal to this process's main thread with ``reason`` as its message."""
    set_reason(signum, reason)
    os.kill(os.getpid(), signum)


class MainProcessWatch:
    """In a worker process: interrupt the running job when the sweep's main process dies (say,
    killed with SIGKILL), so the job records itself instead of training on unseen; once it has,
    the worker exits, since nobody is left to give it work.

    Linux tells a dead process from a live one by /proc (a zombie, not yet reaped, counts as
    dead); the process's start time guards against its pid being reused. Elsewhere a direct
    parent's death still shows as a new parent pid.
    """

    POLL_SECONDS = 0.5

    def __init__(self, pid):
        self.pid = pid
        self.orphaned = False
        self._started = _start_time(pid)
        self._was_parent = os.getppid() == pid
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="sweep-watch", daemon=True)

    def __enter__(self):
        if self._started is not None or self._was_parent:
            self._thread.start()
        return self

    def gone(self):
        if self._was_parent and os.getppid() != self.pid:
            return True
        if self._started is None:  # gone before this job began, if /proc can say so
            return Path("/proc/self/stat").exists() and not self._was_parent
        return _start_time(self.pid) != self._started

    def _watch(self):
        while not self._done.wait(self.POLL_SECONDS):
            if self.gone():
                self.orphaned = True
                interrupt_self(f"interrupted: the sweep's main process (pid {self.pid}) is gone")
                return

    def __exit__(self, *exc):
        self._done.set()
        if self.orphaned:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(128 + signal.SIGTERM)
        return False


def _start_time(pid):
    """Start time of a live process from /proc, or None (no such process, a zombie, no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return None if fields[0] in ("Z", "X") else fields[19]
