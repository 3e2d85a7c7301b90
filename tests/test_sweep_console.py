"""What a sweep shows on the console: a bounded progress report under every launcher, a dry run
that shows a grid's shape rather than every job, a closing table and failure list within the
terminal's width (regression sweeps in RMSE and R²), plurals, and the exit code of its end."""

import os

import pandas as pd
import pytest
from conftest import run_cli

from runner.sweeps import closing, summary
from runner.sweeps.dry_run import elided, shape
from runner.sweeps.progress import SweepProgress
from runner.text import counted

TINY = ("trainer.epochs=20", "trainer.log_every=10", "data.samples=20", "trainer.plots=false")
WIDE = {**os.environ, "COLUMNS": "100"}  # as in a pipe, whatever the test runner's terminal


def _jobs(task, n_groups=2, seeds=3, **extra):
    """Sweep summary rows made by hand: ``n_groups`` widths x ``seeds`` seeds, all ok."""
    rows = []
    for g in range(n_groups):
        for seed in range(seeds):
            row = {
                "job": len(rows),
                "status": "ok",
                "model.width": 8 * (g + 1),
                "seed": seed,
                "overrides": f"model.width={8 * (g + 1)} seed={seed}",
                "val_loss": 0.5 - 0.1 * g + 0.01 * seed,
                "seconds": 1.0,
                "loss": "mse" if task == "regression" else "categorical_crossentropy",
            }
            if task == "regression":
                row |= {"val_rmse": 0.7 - 0.1 * g, "val_mae": 0.5, "val_r2": 0.6 + 0.1 * g}
                row |= {"val_accuracy": None, "train_accuracy": None}
            else:
                row |= {"val_accuracy": 0.8 + 0.05 * g, "val_rmse": None, "val_r2": None}
            rows.append({**row, **extra})
    return pd.DataFrame(rows)


# item 16: the time left


def test_a_reused_job_gives_no_time_left_and_a_run_one_does(capsys):
    progress = SweepProgress(interactive=False)
    progress.add(4)
    progress.finished(0, "ok", reused=True)
    progress.finished(1, "ok", reused=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("jobs 1/4: 1 ok; ") and "left" not in lines[0]
    assert "left" not in lines[1]
    progress.finished(2, "ok")
    assert "s left" in capsys.readouterr().out  # one job ran: now there is a rate
    progress.finished(3, "reused")  # Ray's name for it
    assert progress.reused == 3


def test_a_stopped_job_is_named_once_with_its_reason_not_its_status_twice(capsys):
    progress = SweepProgress(interactive=False)
    progress.add(2)
    progress.finished(0, "interrupted", "interrupted: the sweep was stopped (SIGINT)")
    progress.finished(1, "failed", "model.width=0: must be a positive integer")
    said = capsys.readouterr()
    text = said.out + said.err
    assert "job 0: interrupted: the sweep was stopped (SIGINT)" in text
    assert "interrupted: interrupted" not in text
    assert "job 1: failed: model.width=0: must be a positive integer" in text


# item 14: widths and plurals


def test_plurals():
    assert [counted(n, "job") for n in (0, 1, 2)] == ["0 jobs", "1 job", "2 jobs"]
    assert counted(1, "more group") == "1 more group" and counted(11, "more job") == "11 more jobs"


def test_failed_jobs_fit_the_width_with_the_message_last_and_cut():
    jobs = _jobs("classification", n_groups=1, seeds=14)
    jobs["overrides"] = [f"model.width=8 seed={s} " + "data.path=" + "x" * 200 for s in jobs.seed]
    jobs["status"] = "failed"
    jobs["message"] = "model.layers.0.units=0: must be a positive integer " + "y" * 300
    text = closing.not_ok(jobs, jobs, width=60)
    lines = text.splitlines()
    assert len(lines) == 11 and max(map(len, lines)) <= 60
    assert all(line.endswith("…") for line in lines[:10])
    assert "seed=3" in lines[3] and ": model.layers" in lines[3]  # the message after the label
    assert lines[-1] == "  ... and 4 more jobs (status and message in summary.csv)"
    one_more = closing.not_ok(jobs.head(11), jobs.head(11), width=60).splitlines()[-1]
    assert "and 1 more job (" in one_more


def test_the_closing_lines_fit_a_narrow_terminal_and_say_1_job(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "70")
    jobs = _jobs("classification", n_groups=1, seeds=1)
    summary._best(jobs, tmp_path / "summary.csv", top=10)
    headline = summary._headline(jobs, "outputs/sweeps/2026-12-07/00-13-15-417461/summary.csv")
    out = capsys.readouterr().out
    assert max(len(line) for line in (out + headline).splitlines()) <= 70
    assert "sweep: 1 job (1 ok)\nsummary: outputs/sweeps/" in headline


# item 4, the sweep side: a regression sweep's closing table


def test_a_regression_sweep_closes_with_rmse_and_r2_never_accuracy(tmp_path, capsys):
    jobs = _jobs("regression")
    assert closing.task_of_jobs(jobs) == "regression"
    summary._best(jobs, tmp_path / "summary.csv", top=10)
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["width", "runs", "val_loss"]
    assert "val_rmse" in header and "val_r2" in header and "accuracy" not in header
    assert rows[0].split()[0] == "16"  # the lower val_loss first
    best = rows[0].split()
    assert best[header.split().index("val_rmse") + 2] == "0.6"  # "±" and its width shift by 2
    assert best[header.split().index("val_r2") + 2] == "0.7"


def test_a_classification_sweep_still_closes_with_accuracy(tmp_path, capsys):
    jobs = _jobs("classification")
    assert closing.task_of_jobs(jobs) == "classification"
    summary._best(jobs, tmp_path / "summary.csv", top=10)
    header = capsys.readouterr().out.splitlines()[0]
    assert "val_accuracy" in header and "rmse" not in header and "r2" not in header


# item 15: a sweep's exit code


@pytest.mark.parametrize(
    "statuses, code",
    [
        (["ok", "ok"], 0),
        (["ok", "pruned"], 0),
        (["ok", "diverged"], 1),
        (["failed", "ok"], 1),
        (["failed", "interrupted"], 3),
        (["ok", "not_started"], 3),
    ],
)
def test_the_exit_code_of_a_sweeps_end(statuses, code):
    assert summary.exit_code(pd.DataFrame({"status": statuses})) == code


def test_a_sweep_stopped_by_max_failures_exits_3_and_a_finished_one_0(tmp_path):
    widths = "model.width=0,0,8,8"
    result = run_cli(
        tmp_path, "-m", *TINY, widths, "runner.max_failures=2", "hydra.launcher.n_jobs=1"
    )
    assert result.returncode == 3, result.stderr
    assert "2 failed, 2 interrupted" in result.stdout or "2 interrupted, 2 failed" in result.stdout
    (sweep_dir,) = tmp_path.glob("outputs/sweeps/*/*")
    assert run_cli(tmp_path, "--resume", str(sweep_dir), "runner.max_failures=null").returncode == 1
    assert run_cli(tmp_path, "-m", *TINY, "seed=0,1").returncode == 0


# item 13: a dry run's shape, joblib's console


def test_a_dry_run_shows_the_shape_and_the_ends_of_the_grid(tmp_path):
    grid = ("-m", *TINY, "model=dense2,dense3", "seed=range(0,60)")
    assert run_cli(tmp_path, "-m", *TINY, "model=dense2", "seed=0,1").returncode == 0
    result = run_cli(tmp_path, *grid, "runner.dry_run=true")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 + 5 + 1 + 5  # counts, shape, the first five, "...", the last five
    assert "120 jobs: 118 would run, 2 would be skipped as done" in lines[0]
    assert lines[1] == "grid: model 2 x seed 60 = 120 jobs"
    assert lines[2].split()[:3] == ["job", "0", "skip"] and lines[6].split()[:2] == ["job", "4"]
    assert lines[7] == "  ... 110 more jobs (runner.dry_run=all lists every one)"
    assert lines[-1].split()[:3] == ["job", "119", "run"]
    every = run_cli(tmp_path, *grid, "runner.dry_run=all")
    assert every.returncode == 0 and len(every.stdout.splitlines()) == 2 + 120
    assert not list(tmp_path.glob("outputs/sweeps/*/*/summary.csv"))[1:]  # only the first sweep


def test_shape_and_elision_by_hand():
    jobs = [["model=a", "seed=0"], ["model=a", "seed=1"], ["model=b", "seed=0"]]
    assert shape(jobs) == "seed 2 x model 2 = 3 jobs" or shape(jobs) == "model 2 x seed 2 = 3 jobs"
    assert shape([["seed=0"]]) == "one job = 1 job"
    assert elided(list("abcdefghijk")) == list("abcdefghijk")  # 11: nothing to leave out
    assert len(elided(list("abcdefghijkl"))) == 11


def test_joblib_shows_one_progress_report_and_each_job_logs_to_its_folder(tmp_path):
    result = run_cli(
        tmp_path,
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "seed=0,1,2,3",
        "model.width=8,0",
        *TINY,
        env=WIDE,
    )
    assert result.returncode == 1, result.stderr
    out, err = result.stdout.splitlines(), result.stderr.splitlines()
    assert [line.split(":")[0] for line in out[:8]] == [f"jobs {n}/8" for n in range(1, 9)]
    assert out[8:10] == ["", "sweep: 8 jobs (4 ok, 4 failed); summary: " + out[9].split()[-1]]
    assert len(out) <= 8 + 2 + 3  # the progress, the sweep line, a table of one group
    assert not any("[HYDRA]" in line or line.startswith("epoch") for line in out + err)
    assert len(err) == 4 + 2 + 4  # 4 failures named as they happen, a blank and a title, 4 listed
    (sweep_dir,) = tmp_path.glob("outputs/sweeps/*/*")
    for job in range(8):
        log = (sweep_dir / str(job) / "job.log").read_text()
        assert ("epoch 20/20" in log) == (job % 2 == 0), (job, log)
