"""A full disk, for real: a small tmpfs as the working folder, filled by a single run, a sweep
and runner.predict. Each command ends in one line naming the file and the room left, with no
traceback; no temporary file stays, and no CSV ends in a partial row.

Mounting a tmpfs needs root (CI runs as root in its container); elsewhere these tests skip,
saying why.
"""

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

pytestmark = [pytest.mark.faults, pytest.mark.slow]

FULL = re.compile(
    r"(?P<file>/\S+): No space left on device \(the disk is full; "
    r"[\d.]+ (B|KiB|MiB) free in \S+\)"
)
QUIET = ("trainer.plots=false", "trainer.progress=none")


@pytest.fixture
def tiny_disk(tmp_path):
    """-> a function mounting a tmpfs of ``kib`` KiB at a new folder, which it returns; each
    is unmounted at the end."""
    mounted = []

    def mount(kib, name="disk"):
        folder = tmp_path / name
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"a full disk needs a tmpfs, and mounting one was refused: {done.stderr}")
        mounted.append(folder)
        return folder

    if shutil.which("mount") is None:
        pytest.skip("no mount command: a full disk needs a tmpfs")
    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _one_error_line(stderr):
    """The one line the command ended in; it names the file and the free space."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert FULL.search(errors[0]), errors[0]
    return errors[0]


def _left_whole(folder):
    """No temporary file left anywhere below ``folder``, and every CSV ends in a whole row."""
    leftovers = [p for p in folder.rglob("*") if ".tmp" in p.name]
    assert not leftovers, leftovers
    for path in folder.rglob("*.csv"):
        data = path.read_bytes()
        assert not data or data.endswith(b"\n"), f"{path} ends in a partial row: {data[-80:]!r}"


def test_a_single_run_on_a_full_disk_ends_in_one_line_naming_the_file(tiny_disk):
    disk = tiny_disk(160)
    done = run_cli(disk, "trainer.epochs=100000", "trainer.log_every=1", *QUIET, timeout=600)
    assert done.returncode == 1, done.stderr
    line = _one_error_line(done.stderr)
    assert "metrics.csv" in line
    _left_whole(disk)
    (metrics,) = disk.glob("outputs/runs/*/*/metrics.csv")
    assert len(pd.read_csv(metrics)) > 100  # what was logged is kept, whole


def test_a_sweep_on_a_full_disk_ends_in_one_line_naming_the_file(tiny_disk):
    disk = tiny_disk(300)
    done = run_cli(
        disk,
        "-m",
        "seed=0,1,2,3,4,5",
        "trainer.epochs=2000",
        "trainer.log_every=1",
        *QUIET,
        timeout=600,
    )
    assert done.returncode in (1, 3), done.stderr  # 3: jobs not started, --resume finishes
    assert _one_error_line(done.stderr) == done.stderr.splitlines()[-1]
    _left_whole(disk)


def test_predictions_to_a_full_disk_end_in_one_line_and_leave_no_file(tiny_disk, tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["y"] = np.where(frame.a > frame.b, "up", "down")
    frame.to_csv(tmp_path / "train.csv", index=False)
    trained = run_cli(
        tmp_path,
        "data=csv",
        "data.path=train.csv",
        "data.target=y",
        "trainer.epochs=20",
        "hydra.run.dir=run",
        *QUIET,
    )
    assert trained.returncode == 0, trained.stderr
    pd.concat([frame] * 50).to_csv(tmp_path / "new.csv", index=False)  # 10 000 rows
    disk = tiny_disk(64)
    done = run_cli(
        tmp_path, "run", "new.csv", "--out", str(disk / "predictions.csv"), module="runner.predict"
    )
    assert done.returncode == 1, done.stderr
    assert "predictions.csv" in _one_error_line(done.stderr)
    assert not list(disk.iterdir())  # neither the predictions nor a temporary file
