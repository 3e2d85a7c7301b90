"""Pictures: the right size, not blank, and showing what was learned."""

import numpy as np
import pandas as pd
import pytest
from conftest import compose

from runner import train
from runner.analysis import plots


def _pixels(path):
    from matplotlib.image import imread

    return imread(path)


def _assert_picture(path, width, height):
    image = _pixels(path)
    assert image.shape[:2] == (height, width)
    assert image[..., :3].std() > 0.05  # not blank


def _run(tmp_path, *overrides, name="run"):
    cfg = compose(*overrides)
    ctx = train.RunContext(
        run_dir=tmp_path / name,
        ledger=tmp_path / "runs.csv",
        base_dir=tmp_path,
        choices={"model": "dense2", "data": "spiral"},
    )
    return train.run(cfg, ctx), ctx.run_dir


def test_classification_run_draws_curves_and_boundary(tmp_path):
    row, run_dir = _run(tmp_path, "trainer.epochs=300", "trainer.log_every=50")
    assert row["status"] == "ok"
    _assert_picture(run_dir / "curves.png", 1000, 400)
    _assert_picture(run_dir / "boundary.png", 600, 600)
    assert not (run_dir / "fit.png").exists()


def test_regression_run_draws_fit(tmp_path):
    _, run_dir = _run(tmp_path, "data=sine", "loss=mse", "trainer.epochs=50", "data.samples=200")
    _assert_picture(run_dir / "fit.png", 1000, 400)
    assert not (run_dir / "boundary.png").exists()


def test_plots_can_be_turned_off(tmp_path):
    _, run_dir = _run(tmp_path, "trainer.epochs=5", "trainer.plots=false")
    assert not list(run_dir.glob("*.png"))


def test_trained_boundary_differs_from_untrained(tmp_path):
    _, untrained = _run(tmp_path, "trainer.epochs=0", name="untrained")
    _, trained = _run(tmp_path, "trainer.epochs=1500", "trainer.log_every=500", name="trained")
    before, after = _pixels(untrained / "boundary.png"), _pixels(trained / "boundary.png")
    assert before.shape == after.shape
    assert np.abs(before - after).mean() > 0.01


def test_predicted_classes_cover_several_regions_after_training(tmp_path):
    from nncore import Adam, CategoricalCrossentropy, Dense, Model, ReLU, Softmax, spiral

    X, y = spiral(50, 3, seed=0)
    model = Model(
        [Dense(2, 64, seed=1), ReLU(), Dense(64, 3, seed=2), Softmax()],
        CategoricalCrossentropy(),
        Adam(0.05),
        seed=0,
    )
    for _ in range(500):
        model.train_epoch(X, y)
    assert set(np.unique(plots.predicted_classes(model, X))) == {0, 1, 2}


def test_overlaid_curves_and_heatmap(tmp_path):
    epochs = np.arange(0, 50, 10)
    curves = {
        "a": pd.DataFrame({"epoch": epochs, "r1": epochs / 100, "r2": epochs / 90}),
        "b": pd.DataFrame({"epoch": epochs, "r3": 0.5 - epochs / 200}),
    }
    _assert_picture(plots.overlaid_curves(curves, "val_accuracy", tmp_path / "c.png"), 1000, 400)
    grid = pd.DataFrame(
        [[0.5, 0.7], [0.6, 0.9]],
        index=pd.Index([0.01, 0.1], name="lr"),
        columns=pd.Index([16, 64], name="width"),
    )
    _assert_picture(plots.heatmap(grid, "val_accuracy", tmp_path / "h.png"), 600, 600)


def test_a_run_that_plots_nothing_imports_no_plotting_progress_or_table_library(tmp_path):
    """matplotlib, tqdm and pandas cost 0.2-0.6 s each to import; a run that draws nothing in a
    pipe needs none of them (it writes its CSV files and its ledger row with csv), twice: the
    ledger made, then appended to."""
    import subprocess
    import sys

    code = """
import runpy, sys
for seed in (0, 1):
    sys.argv = ["runner", "trainer.epochs=3", "trainer.plots=false", f"seed={seed}"]
    try:
        runpy.run_module("runner", run_name="__main__", alter_sys=True)
    except SystemExit as end:
        assert not end.code, end.code
print(sorted(m for m in ("matplotlib", "tqdm", "pandas") if m in sys.modules))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    ledger = (tmp_path / "outputs" / "runs.csv").read_text().splitlines()
    assert len(ledger) == 3 and ledger[0].startswith("run_id,run_key,status")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_boundary_works_in_either_dtype(tmp_path, dtype):
    _, run_dir = _run(tmp_path, "trainer.epochs=5", f"dtype={dtype}")
    assert (run_dir / "boundary.png").is_file()


def test_a_sweep_job_draws_no_pictures_unless_asked_and_they_can_be_drawn_later(tmp_path):
    from conftest import run_cli

    result = run_cli(tmp_path, "-m", "seed=0,1", "trainer.epochs=200", "trainer.log_every=50")
    assert result.returncode == 0, result.stderr
    jobs = sorted(tmp_path.glob("outputs/sweeps/*/*/[0-9]"))
    assert len(jobs) == 2 and not list(tmp_path.glob("outputs/sweeps/**/*.png"))
    drawn = run_cli(tmp_path, *map(str, jobs), module="runner.plot")
    assert drawn.returncode == 0, drawn.stderr
    for job in jobs:
        _assert_picture(job / "curves.png", 1000, 400)
        _assert_picture(job / "boundary.png", 600, 600)
    forced = run_cli(tmp_path, "-m", "seed=2", "trainer.epochs=200", "trainer.plots=true")
    assert forced.returncode == 0 and len(list(tmp_path.glob("outputs/sweeps/*/*/0/*.png"))) >= 2


@pytest.mark.parametrize("overrides", [(), ("data=sine", "loss=mse", "objective=val_loss")])
def test_pictures_drawn_later_are_the_ones_the_run_drew(tmp_path, overrides):
    from conftest import run_cli

    result = run_cli(tmp_path, "trainer.epochs=200", "trainer.log_every=50", *overrides)
    assert result.returncode == 0, result.stderr
    (run_dir,) = tmp_path.glob("outputs/runs/*/*")
    drawn_by_run = {p.name: p.read_bytes() for p in run_dir.glob("*.png")}
    assert len(drawn_by_run) == 2
    later = run_cli(tmp_path, str(run_dir), "--out", "again", module="runner.plot")
    assert later.returncode == 0, later.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "again").glob("*.png")} == drawn_by_run


def test_plotting_a_folder_that_is_not_a_run_is_one_line(tmp_path):
    from conftest import run_cli

    result = run_cli(tmp_path, str(tmp_path), module="runner.plot")
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"error: {tmp_path}: no metrics.csv (not a run folder, or it never trained)"
    )


def test_a_legend_too_big_for_tight_layout_draws_without_a_warning(tmp_path, recwarn):
    frames = {
        f"model.width={i}, optimizer.learning_rate=0.0{i}, seed={i}": pd.DataFrame(
            {"epoch": [0, 1], "run": [0.1 * i, 0.2]}
        )
        for i in range(40)
    }
    plots.overlaid_curves(frames, "val_accuracy", tmp_path / "many.png")
    assert (tmp_path / "many.png").is_file()
    assert not [w for w in recwarn if "layout" in str(w.message).lower()]


def test_curves_mark_the_best_epoch(tmp_path):
    metrics = pd.DataFrame(
        {
            "epoch": [0, 100, 200, 300],
            "train_loss": [1.0, 0.5, 0.3, 0.2],
            "val_loss": [1.0, 0.6, 0.7, 0.9],
            "train_accuracy": [0.3, 0.6, 0.7, 0.8],
            "val_accuracy": [0.3, 0.55, 0.5, 0.45],
        }
    )
    plain = plots.curves(metrics, tmp_path / "plain.png")
    marked = plots.curves(metrics, tmp_path / "marked.png", best_epoch=100)
    difference = np.abs(_pixels(plain)[..., :3] - _pixels(marked)[..., :3]).max(axis=2) > 0.1
    columns = np.flatnonzero(difference.sum(axis=0) > 100)  # a vertical line: a tall column
    assert len(columns), "no vertical mark drawn"


def test_a_long_title_is_wrapped_not_cut_off():
    overrides = " ".join(f"model.layers.{i}.units={2**i}" for i in range(12))
    title = f"dense3 · spiral · adam   {overrides}"
    lines = plots.wrapped(title, 70).splitlines()
    assert len(lines) > 1 and all(len(line) <= 70 for line in lines)
    assert " ".join(lines).split() == title.split()  # every override still there, whole
    assert plots.wrapped("", 70) == ""
