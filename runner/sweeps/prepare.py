"""Set-up of a multirun in the launching process, before any job starts.

Jobs may run in other processes and on other machines (joblib, submitit, Ray), where a
relative path means something else: the sweep folder is pinned to an absolute path for
every job. Known traps of the Ray launcher are handled here too.
"""

import os
from pathlib import Path

from omegaconf import open_dict, read_write

from runner.errors import ConfigError


def prepare_multirun(config):
    """Fix the launch configuration in place -> absolute sweep folder."""
    sweep_dir = Path(str(config.hydra.sweep.dir)).expanduser().absolute()
    _pin_for_every_job(config, "hydra.sweep.dir", str(sweep_dir))
    if "RayLauncher" in str(config.hydra.launcher.get("_target_", "")):
        _prepare_ray(config.hydra.launcher.ray)
    return sweep_dir


def _pin_for_every_job(config, key, value):
    """Each job's config is recomposed from the hydra overrides, so pin ``key`` there."""
    quoted = value.replace("\\", "\\\\").replace("'", "\\'")
    with read_write(config.hydra.overrides):
        config.hydra.overrides.hydra.append(f"{key}='{quoted}'")


def _prepare_ray(ray):
    """hydra-ray-launcher 1.2 adds ``object_store_memory`` to ``ray.init`` unless the key is
    present, and Ray refuses that argument when joining a running cluster."""
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
