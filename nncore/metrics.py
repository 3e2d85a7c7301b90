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


METRICS = {
    "categorical": CategoricalAccuracy,
    "binary": BinaryAccuracy,
    "regression": RegressionAccuracy,
}
