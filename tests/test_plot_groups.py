"""``python -m runner.compare --plot``: every group its own line up to 40 groups, the legend
beside the curves rather than over them, and a regression run's scores (RMSE, MAE, R²) drawn
the right way up."""

import numpy as np
import pandas as pd
import pytest
from handwritten_runs import write_runs
from matplotlib.colors import to_hex
from matplotlib.image import imread

from runner.analysis import compare, plots

RATES = tuple(np.round(np.geomspace(0.001, 0.1, 20), 5))


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plots save, to read what a picture shows."""
    figures = []
    save = plots.save
    monkeypatch.setattr(
        plots, "save", lambda figure, path: figures.append(figure) or save(figure, path)
    )
    return figures


def test_twenty_groups_draw_twenty_colours_with_the_legend_beside_the_plot(tmp_path, drawn):
    ledger = write_runs(tmp_path, learning_rates=RATES)
    assert compare.main([str(ledger), "--plot", str(tmp_path / "groups.png")]) == 0
    (figure,) = drawn
    axes = figure.axes[0]
    lines = axes.get_lines()
    assert len(lines) == 20
    assert len({to_hex(line.get_color()) for line in lines}) == 20
    legend = axes.get_legend()
    assert [t.get_text() for t in legend.get_texts()][0] == "optimizer.learning_rate=0.001 (n=2)"
    renderer = figure.canvas.get_renderer()
    plot_box = axes.get_window_extent(renderer)
    legend_box = legend.get_window_extent(renderer)
    assert legend_box.x0 > plot_box.x1  # beside the curves, covering none of them
    width, height = figure.get_size_inches() * figure.dpi
    assert legend_box.y0 >= 0 and legend_box.x1 <= width and legend_box.y1 <= height  # not cut
    shape = imread(tmp_path / "groups.png").shape
    assert abs(shape[0] - height) <= 1 and abs(shape[1] - width) <= 1  # the picture saved whole


def test_forty_long_labels_still_draw_forty_different_lines_inside_the_picture(tmp_path, drawn):
    frames = {
        f"model=dense3, optimizer=adam, optimizer.learning_rate=0.0{i}, model.width={8 * i}": (
            pd.DataFrame({"epoch": [0, 10, 20], "a": [1.0, 0.5, 0.1 + i / 100]})
        )
        for i in range(40)
    }
    plots.overlaid_curves(frames, "val_loss", tmp_path / "forty.png")
    (figure,) = drawn
    axes = figure.axes[0]
    styles = {(to_hex(line.get_color()), line.get_linestyle()) for line in axes.get_lines()}
    assert len(styles) == 40
    renderer = figure.canvas.get_renderer()
    legend_box = axes.get_legend().get_window_extent(renderer)
    width, height = figure.get_size_inches() * figure.dpi
    assert legend_box.x0 > axes.get_window_extent(renderer).x1
    assert legend_box.y0 >= 0 and legend_box.y1 <= height and legend_box.x1 <= width


@pytest.mark.parametrize(
    "metric, label, scale",
    [
        ("val_rmse", "val_rmse (lower is better)", "log"),
        ("val_r2", "val_r2 (higher is better)", "linear"),
        ("val_accuracy", "val_accuracy (higher is better)", "linear"),
    ],
)
def test_compared_curves_say_which_way_is_better(tmp_path, drawn, metric, label, scale):
    frames = {"a": pd.DataFrame({"epoch": [0, 1, 2], "r": [0.9, 0.5, 0.3]})}
    plots.overlaid_curves(frames, metric, tmp_path / "c.png")
    axes = drawn[0].axes[0]
    assert (axes.get_ylabel(), axes.get_yscale()) == (label, scale)


@pytest.mark.parametrize("metric, best", [("val_rmse", 0.1), ("val_r2", 0.9)])
def test_the_best_cell_of_a_heatmap_is_the_bright_one(tmp_path, drawn, metric, best):
    values = [[0.1, 0.5], [0.7, 0.9]]
    grid = pd.DataFrame(values, index=pd.Index([8, 32], name="model.width"))
    grid.columns = pd.Index([0.01, 0.1], name="optimizer.learning_rate")
    plots.heatmap(grid, metric, tmp_path / "h.png")
    image = drawn[0].axes[0].get_images()[0]
    bright = {v: sum(image.cmap(image.norm(v))[:3]) for row in values for v in row}
    assert max(bright, key=bright.get) == best


@pytest.mark.parametrize(
    "metric, label", [("val_rmse", "lower is better"), ("val_r2", "higher is better")]
)
def test_compare_plots_a_regression_sweeps_own_scores(tmp_path, drawn, metric, label):
    ledger = write_runs(tmp_path, "regression", learning_rates=(0.005, 0.05))
    out = tmp_path / "regression.png"
    assert (
        compare.main(
            [str(ledger), "--by", "optimizer.learning_rate", "--metric", metric, "--plot", str(out)]
        )
        == 0
    )
    axes = drawn[0].axes[0]
    assert axes.get_ylabel() == f"{metric} ({label})"
    folders = pd.read_csv(ledger)["run_dir"]
    seeds = [pd.read_csv(f"{folders[i]}/metrics.csv") for i in (0, 1)]
    mean = (seeds[0][metric] + seeds[1][metric]) / 2  # the first group: lr 0.005, two seeds
    np.testing.assert_allclose(axes.get_lines()[0].get_ydata(), mean)
    assert axes.get_yscale() == ("log" if metric == "val_rmse" else "linear")
