"""Glue between Hydra and the training loop: where to write, what to record, what to print."""

import contextlib
import os
import socket
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from runner import train
from runner.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    ConfigError,
    check_resolvable,
)
from runner.interrupts import MainProcessWatch, as_interrupted, raising, set_reason
from runner.progress import choose_mode as choose_progress
from runner.progress import say
from runner.records import ledger_at
from runner.sweeps import reuse, stopping

STATUS_EXIT = {"ok": EXIT_OK, "diverged": EXIT_FAILED, "failed": EXIT_FAILED}


_ledger_redirect = []  # a Ray task's scratch ledger, for the job it runs (runner.sweeps.ray_tasks)


@contextlib.contextmanager
def ledger_redirected(path):
    """Jobs run inside append to ``path`` instead of their config's ledger: the config (and so
    the recorded paths.ledger) stays the job's own."""
    _ledger_redirect.append(Path(path))
    try:
        yield
    finally:
        _ledger_redirect.pop()


def context_from_hydra(cfg):
    """RunContext of the current Hydra job; every path absolute, so workers elsewhere agree."""
    hydra = HydraConfig.get()
    base_dir = Path(hydra.runtime.cwd)
    multirun = hydra.mode == RunMode.MULTIRUN
    parallel = multirun and "BasicLauncher" not in str(hydra.launcher.get("_target_", ""))
    return train.RunContext(
        run_dir=Path(hydra.runtime.output_dir),
        ledger=_ledger_redirect[-1] if _ledger_redirect else ledger_at(cfg.paths.ledger, base_dir),
        base_dir=base_dir,
        overrides=" ".join(OmegaConf.to_container(hydra.overrides.task)),  # as typed: ${...} kept
        choices={group: hydra.runtime.choices.get(group) for group in train.GROUPS},
        sweep_dir=str((base_dir / hydra.sweep.dir).resolve()) if multirun else None,
        job=hydra.job.num if multirun else None,
        progress=choose_progress(cfg.trainer.get("progress", "auto"), parallel),
    ), multirun


class JobFailed(Exception):
    """Tells a searching sweeper (Optuna) that this trial failed; everything is already recorded."""


class JobPruned(JobFailed):
    """Tells the searching sweeper that the pruner stopped this trial's job (status pruned)."""


SWEEP_PID = "NNRUNNER_SWEEP_PID"  # the sweep's main process, for jobs running in its workers
last_row = {}  # status and message of the last sweep job run in this process, for the pool


def run_job(cfg):
    """Run one job; return the objective for sweepers. A single run that fails exits non-zero."""
    ctx, multirun = context_from_hydra(cfg)
    return _sweep_job(cfg, ctx) if multirun else _single_run(cfg, ctx)


def _single_run(cfg, ctx):
    declared = HydraConfig.get().sweeper.get("params")
    if declared and "hydra.mode=RUN" not in sys.argv[1:]:  # not asked for one run
        swept = " ".join(f"{key}={value}" for key, value in declared.items())
        say(
            f"warning: this config declares a sweep (hydra.sweeper.params: {swept}) but runs "
            "as one job; add -m to run the sweep",
            file=sys.stderr,
        )
    try:
        row = train.run(cfg, ctx)
    except KeyboardInterrupt as error:
        stop = as_interrupted(error)
        say(f"{stop.reason}: rows logged so far are in {relative(ctx.run_dir)}", file=sys.stderr)
        sys.exit(stop.exit_code)
    except train.RecordError as error:
        say(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_FAILED)
    print_run(row, ctx.ledger)
    failed = STATUS_EXIT[row["status"]]
    if failed:
        sys.exit(EXIT_USAGE if ctx.mistake else failed)
    return train.objective(row, cfg.objective)


def sweep_process():
    """(host, pid) of the sweep's main process, from the environment it left for its workers;
    this process when there is none."""
    value = os.environ.get(SWEEP_PID, "")
    host, _, pid = value.rpartition(":")
    if not pid.isdigit():
        return socket.gethostname(), os.getpid()
    return host or socket.gethostname(), int(pid)


def _sweep_job(cfg, ctx):
    """A job of a multirun, in the sweep's main process or in a launcher's worker process.

    In a worker, a stop signal ends this job only (recorded ``interrupted``); the sweep's
    main process decides whether the sweep goes on. In the main process it stops the sweep.
    """
    host, sweep_pid = sweep_process()
    in_worker = host != socket.gethostname() or sweep_pid != os.getpid()
    # the main process can be watched only from its own machine
    watch = MainProcessWatch(sweep_pid) if in_worker and host == socket.gethostname() else None
    try:
        explain = lambda signum: _explain_stop(ctx.sweep_dir, signum)  # noqa: E731
        with (
            raising(on_signal=explain),
            watch or contextlib.nullcontext(),
            stopping.running(ctx.sweep_dir, ctx.job),
        ):
            row = _run_unless_stopped(cfg, ctx, watch)
    except KeyboardInterrupt as error:
        stop = as_interrupted(error)
        say(f"job {ctx.job}: {stop.reason}", file=sys.stderr)
        if not in_worker:
            raise stop from None
        row = {"status": "interrupted", "message": stop.reason}
    except train.RecordError as error:
        say(f"error: job {ctx.job}: {error}", file=sys.stderr)
        row = {"status": "failed", "message": str(error)}
    last_row.clear()
    last_row.update(status=row["status"], message=row.get("message") or "")
    reused = "reused_from" in row
    if reused:
        last_row["reused"] = True
    elif "run_dir" in row:
        print_run(row, ctx.ledger)
    if row["status"] == "failed" and not reused:
        stopping.count_failure(ctx.sweep_dir, ctx.job, _max_failures(cfg))
    if row["status"] != "ok" and _searching_sweeper():
        # Optuna marks a trial FAIL when the job raises (it rejects a NaN objective outright);
        # the basic sweeper would print a traceback for it, so only searches get the exception.
        stopped = JobPruned if row["status"] == "pruned" else JobFailed
        raise stopped(f"{row['status']}: {row['message']}")
    if reused:
        return reuse.objective_of(row, cfg.objective)
    return train.objective(row, cfg.objective)


def _max_failures(cfg):
    limit = OmegaConf.select(cfg, "runner.max_failures", default=None)
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None


def record_lost(config, message, status="failed"):
    """Record a sweep job whose process died before it could (the launcher calls this with
    the job's full config): ``status`` with ``message``, unless it had recorded itself."""
    from omegaconf import open_dict, read_write

    from runner.sweeps.compat import hydra_part
    from runner.sweeps.hydra_job import job_folder

    run_dir = job_folder(config)
    if (run_dir / "summary.csv").exists():
        return
    overrides = run_dir / ".hydra" / "overrides.yaml"
    if not overrides.exists():  # died before Hydra wrote it, or on a machine of its own
        from runner.sweeps.yaml_files import to_yaml

        overrides.parent.mkdir(parents=True, exist_ok=True)
        overrides.write_text(to_yaml(config.hydra.overrides.task))
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = str(run_dir.absolute())
    HydraConfig.instance().cfg = hydra_part(config)  # the job's hydra node, typed or not
    task_cfg = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])
    ctx, _ = context_from_hydra(task_cfg)
    train.record_without_training(task_cfg, ctx, status, message)
    if status == "failed":
        stopping.count_failure(ctx.sweep_dir, ctx.job, _max_failures(task_cfg))


def _run_unless_stopped(cfg, ctx, watch):
    reason = stopping.stop_reason(ctx.sweep_dir)
    if reason is None and watch is not None and watch.gone():
        reason = f"its main process, pid {watch.pid}, is gone"
    if reason is None:
        return _run_or_reuse(cfg, ctx)
    return train.record_without_training(
        cfg,
        ctx,
        "interrupted",
        f"interrupted: the sweep was stopped ({reason}) before this job started",
    )


def _run_or_reuse(cfg, ctx):
    """Train the job, unless the sweep's snapshot of the ledger knows its run_key (see
    ``runner.sweeps.reuse``): then its row points at the earlier run."""
    found_by_pool = reuse.prechecked(ctx.run_dir)  # looked up already: not done
    resolved = found_by_pool[1] if found_by_pool else _resolved_or_none(cfg)
    known = None if found_by_pool else reuse.snapshot_of(ctx.sweep_dir)
    if resolved is not None and known is not None:
        mode = OmegaConf.select(cfg, "runner.resume", default="auto")
        key = reuse.key_of(resolved, ctx.base_dir)
        earlier = reuse.earlier_run(key, mode, ctx.ledger, known)
        if earlier is not None:
            row = reuse.reuse(earlier, ctx)
            where = "in this folder" if not row.get("reused_from") else relative(earlier["run_dir"])
            say(f"job {ctx.job}: run_key {key} is {earlier['status']} {where}; not run again")
            return {**row, "reused_from": row.get("reused_from") or ""}
    moved = reuse.set_aside_earlier_attempt(ctx.run_dir, train.ATTEMPT_FILES)
    if moved is not None:
        say(f"job {ctx.job}: the earlier attempt's files moved to {relative(moved)}")
    if _searching_sweeper():
        try:
            ctx.on_log = _pruning_reporter(cfg, ctx)
        except ConfigError as error:
            return train.record_without_training(cfg, ctx, "failed", str(error))
    return train.run(cfg, ctx, resolved)


def _pruning_reporter(cfg, ctx):
    from runner.sweeps.search.pruning import reporter

    return reporter(cfg, HydraConfig.get(), ctx.base_dir)


def _resolved_or_none(cfg):
    try:
        return check_resolvable(cfg)
    except ConfigError:  # train.run reports it as the job's failure
        return None


def _explain_stop(sweep_dir, signum):
    """A signal that comes from the sweep's main process stopping the sweep says so."""
    reason = stopping.stop_reason(sweep_dir)
    if reason is not None:
        set_reason(signum, f"interrupted: the sweep was stopped ({reason})")


def _searching_sweeper():
    from runner.sweeps import is_search

    return is_search(HydraConfig.get().sweeper)


def print_run(row, ledger):
    """The end-of-run block: status, final figures, where the files are."""
    status = row["status"]
    stream = sys.stdout if status == "ok" else sys.stderr
    if status == "failed":
        say(f"error: {row['message']}", file=stream)
        return
    if row.get("epochs_done") is None:  # stopped before its first epoch was logged
        say(f"{row['message'] or status}   run folder: {relative(row['run_dir'])}", file=stream)
        return
    regression = row.get("train_rmse") is not None
    scores = ["rmse", "r2"] if regression else ["accuracy"]
    shown = ["train_loss", f"train_{scores[0]}", "val_loss", *(f"val_{s}" for s in scores)]
    if row.get("test_loss") is not None:
        shown += ["test_loss", *(f"test_{s}" for s in scores)]
    figures = "  ".join(f"{key} {_fmt(row.get(key))}" for key in shown)
    say(
        f"{status} after {row['epochs_done']} epochs in {row['seconds']:.2f} s: {figures}",
        file=stream,
    )
    if row["message"]:
        say(f"  {row['message']}", file=stream)
    say(f"  run folder: {relative(row['run_dir'])}   ledger: {relative(ledger)}", file=stream)


def _fmt(value):
    return "-" if value is None else f"{value:.4g}"


def relative(path):
    """``path`` as seen from the current folder when it lies below it (shorter to read)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)
