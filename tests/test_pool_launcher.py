"""The pool launcher, the default for -m: every job its folder, files and one ledger row; the
same results as Hydra's basic launcher; a dead worker costs one job; stop signals are kept."""

import contextlib
import os
import signal
import time

import pandas as pd
import pytest
import yaml
from conftest import run_cli, start_cli

FAST = ("trainer.epochs=60", "trainer.log_every=20", "data.samples=40")
LONG = ("trainer.log_every=200", "trainer.plots=false")


def _sweep_dir(cwd):
    (sweep_dir,) = cwd.glob("outputs/sweeps/*/*")
    return sweep_dir


def test_every_job_gets_its_folder_hydra_files_log_and_one_ledger_row(tmp_path):
    result = run_cli(
        tmp_path, "-m", "hydra.launcher.n_jobs=2", "seed=0,1,2", "model.width=8,16", *FAST
    )
    assert result.returncode == 0, result.stderr
    sweep_dir = _sweep_dir(tmp_path)
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert len(ledger) == 6 and ledger["run_id"].is_unique
    assert sorted(ledger["job"]) == list(range(6)) and set(ledger["status"]) == {"ok"}
    for job in range(6):
        folder = sweep_dir / str(job)
        for name in ("metrics.csv", "summary.csv", "params.npz", "job.log"):
            assert (folder / name).is_file(), (job, name)
        overrides = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())
        row = ledger[ledger["job"] == job].iloc[0]
        assert " ".join(overrides) == row["overrides"]
        hydra = yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text())["hydra"]
        assert hydra["job"]["num"] == job and hydra["runtime"]["output_dir"] == str(folder)
        task = yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())
        assert task["seed"] == int(row["seed"]) and task["model"]["width"] == row["model.width"]
        assert "ok after 60 epochs" in (folder / "job.log").read_text()
    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert sorted(summary["run_id"]) == sorted(ledger["run_id"])
    # the jobs' own lines went to their logs; the console has the bar's lines and the table
    assert "ok after" not in result.stdout + result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) < 20 and max(map(len, lines)) <= 100


def _metrics_without_time(folder):
    return pd.read_csv(folder / "metrics.csv").drop(columns="seconds")


def test_the_same_seed_gives_the_same_metrics_under_every_launcher(tmp_path):
    launchers = {
        "basic": ["hydra/launcher=basic"],
        "pool-1": ["hydra.launcher.n_jobs=1"],
        "pool-2": ["hydra.launcher.n_jobs=2"],
        "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    }
    found = {}
    for name, args in launchers.items():
        cwd = tmp_path / name
        cwd.mkdir()
        result = run_cli(cwd, "-m", *args, "seed=3,4", "optimizer.learning_rate=0.01,0.05", *FAST)
        assert result.returncode == 0, (name, result.stderr)
        found[name] = [_metrics_without_time(_sweep_dir(cwd) / str(j)) for j in range(4)]
    for name, frames in found.items():
        for job, frame in enumerate(frames):
            pd.testing.assert_frame_equal(frame, found["basic"][job], check_exact=True, obj=name)


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "two", "true"])
def test_a_bad_worker_count_is_one_line_naming_the_key(tmp_path, value):
    result = run_cli(tmp_path, "-m", f"hydra.launcher.n_jobs={value}", "seed=0,1", *FAST)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith(f"error: hydra.launcher.n_jobs={value}: must be a positive integer")


def _wait_for(predicate, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_worker_killed_mid_job_fails_that_job_and_the_others_finish(tmp_path):
    process = start_cli(
        tmp_path,
        "-m",
        "hydra.launcher.n_jobs=2",
        "trainer.epochs=100000000,200,201,202,203",
        *LONG,
    )
    try:
        marker = _wait_for(lambda: list(tmp_path.glob("outputs/sweeps/*/*/.running/0-*")))[0]
        _wait_for(lambda: (marker.parent.parent / "0" / "metrics.csv").is_file())
        os.kill(int(marker.name.split("-")[1]), signal.SIGKILL)
        _, err = process.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 1, err
    assert "Traceback" not in err
    summary = pd.read_csv(_sweep_dir(tmp_path) / "summary.csv").sort_values("job")
    assert list(summary["status"]) == ["failed", "ok", "ok", "ok", "ok"]
    assert summary.iloc[0]["message"] == "worker died: signal 9 (SIGKILL)"
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert len(ledger) == 5 and ledger["run_id"].is_unique
    assert "worker died: signal 9" in err


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("to_group", [True, False], ids=["terminal", "main-process"])
def test_ctrl_c_twice_exits_at_once_and_keeps_every_row(tmp_path, to_group):
    process = start_cli(
        tmp_path, "-m", "hydra.launcher.n_jobs=2", "seed=0,1,2,3", "trainer.epochs=100000000", *LONG
    )
    try:
        _wait_for(
            lambda: (
                len(
                    [
                        p
                        for p in tmp_path.glob("outputs/sweeps/*/*/*/metrics.csv")
                        if len(p.read_text().splitlines()) > 2
                    ]
                )
                == 2
            )
        )
        send = (lambda s: os.killpg(process.pid, s)) if to_group else process.send_signal
        send(signal.SIGINT)
        time.sleep(0.02)
        send(signal.SIGINT)
        started = time.monotonic()
        process.communicate(timeout=30)
        took = time.monotonic() - started
        _wait_for(lambda: not _group_alive(process.pid), timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130
    assert took < 10  # not the 20 s a single Ctrl-C may wait for running jobs to record
    summary = pd.read_csv(_sweep_dir(tmp_path) / "summary.csv")
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    recorded = summary[summary["status"] != "not_started"]  # jobs never begun have no row
    assert sorted(recorded["run_id"]) == sorted(ledger["run_id"]) and len(ledger) == 2
    assert set(ledger["status"]) == {"interrupted"}
