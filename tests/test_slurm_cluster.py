"""Sweeps on a real Slurm started on this machine (tests/slurm_cluster.py): every job counted
when tasks are cancelled, stopped at their time limit or preempted; requeueing; a quiet
console without accounting; a controller that does not answer and a partition that does not
exist, each in one line before anything is written."""

import os
import re
import signal
import subprocess
import time

import pandas as pd
import pytest
from conftest import run_cli, start_cli

pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
pytestmark = pytest.mark.slow

SLURM = (
    "-m",
    "hydra/launcher=slurm",
    "hydra.launcher.partition=cpu",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "trainer.plots=false",
    "data.samples=20",
    "trainer.log_every=100",
)
ENDLESS = "trainer.epochs=100000000"


def _sweep_dir(cwd):
    (found,) = cwd.glob("outputs/sweeps/*/*/multirun.yaml")
    return found.parent


def _wait_for_metrics(cwd, process, job, rows=3, timeout_s=120):
    deadline = time.monotonic() + timeout_s
    while True:
        found = list(cwd.glob(f"outputs/sweeps/*/*/{job}/metrics.csv"))
        if found and len(found[0].read_text().splitlines()) >= rows:
            return
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"job {job} logged nothing"
        time.sleep(0.2)


def _finish(process, timeout_s=180):
    try:
        return process.communicate(timeout=timeout_s)
    finally:
        if process.poll() is None:
            process.kill()


def _ledger(cwd):
    return pd.read_csv(cwd / "outputs" / "runs.csv")


def test_a_cancelled_sweep_counts_every_job_and_resume_finishes_it(tmp_path, slurm_cluster):
    process = start_cli(
        tmp_path,
        *SLURM,
        "hydra.launcher.jobs_per_task=3",
        "seed=range(0,6)",
        ENDLESS,
        env=slurm_cluster.env,
    )
    _wait_for_metrics(tmp_path, process, 0)
    _wait_for_metrics(tmp_path, process, 3)
    subprocess.run(["scancel", *slurm_cluster.jobs()], env=slurm_cluster.env, check=True)
    out, err = _finish(process)

    assert process.returncode == 3, err[-3000:]  # unfinished: --resume finishes it
    assert "Traceback" not in err
    assert "sweep: 6 jobs (4 not_started, 2 interrupted)" in out.replace("\n", " ")
    sweep = _sweep_dir(tmp_path)
    summary = pd.read_csv(sweep / "summary.csv").sort_values("job")
    assert list(summary["job"]) == [0, 1, 2, 3, 4, 5]
    assert summary.set_index("job")["status"].to_dict() == {
        0: "interrupted",
        1: "not_started",
        2: "not_started",
        3: "interrupted",
        4: "not_started",
        5: "not_started",
    }
    assert sorted(_ledger(tmp_path)["job"]) == [0, 3]  # a job not started has no ledger row
    assert f"to finish it: python -m runner --resume outputs/sweeps/{sweep.parent.name}" in err
    # quiet: no accounting here, said once; no line printed twice (submitit's and Hydra's)
    assert err.count("keeps no job accounting") == 1 and "sacct" not in out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), err

    resumed = run_cli(
        tmp_path, "--resume", str(sweep), "trainer.epochs=50", env=slurm_cluster.env, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = pd.read_csv(sweep / "summary.csv")
    assert len(summary) == 6 and set(summary["status"]) == {"ok"}


def test_a_task_killed_outright_loses_its_running_job_and_resume_finishes_the_sweep(
    tmp_path, slurm_cluster
):
    """The task's process killed with SIGKILL (as the OOM killer does): its running job cannot
    record itself, yet the sweep counts every job, exits unfinished, and --resume runs the rest."""
    process = start_cli(
        tmp_path,
        *SLURM,
        "hydra.launcher.jobs_per_task=3",
        "seed=range(0,3)",
        ENDLESS,
        env=slurm_cluster.env,
    )
    _wait_for_metrics(tmp_path, process, 0)
    (running,) = (_sweep_dir(tmp_path) / ".running").glob("0-*")  # job 0, by its process id
    os.kill(int(running.name.split("-")[1]), signal.SIGKILL)
    out, err = _finish(process)

    assert process.returncode == 3, err[-3000:]  # unfinished: --resume finishes it
    assert "Traceback" not in err
    sweep = _sweep_dir(tmp_path)
    summary = pd.read_csv(sweep / "summary.csv").sort_values("job").set_index("job")
    assert summary["status"].to_dict() == {0: "failed", 1: "not_started", 2: "not_started"}
    assert "left no record of its own (killed by SIGKILL" in summary.loc[0, "message"]
    assert len((sweep / "0" / "metrics.csv").read_text().splitlines()) >= 3  # what it logged stays
    assert f"to finish it: python -m runner --resume outputs/sweeps/{sweep.parent.name}" in err

    resumed = run_cli(
        tmp_path, "--resume", str(sweep), "trainer.epochs=50", env=slurm_cluster.env, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = pd.read_csv(sweep / "summary.csv")
    assert len(summary) == 3 and set(summary["status"]) == {"ok"}
    assert sorted(_ledger(tmp_path)["job"]) == [0, 1, 2]  # one row per job, none twice


def test_a_task_at_its_time_limit_records_its_job_and_the_rest_are_not_started(
    tmp_path, slurm_cluster
):
    """A real time limit: Slurm sends the warning submitit asks for (SIGUSR2,
    ``signal_delay_s`` before the limit, up to a minute early) and then ends the task."""
    result = run_cli(
        tmp_path,
        *SLURM,
        "hydra.launcher.jobs_per_task=3",
        "hydra.launcher.timeout_min=1",
        "hydra.launcher.signal_delay_s=30",
        f"{ENDLESS},50,50",
        env=slurm_cluster.env,
        timeout=240,
    )
    assert result.returncode == 3, result.stderr[-3000:]
    ledger = _ledger(tmp_path)
    assert len(ledger) == 1 and ledger.loc[0, "status"] == "interrupted"
    assert "time limit (SIGUSR2)" in ledger.loc[0, "message"]
    assert ledger.loc[0, "epochs_done"] > 0
    summary = pd.read_csv(_sweep_dir(tmp_path) / "summary.csv").sort_values("job")
    assert list(summary["status"]) == ["interrupted", "not_started", "not_started"]


@pytest.mark.parametrize("stop", ["preempted", "time-limit"])
def test_with_requeue_a_stopped_task_requeues_itself_and_the_sweep_completes(
    tmp_path, slurm_cluster, stop
):
    """requeue=true: the interrupted job starts again after the requeue and the task finishes
    its pack; the ledger holds one ok row per job, and the interrupted attempt's row."""
    process = start_cli(
        tmp_path,
        *SLURM,
        "hydra.launcher.jobs_per_task=3",
        "hydra.launcher.requeue=true",
        # ~5 s a job here, 15 s a pack: Slurm's preemption may take seconds under load, and
        # must meet a job training (at 1 s a job, CI saw the pack end before it)
        "trainer.epochs=30000",
        "seed=range(0,3)",
        env=slurm_cluster.env,
    )
    _wait_for_metrics(tmp_path, process, 0)
    if stop == "preempted":
        slurm_cluster.preempt(seconds=2)  # Slurm requeues the task itself
    else:  # the warning before the time limit: the task requeues itself
        subprocess.run(
            ["scancel", "--signal=USR2", *slurm_cluster.jobs()], env=slurm_cluster.env, check=True
        )
    out, err = _finish(process, timeout_s=300)

    assert process.returncode == 0, err[-3000:]
    assert "sweep: 3 jobs (3 ok)" in out
    ledger = _ledger(tmp_path)
    ok = ledger[ledger["status"] == "ok"]
    assert sorted(ok["job"]) == [0, 1, 2]  # each job once
    stopped = ledger[ledger["status"] != "ok"]
    assert len(stopped) == 1 and stopped["status"].eq("interrupted").all(), ledger
    expected = "preempted or cancelled" if stop == "preempted" else "time limit"
    assert re.search(expected, stopped["message"].iloc[0])


def test_a_partition_that_does_not_exist_is_one_line_naming_those_there_are(
    tmp_path, slurm_cluster
):
    result = run_cli(
        tmp_path, *SLURM, "hydra.launcher.partition=gpu", "seed=0,1", env=slurm_cluster.env
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: hydra.launcher.partition=gpu: is not a partition of this cluster; "
        "sinfo lists: cpu, urgent"
    )
    assert not (tmp_path / "outputs").exists()  # nothing written


def test_a_controller_that_does_not_answer_is_one_line_and_nothing_is_written(
    tmp_path, slurm_cluster
):
    text = slurm_cluster.conf.read_text()
    dead = tmp_path / "dead.conf"  # this cluster's config with a port no controller listens on
    dead.write_text(re.sub(r"SlurmctldPort=\d+", "SlurmctldPort=1", text))
    env = {**slurm_cluster.env, "SLURM_CONF": str(dead)}
    result = run_cli(tmp_path, *SLURM, "seed=0,1", env=env, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("error: hydra/launcher=slurm: the Slurm controller is not")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "outputs").exists()
