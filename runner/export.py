"""``python -m runner.export``: the command; the work is in ``runner.analysis.export``."""

from runner.analysis.export import main
from runner.commands import run_command

if __name__ == "__main__":
    run_command(main)
