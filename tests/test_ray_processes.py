"""hydra/launcher=ray_cluster on a cluster of separate ``ray start`` processes (tests/ray_processes.py):
a head and a second node with their own temporary folders, HOMEs and scratch folders, no shared
disk. The sweep runs on both; the second node is stopped (``ray stop`` of that node alone) while
it runs a job: the sweep ends, every job has its row, the lost one names the node, and
``--resume`` finishes the sweep on the head."""

import os
import signal
import sys
import time

import pandas as pd
import pytest
import ray_processes as processes
from conftest import run_cli, start_cli
from ray_processes import ray_processes  # noqa: F401 - the fixture

JOBS = 6
SWEEP = (
    f"seed=range(0,{JOBS})",
    "trainer.epochs=12000",  # a few seconds a job: the second node is stopped inside one
    "trainer.log_every=2000",
    "data.samples=20",
)


def _running(node):
    """Job numbers whose ``.running/<job>-<pid>`` marker is in ``node``'s scratch folders now."""
    return {int(m.name.split("-")[0]) for m in node.scratch.glob("*/sweep/.running/*-*")}


def _until_the_node_runs_its_second_job(cluster, process, timeout_s=90):
    """Watch both nodes' scratch folders -> (jobs seen on each node, jobs on the node now)."""
    seen = {"head": set(), "node": set()}
    deadline = time.monotonic() + timeout_s
    while True:
        assert process.poll() is None, "the sweep ended before the node ran a second job"
        assert time.monotonic() < deadline, f"the node never ran a second job: {seen}"
        now = {name: _running(node) for name, node in cluster.nodes.items()}
        for name, jobs in now.items():
            seen[name] |= jobs
        if now["node"] and seen["node"] - now["node"]:  # one job done there, another running
            return seen, now["node"]
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.faults
def test_a_node_stopped_mid_sweep_loses_only_its_job_and_resume_finishes(
    tmp_path,
    ray_processes,  # noqa: F811 - the fixture
):
    cluster = ray_processes
    cwd = tmp_path / "project"
    cwd.mkdir()
    env = cluster.env()  # the driver runs as a user on the head's machine
    process = start_cli(
        cwd,
        "-m",
        "hydra/launcher=ray_cluster",
        f"hydra.launcher.ray.init.address={cluster.address}",
        "hydra.launcher.shared_fs=false",
        "hydra.launcher.jobs_per_task=1",
        "hydra.sweep.dir=sweep",
        *SWEEP,
        env=env,
    )
    try:
        seen, on_the_node = _until_the_node_runs_its_second_job(cluster, process)
        node_id = cluster.node_id(cluster.node)
        cluster.stop_node(cluster.node)
        assert not cluster.node.running
        out, err = process.communicate(timeout=120)  # no hang: it ends on the head alone
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert seen["head"] and seen["node"], seen  # jobs ran on both nodes
    assert process.returncode == 3, err[-3000:]  # interrupted jobs: --resume finishes it
    assert "Traceback" not in err, err[-3000:]
    assert f"sweep: {JOBS} jobs (" in out, out[-2000:]
    assert "to finish it: python -m runner --resume sweep" in err, err[-2000:]

    summary = pd.read_csv(cwd / "sweep" / "summary.csv").set_index("job")
    assert sorted(summary.index) == list(range(JOBS))  # every job accounted for
    lost = summary[summary["status"] != "ok"]
    assert set(lost["status"]) == {"interrupted"}, lost[["status", "message"]]
    never_seen = set(range(JOBS)) - seen["head"] - seen["node"]  # a task queued on the node
    assert set(lost.index) <= on_the_node | never_seen, lost["message"]
    assert set(lost.index) & on_the_node, "the job running on the stopped node was not lost"
    for message in lost["message"]:  # the driver saw the node die, or the job saw it first
        assert node_id in message, message
        assert message.startswith(("its Ray node was lost", "interrupted: the Ray node")), message
    finished_there = sorted(seen["node"] - on_the_node)  # files back from the node's own scratch
    assert finished_there and (summary.loc[finished_there, "status"] == "ok").all()
    for job in finished_there:
        assert len(pd.read_csv(cwd / "sweep" / str(job) / "metrics.csv")) == 7  # epochs 0..12000

    again = run_cli(cwd, "--resume", "sweep", env=env, timeout=120)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Traceback" not in again.stderr
    # the jobs found done count in the whole sweep's progress, not as a sweep of their own each
    assert f"jobs {JOBS}/{JOBS}: {len(lost)} ok, {JOBS - len(lost)} reused" in again.stdout
    summary = pd.read_csv(cwd / "sweep" / "summary.csv")
    assert sorted(summary["job"]) == list(range(JOBS)) and set(summary["status"]) == {"ok"}
    ledger = pd.read_csv(cwd / "outputs" / "runs.csv")
    ok = ledger[ledger["status"] == "ok"]
    assert ok["run_key"].is_unique and len(ok) == JOBS  # no job ok twice, none missing
    assert len(ledger) == JOBS + len(lost)  # the lost attempts keep their rows


def test_without_ray_the_cluster_skips_unless_ci_promised_every_server(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without Ray imports
    reason = processes.missing()
    assert reason == "Ray is not installed (pip install -e '.[ray]')"
    monkeypatch.delenv("NNRUNNER_REQUIRE_SERVERS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Ray is not installed"):
        processes.no_ray(reason)
    monkeypatch.setenv("NNRUNNER_REQUIRE_SERVERS", "1")
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_SERVERS=1 but Ray is not installed"):
        processes.no_ray(reason)
