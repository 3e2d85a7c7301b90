"""Set-up of a multirun in the launching process, before any job starts.

Jobs may run in other processes and on other machines (joblib, submitit, Ray), where a
relative path means something else: the sweep folder is pinned to an absolute path for
every job. Known traps of joining a Ray cluster are handled here too.
"""

import os
from pathlib import Path

from omegaconf import OmegaConf, open_dict, read_write

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
    if "RayLauncher" in str(config.hydra.launcher.get("_target_", "")):
        _prepare_ray(config.hydra.launcher.ray)
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


def is_grid(config):
    return "nnrunner.grid_sweeper" in str(config.hydra.sweeper.get("_target_", ""))


def start(config, sweep_dir, mode):
    """Before the first job: forget a previous attempt's stop and failure markers (a resumed
    sweep) and leave the snapshot of the ledger the jobs look themselves up in."""
    from runner.progress import say
    from runner.sweeps import reuse, stopping

    stopping.clear(sweep_dir)
    _, note = reuse.take_snapshot(sweep_dir, ledger_path(config), mode)
    if note:
        say(f"note: {note}")


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


def _prepare_ray(ray):
    """Ray refuses ``object_store_memory`` when joining a running cluster: said in one line
    before Ray starts, rather than as Ray's traceback."""
    init = ray.init
    address = init.get("address")
    if not address:
        return
    memory = init.get("object_store_memory")
    if memory is not None:
        raise ConfigError(
            "hydra.launcher.ray.init.object_store_memory",
            memory,
            f"cannot be set when joining a running cluster (hydra.launcher.ray.init.address={address}); "
            "the cluster's own setting applies, leave it null",
        )
    with read_write(init), open_dict(init):
        init.object_store_memory = None
    _use_auth_token_if_available()


def _use_auth_token_if_available():
    """A driver joining by address sends Ray's auth token only with RAY_AUTH_MODE=token, while a
    head started with ``ray start`` enables token auth whenever ~/.ray/auth_token exists."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    token_file = Path(os.environ.get("RAY_AUTH_TOKEN_PATH", Path.home() / ".ray" / "auth_token"))
    if "RAY_AUTH_TOKEN" in os.environ or token_file.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"
