"""The installed command, run for real in a subprocess in a fresh folder."""

import os

import pandas as pd
import pytest
from conftest import run_cli, start_cli

FAST = ("trainer.epochs=30", "trainer.log_every=10", "trainer.plots=false")


def _one(path, pattern):
    found = list(path.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def test_single_run_writes_its_folder_and_ledger_row(tmp_path):
    result = run_cli(tmp_path, "model=dense2", "data=spiral", *FAST)
    assert result.returncode == 0, result.stderr
    run_dir = _one(tmp_path, "outputs/runs/*/*")
    for name in ("metrics.csv", "summary.csv", "params.npz", ".hydra/config.yaml"):
        assert (run_dir / name).is_file(), name
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert len(ledger) == 1 and ledger.loc[0, "status"] == "ok"
    assert ledger.loc[0, "overrides"] == "model=dense2 data=spiral " + " ".join(FAST)
    assert (ledger.loc[0, "model"], ledger.loc[0, "data"]) == ("dense2", "spiral")
    assert "val_accuracy" in result.stdout and str(run_dir.relative_to(tmp_path)) in result.stdout


def test_forward_only(tmp_path):
    result = run_cli(tmp_path, "trainer.epochs=0", "trainer.plots=false")
    assert result.returncode == 0, result.stderr
    metrics = pd.read_csv(_one(tmp_path, "outputs/runs/*/*/metrics.csv"))
    assert list(metrics["epoch"]) == [0]


def test_sweep_records_every_job(tmp_path):
    result = run_cli(tmp_path, "-m", "model=dense2,dense3", "seed=0,1,2", *FAST)
    assert result.returncode == 0, result.stderr
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert len(ledger) == 6 and set(ledger["status"]) == {"ok"}
    sweep_dir = _one(tmp_path, "outputs/sweeps/*/*")
    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert sorted(summary["job"]) == list(range(6))
    assert sorted(summary["run_id"]) == sorted(ledger["run_id"])
    assert len({*summary["run_dir"]}) == 6
    assert "dense3" in result.stdout and "summary" in result.stdout


def test_failed_job_does_not_lose_the_others(tmp_path):
    wide = {**os.environ, "COLUMNS": "100"}  # the messages are cut at the terminal's width
    result = run_cli(tmp_path, "-m", "model.width=8,0,16", *FAST, env=wide)
    assert result.returncode == 1
    assert (
        "model.width=0" in result.stderr
        and "model.layers.0.units=0: must be a positive integer" in result.stderr
    )
    assert "Traceback" not in result.stderr
    summary = pd.read_csv(_one(tmp_path, "outputs/sweeps/*/*/summary.csv"))
    assert list(summary.sort_values("job")["status"]) == ["ok", "failed", "ok"]
    assert len(pd.read_csv(tmp_path / "outputs" / "runs.csv")) == 3


def test_sweep_declared_in_an_experiment_file(tmp_path):
    result = run_cli(
        tmp_path, "-m", "experiment=spiral_width_sweep", "trainer.epochs=5", "trainer.plots=false"
    )
    assert result.returncode == 0, result.stderr
    summary = pd.read_csv(_one(tmp_path, "outputs/sweeps/*/*/summary.csv"))
    assert len(summary) == 12
    assert sorted(set(summary["model.width"])) == [16, 32, 64, 128]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["model=dense9"],
            "no option 'dense9' in config group 'model'; did you mean dense4, dense3, dense2? "
            "available: dense2, dense3",
        ),
        (["modle=dense2"], "modle: no such key in this config; did you mean model? (python"),
        (
            ["trainer.epoch=5"],
            "trainer.epoch: no such key in this config; did you mean trainer.epochs?",
        ),
        (
            ["model.layers.0.activation=relux"],
            "model.layers.0.activation=relux: unknown activation; choose one of:",
        ),
        (["loss=mse"], "loss=mse: needs a regression target but data=spiral has class labels"),
        (["optimizer.learning_rate=abc"], "optimizer.learning_rate=abc: must be a number"),
        (["trainer.epochs=-1"], "trainer.epochs=-1: must be an integer >= 0"),
        (["data=csv", "data.path=none.csv", "data.target=y"], "data.path=none.csv: no such file"),
        (["data.folds=3"], "data.folds: no such key in this config (python -m runner --help"),
        (["+data.folds=3"], "data.folds=3: not an option of data=spiral; choose from: samples"),
    ],
)
def test_mistakes_end_with_one_clear_message(tmp_path, args, message):
    """A mistake in the config or the overrides exits 2 (a run that fails exits 1)."""
    result = run_cli(tmp_path, *FAST, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout


def test_exit_codes_tell_a_failed_run_from_a_mistake(tmp_path):
    """README's table: 1 a run that failed or diverged, 2 a mistake in the config or usage."""
    diverged = run_cli(tmp_path, *FAST, "optimizer=sgd", "optimizer.learning_rate=1e9")
    assert diverged.returncode == 1 and "diverged after 10 epochs" in diverged.stderr
    mistake = run_cli(tmp_path, *FAST, "optimizer.learning_rate=-1")
    assert mistake.returncode == 2
    assert mistake.stderr == "error: optimizer.learning_rate=-1: must be a number > 0\n"
    resumed = run_cli(tmp_path, "--resume", "nowhere")
    assert resumed.returncode == 2 and "error: --resume nowhere: no such folder" in resumed.stderr
    swept = run_cli(tmp_path, "-m", "seed=0,1", "trainer.epoch=3")
    assert swept.returncode == 2 and "did you mean trainer.epochs?" in swept.stderr
    assert "Traceback" not in diverged.stderr + mistake.stderr + resumed.stderr + swept.stderr


def test_mistake_keeps_its_ledger_row(tmp_path):
    run_cli(tmp_path, *FAST)
    run_cli(tmp_path, *FAST, "optimizer.learning_rate=-1")
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert list(ledger["status"]) == ["ok", "failed"]


def test_same_seed_same_metrics_across_processes(tmp_path):
    for _ in range(2):
        assert run_cli(tmp_path, "seed=3", "trainer.batch_size=64", *FAST).returncode == 0
    first, second = sorted(tmp_path.glob("outputs/runs/*/*/metrics.csv"))
    columns = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(pd.read_csv(first)[columns], pd.read_csv(second)[columns])


def test_compare_on_real_runs_including_a_failed_one(tmp_path):
    assert run_cli(tmp_path, "-m", "model=linear,dense2", "seed=0,1", *FAST).returncode == 0
    run_cli(tmp_path, "model=dense2", "seed=2", "optimizer.learning_rate=-1", *FAST)
    result = run_cli(tmp_path, "--by", "model", "--out", "table.csv", module="runner.compare")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "table.csv")
    assert sorted(table["model"]) == ["dense2", "linear"]
    assert table["val_loss_mean"].is_monotonic_increasing  # best first by the objective, val_loss
    assert list(table["n"]) == [2, 2]
    assert "not averaged: 1 run did not finish ok" in result.stdout
    assert "model=dense2 seed=2 optimizer.learning_" in result.stdout  # cut at the terminal's width


def _interrupt_when_logged(process, metrics_glob, cwd, rows=3, timeout=60, files=1):
    import signal
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in cwd.glob(metrics_glob) if len(p.read_text().splitlines()) > rows]
        if len(found) >= files:
            break
        time.sleep(0.05)
    else:
        process.kill()
        raise AssertionError("the run never logged")
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=60)


def test_ctrl_c_keeps_rows_records_interrupted_and_exits_non_zero(tmp_path):
    process = start_cli(
        tmp_path, "trainer.epochs=100000000", "trainer.log_every=200", "trainer.plots=false"
    )
    _, err = _interrupt_when_logged(process, "outputs/runs/*/*/metrics.csv", tmp_path)
    assert process.returncode == 130
    assert "Traceback" not in err and "interrupted" in err
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert list(ledger["status"]) == ["interrupted"]
    metrics = pd.read_csv(_one(tmp_path, "outputs/runs/*/*/metrics.csv"))
    assert len(metrics) >= 3 and ledger.loc[0, "epochs_done"] == metrics["epoch"].iloc[-1]


@pytest.mark.parametrize("launcher, started", [("basic", 1), ("pool", 2)])
def test_ctrl_c_in_a_sweep_still_writes_its_summary(tmp_path, launcher, started):
    """Basic runs one job at a time; the pool (two workers) two: each running job's row is
    interrupted, and jobs not started yet have a not_started summary row and no ledger row."""
    process = start_cli(
        tmp_path,
        "-m",
        f"hydra/launcher={launcher}",
        *(["hydra.launcher.n_jobs=2"] if launcher == "pool" else []),
        "seed=0,1,2,3",
        "trainer.epochs=100000000",
        "trainer.log_every=200",
    )
    pattern = "outputs/sweeps/*/*/*/metrics.csv"
    _interrupt_when_logged(process, pattern, tmp_path, files=started)
    assert process.returncode == 130
    summary = pd.read_csv(_one(tmp_path, "outputs/sweeps/*/*/summary.csv"))
    assert list(summary["status"]) == ["interrupted"] * started + ["not_started"] * (4 - started)
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert list(ledger["status"]) == ["interrupted"] * started
    assert len(list(tmp_path.glob(pattern))) == started


def _limit_file_size(limit):
    """For a child process: writes beyond ``limit`` bytes fail as on a full disk (EFBIG)."""
    import resource

    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_full_disk_is_one_line_and_the_ledger_stays_whole(tmp_path):
    import subprocess
    import sys

    assert run_cli(tmp_path, "seed=0", *FAST).returncode == 0
    ledger = tmp_path / "outputs" / "runs.csv"
    rows = pd.read_csv(ledger)
    many = pd.concat([rows.assign(run_id=f"earlier-{i}") for i in range(40)], ignore_index=True)
    many.to_csv(ledger, index=False)  # larger than any file a run writes, so only it hits the limit
    before = ledger.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "runner", "seed=7", *FAST],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size(len(before) + 300),  # the new row would need ~1 KB more
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: no row in the ledger"), result.stderr
    assert "File too large" in errors[0] and "Traceback" not in result.stderr
    assert ledger.read_bytes() == before  # not a partial row
    assert run_cli(tmp_path, "seed=8", *FAST).returncode == 0  # once there is room again
    ledger_rows = pd.read_csv(ledger)  # whole: no glued row, pandas reads it as is
    assert len(ledger_rows) == 41 and ledger_rows["seed"].iloc[-1] == 8


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody can write to: a read-only tmpfs for root (who ignores permissions)."""
    import os
    import subprocess

    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() == 0:
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)])
        assert mount.returncode == 0, "root could not mount a read-only tmpfs"
        yield folder
        subprocess.run(["umount", str(folder)])
    else:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


@pytest.mark.parametrize("where", ["paths.ledger", "paths.outputs"])
def test_read_only_folder_is_one_line(tmp_path, read_only_folder, where):
    target = read_only_folder / ("runs.csv" if where == "paths.ledger" else "outputs")
    result = run_cli(tmp_path, f"{where}={target}", *FAST)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: "), result.stderr
    assert str(read_only_folder) in errors[0] and "Traceback" not in result.stderr


def test_a_run_never_writes_over_an_existing_run_folder(tmp_path):
    assert run_cli(tmp_path, "hydra.run.dir=outputs/mine", *FAST).returncode == 0
    folder = tmp_path / "outputs" / "mine"
    before = {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    result = run_cli(tmp_path, "hydra.run.dir=outputs/mine", "seed=5", *FAST)
    assert result.returncode == 2
    assert "hydra.run.dir=outputs/mine: already holds a run" in result.stderr
    assert {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_bad_interpolation_is_one_line(tmp_path):
    result = run_cli(tmp_path, "trainer.epochs=${oops}", "trainer.plots=false")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: trainer.epochs=${oops}: cannot be resolved: Interpolation key 'oops' not found"
    )


def test_an_override_holding_a_quote_keeps_compare_and_report_working(tmp_path):
    assert run_cli(tmp_path, *FAST).returncode == 0
    assert run_cli(tmp_path, "+note='it\\'s'", "model=dense3", *FAST).returncode == 0
    compared = run_cli(tmp_path, module="runner.compare")
    assert compared.returncode == 0, compared.stderr
    assert "dense3" in compared.stdout and "Traceback" not in compared.stderr
    report = run_cli(tmp_path, "--out", "r.html", module="runner.report")
    assert report.returncode == 0, report.stderr


def test_a_preset_that_declares_a_sweep_runs_it_without_minus_m(tmp_path):
    result = run_cli(
        tmp_path, "experiment=spiral_width_sweep", "trainer.epochs=5", "trainer.plots=false"
    )
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(_one(tmp_path, "outputs/sweeps/*/*/summary.csv"))) == 12


def test_a_declared_sweep_run_as_one_job_says_how_to_sweep(tmp_path):
    presets = tmp_path / "mine" / "experiment"
    presets.mkdir(parents=True)
    (presets / "my_sweep.yaml").write_text(
        "# @package _global_\nhydra:\n  sweeper:\n    params:\n      seed: 0,1\n"
    )
    result = run_cli(tmp_path, "--config-dir", str(tmp_path / "mine"), "experiment=my_sweep", *FAST)
    assert result.returncode == 0, result.stderr
    assert "declares a sweep (hydra.sweeper.params: seed=0,1)" in result.stderr
    assert "add -m" in result.stderr
