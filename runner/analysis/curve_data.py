"""Runs' learning curves as compact page data: read from each run's ``metrics.csv``, thinned to
at most ``MAX_POINTS`` epochs, and packed as 16-bit steps between the curve's own minimum and
maximum (base64), so 1000 runs of 2000 epochs stay a few MB in an HTML page.

A packed curve is ``[low, high, base64]``; a step of ``GAP`` is a missing value. Epochs are
``{"first", "step", "count"}`` when evenly spaced (the usual ``trainer.log_every``; ``"last"``
too when the last epoch is off the step), else a list.
"""

import base64
from pathlib import Path

import numpy as np
import pandas as pd

MAX_POINTS = 200
# what the curves draw: the loss and the headline score (accuracy; RMSE for regression runs,
# whose metrics.csv has no accuracy), train and validation
CURVE_COLUMNS = (
    "train_loss",
    "val_loss",
    "train_accuracy",
    "val_accuracy",
    "train_rmse",
    "val_rmse",
)
GAP = 65535
STEPS = GAP - 1


def read_all(run_dirs, columns=CURVE_COLUMNS, max_points=MAX_POINTS):
    """[packed curves of each run, or None where its folder has no readable metrics.csv].
    One file after the other: threads made 1000 files slower here (the parser holds the GIL)."""
    return [read(d, columns, max_points) for d in run_dirs]


def read(run_dir, columns=CURVE_COLUMNS, max_points=MAX_POINTS):
    """{"epoch": epochs, column: packed values} of one run, or None."""
    path = Path(str(run_dir)) / "metrics.csv"
    try:
        metrics = pd.read_csv(path, usecols=lambda c: c == "epoch" or c in columns)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if "epoch" not in metrics or not len(metrics):
        return None
    picked = thinned(len(metrics), max_points)
    epochs = metrics["epoch"].to_numpy()[picked]
    curves = {"epoch": _epochs(epochs)}
    for column in columns:
        if column in metrics:
            values = pd.to_numeric(metrics[column], errors="coerce").to_numpy(float)[picked]
            if np.isfinite(values).any():
                curves[column] = pack(values)
    return curves


def thinned(count, max_points):
    """Indices of at most ``max_points`` rows: every k-th (so thinned epochs stay evenly spaced),
    and the last row."""
    if count <= max_points:
        return np.arange(count)
    stride = -(-(count - 1) // (max_points - 1))
    picked = np.arange(0, count, stride)
    return picked if picked[-1] == count - 1 else np.append(picked, count - 1)


def pack(values):
    """float values -> [low, high, base64 of little-endian uint16 steps]; NaN/inf -> GAP."""
    finite = np.isfinite(values)
    low, high = float(values[finite].min()), float(values[finite].max())
    span = high - low or 1.0
    steps = np.full(len(values), GAP, dtype="<u2")
    steps[finite] = np.round((values[finite] - low) / span * STEPS).astype("<u2")
    return [low, high, base64.b64encode(steps.tobytes()).decode("ascii")]


def unpack(packed):
    """The inverse of ``pack`` (what the page does in JavaScript), for tests."""
    low, high, text = packed
    steps = np.frombuffer(base64.b64decode(text), dtype="<u2")
    values = low + steps.astype(float) / STEPS * ((high - low) or 1.0)
    values[steps == GAP] = np.nan
    return values


def _epochs(epochs):
    """Evenly spaced epochs (but perhaps the last) -> {first, step, count[, last]}; else a list."""
    epochs = [int(e) for e in epochs]
    regular = (
        epochs[:-1] if len(epochs) > 3 and _even(epochs[:-1]) and not _even(epochs) else epochs
    )
    if len(regular) > 2 and _even(regular):
        found = {"first": regular[0], "step": regular[1] - regular[0], "count": len(regular)}
        if len(regular) < len(epochs):
            found["last"] = epochs[-1]
        return found
    return epochs


def _even(epochs):
    step = epochs[1] - epochs[0]
    return step > 0 and all(b - a == step for a, b in zip(epochs, epochs[1:], strict=False))
