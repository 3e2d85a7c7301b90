"""The command ``python -m runner``: a thin Hydra app plus the end of a sweep."""

import atexit
import gc
import os
import sys
from pathlib import Path

import hydra

from runner.data import comma_lists
from runner.errors import EXIT_USAGE, report_uncaught
from runner.interrupts import Interrupted, as_interrupted, raising, signal_name
from runner.job import is_multirun, single_run
from runner.plugins import make_visible
from runner.presets import with_declared_mode
from runner.stack import main_options, refusal, untested
from runner.sweeps import compat, context, flags, folder_lock, resume, stopping
from runner.sweeps import summary as sweep
from runner.sweeps.prepare import SweepFolderBusy


def _conf_dir():
    """conf/ beside the package in a checkout or editable install; runner/conf in a wheel."""
    here = Path(__file__).resolve().parent
    packaged = here / "conf"
    return str(packaged if packaged.is_dir() else here.parent / "conf")


make_visible()


@hydra.main(config_path=_conf_dir(), config_name="config", **main_options())
def task(cfg):
    """One Hydra job -> for a sweep's job, its JobResult (``runner.sweeps.result``), which the
    launchers and sweepers read; for a single run, the config's objective."""
    if is_multirun():
        from runner.sweeps.sweep_job import SweepJob

        return SweepJob(cfg).run()
    return single_run(cfg)


def main():
    """Run the Hydra app; after a multirun, write the sweep's summary.csv from its job folders.

    Errors reach this function (HYDRA_FULL_ERROR) so that a user's mistake, a full disk or a
    stop signal ends in one line; set HYDRA_FULL_ERROR=1 yourself for Hydra's full traces.
    """
    # At exit Python collects the objects of every module it loaded (Hydra, pandas, scipy):
    # a tenth of a second and more. Frozen just before, they are left to the OS; the atexit
    # handlers registered later run first, and every file the runner writes is closed (and
    # synced) where it is written, not by a collection.
    atexit.register(gc.freeze)
    full_error = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"
    _quiet_dependencies()
    outside = untested()  # a Hydra or OmegaConf installed by hand: said once, then the run goes on
    if outside:
        print(outside, file=sys.stderr)
    sys.argv[1:], hints = comma_lists(sys.argv[1:])  # data.features=a,b: the list meant
    for hint in hints:
        print(f"note: {hint}", file=sys.stderr)
    sys.argv[1:], given = flags.take(sys.argv[1:])
    folder_lock.wait_when_busy(given.wait)
    try:
        sys.argv[1:] = resume.rewrite(sys.argv[1:], trust=given.trust_folder)
    except resume.ResumeError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    sys.argv[1:] = with_declared_mode(sys.argv[1:], _conf_dir())  # Hydra 1.4 wants it typed
    compat.quick_mode_check()  # so Hydra 1.3 need not compose the config once more to read it
    try:
        with raising(on_signal=_stop_running_sweep):
            task()
    except KeyboardInterrupt as error:
        _finish_sweep()
        sys.exit(as_interrupted(error).exit_code)
    except SystemExit:
        _finish_sweep()
        raise
    except SweepFolderBusy as error:  # another process runs the folder: leave it all to that one
        context.finish()
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except Exception as error:
        if _resume_failed(error):
            sys.exit(EXIT_USAGE)
        swept = _finish_sweep()
        if full_error:
            raise
        if refusal(error):
            print(f"error: {refusal(error)}", file=sys.stderr)
            sys.exit(EXIT_USAGE)
        reported = report_uncaught(error)
        sys.exit(swept or reported)  # jobs that ran say how the sweep went (a search stopped)
    sys.exit(_finish_sweep())


def _resume_failed(error):
    """A resumed sweep whose overrides no longer compose: one line, and the folder untouched
    (its summary is not rewritten)."""
    from hydra.errors import CompactHydraException

    folder = resume.resuming()
    if folder is None or not isinstance(error, CompactHydraException):
        return False
    context.finish()
    print(resume.explain(error, folder, sys.argv[1:]), file=sys.stderr)
    return True


def _quiet_dependencies():
    """No colour codes where output is not a terminal (Optuna's colorlog and Ray's prefixes
    read these variables), and no start-up chatter from libraries a launcher or sweeper loads:
    alembic (imported with Optuna) logs each of its plugins at INFO; Ray logs its token and
    dashboard notices unless RAY_LOGGER_LEVEL says otherwise (set it to info to see them), and
    folds repeated job lines into a coloured "[repeated 2x across cluster]" notice with a link
    unless RAY_DEDUP_LOGS=0 (each job's lines differ, so folding hides little)."""
    import logging

    if not sys.stderr.isatty():
        os.environ.setdefault("NO_COLOR", "1")
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")
    os.environ.setdefault("RAY_LOGGER_LEVEL", "error")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _stop_running_sweep(signum):
    """First stop signal in a sweep: let jobs running in other processes record themselves.
    A second one stops at once."""
    running = context.current()
    if running is None or running.sweep_dir is None:
        return
    if running.stop_signals:
        raise Interrupted(signum)
    running.stop_signals.append(signum)
    stopping.stop(running.sweep_dir, signal_name(signum))


def _finish_sweep():
    """The sweep is over (or never started): its workers closed, its summary written -> the
    sweep's exit code, 0 without one."""
    ended = context.finish()
    try:
        if ended is None or ended.sweep_dir is None:
            return 0
        return sweep.finish(ended.sweep_dir)
    finally:
        folder_lock.release()  # after the summary: it too is written by the folder's holder
