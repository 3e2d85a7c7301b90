"""A run's pictures, drawn by the run and, later, from its files by ``python -m runner.plot``.

Sweep jobs draw no PNGs by default (``trainer.plots=auto``): drawing costs more than training a
small network. Everything needed is in the run folder: ``metrics.csv`` for the curves, the
summary's message for the epoch whose parameters were kept, and for the decision boundary or the
fit the job's ``.hydra/`` config (data and model rebuilt from its seed, exactly as in training)
and ``params.npz``. Both draw through ``draw_pictures``, so a picture drawn later is the one the
run drew.

- ``curves.png``: loss, and beside it the task's score (accuracy; RMSE for regression), train and
  validation, against epoch; a dotted line at the kept epoch when early stopping or
  ``trainer.keep=best`` put an earlier epoch's parameters back.
- ``boundary.png`` (2 inputs, classification) and ``fit.png`` (1 input, regression): in the
  features' own names and units, the standardisation of ``preprocessing.json`` undone.
"""

import argparse
import re
import sys
from pathlib import Path

PICTURES = ("boundary.png", "fit.png", "curves.png")
# runner.train's words when it restores an earlier epoch's parameters (early stopping or
# trainer.keep=best); without them the last epoch's parameters are the run's
KEPT = re.compile(r"kept the parameters of epoch (\d+)")
SCORE_LABELS = {"accuracy": "accuracy", "rmse": "RMSE"}


class NotDrawable(Exception):
    """The folder lacks what a picture needs; the message says what."""


def pictures(run_dir):
    return [run_dir / name for name in PICTURES if (run_dir / name).is_file()]


def kept_epoch(message):
    """The earlier epoch whose parameters the run kept, from its message; None when it kept its
    last epoch's (then no epoch is marked: the curves' end is the run)."""
    found = KEPT.search(str(message or ""))
    return int(found.group(1)) if found else None


def draw(run_dir, out_dir=None, curves=True):
    """Draw the run's pictures into ``out_dir`` (default: the run folder) -> the paths written;
    ``curves=False`` draws only the decision boundary or the fit (the report draws curves
    itself, interactively)."""
    import pandas as pd

    run_dir = Path(run_dir)
    out_dir = Path(out_dir or run_dir)
    metrics = run_dir / "metrics.csv"
    if not metrics.is_file():
        raise NotDrawable(f"{run_dir}: no metrics.csv (not a run folder, or it never trained)")
    rows = pd.read_csv(metrics).to_dict("records")
    model, dataset, title = _rebuilt(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kept = kept_epoch(_summary(run_dir).get("message"))
    return draw_pictures(out_dir, rows, model, dataset, title, kept, curves)


def _rebuilt(run_dir):
    """(trained model or None, dataset or None, title) from the run's .hydra/ and params.npz."""
    from omegaconf import OmegaConf

    from runner import train

    config, hydra = run_dir / ".hydra" / "config.yaml", run_dir / ".hydra" / "hydra.yaml"
    if not (config.is_file() and hydra.is_file()):
        return None, None, ""
    cfg = OmegaConf.load(config)
    runtime = OmegaConf.load(hydra).hydra
    choices = OmegaConf.to_container(runtime.runtime.choices)
    title = train.title(choices, " ".join(runtime.overrides.task))
    dataset, model = train.dataset_and_model(cfg, cfg.seed, Path(runtime.runtime.cwd))
    params = run_dir / "params.npz"
    if not params.is_file():
        return None, dataset, title  # a run that did not finish ok: curves only
    model.load(params)
    return model, dataset, title


def _summary(run_dir):
    """The run's summary.csv row as a dict; {} for an older run or one that left none."""
    import pandas as pd

    try:
        return pd.read_csv(run_dir / "summary.csv").iloc[0].to_dict()
    except (OSError, IndexError, ValueError, pd.errors.ParserError):
        return {}


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
    from runner.analysis import plots

    return plots.save(figure, out_dir / f"{name}.png")


def curves_figure(metrics, title="", kept=None):
    """Loss and the task's score (``runner.metric_names``: accuracy, or RMSE for a regression
    run) against epoch, train solid and validation dashed; ``kept`` marked on both panels."""
    import numpy as np

    from runner import metric_names
    from runner.analysis import plots

    task = metric_names.task_of_columns(metrics.columns)
    score = metric_names.score_columns(task, "train")[0].split("_", 1)[1]
    figure = plots.new_figure(plots.CURVES_SIZE)
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
    figure.suptitle(plots.wrapped(title, 110), fontsize=10)
    plots.tighten(figure)
    return figure


def original_units(dataset):
    """(input names, offset, scale) with ``input * scale + offset`` in the CSV's units: each
    standardised numeric input's training mean and std (``preprocessing.json``); one-hot and
    boolean inputs, and generated data (x0, x1, ...), are as the model sees them."""
    import numpy as np

    from runner.tables.encoding import encoding_of

    encoding = encoding_of(dataset)
    offset, scale = np.zeros(dataset.n_inputs), np.ones(dataset.n_inputs)
    for at, feature in encoding.numeric_inputs():
        offset[at], scale[at] = feature.mean, feature.std
    return encoding.inputs, offset, scale


def boundary_figure(model, dataset, title=""):
    """Decision regions of a 2-input classifier over the training data's range, its points on
    top, both axes in the features' names and units."""
    import numpy as np

    from runner.analysis import plots

    names, offset, scale = original_units(dataset)
    X, y = dataset.X_train * scale + offset, dataset.y_train
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-3 * scale
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], plots.GRID)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], plots.GRID)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = (np.column_stack([grid_x.ravel(), grid_y.ravel()]) - offset) / scale
    regions = plots.predicted_classes(model, points.astype(dataset.X_train.dtype))
    regions = regions.reshape(grid_x.shape)
    n_classes = max(int(y.max()) + 1, int(regions.max()) + 1, 2)
    colours = plots.palette(n_classes)
    figure = plots.new_figure(plots.SQUARE_SIZE)
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
    axes.set_title(plots.wrapped(title, 70), fontsize=9)
    plots.tighten(figure)
    return figure


def fit_figure(model, dataset, title=""):
    """Regression on one input: the training data as points, the prediction as a line, in the
    feature's and the target's names and units."""
    import numpy as np

    from runner.analysis import plots
    from runner.tables.encoding import encoding_of

    names, offset, scale = original_units(dataset)
    X, y = dataset.X_train, dataset.y_train
    line = np.linspace(X[:, 0].min(), X[:, 0].max(), 500, dtype=X.dtype).reshape(-1, 1)
    figure = plots.new_figure(plots.CURVES_SIZE)
    axes = figure.subplots()
    axes.scatter(X[:, 0] * scale[0] + offset[0], y[:, 0], s=6, color="grey", label="data")
    prediction = model.predict(line)[:, 0]
    axes.plot(line[:, 0] * scale[0] + offset[0], prediction, color="crimson", label="prediction")
    axes.set_xlabel(names[0])
    axes.set_ylabel(encoding_of(dataset).target)
    axes.legend()
    axes.set_title(plots.wrapped(title, 70), fontsize=9)
    plots.tighten(figure)
    return figure


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m runner.plot",
        description="Draw runs' curves.png and boundary.png or fit.png from their folders' "
        "files (sweep jobs draw none unless trainer.plots=true).",
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="a run or job folder")
    parser.add_argument("--out", help="write the pictures here instead of each run folder")
    args = parser.parse_args(argv)
    failed = unusable = 0
    for index, run_dir in enumerate(args.run_dirs):
        out = Path(args.out) / str(index) if args.out and len(args.run_dirs) > 1 else args.out
        try:
            drawn = draw(run_dir, out)
        except NotDrawable as error:
            print(f"error: {error}", file=sys.stderr)
            unusable += 1
            continue
        except Exception as error:  # noqa: BLE001 - one folder's problem, the others still drawn
            print(f"error: {run_dir}: {type(error).__name__}: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"{run_dir}: wrote " + ", ".join(str(path) for path in drawn))
    return 1 if failed else 2 if unusable else 0  # 2: a folder given that cannot be drawn
