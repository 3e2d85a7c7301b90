"""The command ``python -m runner``: a thin Hydra app plus the end of a sweep."""

import sys
from pathlib import Path

import hydra

from runner.job import INTERRUPTED_EXIT, run_job
from runner.sweeps import summary as sweep


def _conf_dir():
    """conf/ beside the package in a checkout or editable install; runner/conf in a wheel."""
    here = Path(__file__).resolve().parent
    packaged = here / "conf"
    return str(packaged if packaged.is_dir() else here.parent / "conf")


@hydra.main(version_base="1.3", config_path=_conf_dir(), config_name="config")
def task(cfg):
    """One Hydra job; returns the config's objective so a sweeper can optimise it."""
    return run_job(cfg)


def main():
    """Run the Hydra app; after a multirun, write the sweep's summary.csv from its job folders."""
    try:
        task()
    except KeyboardInterrupt:
        _finish_sweep()
        sys.exit(INTERRUPTED_EXIT)
    except BaseException:
        _finish_sweep()
        raise
    sys.exit(_finish_sweep())


def _finish_sweep():
    sweep_dir = sweep.pop_active_sweep()
    return 0 if sweep_dir is None else sweep.finish(sweep_dir)
