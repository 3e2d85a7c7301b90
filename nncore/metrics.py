"""Accuracy metrics: ``calculate(output, y)`` returns the fraction of correct predictions.

As with losses, ``calculate`` checks ``y`` through ``targets`` and ``score`` is the unchecked
core a Model's loop calls with targets it checked once.
"""

import numpy as np

from nncore.losses import class_targets, value_targets


class Accuracy:
    targets = staticmethod(value_targets)

    def __repr__(self):
        return f"{type(self).__name__}()"

    def calculate(self, output, y):
        return self.score(output, self.targets(output, y))


class CategoricalAccuracy(Accuracy):
    """Fraction of rows whose argmax equals the target class (sparse or one-hot ``y``)."""

    targets = staticmethod(class_targets)

    def score(self, output, y):
        if y.ndim == 2:
            y = np.argmax(y, axis=1)
        return int(np.count_nonzero(np.argmax(output, axis=1) == y)) / len(y)


class BinaryAccuracy(Accuracy):
    """Fraction of outputs on the right side of ``threshold``; y is (n,) or shaped like output."""

    def __init__(self, threshold=0.5):
        self.threshold = float(threshold)

    def score(self, output, y):
        return float(np.mean((output > self.threshold) == (y > self.threshold)))


class RegressionAccuracy(Accuracy):
    """Fraction of outputs within ``precision`` of the target.

    ``precision`` defaults to ``std(y_train) / 250``, fixed by ``init(y)`` (or by the
    first ``calculate``) so it does not move between training and validation data.
    """

    def __init__(self, precision=None, divisor=250):
        self.precision = None if precision is None else float(precision)
        self.divisor = float(divisor)

    def init(self, y, reinit=False):
        if self.precision is None or reinit:
            self.precision = float(np.std(y)) / self.divisor
        return self

    def score(self, output, y):
        if self.precision is None:
            self.init(y)
        return float(np.mean(np.abs(output - y) < self.precision))


def regression_scores(output, y):
    """RMSE, MAE and R² of predictions ``output`` (n, k) against targets ``y`` ((n, k) or (n,)).

    Summed in float64 whatever the dtype. RMSE is over every value, the square root of the
    MeanSquaredError loss (for one output, scikit-learn's figure too). R² is ``1 - SS_res / SS_tot`` per output, averaged
    over the outputs (scikit-learn's ``r2_score`` default); an output whose target is constant
    scores 1.0 when predicted exactly, else 0.0, as scikit-learn does.
    """
    output = np.asarray(output, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(output.shape)
    error = output - y
    residual = np.sum(error**2, axis=0)
    total = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1.0 - residual / total, np.where(residual > 0, 0.0, 1.0))
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": float(np.mean(r2)),
    }


METRICS = {
    "categorical": CategoricalAccuracy,
    "binary": BinaryAccuracy,
    "regression": RegressionAccuracy,
}
