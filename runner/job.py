"""Glue between Hydra and the training loop: where to write, what to record, what to print."""

import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from runner import train
from runner.progress import choose_mode as choose_progress
from runner.progress import say

STATUS_EXIT = {"ok": 0, "diverged": 1, "failed": 1}
INTERRUPTED_EXIT = 130  # the shell's convention for Ctrl-C


def context_from_hydra(cfg):
    """RunContext of the current Hydra job; every path absolute, so workers elsewhere agree."""
    hydra = HydraConfig.get()
    base_dir = Path(hydra.runtime.cwd)
    ledger = Path(str(cfg.paths.ledger)).expanduser()
    multirun = hydra.mode == RunMode.MULTIRUN
    parallel = multirun and "BasicLauncher" not in str(hydra.launcher.get("_target_", ""))
    return train.RunContext(
        run_dir=Path(hydra.runtime.output_dir),
        ledger=ledger if ledger.is_absolute() else base_dir / ledger,
        base_dir=base_dir,
        overrides=" ".join(hydra.overrides.task),
        choices={group: hydra.runtime.choices.get(group) for group in train.GROUPS},
        sweep_dir=str((base_dir / hydra.sweep.dir).resolve()) if multirun else None,
        job=hydra.job.num if multirun else None,
        progress=choose_progress(cfg.trainer.get("progress", "auto"), parallel),
    ), multirun


class JobFailed(Exception):
    """Tells a searching sweeper (Optuna) that this trial failed; everything is already recorded."""


def run_job(cfg):
    """Run one job; return the objective for sweepers. A single run that fails exits non-zero."""
    ctx, multirun = context_from_hydra(cfg)
    try:
        row = train.run(cfg, ctx)
    except KeyboardInterrupt:
        say(f"interrupted: rows logged so far are in {ctx.run_dir}", file=sys.stderr)
        if multirun:
            raise
        sys.exit(INTERRUPTED_EXIT)
    print_run(row, ctx.ledger)
    failed = STATUS_EXIT[row["status"]]
    if failed and not multirun:
        sys.exit(failed)
    if failed and _searching_sweeper():
        # Optuna marks a trial FAIL when the job raises (it rejects a NaN objective outright);
        # the basic sweeper would print a traceback for it, so only searches get the exception.
        raise JobFailed(f"{row['status']}: {row['message']}")
    return train.objective(row, cfg.objective)


def _searching_sweeper():
    return "BasicSweeper" not in str(HydraConfig.get().sweeper.get("_target_", ""))


def print_run(row, ledger):
    """The end-of-run block: status, final figures, where the files are."""
    status = row["status"]
    stream = sys.stdout if status == "ok" else sys.stderr
    if status == "failed":
        say(f"error: {row['message']}", file=stream)
        return
    figures = "  ".join(
        f"{key} {_fmt(row.get(key))}"
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
    )
    say(
        f"{status} after {row['epochs_done']} epochs in {row['seconds']:.2f} s: {figures}",
        file=stream,
    )
    if row["message"]:
        say(f"  {row['message']}", file=stream)
    say(f"  run folder: {_relative(row['run_dir'])}   ledger: {_relative(ledger)}", file=stream)


def _fmt(value):
    return "-" if value is None else f"{value:.4g}"


def _relative(path):
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)
