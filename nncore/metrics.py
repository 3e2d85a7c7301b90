"""Accuracy metrics: ``calculate(output, y)`` returns the fraction of correct predictions."""

import numpy as np

from nncore.losses import class_targets, value_targets


class CategoricalAccuracy:
    """Fraction of rows whose argmax equals the target class (sparse or one-hot ``y``)."""

    def calculate(self, output, y):
        y, sparse = class_targets(output, y)
        if not sparse:
            y = np.argmax(y, axis=1)
        return int(np.count_nonzero(np.argmax(output, axis=1) == y)) / len(y)


class BinaryAccuracy:
    """Fraction of outputs on the right side of ``threshold``; ``y`` is (n,) or shaped like output."""

    def __init__(self, threshold=0.5):
        self.threshold = float(threshold)

    def calculate(self, output, y):
        y = value_targets(output, y)
        return float(np.mean((output > self.threshold) == (y > self.threshold)))


class RegressionAccuracy:
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

    def calculate(self, output, y):
        y = value_targets(output, y)
        if self.precision is None:
            self.init(y)
        return float(np.mean(np.abs(output - y) < self.precision))


METRICS = {
    "categorical": CategoricalAccuracy,
    "binary": BinaryAccuracy,
    "regression": RegressionAccuracy,
}
