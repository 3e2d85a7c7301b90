"""``python -m runner.compare``: the command; the work is in ``runner.analysis.compare``."""

from runner.analysis.compare import main
from runner.commands import run_command

if __name__ == "__main__":
    run_command(main)
