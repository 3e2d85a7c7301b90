"""Ledgers and run folders written by hand, as a sweep leaves them, for the report's and the
plots' tests: no training, any number of groups, either task."""

import numpy as np
import pandas as pd

from runner import metric_names

EPOCHS = np.arange(0, 101, 10)
SWEEP = "2025-06-01_12-00-00-123456"  # a sweep folder as Hydra names one


def write_runs(
    root,
    task="classification",
    learning_rates=(0.05,),
    widths=(8,),
    seeds=(0, 1),
    models=("dense2",),
):
    """``root/outputs/runs.csv`` and a ``metrics.csv`` per run: one run per model, learning
    rate, width and seed. A regression run records RMSE, MAE and R² in place of accuracy (empty
    in its ledger row, absent from its metrics.csv); a bigger rate and width learn faster."""
    rows = []
    for model in models:
        for lr in learning_rates:
            for width in widths:
                for seed in seeds:
                    run_dir = root / "outputs" / "sweeps" / SWEEP / str(len(rows))
                    run_dir.mkdir(parents=True)
                    metrics = _metrics(task, 1.0 / (1 + EPOCHS * lr * width) + 0.01 * seed)
                    metrics.to_csv(run_dir / "metrics.csv", index=False)
                    rows.append(_row(task, len(rows), run_dir, metrics, (model, lr, width, seed)))
    pd.DataFrame(rows).to_csv(root / "outputs" / "runs.csv", index=False)
    return root / "outputs" / "runs.csv"


def _metrics(task, loss):
    metrics = {"epoch": EPOCHS, "train_loss": loss, "val_loss": 1.1 * loss}
    if task == metric_names.REGRESSION:
        metrics.update(
            train_rmse=np.sqrt(loss), val_rmse=np.sqrt(1.1 * loss), val_mae=loss, val_r2=1 - loss
        )
    else:
        metrics.update(train_accuracy=1 - loss / 2, val_accuracy=1 - loss / 1.8)
    return pd.DataFrame(metrics)


def _row(task, number, run_dir, metrics, config):
    regression = task == metric_names.REGRESSION
    model, lr, width, seed = config
    scores = ("train_accuracy", "val_accuracy", "train_rmse", "val_rmse", "val_mae", "val_r2")
    return {
        "run_id": f"run{number}",
        "status": "ok",
        "run_dir": str(run_dir),
        "overrides": f"model={model} optimizer.learning_rate={lr} model.width={width} seed={seed}",
        "model": model,
        "data": "sine" if regression else "spiral",
        "loss": "mse" if regression else "categorical_crossentropy",
        "optimizer": "adam",
        "train_loss": metrics["train_loss"].iloc[-1],
        "val_loss": metrics["val_loss"].iloc[-1],
        **{s: metrics[s].iloc[-1] if s in metrics else np.nan for s in scores},
        "optimizer.learning_rate": lr,
        "model.width": width,
        "seed": seed,
    }
