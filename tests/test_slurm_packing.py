"""Several sweep jobs per submitit task (hydra.launcher.jobs_per_task), on submitit's local
executor and on a real Slurm started on this machine (tests/slurm_cluster.py): each job keeps
its folder and ledger row; a task stopped the way Slurm stops one records its running job
interrupted and leaves the rest for --resume."""

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

import pandas as pd
import pytest
from conftest import run_cli, start_cli

pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
pytestmark = pytest.mark.slow


@dataclass
class Executor:
    """How a test reaches one of submitit's executors: the launcher overrides, the environment
    of the command, and how a running task is stopped the way Slurm stops it."""

    name: str
    args: tuple
    env: dict | None = None
    cluster: object = field(default=None, repr=False)

    def stop(self, task_pid, signum):
        """SIGUSR2: the time-limit warning submitit asks Slurm for; SIGTERM: preemption or
        scancel."""
        if self.cluster is None:
            os.kill(task_pid, signum)
            return
        (job_id,) = self.cluster.jobs() or ["none"]
        how = ["--signal=USR2"] if signum == signal.SIGUSR2 else []
        subprocess.run(["scancel", *how, job_id], env=self.env, check=True)


@pytest.fixture(params=["local", "slurm"])
def executor(request):
    if request.param == "local":
        return Executor("local", ("-m", "hydra/launcher=submitit_local"))
    cluster = request.getfixturevalue("slurm_cluster")
    args = (
        "-m",
        "hydra/launcher=slurm",
        "hydra.launcher.partition=cpu",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=1",
    )
    return Executor("slurm", args, cluster.env, cluster)


def _sweep_dir(cwd):
    (found,) = cwd.glob("outputs/sweeps/*/*/multirun.yaml")
    return found.parent


def test_five_jobs_in_two_tasks_each_with_its_own_folder_and_row(tmp_path, executor):
    result = run_cli(
        tmp_path,
        *executor.args,
        "hydra.launcher.jobs_per_task=3",
        "seed=range(0,5)",
        "trainer.epochs=20",
        "trainer.plots=false",
        env=executor.env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = _sweep_dir(tmp_path)
    folders = [p.name for p in (sweep / ".submitit").iterdir() if p.name[0].isdigit()]
    tasks = [name for name in folders if "_" in name] or folders  # Slurm: ARRAY_TASK folders
    assert len(tasks) == 2, folders  # ceil(5 / 3) submitit tasks, not 5
    summary = pd.read_csv(sweep / "summary.csv")
    assert sorted(summary["job"]) == [0, 1, 2, 3, 4] and set(summary["status"]) == {"ok"}
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert len(ledger) == 5 and ledger["run_dir"].is_unique


@pytest.mark.parametrize("stop", [signal.SIGUSR2, signal.SIGTERM], ids=["time-limit", "preempted"])
def test_a_stopped_task_records_its_running_job_and_resume_runs_the_rest(tmp_path, stop, executor):
    args = ("trainer.epochs=100000000,30,30", "trainer.log_every=50", "data.samples=20")
    process = start_cli(
        tmp_path,
        *executor.args,
        "hydra.launcher.jobs_per_task=3",
        *args,
        "trainer.plots=false",
        env=executor.env,
    )
    try:
        deadline = time.monotonic() + 90
        while not (markers := list(tmp_path.glob("outputs/sweeps/*/*/.running/0-*"))):
            assert time.monotonic() < deadline and process.poll() is None, "job 0 never ran"
            time.sleep(0.1)
        metrics = markers[0].parent.parent / "0" / "metrics.csv"
        while not metrics.is_file() or len(metrics.read_text().splitlines()) < 3:
            assert time.monotonic() < deadline, "job 0 logged nothing"
            time.sleep(0.1)
        executor.stop(int(markers[0].name.split("-")[1]), stop)
        _, err = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert "Traceback" not in err, err[-3000:]
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert len(ledger) == 1 and ledger.loc[0, "status"] == "interrupted", err[-3000:]
    assert ledger.loc[0, "epochs_done"] > 0  # its rows kept
    expected = "time limit (SIGUSR2)" if stop == signal.SIGUSR2 else "preempted or cancelled"
    assert expected in ledger.loc[0, "message"]
    sweep = _sweep_dir(tmp_path)
    assert not (sweep / "1").exists() and not (sweep / "2").exists()  # not run

    resumed = run_cli(tmp_path, "--resume", str(sweep), "trainer.epochs=30,30,30", env=executor.env)
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert set(ledger.loc[1:, "status"]) == {"ok"}, resumed.stderr[-3000:]
