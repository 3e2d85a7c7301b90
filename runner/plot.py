"""``python -m runner.plot RUN_DIR...``: the command; the work is in ``runner.analysis.run_plots``."""

from runner.analysis.compare import run_command
from runner.analysis.run_plots import main

if __name__ == "__main__":
    run_command(main)
