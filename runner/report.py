"""``python -m runner.report``: the command; the work is in ``runner.analysis.report``."""

from runner.analysis.report import main
from runner.commands import run_command

if __name__ == "__main__":
    run_command(main)
