"""A run's pictures: what the run draws at its end and ``python -m runner.plot`` draws again
from its files (``runner.analysis.run_plots``), and the matplotlib helpers the sweep pictures
(``runner.analysis.plots``) share. matplotlib is imported only when a picture is drawn, with
the headless Agg canvas: runs that draw nothing start no slower, and no display is needed.

- ``curves.png``: loss, and beside it the task's score (accuracy; RMSE for regression), train and
  validation, against epoch; a dotted line at the kept epoch when early stopping or
  ``trainer.keep=best`` put an earlier epoch's parameters back.
- ``boundary.png`` (2 inputs, classification) and ``fit.png`` (1 input, regression): in the
  features' own names and units, the standardisation of ``preprocessing.json`` undone.
"""

import re
from pathlib import Path

import numpy as np

from runner import metric_names
from runner.records import GROUPS

DPI = 100
CURVES_SIZE = (10, 4)  # inches: 1000 x 400 pixels
SQUARE_SIZE = (6, 6)  # 600 x 600 pixels
GRID = 300  # decision-region resolution per axis
# matplotlib's tab20 as ten dark colours (tab10) then their ten light partners: 20 distinct
COLOURS = (
    *("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"),
    *("#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"),
    *("#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5"),
    *("#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"),
)


PICTURES = ("boundary.png", "fit.png", "curves.png")
# runner.train's words when it restores an earlier epoch's parameters (early stopping or
# trainer.keep=best); without them the last epoch's parameters are the run's
KEPT = re.compile(r"kept the parameters of epoch (\d+)")
SCORE_LABELS = {"accuracy": "accuracy", "rmse": "RMSE"}


def new_figure(size):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def tighten(figure):
    """Tight layout where it fits; where it cannot (a long title, a wide legend) matplotlib
    keeps the plain layout and warns, which is noise on a user's console."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tight layout not applied")
        figure.tight_layout()


def wrapped(title, width):
    """A title on as many lines as it needs, so a long list of overrides is never cut off at
    the picture's edge (which would leave the picture not saying which job it is)."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width, break_on_hyphens=False)) if title else ""


def save(figure, path):
    figure.savefig(path, dpi=DPI)
    return path


def predicted_classes(model, points):
    """Class per row: argmax of several outputs, or a 0.5 threshold of a single sigmoid output."""
    outputs = model.predict(points)
    if outputs.shape[1] == 1:
        return (outputs[:, 0] > 0.5).astype(np.int64)
    return np.argmax(outputs, axis=1)


def palette(n):
    return [COLOURS[k % len(COLOURS)] for k in range(n)]


def title(choices, overrides):
    """A picture's title: the run's group choices and its overrides."""
    chosen = " · ".join(str(choices[g]) for g in GROUPS if choices.get(g))
    return f"{chosen}   {overrides}".strip()


def kept_epoch(message):
    """The earlier epoch whose parameters the run kept, from its message; None when it kept its
    last epoch's (then no epoch is marked: the curves' end is the run)."""
    found = KEPT.search(str(message or ""))
    return int(found.group(1)) if found else None


def draw_pictures(out_dir, rows, model, dataset, title="", kept=None, curves=True):
    """curves.png (unless ``curves=False``); boundary.png (2-D classification) or fit.png (1-D
    regression) for a trained ``model`` -> the paths written. ``kept``: the epoch to mark, see
    ``kept_epoch``."""
    import pandas as pd

    from runner.dataset import CLASSIFICATION, REGRESSION

    out_dir = Path(out_dir)
    written = []
    if curves:
        written.append(_saved(curves_figure(pd.DataFrame(rows), title, kept), out_dir, "curves"))
    if model is None or dataset is None:
        return written
    if dataset.n_inputs == 2 and dataset.task == CLASSIFICATION:
        written.append(_saved(boundary_figure(model, dataset, title), out_dir, "boundary"))
    elif dataset.n_inputs == 1 and dataset.task == REGRESSION:
        written.append(_saved(fit_figure(model, dataset, title), out_dir, "fit"))
    return written


def _saved(figure, out_dir, name):

    return save(figure, out_dir / f"{name}.png")


def curves_figure(metrics, title="", kept=None):
    """Loss and the task's score (``runner.metric_names``: accuracy, or RMSE for a regression
    run) against epoch, train solid and validation dashed; ``kept`` marked on both panels."""

    task = metric_names.task_of_columns(metrics.columns)
    score = metric_names.score_columns(task, "train")[0].split("_", 1)[1]
    figure = new_figure(CURVES_SIZE)
    loss_axes, score_axes = figure.subplots(1, 2)
    for axes, name in ((loss_axes, "loss"), (score_axes, score)):
        for split, style in (("train", "-"), ("val", "--")):
            column = f"{split}_{name}"
            if column in metrics and metrics[column].notna().any():
                axes.plot(metrics["epoch"], metrics[column], style, label=split)
        if kept is not None:
            axes.axvline(kept, color="0.4", linestyle=":", label=f"kept epoch {kept}")
        axes.set_xlabel("epoch")
        axes.set_ylabel(SCORE_LABELS.get(name, name))
        axes.grid(alpha=0.3)
        axes.legend()
    losses = metrics[[c for c in ("train_loss", "val_loss") if c in metrics]].to_numpy(dtype=float)
    if np.isfinite(losses).all() and (losses > 0).all():
        loss_axes.set_yscale("log")
    figure.suptitle(wrapped(title, 110), fontsize=10)
    tighten(figure)
    return figure


def original_units(dataset):
    """(input names, offset, scale) with ``input * scale + offset`` in the CSV's units: each
    standardised numeric input's training mean and std (``preprocessing.json``); one-hot and
    boolean inputs, and generated data (x0, x1, ...), are as the model sees them."""

    from runner.tables.encoding import encoding_of

    encoding = encoding_of(dataset)
    offset, scale = np.zeros(dataset.n_inputs), np.ones(dataset.n_inputs)
    for at, feature in encoding.numeric_inputs():
        offset[at], scale[at] = feature.mean, feature.std
    return encoding.inputs, offset, scale


def boundary_figure(model, dataset, title=""):
    """Decision regions of a 2-input classifier over the training data's range, its points on
    top, both axes in the features' names and units."""

    names, offset, scale = original_units(dataset)
    X, y = dataset.X_train * scale + offset, dataset.y_train
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-3 * scale
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], GRID)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], GRID)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = (np.column_stack([grid_x.ravel(), grid_y.ravel()]) - offset) / scale
    regions = predicted_classes(model, points.astype(dataset.X_train.dtype))
    regions = regions.reshape(grid_x.shape)
    n_classes = max(int(y.max()) + 1, int(regions.max()) + 1, 2)
    colours = palette(n_classes)
    figure = new_figure(SQUARE_SIZE)
    axes = figure.subplots()
    levels = np.arange(n_classes + 1) - 0.5
    axes.contourf(grid_x, grid_y, regions, levels=levels, colors=colours, alpha=0.35)
    for k in range(n_classes):
        chosen = y == k
        if chosen.any():
            label = dataset.class_names[k] if k < len(dataset.class_names) else str(k)
            axes.scatter(*X[chosen].T, s=12, color=colours[k], edgecolors="black",
                         linewidths=0.3, label=label)  # fmt: skip
    axes.set_xlim(xs[0], xs[-1])
    axes.set_ylim(ys[0], ys[-1])
    axes.set_xlabel(names[0])
    axes.set_ylabel(names[1])
    axes.legend(loc="upper right", fontsize=8)
    axes.set_title(wrapped(title, 70), fontsize=9)
    tighten(figure)
    return figure


def fit_figure(model, dataset, title=""):
    """Regression on one input: the training data as points, the prediction as a line, in the
    feature's and the target's names and units."""

    from runner.tables.encoding import encoding_of

    names, offset, scale = original_units(dataset)
    X, y = dataset.X_train, dataset.y_train
    line = np.linspace(X[:, 0].min(), X[:, 0].max(), 500, dtype=X.dtype).reshape(-1, 1)
    figure = new_figure(CURVES_SIZE)
    axes = figure.subplots()
    axes.scatter(X[:, 0] * scale[0] + offset[0], y[:, 0], s=6, color="grey", label="data")
    prediction = model.predict(line)[:, 0]
    axes.plot(line[:, 0] * scale[0] + offset[0], prediction, color="crimson", label="prediction")
    axes.set_xlabel(names[0])
    axes.set_ylabel(encoding_of(dataset).target)
    axes.legend()
    axes.set_title(wrapped(title, 70), fontsize=9)
    tighten(figure)
    return figure
