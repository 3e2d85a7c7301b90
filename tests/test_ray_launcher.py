"""hydra/launcher=ray with no shared disk: workers write into scratch folders of their own and
the driver alone writes the sweep folder and the ledger; chunks, faults and a bad address."""

import os
import signal
import time

import pandas as pd
import pytest
from conftest import private_ray_env, run_cli, start_cli

pytest.importorskip("ray")
pytestmark = pytest.mark.slow

SWEEP = ("seed=0,1,2", "trainer.epochs=30", "trainer.log_every=10", "data.samples=20")
TIMING = ["run_id", "started_at", "seconds"]


def _ray(tmp_path, cwd, *args, **env):
    environment = {**private_ray_env(tmp_path), **env}
    return run_cli(cwd, "-m", "hydra/launcher=ray", *args, env=environment)


def _sweep_dir(cwd):
    (found,) = cwd.glob("outputs/sweeps/*/*/summary.csv")
    return found.parent


def _files(sweep_dir):
    return sorted(
        str(p.relative_to(sweep_dir))
        for p in sweep_dir.rglob("*")
        if p.is_file() and p.parts[-2:-1] != (".cache",) and not p.name.startswith(".")
    )


def _job_0_lost_the_others_ok(cwd, process, err, status="failed"):
    """Job 0 lost with its worker (``failed``: exit 1) or its node (``interrupted``: exit 3,
    ``--resume`` finishes the sweep), jobs 1 and 2 ok: every job has its row."""
    assert process.returncode == {"failed": 1, "interrupted": 3}[status], err[-3000:]
    assert "Traceback" not in err
    summary = pd.read_csv(_sweep_dir(cwd) / "summary.csv").sort_values("job")
    assert list(summary["status"]) == [status, "ok", "ok"]
    lost = "its Ray worker was lost" if status == "failed" else "its Ray node was lost (node "
    assert summary.iloc[0]["message"].startswith(lost), summary.iloc[0]["message"]
    assert len(pd.read_csv(cwd / "outputs" / "runs.csv")) == 3


def test_without_a_shared_disk_the_driver_writes_what_a_local_sweep_would(tmp_path):
    local, remote, scratch = tmp_path / "local", tmp_path / "remote", tmp_path / "scratch"
    for folder in (local, remote, scratch):
        folder.mkdir()
    assert run_cli(local, "-m", *SWEEP).returncode == 0
    result = _ray(tmp_path, remote, *SWEEP, NNRUNNER_RAY_SCRATCH=str(scratch))
    assert result.returncode == 0, result.stderr[-3000:]
    assert not list(scratch.iterdir())  # the workers' scratch folders are gone
    mine, theirs = _sweep_dir(remote), _sweep_dir(local)
    assert _files(mine) == _files(theirs)  # every job's files, .hydra/ included
    a = pd.read_csv(remote / "outputs" / "runs.csv", dtype=str).drop(columns=TIMING)
    b = pd.read_csv(local / "outputs" / "runs.csv", dtype=str).drop(columns=TIMING)
    a = a.replace(str(mine), "SWEEP", regex=False).sort_values("job").reset_index(drop=True)
    b = b.replace(str(theirs), "SWEEP", regex=False).sort_values("job").reset_index(drop=True)
    for frame in (a, b):
        frame["run_dir"] = frame["run_dir"].str.replace(r".*/(\d+)$", r"\1", regex=True)
        frame["sweep_dir"] = "SWEEP"
    pd.testing.assert_frame_equal(a, b)  # same columns, same values, the metrics included
    config = (mine / "0" / ".hydra" / "hydra.yaml").read_text()
    assert str(mine) in config and str(scratch) not in config

    again = _ray(tmp_path, remote, *SWEEP, f"hydra.sweep.dir={mine}")  # resumed: nothing to run
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(pd.read_csv(remote / "outputs" / "runs.csv")) == 3


def test_job_folders_named_by_the_user_come_back_to_them(tmp_path):
    """The driver names each job's folder before its result arrives: Hydra's numbered ones
    without composing the job, any other hydra.sweep.subdir from the job's composed config."""
    result = _ray(tmp_path, tmp_path, *SWEEP, "hydra.sweep.subdir=seed_${seed}")
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_dir = _sweep_dir(tmp_path)
    assert sorted(p.name for p in sweep_dir.glob("seed_*")) == ["seed_0", "seed_1", "seed_2"]
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert sorted(ledger["run_dir"].str.rsplit("/", n=1).str[-1]) == ["seed_0", "seed_1", "seed_2"]
    for run_dir, seed in zip(ledger["run_dir"], ledger["seed"], strict=True):
        assert pd.read_csv(f"{run_dir}/summary.csv")["seed"].item() == seed


def test_a_killed_worker_fails_the_jobs_of_its_chunk_and_the_sweep_goes_on(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**private_ray_env(tmp_path), "NNRUNNER_RAY_SCRATCH": str(scratch)}
    process = start_cli(
        tmp_path,
        "-m",
        "hydra/launcher=ray",
        "hydra.launcher.jobs_per_task=1",
        "trainer.epochs=100000000,200,201",
        "trainer.log_every=100",
        "data.samples=20",
        env=env,
    )
    try:
        deadline = time.monotonic() + 90
        while not (markers := list(scratch.glob("*/sweep/.running/0-*"))):
            assert time.monotonic() < deadline and process.poll() is None, "job 0 never ran"
            time.sleep(0.1)
        os.kill(int(markers[0].name.split("-")[1]), signal.SIGKILL)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    _job_0_lost_the_others_ok(tmp_path, process, err)


def test_a_node_lost_mid_sweep_interrupts_its_running_job_and_the_sweep_goes_on(tmp_path):
    """Job 0 runs on the only worker node; that node is removed while it runs (a new one having
    joined): job 0 is interrupted, naming the node, the others run on the new node."""
    import subprocess
    import sys
    from pathlib import Path

    env = {**private_ray_env(tmp_path), "NNRUNNER_RAY_SCRATCH": str(tmp_path / "scratch")}
    (tmp_path / "scratch").mkdir()
    cluster = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("ray_two_nodes.py"))],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    process = None
    try:
        address = cluster.stdout.readline().strip()
        assert address, "the test cluster did not start"
        process = start_cli(
            tmp_path,
            "-m",
            "hydra/launcher=ray_cluster",
            f"hydra.launcher.ray.init.address={address}",
            "hydra.launcher.jobs_per_task=1",
            "trainer.epochs=100000000,200,201",
            "trainer.log_every=100",
            "data.samples=20",
            env=env,
        )
        deadline = time.monotonic() + 120
        while not list((tmp_path / "scratch").glob("*/sweep/.running/0-*")):
            assert time.monotonic() < deadline and process.poll() is None, "job 0 never ran"
            time.sleep(0.1)
        cluster.stdin.write("swap\n")
        cluster.stdin.flush()
        assert cluster.stdout.readline().strip() == "swapped"
        _, err = process.communicate(timeout=180)
    finally:
        for child in (process, cluster):
            if child is not None and child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
    _job_0_lost_the_others_ok(tmp_path, process, err, status="interrupted")


def test_ray_remote_options_pass_through_and_a_bad_one_names_the_key(tmp_path):
    good = _ray(
        tmp_path,
        tmp_path,
        "seed=0,1",
        "trainer.epochs=5",
        "+hydra.launcher.ray.remote.memory=10000000",
    )
    assert good.returncode == 0, good.stderr[-3000:]
    bad = _ray(tmp_path, tmp_path, "seed=0", "+hydra.launcher.ray.remote.no_such_option=1")
    assert bad.returncode == 2 and "hydra.launcher.ray.remote" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_an_unreachable_address_is_one_line_in_seconds(tmp_path):
    started = time.monotonic()
    result = _ray(tmp_path, tmp_path, "seed=0,1", "hydra.launcher.ray.init.address=127.0.0.1:9")
    assert time.monotonic() - started < 10 + 5  # + the runner's own start-up
    assert result.returncode == 2  # a config error: the address
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert (
        lines
        and "hydra.launcher.ray.init.address=127.0.0.1:9: no Ray cluster answers there" in lines[0]
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "hydra.launcher.jobs_per_task=0",
            "hydra.launcher.jobs_per_task=0: must be a positive integer",
        ),
        (
            "hydra.launcher.chunk_s=-1",
            "hydra.launcher.chunk_s=-1.0: must be a number of seconds > 0",
        ),
    ],
)
def test_bad_chunk_settings_name_the_key(tmp_path, override, message):
    result = _ray(tmp_path, tmp_path, "seed=0,1", override)
    assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]


def test_chunks_run_about_chunk_s_seconds_and_leave_no_slot_idle():
    from types import SimpleNamespace

    from runner.sweeps.ray_launch import RaySession

    session = RaySession.__new__(RaySession)
    session.launcher = SimpleNamespace(chunk_s=3.0, jobs_per_task=None)
    session.slots, session.job_seconds = 2, []
    assert session._chunk_size(1000) == 1  # the first jobs are timed alone
    session.job_seconds = [0.01, 0.01]
    assert session._chunk_size(2000) == 300  # 3 s of 10 ms jobs
    assert session._chunk_size(100) == 25  # shrinking as the jobs run out: 100 / (2 x 2)
    assert session._chunk_size(3) == 1
    session.job_seconds = [30.0]
    assert session._chunk_size(1000) == 1  # a long job is a task of its own
    session.launcher.jobs_per_task = 4
    assert session._chunk_size(1000) == 4


def test_ctrl_c_stops_the_running_jobs_which_record_themselves(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**private_ray_env(tmp_path), "NNRUNNER_RAY_SCRATCH": str(scratch)}
    process = start_cli(
        tmp_path,
        "-m",
        "hydra/launcher=ray",
        "seed=0,1,2,3",
        "trainer.epochs=100000000",
        "trainer.log_every=50",
        "data.samples=20",
        env=env,
    )
    try:
        deadline = time.monotonic() + 90
        while len([p for p in scratch.glob("*/sweep/*/metrics.csv") if p.stat().st_size > 300]) < 2:
            assert time.monotonic() < deadline and process.poll() is None, "jobs never ran"
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert "Traceback" not in err, err[-3000:]
    assert process.returncode == 130, err[-3000:]
    summary = pd.read_csv(_sweep_dir(tmp_path) / "summary.csv")
    assert sorted(summary["job"]) == [0, 1, 2, 3]  # every job accounted for
    assert set(summary["status"]) <= {"interrupted", "not_started"}, summary["status"]
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert set(ledger["status"]) == {"interrupted"}, ledger[["status", "message"]]
    interrupted = summary[summary["status"] == "interrupted"]
    assert sorted(ledger["job"]) == sorted(interrupted["job"])  # no row for a job not started
    ran = ledger[ledger["epochs_done"].fillna(0) > 0]
    assert len(ran) >= 2  # the running jobs kept the rows they had logged
    for run_dir in ran["run_dir"]:
        assert len(pd.read_csv(os.path.join(run_dir, "metrics.csv"))) > 2


def test_on_a_shared_disk_workers_write_the_sweep_themselves(tmp_path):
    from test_launchers import TINY, _check_sweep

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    args = ("hydra.launcher.shared_fs=true", "model.width=8,0,16,32", *TINY)
    result = _ray(tmp_path, tmp_path, *args, NNRUNNER_RAY_SCRATCH=str(scratch))
    assert result.returncode == 1, result.stderr[-3000:]  # the width-0 job fails, alone
    _check_sweep(tmp_path, 4, failed=[1])
    assert not list(scratch.iterdir())  # no scratch: the jobs wrote where the driver reads


def test_a_chunk_lost_with_its_node_interrupts_its_running_job_and_starts_none_after():
    """A task runs its chunk in order: when its node dies, the first job not back was running
    (interrupted, naming the node, with its row) and the others never began (not_started: no
    folder, no ledger row; --resume runs them)."""
    from types import SimpleNamespace

    from ray.exceptions import NodeDiedError

    from runner.sweeps.progress import SweepProgress
    from runner.sweeps.ray_launch import RaySession
    from runner.sweeps.result import JobResult

    died = (
        "Task failed because the node it was running on is dead or unavailable. Node IP: "
        "10.0.0.7, node ID: 5f0e. This can happen if the node was preempted."
    )

    def task():
        raise NodeDiedError(died)
        yield  # a streaming task's generator

    recorded = []
    session = RaySession.__new__(RaySession)
    session.progress = SweepProgress(expected=3, interactive=False)
    session._lost = lambda job, reason, status: (
        recorded.append((job.idx, status, reason)) or (JobResult.lost(reason, status))
    )
    generator = task()
    running, outcomes = {generator: [SimpleNamespace(idx=i) for i in (4, 5, 6)]}, {}
    session._take(generator, running, outcomes, None)
    lost = "its Ray node was lost (node 10.0.0.7, ID 5f0e; NodeDiedError)"
    assert not running and recorded == [(4, "interrupted", lost)]  # the one row written
    assert [outcomes[i].status for i in (4, 5, 6)] == ["interrupted", "not_started", "not_started"]
    assert outcomes[5].message == f"not started: {lost} before it (--resume runs it)"
