"""Every way a run ends is recorded: stop signals, a stopped sweep, a killed main process."""

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import compose, run_cli, start_cli

from runner.records import UNRECORDED

LONG = ("trainer.epochs=100000000", "trainer.log_every=200", "trainer.plots=false")


def _wait_for_rows(cwd, pattern, files=1, rows=3, timeout=90):
    """Until ``files`` metrics.csv matching ``pattern`` hold more than ``rows`` lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in cwd.glob(pattern) if len(p.read_text().splitlines()) > rows]
        if len(found) >= files:
            return found
        time.sleep(0.05)
    raise AssertionError(f"fewer than {files} runs logged {rows} rows in {timeout} s")


def _ledger(cwd):
    return pd.read_csv(cwd / "outputs" / "runs.csv")


@pytest.mark.parametrize(
    "signum, name",
    [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT"), (signal.SIGHUP, "SIGHUP")],
)
def test_each_stop_signal_is_recorded_with_its_exit_code(tmp_path, signum, name):
    process = start_cli(tmp_path, *LONG)
    (metrics,) = _wait_for_rows(tmp_path, "outputs/runs/*/*/metrics.csv")
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    assert "Traceback" not in err and f"interrupted by {name}" in err
    ledger = _ledger(tmp_path)
    assert list(ledger["status"]) == ["interrupted"]
    assert ledger.loc[0, "message"].startswith(f"interrupted by {name}")
    logged = pd.read_csv(metrics)
    assert len(logged) >= 3 and ledger.loc[0, "epochs_done"] == logged["epoch"].iloc[-1]
    assert (metrics.parent / "summary.csv").is_file()


def _sweep_checks(cwd, exit_code, process):
    """Every job that started has exactly one row, interrupted, in the ledger and the summary."""
    assert process.returncode == exit_code, process.stderr
    started = {p.parent.name for p in cwd.glob("outputs/sweeps/*/*/*/metrics.csv")}
    ledger = _ledger(cwd)
    (summary_path,) = cwd.glob("outputs/sweeps/*/*/summary.csv")
    summary = pd.read_csv(summary_path)
    recorded = summary[summary["status"] != "not_started"]  # the rest never began: no row
    assert ledger["run_id"].is_unique and sorted(ledger["run_id"]) == sorted(recorded["run_id"])
    assert summary.loc[summary["status"] == "not_started", "run_id"].isna().all()
    trained = ledger[ledger["epochs_done"].notna()]
    assert {str(int(j)) for j in trained["job"]} == started
    assert set(ledger["status"]) == {"interrupted"}
    return ledger


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_stopping_a_parallel_sweep_keeps_every_running_jobs_row(tmp_path, how):
    process = start_cli(
        tmp_path, "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=range(0,8)", *LONG
    )
    _wait_for_rows(tmp_path, "outputs/sweeps/*/*/*/metrics.csv", files=2)
    if how == "ctrl-c":  # the terminal sends SIGINT to every process of the foreground group
        os.killpg(process.pid, signal.SIGINT)
    else:  # kill, Slurm, Kubernetes: only the main process is told
        process.send_signal(signal.SIGTERM)
    process.communicate(timeout=90)
    ledger = _sweep_checks(tmp_path, 130 if how == "ctrl-c" else 143, process)
    assert len(ledger[ledger["epochs_done"].notna()]) >= 2


def test_a_job_cut_off_as_it_started_in_a_stopped_sweep_is_recorded_interrupted(tmp_path):
    """joblib kills its workers once the running jobs have recorded themselves; a worker that had
    just taken the next job leaves a folder with .hydra/ and no row. The sweep's end records it."""
    done = run_cli(tmp_path, "-m", "seed=0,1", "trainer.epochs=5", "trainer.plots=false")
    assert done.returncode == 0, done.stderr
    (sweep_dir,) = tmp_path.glob("outputs/sweeps/*/*")
    cut_off = sweep_dir / "1"
    for name in ("summary.csv", "metrics.csv", "params.npz"):
        (cut_off / name).unlink(missing_ok=True)
    ledger = _ledger(tmp_path)
    # job 0 was cut off between its summary.csv and its ledger row: the row comes back
    ledger[ledger["job"] == 2].to_csv(tmp_path / "outputs" / "runs.csv", index=False)
    (sweep_dir / ".stop").write_text("SIGTERM\n")
    finish = "import sys; from runner.sweeps.summary import finish; sys.exit(finish(sys.argv[1]))"

    def end_the_sweep():
        return subprocess.run(
            [sys.executable, "-c", finish, str(sweep_dir)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )

    marker = sweep_dir / ".running" / f"1-{os.getpid()}"  # a live process: it records itself
    marker.parent.mkdir(exist_ok=True)
    marker.write_text(f"{socket.gethostname()}\n{os.getpid()}\n")
    assert end_the_sweep().returncode == 1 and list(_ledger(tmp_path)["job"]) == [0]
    marker.unlink()
    ended = end_the_sweep()
    assert ended.returncode == 3, ended.stderr  # a job interrupted: --resume finishes the sweep
    ledger = _ledger(tmp_path)
    summary = pd.read_csv(sweep_dir / "summary.csv")
    recorded = summary[summary["status"] != "not_started"]  # jobs never begun have no row
    assert sorted(ledger["run_id"]) == sorted(recorded["run_id"]) and len(ledger) == 2
    row = ledger[ledger["job"] == 1].iloc[0]
    assert row["status"] == "interrupted" and "the sweep was stopped (SIGTERM)" in row["message"]
    assert row["seed"] == 1 and pd.isna(row["epochs_done"])
    assert pd.read_csv(cut_off / "summary.csv")["run_id"].item() == row["run_id"]


def test_stopping_a_sweep_under_the_basic_launcher(tmp_path):
    process = start_cli(tmp_path, "-m", "hydra/launcher=basic", "seed=0,1,2", *LONG)
    _wait_for_rows(tmp_path, "outputs/sweeps/*/*/0/metrics.csv")
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    ledger = _sweep_checks(tmp_path, 143, process)
    assert list(ledger["message"]) == ["interrupted by SIGTERM"]


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_a_killed_main_process_stops_its_workers_and_they_record_themselves(tmp_path):
    process = start_cli(
        tmp_path, "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=range(0,8)", *LONG
    )
    try:
        _wait_for_rows(tmp_path, "outputs/sweeps/*/*/*/metrics.csv", files=2)
        process.kill()
        process.wait(timeout=10)
        deadline = time.monotonic() + 30
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _group_alive(process.pid), "workers are still running after their sweep died"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    ledger = _ledger(tmp_path)
    assert len(ledger) >= 2 and set(ledger["status"]) == {"interrupted"}
    assert ledger["message"].str.contains("the sweep's main process .* is gone").all()


@pytest.mark.slow
def test_a_job_killed_with_sigkill_is_failed_in_the_summary_and_compare_says_so(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    process = start_cli(
        tmp_path,
        "-m",
        "hydra/launcher=submitit_local",
        "seed=0,1",
        "trainer.epochs=30000",
        *LONG[1:],
    )
    deadline = time.monotonic() + 90
    markers = []
    while not markers and time.monotonic() < deadline:
        markers = list(tmp_path.glob("outputs/sweeps/*/*/.running/0-*"))
        time.sleep(0.05)
    assert markers, "job 0 never started"
    os.kill(int(markers[0].name.split("-")[1]), signal.SIGKILL)
    process.communicate(timeout=120)
    (sweep_dir,) = tmp_path.glob("outputs/sweeps/*/*")
    summary = pd.read_csv(sweep_dir / "summary.csv").sort_values("job")
    assert list(summary["status"]) == ["failed", "ok"]
    assert summary["message"].iloc[0] == UNRECORDED
    assert list(_ledger(tmp_path)["job"]) == [1]  # the killed job could not write its row
    compared = run_cli(tmp_path, str(sweep_dir), module="runner.compare")
    assert compared.returncode == 0 and "1 of these jobs left no record" in compared.stdout
    report = run_cli(tmp_path, str(sweep_dir), "--out", "r.html", module="runner.report")
    assert report.returncode == 0 and "left no record" in (tmp_path / "r.html").read_text()


def test_a_job_on_another_machine_does_not_watch_the_sweeps_pid(monkeypatch):
    """A Slurm or Ray job on another node sees the driver's host in NNRUNNER_SWEEP_PID: it is a
    worker, and the pid there is not one it could watch (it would look dead)."""
    import socket

    from runner.job import SWEEP_PID
    from runner.sweeps.sweep_job import sweep_process

    monkeypatch.setenv(SWEEP_PID, "head-node-7:4242")
    assert sweep_process() == ("head-node-7", 4242)
    monkeypatch.setenv(SWEEP_PID, f"{socket.gethostname()}:99")
    assert sweep_process() == (socket.gethostname(), 99)
    monkeypatch.delenv(SWEEP_PID)
    assert sweep_process()[1] == os.getpid()


def _run_in_process(tmp_path, name, cfg):
    """One run trained in this process under the command's signal handling -> (its summary
    row as recorded, the epochs in its metrics.csv)."""
    from runner import train
    from runner.interrupts import Interrupted, raising

    ctx = train.RunContext(run_dir=tmp_path / name, ledger=tmp_path / "runs.csv", base_dir=tmp_path)
    with contextlib.suppress(Interrupted), raising():
        train.run(cfg, ctx)
    if not (ctx.run_dir / "metrics.csv").exists():  # stopped before the run had begun
        return None, []
    summary = pd.read_csv(ctx.run_dir / "summary.csv")
    return summary.loc[0], list(pd.read_csv(ctx.run_dir / "metrics.csv")["epoch"])


def test_a_signal_just_after_a_metrics_row_is_written_still_counts_that_row(tmp_path, monkeypatch):
    """The instant that once made the ledger say 400 epochs while metrics.csv held 600: the
    row is flushed and the signal lands before the run has counted it."""
    from runner.records import MetricsWriter

    written = MetricsWriter.write

    def write_then_signal(self, row):
        written(self, row)
        if row["epoch"] == 6:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(MetricsWriter, "write", write_then_signal)
    cfg = compose("trainer.plots=false", "trainer.epochs=50", "trainer.log_every=2")
    row, epochs = _run_in_process(tmp_path, "run", cfg)
    assert row["status"] == "interrupted" and epochs == [0, 2, 4, 6]
    assert row["epochs_done"] == 6


@pytest.mark.faults
def test_the_ledger_row_and_metrics_agree_wherever_a_signal_lands(tmp_path):
    """A stop signal at 60 random instants of a run that logs every epoch: each time the
    recorded epochs_done is the last epoch in metrics.csv."""
    import random
    import threading

    cfg = compose("trainer.plots=false", "trainer.epochs=400", "trainer.log_every=1")
    chance = random.Random(32)
    stopped = 0
    outside = signal.signal(signal.SIGINT, lambda *_: None)  # one landing after a run ended
    try:
        for attempt in range(60):
            delay = chance.uniform(0.0, 0.2)
            timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            try:
                row, epochs = _run_in_process(tmp_path, f"run{attempt}", cfg)
            finally:
                timer.join()
            if row is None:
                continue
            done = None if math.isnan(row["epochs_done"]) else row["epochs_done"]
            assert done == (epochs[-1] if epochs else None), (attempt, delay)
            stopped += row["status"] == "interrupted"
    finally:
        signal.signal(signal.SIGINT, outside)
    assert stopped >= 30  # most signals land while it trains, not before or after
