"""``python -m runner.report``: the command; the work is in ``runner.analysis.report``."""

from runner.analysis.compare import run_command
from runner.analysis.report import main

if __name__ == "__main__":
    run_command(main)
