"""Pictures: the right size, not blank, and showing what was learned."""

import numpy as np
import pandas as pd
import pytest
from conftest import compose

from runner import pictures, train
from runner.analysis import plots, run_plots


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
    assert set(np.unique(pictures.predicted_classes(model, X))) == {0, 1, 2}


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


@pytest.mark.parametrize(
    "overrides",
    [
        (),
        ("data=sine", "loss=mse", "objective=val_loss"),
        ("trainer.keep=best", "optimizer.learning_rate=0.2", "data.samples=30"),  # kept epoch 100
    ],
)
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
    assert result.returncode == 2
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


def test_a_long_title_is_wrapped_not_cut_off():
    overrides = " ".join(f"model.layers.{i}.units={2**i}" for i in range(12))
    title = f"dense3 · spiral · adam   {overrides}"
    lines = pictures.wrapped(title, 70).splitlines()
    assert len(lines) > 1 and all(len(line) <= 70 for line in lines)
    assert " ".join(lines).split() == title.split()  # every override still there, whole
    assert pictures.wrapped("", 70) == ""


# ------------------------------------------------ what runner.plot (and the run) draw, read back

CLASSIFICATION_METRICS = {
    "epoch": [0, 100, 200, 300],
    "train_loss": [1.0, 0.5, 0.3, 0.2],
    "train_accuracy": [0.3, 0.6, 0.7, 0.8],
    "val_loss": [1.0, 0.6, 0.7, 0.9],
    "val_accuracy": [0.3, 0.55, 0.5, 0.45],
}
REGRESSION_METRICS = {  # the columns of a regression run's metrics.csv: no accuracy
    "epoch": [0, 100, 200, 300],
    "train_loss": [4.0, 1.0, 0.49, 0.36],
    "train_rmse": [2.0, 1.0, 0.7, 0.6],
    "val_loss": [4.4, 1.21, 0.64, 0.81],
    "val_rmse": [2.1, 1.1, 0.8, 0.9],
    "val_mae": [1.8, 0.9, 0.6, 0.7],
    "val_r2": [-0.5, 0.4, 0.7, 0.6],
    "regularization_loss": [0.0, 0.0, 0.0, 0.0],
    "learning_rate": [0.01, 0.01, 0.01, 0.01],
    "seconds": [0.0, 0.1, 0.2, 0.3],
}


@pytest.fixture
def drawn(monkeypatch):
    """{picture name: matplotlib Figure} of every picture a run's pictures save in the test."""
    figures, save = {}, pictures._saved

    def keep(figure, out_dir, name):
        figures[name] = figure
        return save(figure, out_dir, name)

    monkeypatch.setattr(pictures, "_saved", keep)
    return figures


def _run_folder(path, metrics, message=None, best_epoch=None):
    """A run folder as a run leaves it, written by hand: metrics.csv (and summary.csv)."""
    path.mkdir(parents=True)
    pd.DataFrame(metrics).to_csv(path / "metrics.csv", index=False)
    if message is not None:
        summary = {"run_id": "r", "status": "ok", "message": message, "best_epoch": best_epoch}
        pd.DataFrame([summary]).to_csv(path / "summary.csv", index=False)
    return path


def _panels(figure):
    """[(ylabel, {line label: y values})] of the curves' two panels."""
    return [
        (
            axes.get_ylabel(),
            {line.get_label(): list(line.get_ydata()) for line in axes.get_lines()},
        )
        for axes in figure.axes
    ]


def test_regression_curves_show_rmse_where_classification_shows_accuracy(tmp_path, drawn):
    run_plots.draw(_run_folder(tmp_path / "regression", REGRESSION_METRICS))
    (loss, losses), (score, scores) = _panels(drawn["curves"])
    assert (loss, score) == ("loss", "RMSE")
    assert scores == {
        "train": REGRESSION_METRICS["train_rmse"],
        "val": REGRESSION_METRICS["val_rmse"],
    }
    assert losses == {
        "train": REGRESSION_METRICS["train_loss"],
        "val": REGRESSION_METRICS["val_loss"],
    }
    run_plots.draw(_run_folder(tmp_path / "classification", CLASSIFICATION_METRICS))
    (_, _), (score, scores) = _panels(drawn["curves"])
    assert score == "accuracy"
    assert scores == {
        "train": CLASSIFICATION_METRICS["train_accuracy"],
        "val": CLASSIFICATION_METRICS["val_accuracy"],
    }


KEPT = (
    "stopped early at epoch 300: no val_loss improvement > 0 in 200 epochs "
    "(trainer.early_stopping.patience=200); kept the parameters of epoch 100, the best val_loss "
    "(0.6; trainer.keep=best)"
)


@pytest.mark.parametrize(
    "message, best_epoch, marked",
    [
        (KEPT, 100, 100),  # an earlier epoch's parameters put back: marked on both panels
        ("", 300, None),  # the best epoch was the last: nothing to mark
        ("stopped early at epoch 300: no val_loss improvement", 100, None),  # keep=last
        (None, None, None),  # no summary.csv (an older run, or one cut off)
    ],
)
def test_curves_mark_an_epoch_only_where_its_parameters_were_kept(
    tmp_path, drawn, message, best_epoch, marked
):
    run_plots.draw(_run_folder(tmp_path / "run", CLASSIFICATION_METRICS, message, best_epoch))
    for _, lines in _panels(drawn["curves"]):
        marks = {label: ys for label, ys in lines.items() if label not in ("train", "val")}
        assert marks == ({} if marked is None else {f"kept epoch {marked}": [0, 1]})
    for axes in drawn["curves"].axes:
        xs = [line.get_xdata() for line in axes.get_lines() if line.get_label().startswith("kept")]
        assert [list(x) for x in xs] == ([] if marked is None else [[marked, marked]])


def test_plot_prints_the_paths_it_wrote_and_only_those(tmp_path, capsys):
    run_dir = _run_folder(tmp_path / "run", CLASSIFICATION_METRICS)
    out = tmp_path / "out"
    out.mkdir()
    (out / "boundary.png").write_bytes(b"an earlier picture, not drawn now")
    assert run_plots.main([str(run_dir), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"{run_dir}: wrote {out / 'curves.png'}\n"
    second = _run_folder(tmp_path / "second", REGRESSION_METRICS)
    assert run_plots.main([str(run_dir), str(second), "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{run_dir}: wrote {out / '0' / 'curves.png'}",
        f"{second}: wrote {out / '1' / 'curves.png'}",
    ]


def _csv_run(tmp_path, rows, target, *overrides):
    """The folder of a run (``python -m runner``, which draws nothing) on a CSV the test writes:
    ``rows`` of (feature values..., target), the first the header."""
    from conftest import run_cli

    lines = [",".join(str(v) for v in row) for row in rows]
    (tmp_path / "table.csv").write_text("\n".join(lines) + "\n")
    result = run_cli(
        tmp_path, "data=csv", "data.path=table.csv", f"data.target={target}",
        "trainer.plots=false", *overrides,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (run_dir,) = tmp_path.glob("outputs/runs/*/*")
    return run_dir


def test_boundary_axes_are_the_features_in_their_own_units(tmp_path, drawn):
    rng = np.random.default_rng(0)
    height, weight = rng.normal(170, 10, 200), rng.normal(70, 15, 200)
    kind = np.where(weight / (height / 100) ** 2 > 24, "heavy", "light")
    rows = [
        ("height_cm", "weight_kg", "kind"),
        *zip(height.round(1), weight.round(1), kind, strict=True),
    ]
    run_dir = _csv_run(tmp_path, rows, "kind", "trainer.epochs=50")
    run_plots.draw(run_dir, tmp_path / "drawn")
    (axes,) = drawn["boundary"].axes
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("height_cm", "weight_kg")
    scattered = {
        c.get_label(): c.get_offsets() for c in axes.collections if c.get_label()[0] != "_"
    }
    assert set(scattered) == {"heavy", "light"}
    points = np.concatenate(list(scattered.values()))
    assert 130 < points[:, 0].min() <= points[:, 0].max() < 210  # centimetres, not z-scores
    assert 0 < points[:, 1].min() <= points[:, 1].max() < 130  # kilograms
    left, right = axes.get_xlim()
    assert left < height.min() and height.max() < right


def test_fit_axes_are_the_feature_and_the_target_in_their_own_units(tmp_path, drawn):
    x = np.linspace(1000, 2000, 120)
    rows = [("area_m2", "price"), *zip(x.round(1), (3 * x + 50).round(1), strict=True)]
    run_dir = _csv_run(tmp_path, rows, "price", "loss=mse", "trainer.epochs=20")
    run_plots.draw(run_dir, tmp_path / "drawn", curves=False)
    assert set(drawn) == {"fit"}
    (axes,) = drawn["fit"].axes
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("area_m2", "price")
    (line,) = axes.get_lines()
    assert 990 < line.get_xdata().min() <= line.get_xdata().max() < 2010


def test_generated_data_is_drawn_in_its_inputs_x0_and_x1(tmp_path, drawn):
    from conftest import run_cli

    assert run_cli(tmp_path, "trainer.epochs=5", "trainer.plots=false").returncode == 0
    (run_dir,) = tmp_path.glob("outputs/runs/*/*")
    run_plots.draw(run_dir, tmp_path / "drawn")
    (axes,) = drawn["boundary"].axes
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("x0", "x1")
