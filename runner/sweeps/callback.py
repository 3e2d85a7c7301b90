"""The runner's Hydra callback: a sweep's set-up when it starts, a single run's checks."""

import os
import socket
import sys
from pathlib import Path

from hydra.experimental.callback import Callback

from runner.errors import EXIT_USAGE, ConfigError
from runner.job import SWEEP_PID
from runner.sweeps import context, single_run
from runner.sweeps.prepare import prepare_multirun
from runner.train import RUN_FILES


class SweepRecorder(Callback):
    """In the launching process: when a multirun starts, prepares the launch and starts the
    sweep's context (``runner.sweeps.context``), whose folder the entry point summarises
    however the jobs end; before a single
    run, refuses a run folder that already holds a run (Hydra would write over its .hydra/)."""

    def on_multirun_start(self, config, **kwargs):
        try:
            sweep_dir = prepare_multirun(config)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(EXIT_USAGE)
        # inherited by worker processes (those on other machines see another host in it)
        os.environ[SWEEP_PID] = f"{socket.gethostname()}:{os.getpid()}"
        context.start(config, sweep_dir)

    def on_run_start(self, config, **kwargs):
        try:
            single_run.before(config)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(EXIT_USAGE)
        run_dir = Path(str(config.hydra.run.dir))
        existing = [name for name in RUN_FILES if (run_dir / name).exists()]
        if existing:
            print(
                f"error: hydra.run.dir={run_dir}: already holds a run ({', '.join(existing)}); "
                "its files are kept, choose a new folder",
                file=sys.stderr,
            )
            sys.exit(EXIT_USAGE)
