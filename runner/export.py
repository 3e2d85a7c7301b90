"""``python -m runner.export``: the command; the work is in ``runner.analysis.export``."""

from runner.analysis.compare import run_command
from runner.analysis.export import main

if __name__ == "__main__":
    run_command(main)
