"""``python -m runner.plot RUN_DIR...``: the command; the work is in ``runner.analysis.run_plots``."""

from runner.analysis.run_plots import main
from runner.commands import run_command

if __name__ == "__main__":
    run_command(main)
