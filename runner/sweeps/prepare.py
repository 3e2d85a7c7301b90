"""Set-up of a multirun in the launching process, before any job starts.

Jobs may run in other processes and on other machines (joblib, submitit, Ray), where a
relative path means something else: the sweep folder is pinned to an absolute path for
every job. A launcher's own set-up is the launcher's (Ray's: ``runner.sweeps.ray_launch``).
"""

from pathlib import Path

from omegaconf import OmegaConf, read_write

from runner.checks import check_runner
from runner.errors import ConfigError


def prepare_multirun(config):
    """Fix the launch configuration in place -> absolute sweep folder.

    Under the runner's grid sweeper, what is done already is looked up once the sweep's jobs
    are known to compose (``runner.sweeps.grid``); under any other sweeper it is done here.
    """
    settings = check_runner(config)
    sweep_dir = Path(str(config.hydra.sweep.dir)).expanduser().absolute()
    _pin_for_every_job(config, "hydra.sweep.dir", str(sweep_dir))
    if not is_grid(config):
        if settings["dry_run"]:
            raise ConfigError(
                "runner.dry_run",
                settings["dry_run"],
                "lists the jobs of a grid sweep (hydra/sweeper=grid, the default); a search "
                "proposes its trials as it goes, so there is no list to show beforehand",
            )
        start(config, sweep_dir, settings["resume"])
    return sweep_dir


class SweepFolderBusy(Exception):
    """Another live process runs this sweep folder: the one line shown, exit status 2."""


GRID_SWEEPER = "hydra_plugins.nnrunner.grid_sweeper.GridSweeper"  # hydra/sweeper=grid
RACE_SWEEPER = "hydra_plugins.nnrunner.race_sweeper.RaceSweeper"  # hydra/sweeper=race


def is_grid(config):
    """Whether the sweep's sweeper is the runner's grid or race sweeper (its ``_target_`` is
    that class, exactly): it checks every job and looks up what is done itself, once per sweep
    (``runner.sweeps.grid``, ``runner.sweeps.race``), however many batches it launches."""
    return config.hydra.sweeper.get("_target_") in (GRID_SWEEPER, RACE_SWEEPER)


def start(config, sweep_dir, mode):
    """Before the first job: take the sweep folder for this process (``runner.sweeps.folder_lock``:
    another process running it stops this one in one line, or is waited for with --wait),
    forget a previous attempt's stop and failure markers (a resumed sweep) and leave the
    snapshot of the ledger the jobs look themselves up in."""
    from runner.progress import say
    from runner.sweeps import folder_lock, reuse, stopping

    try:
        folder_lock.hold(sweep_dir, say=say)
    except folder_lock.FolderBusy as error:
        raise SweepFolderBusy(str(error)) from None
    stopping.clear(sweep_dir)
    _, note = reuse.take_snapshot(sweep_dir, ledger_path(config), mode)
    if note:
        say(f"note: {note}")


def expect_jobs(launcher, jobs: int) -> None:
    """Tell a launcher that can get ready while the sweep starts (the pool's ``expect``: its
    workers' server) that batches of up to ``jobs`` jobs are coming."""
    expect = getattr(launcher, "expect", None)
    if expect is not None and jobs > 0:
        expect(jobs)


def ledger_path(config):
    """The ledger the sweep's jobs append to, as an absolute path."""
    from runner.records import ledger_at

    return ledger_at(config.paths.ledger, Path.cwd())


def _pin_for_every_job(config, key, value):
    """Each job's config is recomposed from the hydra overrides, so pin ``key`` there."""
    quoted = value.replace("\\", "\\\\").replace("'", "\\'")
    pin = f"{key}='{quoted}'"
    typed = OmegaConf.to_container(config.hydra.overrides.hydra, resolve=False)
    if typed and typed[-1] == pin:  # a resumed sweep's command ends with it already
        return
    with read_write(config.hydra.overrides):
        config.hydra.overrides.hydra.append(pin)
