"""Sweeps under every launcher and the Optuna sweeper, with the real plugins: each job's row
reaches the ledger exactly once, the sweep summary has one row per job, run folders are
distinct, and one failed job loses nothing."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import private_ray_env, run_cli

TINY = (
    "trainer.epochs=5",
    "trainer.log_every=5",
    "data.samples=20",
    "data.val_samples=20",
    "trainer.plots=false",
)


def _check_sweep(cwd, jobs, failed=()):
    """The integrity every launcher must give; returns the sweep summary."""
    ledger = pd.read_csv(cwd / "outputs" / "runs.csv")
    (summary_path,) = cwd.glob("outputs/sweeps/*/*/summary.csv")
    summary = pd.read_csv(summary_path)
    assert len(summary) == jobs and sorted(summary["job"]) == list(range(jobs))
    assert len(ledger) == jobs and ledger["run_id"].is_unique
    assert sorted(ledger["run_id"]) == sorted(summary["run_id"])
    assert summary["run_dir"].is_unique
    assert all(
        os.path.isabs(d) and os.path.isfile(os.path.join(d, "metrics.csv"))
        for d in summary["run_dir"]
    )
    assert sorted(summary.loc[summary["status"] == "failed", "job"]) == sorted(failed)
    assert (summary.loc[~summary["job"].isin(failed), "status"] == "ok").all()
    return summary


def _launch(cwd, launcher, *args, env=None):
    return run_cli(
        cwd, "-m", f"hydra/launcher={launcher}", "model.width=8,0,16,32", *TINY, *args, env=env
    )


def _no_chatter(result):
    """Nothing on the console but the runner's own lines: no colour codes in a pipe, no
    dependency notices."""
    text = result.stdout + result.stderr
    assert "\x1b[" not in text
    assert "setup plugin alembic" not in text and "Token authentication" not in text
    assert "deduplicates logs" not in text


def test_default_pool_launcher(tmp_path):
    result = run_cli(tmp_path, "-m", "model.width=8,0,16,32", *TINY)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    _check_sweep(tmp_path, 4, failed=[1])
    _no_chatter(result)


def test_basic_launcher(tmp_path):
    result = _launch(tmp_path, "basic")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    _check_sweep(tmp_path, 4, failed=[1])


def test_joblib_runs_jobs_in_parallel_processes(tmp_path):
    result = _launch(tmp_path, "joblib", "hydra.launcher.n_jobs=2")
    assert result.returncode == 1, result.stderr
    assert "model.layers.0.units=0" in result.stderr
    _check_sweep(tmp_path, 4, failed=[1])


def test_submitit_local(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    result = _launch(tmp_path, "submitit_local")
    assert result.returncode == 1, result.stderr
    _check_sweep(tmp_path, 4, failed=[1])


@pytest.mark.slow
def test_slurm_on_a_real_cluster(tmp_path, slurm_cluster):
    """The same sweep on a real Slurm started on this machine (tests/slurm_cluster.py), a task
    per job, with the console as quiet as under the pool."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    result = _launch(
        tmp_path,
        "slurm",
        "hydra.launcher.partition=cpu",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=1",
        env=slurm_cluster.env,
    )
    assert result.returncode == 1, result.stderr
    _check_sweep(tmp_path, 4, failed=[1])
    _no_chatter(result)
    assert "Bypassing sacct" not in result.stdout + result.stderr


def test_slurm_preset_composes_with_editable_resources():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from conftest import CONF_DIR
    from hydra import compose, initialize_config_dir

    from runner.plugins import make_visible
    from runner.stack import version_base

    make_visible()  # as python -m runner does at start: our launcher configs over submitit's
    with initialize_config_dir(config_dir=str(CONF_DIR), **version_base()):
        cfg = compose(
            "config",
            ["hydra/launcher=slurm", "hydra.launcher.partition=cpu"],
            return_hydra_config=True,
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("PackedSlurmLauncher") and launcher.jobs_per_task == 1
    assert (launcher.partition, launcher.timeout_min, launcher.cpus_per_task, launcher.mem_gb) == (
        "cpu",
        30,
        2,
        4,
    )


def test_ray_local_instance(tmp_path):
    pytest.importorskip("ray")
    result = _launch(tmp_path, "ray", env=private_ray_env(tmp_path))
    assert result.returncode == 1, result.stderr[-3000:]
    _check_sweep(tmp_path, 4, failed=[1])
    _no_chatter(result)


@pytest.fixture
def ray_head(tmp_path):
    """A Ray head on 127.0.0.1, started in its own folder and process group; stopped by that group."""
    pytest.importorskip("ray")
    env = private_ray_env(tmp_path)
    head_dir = tmp_path / "head"
    head_dir.mkdir()
    port = 20000 + os.getpid() % 20000
    ray = os.path.join(os.path.dirname(sys.executable), "ray")
    process = subprocess.Popen(
        [
            ray,
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={env['RAY_TMPDIR']}",
        ],
        cwd=head_dir,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        for line in process.stdout:
            if "Ray runtime started" in line or "--block" in line:
                break
            assert time.monotonic() < deadline, "ray head did not start"
        yield f"127.0.0.1:{port}", head_dir, env
    finally:
        _stop_group(process)


def _stop_group(process):
    group = os.getpgid(process.pid)
    os.killpg(group, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=3)
    time.sleep(1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)  # stragglers of this head only
    process.wait(timeout=10)


def test_ray_joins_a_running_cluster_and_writes_where_it_was_launched(tmp_path, ray_head):
    address, head_dir, env = ray_head
    cwd = tmp_path / "project"
    cwd.mkdir()
    result = _launch(cwd, "ray_cluster", f"hydra.launcher.ray.init.address={address}", env=env)
    assert result.returncode == 1, result.stderr[-3000:]
    _check_sweep(cwd, 4, failed=[1])
    assert not list(head_dir.rglob("outputs"))  # nothing relative to the workers' folder


def test_joining_a_cluster_rejects_object_store_memory(tmp_path):
    pytest.importorskip("ray")
    result = run_cli(
        tmp_path,
        "-m",
        "hydra/launcher=ray_cluster",
        "hydra.launcher.ray.init.address=127.0.0.1:1",
        "hydra.launcher.ray.init.object_store_memory=100000000",
        *TINY,
    )
    assert result.returncode == 2
    assert (
        "hydra.launcher.ray.init.object_store_memory=100000000: cannot be set when joining"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_the_ray_launcher_without_ray_says_how_to_install_it(tmp_path):
    code = (
        "import sys, runpy; sys.modules['ray'] = None; "
        "sys.argv = ['runner', '-m', 'hydra/launcher=ray', 'seed=0,1', 'trainer.epochs=1']; "
        "runpy.run_module('runner', run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2  # a config error: a launcher this install does not have
    assert "hydra/launcher=ray: needs Ray, which is not installed: pip install -e '.[ray]'" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_without_the_slurm_extra_a_run_is_quiet_and_submitit_says_how_to_install_it(tmp_path):
    """Hydra's plugin scan imports every module of hydra_plugins/nnrunner (it sees them when the
    checkout is on sys.path, as with `python -m runner` run from it): the submitit ones must not
    fail there when hydra-submitit-launcher is missing, or every run warns twice."""
    root = str(Path(__file__).resolve().parent.parent)

    def run(*overrides):
        # not installed: not importable, and not listed by a plugin scan (Hydra 1.4's imports
        # what it lists, and would warn about the module made unimportable here)
        code = (
            f"import sys, runpy, pkgutil; sys.path.insert(0, {root!r}); "
            "sys.modules['hydra_plugins.hydra_submitit_launcher'] = None; "
            "walk = pkgutil.walk_packages; pkgutil.walk_packages = lambda *a, **k: "
            "(m for m in walk(*a, **k) if 'hydra_submitit_launcher' not in m.name); "
            f"sys.argv = ['runner', *{list(overrides)!r}]; "
            "runpy.run_module('runner', run_name='__main__')"
        )
        return subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    result = run("trainer.epochs=1", "trainer.plots=false")
    assert result.returncode == 0, result.stderr
    assert "Error importing" not in result.stderr and "Warning" not in result.stderr
    assert "entry point" not in result.stderr  # Hydra 1.4 loads our submitit launchers' too
    result = run("-m", "hydra/launcher=submitit_local", "seed=0,1", "trainer.epochs=1")
    assert result.returncode == 2  # a config error: an option this install does not have
    assert "pip install -e '.[slurm]'" in result.stderr
    assert "Traceback" not in result.stderr
