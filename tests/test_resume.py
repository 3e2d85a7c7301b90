"""Nothing run twice: sweeps skip jobs whose run_key is ok in the ledger, resume by folder after
a SIGKILL, extend with new values, list what they would do, stop after N failures, and refuse a
folder they cannot resume in one line without touching it."""

import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli, start_cli

TINY = ["trainer.epochs=20", "data.samples=20", "data.val_samples=10", "model.width=8"]


def _ledger(tmp_path):
    return pd.read_csv(tmp_path / "outputs" / "runs.csv")


def _sweeps(tmp_path):
    return sorted((tmp_path / "outputs" / "sweeps").glob("*/*"))


def _summary(sweep_dir):
    return pd.read_csv(sweep_dir / "summary.csv").sort_values("job").reset_index(drop=True)


def _tree(folder):
    """Every file below ``folder`` with its content: to show that nothing was written."""
    return {p: p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_the_same_sweep_twice_trains_nothing_the_second_time(tmp_path):
    sweep = ["-m", *TINY, "seed=0,1,2", "hydra.launcher.n_jobs=1"]
    assert run_cli(tmp_path, *sweep).returncode == 0
    first = _ledger(tmp_path)
    second = run_cli(tmp_path, *sweep)
    assert second.returncode == 0
    assert "3 of them done before and not run again" in second.stdout
    assert len(_ledger(tmp_path)) == 3  # no row added: nothing was run
    old, new = (_summary(d) for d in _sweeps(tmp_path))
    assert list(new.status) == ["ok"] * 3
    assert list(new.reused_from) == list(old.run_dir) == list(new.run_dir)
    assert list(new.run_key) == list(first.run_key)
    assert np.array_equal(new.val_loss, old.val_loss)
    assert list(new.sweep_dir.unique()) == [str(_sweeps(tmp_path)[1])]
    job_files = {p.name for p in (_sweeps(tmp_path)[1] / "0").iterdir()}
    assert "summary.csv" in job_files and not {"metrics.csv", "params.npz"} & job_files


@pytest.mark.parametrize("launcher", ["pool", "basic"])
def test_a_deleted_sweep_run_again_into_the_same_folder_trains_again(tmp_path, launcher):
    """The ledger still names the deleted runs' folders, and the launcher makes each job's
    folder again before the job looks itself up: an empty folder is no run to point at."""
    chosen = [] if launcher == "pool" else ["hydra/launcher=basic"]
    sweep = ["-m", *TINY, "seed=0,1", *chosen, f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    assert run_cli(tmp_path, *sweep).returncode == 0
    shutil.rmtree(tmp_path / "sweep")
    again = run_cli(tmp_path, *sweep)
    assert again.returncode == 0, again.stderr
    assert "not run again" not in again.stdout + again.stderr
    runs = _ledger(tmp_path)
    assert len(runs) == 4 and runs.run_key.value_counts().tolist() == [2, 2]
    for job in ("0", "1"):
        files = {p.name for p in (tmp_path / "sweep" / job).iterdir()}
        assert {"metrics.csv", "params.npz", "summary.csv"} <= files


@pytest.mark.slow
def test_extending_a_sweep_runs_only_the_new_values(tmp_path):
    assert run_cli(tmp_path, "-m", *TINY, "seed=range(0,3)").returncode == 0
    result = run_cli(tmp_path, "-m", *TINY, "seed=range(0,5)")
    assert result.returncode == 0, result.stderr
    runs = _ledger(tmp_path)
    assert len(runs) == 5 and runs.run_key.is_unique
    summary = _summary(_sweeps(tmp_path)[1])
    assert list(summary.reused_from.notna()) == [True, True, True, False, False]
    assert list(summary.seed) == [0, 1, 2, 3, 4]


@pytest.mark.slow
def test_resume_modes_decide_what_runs_again(tmp_path):
    sweep = ["-m", *TINY, "model.width=0,8", "hydra.launcher.n_jobs=1"]  # width 0 fails
    assert run_cli(tmp_path, *sweep).returncode == 1
    assert run_cli(tmp_path, *sweep).returncode == 1  # auto: the failed job runs again
    runs = _ledger(tmp_path)
    assert list(runs.status) == ["failed", "ok", "failed"]
    assert run_cli(tmp_path, *sweep, "runner.resume=all").returncode == 1  # nothing runs
    assert len(_ledger(tmp_path)) == 3
    assert list(_summary(_sweeps(tmp_path)[-1]).reused_from.notna()) == [True, True]
    assert run_cli(tmp_path, *sweep, "runner.resume=never").returncode == 1  # everything runs
    assert len(_ledger(tmp_path)) == 5


@pytest.mark.slow
def test_a_single_run_is_skipped_only_when_asked(tmp_path):
    assert run_cli(tmp_path, *TINY).returncode == 0
    assert run_cli(tmp_path, *TINY).returncode == 0  # run again: a single run always runs
    assert len(_ledger(tmp_path)) == 2
    asked = run_cli(tmp_path, *TINY, "runner.resume=auto")
    assert asked.returncode == 0 and "not run again" in asked.stdout
    assert len(_ledger(tmp_path)) == 2
    assert len(list((tmp_path / "outputs" / "runs").glob("*/*"))) == 2  # no folder made


@pytest.mark.slow
def test_a_sweep_killed_with_sigkill_resumes_to_what_an_uninterrupted_one_gives(tmp_path):
    jobs = ["-m", "trainer.epochs=2000", "seed=range(0,20)", "hydra.launcher.n_jobs=2"]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    killed.mkdir()
    whole.mkdir()
    process = start_cli(killed, *jobs)
    deadline = time.monotonic() + 120
    ledger = killed / "outputs" / "runs.csv"  # a job's ledger row comes after its summary.csv
    while not ledger.is_file() or ledger.read_bytes().count(b"\n") < 1 + 8:  # whole rows
        assert time.monotonic() < deadline and process.poll() is None, "the sweep did not get going"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    before = _ledger(killed)
    done = set(before.run_key[before.status == "ok"])
    assert 8 <= len(done) < 20
    [sweep_dir] = _sweeps(killed)

    resumed = run_cli(killed, "--resume", str(sweep_dir.relative_to(killed)))
    assert resumed.returncode == 0, resumed.stderr
    runs = _ledger(killed)
    ok = runs[runs.status == "ok"]
    assert ok.run_key.is_unique and len(ok) == 20  # one ok row per key, none twice
    added = runs.iloc[len(before) :]
    assert set(added.run_key).isdisjoint(done) and len(added) == 20 - len(done)
    summary = _summary(sweep_dir)
    assert list(summary.job) == list(range(20)) and set(summary.status) == {"ok"}
    assert _sweeps(killed) == [sweep_dir]  # resumed in place

    assert run_cli(whole, *jobs).returncode == 0
    reference = _summary(_sweeps(whole)[0])
    assert list(reference.run_key) == list(summary.run_key)
    np.testing.assert_allclose(summary.val_loss, reference.val_loss, rtol=1e-6)
    np.testing.assert_allclose(summary.train_accuracy, reference.train_accuracy, rtol=1e-6)


@pytest.mark.slow
def test_a_rerun_in_place_keeps_the_earlier_attempt(tmp_path):
    sweep = ["-m", *TINY, "model.width=0,8", "hydra.launcher.n_jobs=1"]
    assert run_cli(tmp_path, *sweep).returncode == 1
    [sweep_dir] = _sweeps(tmp_path)
    failed = (sweep_dir / "0" / "summary.csv").read_bytes()
    assert run_cli(tmp_path, "--resume", str(sweep_dir)).returncode == 1
    assert (sweep_dir / "0" / "attempts" / "1" / "summary.csv").read_bytes() == failed
    assert list(_ledger(tmp_path).status) == ["failed", "ok", "failed"]


@pytest.mark.slow
def test_editing_one_cell_of_a_csv_changes_the_key_of_every_run_on_it(tmp_path):
    rows = "x1,x2,label\n" + "".join(f"{i / 10},{(i * 7) % 5},{i % 2}\n" for i in range(40))
    (tmp_path / "d.csv").write_text(rows)
    sweep = [
        "-m",
        "data=csv",
        "data.path=d.csv",
        "data.target=label",
        "trainer.epochs=5",
        "seed=0,1",
    ]
    assert run_cli(tmp_path, *sweep).returncode == 0
    assert run_cli(tmp_path, *sweep).returncode == 0  # unchanged file: nothing runs
    assert len(_ledger(tmp_path)) == 2
    (tmp_path / "d.csv").write_text(rows.replace("\n0.3,1,1\n", "\n0.3,1,0\n"))
    assert run_cli(tmp_path, *sweep).returncode == 0
    runs = _ledger(tmp_path)
    assert len(runs) == 4 and runs.run_key.is_unique  # both ran again, under new keys


@pytest.mark.slow
def test_a_dry_run_lists_jobs_and_writes_nothing(tmp_path):
    assert run_cli(tmp_path, "-m", *TINY, "seed=0,1").returncode == 0
    before = _tree(tmp_path / "outputs")
    result = run_cli(tmp_path, "-m", *TINY, "seed=0,1,2", "runner.dry_run=true")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "3 jobs: 1 would run, 2 would be skipped as done" in lines[0]
    assert lines[1] == "grid: seed 3 = 3 jobs"
    assert [line.split()[2] for line in lines[2:]] == ["skip", "skip", "run"]
    assert _tree(tmp_path / "outputs") == before


@pytest.mark.slow
def test_max_failures_stops_launching_and_records_the_rest(tmp_path):
    widths = "model.width=0,0,8,8,8"
    result = run_cli(
        tmp_path, "-m", *TINY, widths, "runner.max_failures=2", "hydra.launcher.n_jobs=1"
    )
    assert result.returncode == 3  # jobs interrupted: --resume finishes the sweep
    summary = _summary(_sweeps(tmp_path)[0])
    assert list(summary.status) == ["failed", "failed"] + ["interrupted"] * 3
    assert summary.message[2:].str.contains("runner.max_failures=2 reached").all()
    assert summary.message[2:].str.contains("before this job started").all()
    # resumed, the failed jobs fail again; without the limit the rest run now
    resumed = run_cli(tmp_path, "--resume", str(_sweeps(tmp_path)[0]), "runner.max_failures=null")
    assert list(_summary(_sweeps(tmp_path)[0]).status) == ["failed", "failed", "ok", "ok", "ok"]
    assert resumed.returncode == 1


@pytest.mark.slow
def test_resume_refuses_in_one_line_and_touches_nothing(tmp_path):
    assert run_cli(tmp_path, "-m", *TINY, "model=dense2,dense3").returncode == 0
    [sweep_dir] = _sweeps(tmp_path)
    for folder, expected in [
        (tmp_path / "outputs", "not a sweep folder"),
        (sweep_dir / "0", "one job's or one run's folder"),
        (tmp_path / "nowhere", "no such folder"),
    ]:
        result = run_cli(tmp_path, "--resume", str(folder))
        assert result.returncode == 2 and "Traceback" not in result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"error: --resume {folder}: ") and expected in line
    saved = sweep_dir / "multirun.yaml"
    saved.write_text(saved.read_text().replace("model=dense2,dense3", "model=dense2,dense9"))
    before = _tree(tmp_path / "outputs")
    result = run_cli(tmp_path, "--resume", str(sweep_dir))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "model=dense2,dense9 no longer composes" in line and "dense9" in line
    assert "available: dense2, dense3" in line and str(sweep_dir) in line
    assert _tree(tmp_path / "outputs") == before


@pytest.mark.slow
def test_runs_of_an_earlier_version_are_recognised_from_their_saved_config(tmp_path):
    for seed in (0, 1):
        assert run_cli(tmp_path, *TINY, f"seed={seed}").returncode == 0
    ledger = tmp_path / "outputs" / "runs.csv"
    runs = pd.read_csv(ledger, dtype=str, keep_default_na=False)
    runs.drop(columns=["run_key", "reused_from"]).to_csv(ledger, index=False)
    result = run_cli(tmp_path, "-m", *TINY, "seed=0,1,2")
    assert result.returncode == 0, result.stderr
    assert "run_key filled in for 2 runs" in result.stdout
    assert len(_ledger(tmp_path)) == 3  # seeds 0 and 1 were recognised, only 2 ran


@pytest.mark.parametrize(
    "bad, expected",
    [
        ("runner.resume=sometimes", "runner.resume=sometimes: choose one of: auto, never, all"),
        (
            "runner.max_failures=0",
            "runner.max_failures=0: must be a positive integer or null (never stop)",
        ),
        (
            "runner.dry_run=maybe",
            "runner.dry_run=maybe: must be true, false or all (every job's line)",
        ),
    ],
)
def test_bad_runner_settings_are_one_line_and_write_nothing(tmp_path, bad, expected):
    for mode in (["-m", "seed=0,1"], []):
        result = run_cli(tmp_path, *mode, *TINY, bad)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [f"error: {expected}"]
    assert not (tmp_path / "outputs").exists()
