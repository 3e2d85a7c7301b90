"""Toy datasets: functions returning ``(X, y)``, seeded by an int or Generator.

Classification sets return X: (samples * classes, 2) and integer labels y: (n,) int64,
``samples`` points per class. ``sine`` is regression: X: (samples, 1), y: (samples, 1).
Values are drawn in float64 and cast once, so float32 data is the rounding of float64 data.
Nothing here touches numpy's global random state.
"""

import math

import numpy as np

from nncore._arrays import as_generator, float_dtype
from nncore._validate import non_negative, number_in, positive_int


def _labels(samples, classes):
    return np.repeat(np.arange(classes, dtype=np.int64), samples)


def _finish(X, y, dtype):
    return np.ascontiguousarray(X, dtype=float_dtype(dtype)), y


def spiral(samples=100, classes=3, noise=0.2, seed=None, dtype="float32"):
    """The book's spiral: per class k, radius ``linspace(0, 1)``, angle
    ``linspace(4k, 4(k + 1)) + noise * N(0, 1)``, point ``r * (sin 2.5t, cos 2.5t)``."""
    positive_int("samples", samples)
    positive_int("classes", classes)
    non_negative("noise", noise)
    rng = as_generator(seed)
    X = np.empty((samples * classes, 2))
    radius = np.linspace(0.0, 1.0, samples)
    for k in range(classes):
        t = np.linspace(k * 4, (k + 1) * 4, samples) + rng.standard_normal(samples) * noise
        rows = slice(samples * k, samples * (k + 1))
        X[rows, 0] = radius * np.sin(t * 2.5)
        X[rows, 1] = radius * np.cos(t * 2.5)
    return _finish(X, _labels(samples, classes), dtype)


def vertical(samples=100, classes=3, noise=0.1, seed=None, dtype="float32"):
    """The book's vertical stripes: class k centred at ``(k / 3, 0.5)`` with ``noise`` spread."""
    positive_int("samples", samples)
    positive_int("classes", classes)
    non_negative("noise", noise)
    rng = as_generator(seed)
    X = np.empty((samples * classes, 2))
    for k in range(classes):
        rows = slice(samples * k, samples * (k + 1))
        X[rows, 0] = rng.standard_normal(samples) * noise + k / 3
        X[rows, 1] = rng.standard_normal(samples) * noise + 0.5
    return _finish(X, _labels(samples, classes), dtype)


def sine(samples=1000, noise=0.0, seed=None, dtype="float32"):
    """Regression: ``x`` evenly spaced in [0, 1), ``y = sin(2 pi x) + noise * N(0, 1)``."""
    positive_int("samples", samples)
    non_negative("noise", noise)
    rng = as_generator(seed)
    X = (np.arange(samples) / samples).reshape(-1, 1)
    y = np.sin(2 * np.pi * X)
    if noise:
        y = y + noise * rng.standard_normal(y.shape)
    dtype = float_dtype(dtype)
    return _finish(X, y.astype(dtype), dtype)


def moons(samples=100, noise=0.1, seed=None, dtype="float32"):
    """Two interleaving half circles (as scikit-learn's make_moons), ``samples`` per class."""
    positive_int("samples", samples)
    non_negative("noise", noise)
    rng = as_generator(seed)
    angle = np.linspace(0, math.pi, samples)
    upper = np.column_stack([np.cos(angle), np.sin(angle)])
    lower = np.column_stack([1 - np.cos(angle), 0.5 - np.sin(angle)])
    X = np.vstack([upper, lower]) + noise * rng.standard_normal((2 * samples, 2))
    return _finish(X, _labels(samples, 2), dtype)


def circles(samples=100, noise=0.05, factor=0.5, seed=None, dtype="float32"):
    """An outer circle (class 0) around an inner one of radius ``factor`` (class 1)."""
    positive_int("samples", samples)
    non_negative("noise", noise)
    number_in("factor", factor, 0, 1, low_open=True)
    rng = as_generator(seed)
    angle = np.linspace(0, 2 * math.pi, samples, endpoint=False)
    ring = np.column_stack([np.cos(angle), np.sin(angle)])
    X = np.vstack([ring, factor * ring]) + noise * rng.standard_normal((2 * samples, 2))
    return _finish(X, _labels(samples, 2), dtype)


def blobs(samples=100, classes=3, noise=1.0, spread=10.0, seed=None, dtype="float32"):
    """Gaussian blobs: centres uniform in ``[-spread, spread]^2``, standard deviation ``noise``."""
    positive_int("samples", samples)
    positive_int("classes", classes)
    non_negative("noise", noise)
    non_negative("spread", spread)
    rng = as_generator(seed)
    centres = rng.uniform(-spread, spread, (classes, 2))
    X = np.repeat(centres, samples, axis=0) + noise * rng.standard_normal((samples * classes, 2))
    return _finish(X, _labels(samples, classes), dtype)


DATASETS = {
    "spiral": spiral,
    "vertical": vertical,
    "sine": sine,
    "moons": moons,
    "circles": circles,
    "blobs": blobs,
}
