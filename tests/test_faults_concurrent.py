"""Nothing run twice, nothing lost, under kills and company: random SIGKILLs of a pool sweep
each followed by `--resume`; two `--resume` of one folder at once (one runs it, the other says
who does, or waits with --wait; a stale lock is taken over); two identical sweeps at once (each
job trains once, the other sweep reuses it); a search killed mid-trial resumes to exit 0; two
Optuna processes on one study draw different trials."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli, start_cli

from runner.sweeps import claims, folder_lock

pytestmark = pytest.mark.faults

TINY = ["trainer.epochs=150", "trainer.log_every=50", "data.samples=30", "data.val_samples=15"]
TINY += ["model.width=8"]
HOLD = """
import sys, time
from runner.sweeps import {module}
{call}
print("held", flush=True)
time.sleep(float(sys.argv[1]))
"""


def _ledger(cwd):
    return pd.read_csv(cwd / "outputs" / "runs.csv")


def _rows(cwd):
    """Whole rows in the ledger now (a row is written whole, after its job's summary)."""
    ledger = cwd / "outputs" / "runs.csv"
    return max(ledger.read_bytes().count(b"\n") - 1, 0) if ledger.is_file() else 0


def _summary(sweep_dir):
    return pd.read_csv(sweep_dir / "summary.csv").sort_values("job").reset_index(drop=True)


def _holding(module, call, seconds=60):
    """A process that holds a lock (``call`` in it) until killed; returned once it holds it."""
    code = HOLD.format(module=module, call=call)
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    return process


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# -- the sweep folder's lock and the run keys' claims, in-process ------------------------------


def test_a_held_sweep_folder_is_refused_naming_its_holder(tmp_path):
    holder = _holding("folder_lock", f"folder_lock.hold({str(tmp_path)!r})")
    try:
        with pytest.raises(folder_lock.FolderBusy) as busy:
            folder_lock.hold(tmp_path, wait=False)
        message = str(busy.value)
        assert f"pid {holder.pid} on " in message and "since " in message and "--wait" in message
        assert "\n" not in message
    finally:
        holder.kill()
        holder.wait()


def test_wait_takes_the_folder_once_its_holder_ends(tmp_path):
    holder = _holding("folder_lock", f"folder_lock.hold({str(tmp_path)!r})", seconds=1)
    said = []
    folder_lock.hold(tmp_path, wait=True, say=said.append)
    try:
        assert said[0].startswith("waiting: ") and f"pid {holder.pid}" in said[0]
        assert len(said) == 1  # it let go as it ended: nothing stale to take over
        assert folder_lock.read_holder(tmp_path).pid == os.getpid()
    finally:
        folder_lock.release(tmp_path)
        holder.wait()
    assert folder_lock.read_holder(tmp_path) is None  # let go: no holder named


def test_a_stale_holder_file_is_taken_over_with_a_line(tmp_path):
    dead = _dead_pid()
    (tmp_path / folder_lock.HOLDER).write_text(
        json.dumps({"pid": dead, "host": os.uname().nodename, "since": "2026-01-01 00:00:00"})
    )
    said = []
    folder_lock.hold(tmp_path, say=said.append)
    folder_lock.release(tmp_path)
    assert said == [
        f"note: {tmp_path}: taking over the lock of pid {dead} on {os.uname().nodename} "
        "(since 2026-01-01 00:00:00), which ended without releasing it"
    ]


def test_a_claimed_run_key_is_waited_for_and_then_known_to_be_contended(tmp_path):
    ledger = tmp_path / "runs.csv"
    key = "0123456789abcdef"
    with claims.claimed(ledger, key) as first:
        assert not first.contended  # the key's first claim: no need to read the ledger
    holder = _holding(
        "claims", f"held = claims.claimed({str(ledger)!r}, {key!r}); held.__enter__()", seconds=1
    )
    waited = []
    with claims.claimed(ledger, key, on_wait=waited.append) as second:
        assert second.contended and waited == [second.waited_for]
        assert f"pid {holder.pid} on " in waited[0]
    holder.wait()
    with claims.claimed(ledger, "fedcba9876543210") as other:
        assert not other.contended


def test_search_processes_on_one_study_take_different_worker_numbers(tmp_path):
    from runner.sweeps.search.workers import WorkerSlot

    study = tmp_path / "study.log"
    first, second = WorkerSlot(study), WorkerSlot(study)
    assert (first.number, second.number) == (0, 1)  # seeds mixed with 1: other trials
    assert first.others_active() and second.others_active()
    second.release()
    assert not first.others_active()  # alone again: its closing count is no snapshot
    first.release()
    assert WorkerSlot(study).number == 0


# -- end to end ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_random_sigkills_of_a_pool_sweep_each_resumed_end_with_every_job_ok_once(tmp_path):
    """A 20-job pool sweep killed (SIGKILL of the whole process group) at 3 random points,
    resumed after each: every key ok once in the ledger, metrics bit-identical to an
    uninterrupted sweep's (same seeds, same code: a resumed job is trained from scratch)."""
    jobs = ["-m", *TINY, "seed=range(0,20)", "hydra.launcher.n_jobs=2"]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    killed.mkdir()
    whole.mkdir()
    chance = random.Random(32)
    sweep_dir = killed / "outputs" / "sweeps" / "s"
    command = [*jobs, "hydra.sweep.dir=outputs/sweeps/s"]
    kills = 0
    for target in sorted(chance.sample(range(2, 18), 3)):
        process = start_cli(killed, *command)
        deadline = time.monotonic() + 60
        while _rows(killed) < target and process.poll() is None:
            assert time.monotonic() < deadline, "the sweep did not get going"
            time.sleep(0.01)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            kills += 1
        process.communicate()
        command = ["--resume", "outputs/sweeps/s"]
    finished = run_cli(killed, *command)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert kills >= 2  # most of the kills landed mid-sweep

    runs = _ledger(killed)
    ok = runs[runs.status == "ok"]
    assert len(ok) == 20 and ok.run_key.is_unique  # every job ok, exactly once
    assert set(runs.status) <= {"ok", "interrupted"}
    summary = _summary(sweep_dir)
    assert list(summary.job) == list(range(20)) and set(summary.status) == {"ok"}

    assert run_cli(whole, *jobs).returncode == 0
    reference = _ledger(whole).set_index("run_key").sort_index()
    mine = ok.set_index("run_key").sort_index()
    assert list(mine.index) == list(reference.index)
    for column in ("val_loss", "train_loss", "train_accuracy", "val_accuracy"):
        np.testing.assert_array_equal(mine[column], reference[column])


def _stopped_sweep(cwd, jobs):
    """A sweep stopped by runner.max_failures at its first job: every other job interrupted."""
    result = run_cli(
        cwd,
        "-m",
        *TINY,
        f"seed=range(0,{jobs})",
        "model.width=0",
        "runner.max_failures=1",
        "hydra.launcher.n_jobs=1",
        "hydra.sweep.dir=outputs/sweeps/s",
    )
    assert result.returncode == 3, result.stderr[-3000:]
    return cwd / "outputs" / "sweeps" / "s"


@pytest.mark.slow
def test_two_resumes_of_one_folder_at_once_run_it_once(tmp_path):
    sweep_dir = _stopped_sweep(tmp_path, 10)
    resume = ["--resume", "outputs/sweeps/s", "runner.max_failures=null", "model.width=8"]
    # long enough (10 jobs of 10000 epochs) that the others start while it runs, even under load
    first = start_cli(tmp_path, *resume, "hydra.launcher.n_jobs=1", "trainer.epochs=10000")
    deadline = time.monotonic() + 60
    while not (sweep_dir / folder_lock.HOLDER).exists():
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.01)

    second = run_cli(tmp_path, *resume, "hydra.launcher.n_jobs=1", "trainer.epochs=10000")
    waiting = start_cli(
        tmp_path, *resume, "--wait", "hydra.launcher.n_jobs=1", "trainer.epochs=10000"
    )
    out, err = first.communicate(timeout=120)
    waited_out, waited_err = waiting.communicate(timeout=120)

    assert first.returncode == 0, err[-3000:]
    assert second.returncode == 2, second.stderr[-3000:]
    (line,) = [line for line in second.stderr.splitlines() if line.strip()]
    assert line.startswith("error: ") and f"being run by pid {first.pid} on " in line
    assert "since " in line and "--wait" in line
    assert waiting.returncode == 0, waited_err[-3000:]
    assert "waiting: " in waited_out + waited_err
    runs = _ledger(tmp_path)
    ok = runs[runs.status == "ok"]
    assert len(ok) == 10 and ok.run_key.is_unique  # no job trained twice
    assert len(runs) == 20  # the stopped sweep's 10 rows, then one ok row per job
    assert set(_summary(sweep_dir).status) == {"ok"}


@pytest.mark.slow
def test_two_identical_sweeps_at_once_train_every_job_once(tmp_path):
    sweep = ["-m", *TINY, "seed=range(0,12)", "hydra.launcher.n_jobs=2"]
    both = [start_cli(tmp_path, *sweep) for _ in range(2)]
    for process in both:
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err[-3000:]
    runs = _ledger(tmp_path)
    assert len(runs) == 12 and set(runs.status) == {"ok"} and runs.run_key.is_unique
    summaries = [_summary(d) for d in sorted((tmp_path / "outputs" / "sweeps").glob("*/*"))]
    assert len(summaries) == 2
    for summary in summaries:
        assert list(summary.status) == ["ok"] * 12
    trained = sum(summary.reused_from.isna().sum() for summary in summaries)
    assert trained == 12  # each job trained by one sweep, reused by the other
    assert list(summaries[0].run_key) == list(summaries[1].run_key)


SEARCH = [
    "hparams_search=spiral_optuna",
    "data.samples=30",
    "data.val_samples=30",
    "trainer.log_every=50",
]


@pytest.mark.slow
def test_a_search_killed_mid_trial_resumes_to_exit_0(tmp_path):
    pytest.importorskip("optuna", reason="the [optuna] extra is not installed")
    process = start_cli(
        tmp_path,
        *SEARCH,
        "trainer.epochs=1500",
        "hydra.sweeper.n_trials=4",
        "hydra.sweep.dir=outputs/sweeps/s",
    )
    deadline = time.monotonic() + 90
    while _rows(tmp_path) < 1 or not list(Path(tmp_path).glob("outputs/sweeps/s/1/metrics.csv")):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    assert _rows(tmp_path) == 1  # trial 1 was cut off mid-run

    resumed = run_cli(tmp_path, "--resume", "outputs/sweeps/s")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "1 interrupted" in resumed.stdout
    assert "sweep: 4 jobs (4 ok)" in resumed.stdout
    again = run_cli(tmp_path, "--resume", "outputs/sweeps/s")
    assert again.returncode == 0, again.stderr[-3000:]  # a "resume until done" loop ends
    assert "0 more" in again.stdout
    runs = _ledger(tmp_path)
    assert list(runs.status) == ["ok"] * 4 and runs.run_key.is_unique
    assert (tmp_path / "outputs" / "sweeps" / "s" / "1" / "attempts" / "1").is_dir()


OPEN_AT = """
import sys, time
from runner.sweeps.search.study import Location, open_storage
while time.time() < float(sys.argv[2]):
    pass
open_storage(Location("rdb", sys.argv[1], "s"))
"""


@pytest.mark.slow
def test_processes_opening_one_new_sqlite_study_at_the_same_instant_all_open_it(tmp_path):
    """Each SQLite race CI met once: the WAL switch ("database is locked" at once) and the
    schema version stamped twice (``UNIQUE constraint failed: alembic_version``)."""
    pytest.importorskip("optuna")
    for round_ in range(6):
        url = f"sqlite:///{tmp_path / f'{round_}.db'}"
        at = str(time.time() + 1.0)  # after every interpreter has started
        opening = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT, url, at], stderr=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        for process in opening:
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["sqlite:///s.db", "s.log"])
def test_two_search_processes_on_one_new_study_propose_different_trials(tmp_path, storage):
    """Both started at once: 16 distinct trials. A third searcher of the study stands in as a
    worker lock the test holds (number 7, so the two still take 0 and 1): each process's
    closing count says it is a snapshot. Without it, whether the first to finish sees the
    other still searching is a race of their last trials."""
    optuna = pytest.importorskip("optuna")
    from filelock import FileLock

    from runner.sweeps.search import workers

    study_file = tmp_path / ("s.db" if storage.startswith("sqlite") else "s.log")
    third = FileLock(str(workers._lock_path(study_file, 7)), thread_local=False)
    third.acquire(timeout=0)
    search = [
        *SEARCH,
        "trainer.epochs=30",
        "hydra.sweeper.n_trials=8",
        f"hydra.sweeper.storage={storage}",
        "hydra/sweeper/sampler=random",
    ]
    both = [start_cli(tmp_path, *search) for _ in range(2)]
    try:
        outputs = [process.communicate(timeout=180) for process in both]
    finally:
        third.release()
    for process, (out, err) in zip(both, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
        assert "already exists" not in err
        (count,) = [line for line in out.splitlines() if line.startswith("search: ")]
        assert "; a snapshot: another process is still searching this study" in count
    if storage.startswith("sqlite"):
        opened = f"sqlite:///{tmp_path / 's.db'}"
    else:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        opened = JournalStorage(JournalFileBackend(str(tmp_path / "s.log")))
    study = optuna.load_study(study_name="spiral_optuna", storage=opened)
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(params) == 16 and len(set(params)) == 16
    assert len(_ledger(tmp_path)) == 16
