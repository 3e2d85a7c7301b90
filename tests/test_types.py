"""mypy on runner/ (``[tool.mypy]`` in pyproject.toml): the hints on the boundaries between the
single run, the sweep engine and the launchers (the sweep context, the job result, the run
context, the composition recipes) agree with the code that uses them (issue 28)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_type_error_in_the_runner():
    pytest.importorskip("mypy", reason="mypy is in the [dev] extra: pip install -e '.[dev]'")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
