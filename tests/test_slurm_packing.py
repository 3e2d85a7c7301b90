"""Several sweep jobs per submitit task (hydra.launcher.jobs_per_task), on submitit's local
executor: each job keeps its folder and ledger row; a task stopped the way Slurm stops one
records its running job interrupted and leaves the rest for --resume."""

import os
import signal
import time

import pandas as pd
import pytest
from conftest import run_cli, start_cli

pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
pytestmark = pytest.mark.slow

PACKED = ("-m", "hydra/launcher=submitit_local", "hydra.launcher.jobs_per_task=3")


def _sweep_dir(cwd):
    (found,) = cwd.glob("outputs/sweeps/*/*/multirun.yaml")
    return found.parent


def test_five_jobs_in_two_tasks_each_with_its_own_folder_and_row(tmp_path):
    result = run_cli(
        tmp_path, *PACKED, "seed=range(0,5)", "trainer.epochs=20", "trainer.plots=false"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = _sweep_dir(tmp_path)
    tasks = [p for p in (sweep / ".submitit").iterdir() if p.name.isdigit()]
    assert len(tasks) == 2  # ceil(5 / 3) submitit tasks, not 5
    summary = pd.read_csv(sweep / "summary.csv")
    assert sorted(summary["job"]) == [0, 1, 2, 3, 4] and set(summary["status"]) == {"ok"}
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert len(ledger) == 5 and ledger["run_dir"].is_unique


@pytest.mark.parametrize("stop", [signal.SIGUSR2, signal.SIGTERM], ids=["time-limit", "preempted"])
def test_a_stopped_task_records_its_running_job_and_resume_runs_the_rest(tmp_path, stop):
    args = ("trainer.epochs=100000000,30,30", "trainer.log_every=50", "data.samples=20")
    process = start_cli(tmp_path, *PACKED, *args, "trainer.plots=false")
    try:
        deadline = time.monotonic() + 60
        while not (markers := list(tmp_path.glob("outputs/sweeps/*/*/.running/0-*"))):
            assert time.monotonic() < deadline and process.poll() is None, "job 0 never ran"
            time.sleep(0.1)
        metrics = markers[0].parent.parent / "0" / "metrics.csv"
        while not metrics.is_file() or len(metrics.read_text().splitlines()) < 3:
            assert time.monotonic() < deadline, "job 0 logged nothing"
            time.sleep(0.1)
        os.kill(int(markers[0].name.split("-")[1]), stop)  # what Slurm sends the task
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert "Traceback" not in err, err[-3000:]
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert len(ledger) == 1 and ledger.loc[0, "status"] == "interrupted"
    assert ledger.loc[0, "epochs_done"] > 0  # its rows kept
    expected = "time limit (SIGUSR2)" if stop == signal.SIGUSR2 else "preempted or cancelled"
    assert expected in ledger.loc[0, "message"]
    sweep = _sweep_dir(tmp_path)
    assert not (sweep / "1").exists() and not (sweep / "2").exists()  # not run

    resumed = run_cli(tmp_path, "--resume", str(sweep), "trainer.epochs=30,30,30")
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert set(ledger.loc[1:, "status"]) == {"ok"}, resumed.stderr[-3000:]
