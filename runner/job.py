"""Glue between Hydra and the training loop for one run: where to write, what to record, what
to print. A sweep's job wraps the same run in the sweep's protocol (``runner.sweeps.sweep_job``)."""

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
)
from runner.interrupts import as_interrupted
from runner.progress import choose_mode as choose_progress
from runner.progress import say
from runner.records import ledger_at

STATUS_EXIT = {"ok": EXIT_OK, "diverged": EXIT_FAILED, "failed": EXIT_FAILED}


def context_from_hydra(cfg, ledger=None, parallel=False):
    """RunContext of the current Hydra job; every path absolute, so workers elsewhere agree.
    ``ledger``: where the job appends instead of its config's ledger (the config, and so the
    recorded ``paths.ledger``, stays the job's own); ``parallel``: it runs beside others."""
    hydra = HydraConfig.get()
    base_dir = Path(hydra.runtime.cwd)
    multirun = hydra.mode == RunMode.MULTIRUN
    return train.RunContext(
        run_dir=Path(hydra.runtime.output_dir),
        ledger=Path(ledger) if ledger is not None else ledger_at(cfg.paths.ledger, base_dir),
        base_dir=base_dir,
        overrides=" ".join(OmegaConf.to_container(hydra.overrides.task)),  # as typed: ${...} kept
        choices={group: hydra.runtime.choices.get(group) for group in train.GROUPS},
        sweep_dir=str((base_dir / hydra.sweep.dir).resolve()) if multirun else None,
        job=hydra.job.num if multirun else None,
        progress=choose_progress(cfg.trainer.get("progress", "auto"), parallel),
    ), multirun


SWEEP_PID = "NNRUNNER_SWEEP_PID"  # the sweep's main process, for jobs running in its workers


def is_multirun():
    """Whether the current Hydra job is one of a sweep's."""
    return HydraConfig.get().mode == RunMode.MULTIRUN


def single_run(cfg):
    """One run (no -m) -> its objective. A run that fails exits non-zero."""
    ctx, _ = context_from_hydra(cfg)
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
