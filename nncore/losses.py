"""Losses: ``forward(output, y)`` gives per-sample losses (n_samples,), ``calculate`` their mean,
``backward(output, y)`` stores ``dinputs`` (the gradient of the mean loss w.r.t. ``output``).

Each public method checks ``y`` and brings it to one form with ``targets(output, y)``, then
calls an unchecked core (``sample_losses``, ``gradient``) that a Model's training loop calls
directly with targets it checked once for the whole data set.
"""

import numpy as np

from nncore._arrays import Buffers

CLIP = 1e-7  # predictions are clipped to [CLIP, 1 - CLIP] so log() never sees 0 or 1


def regularization_loss(layers):
    """Sum of every layer's L1/L2 penalty (layers without one contribute 0)."""
    return sum(
        layer.regularization_loss() for layer in layers if hasattr(layer, "regularization_loss")
    )


def _samples(output, y):
    if output.ndim != 2:
        raise ValueError(
            f"predictions must be 2-D (n_samples, n_outputs), got shape {output.shape}"
        )
    y = np.asarray(y)
    if y.shape[:1] != output.shape[:1]:
        raise ValueError(
            f"targets have {y.shape[0] if y.ndim else 0} samples but predictions have {output.shape[0]}"
        )
    return y


def value_targets(output, y):
    """Targets shaped like ``output`` in its dtype: (n,) is accepted for a single output column."""
    y = _samples(output, y)
    if y.ndim == 1 and output.shape[1] == 1:
        y = y.reshape(-1, 1)
    if y.shape != output.shape:
        raise ValueError(
            f"targets of shape {y.shape} do not match predictions of shape {output.shape}"
        )
    return y if y.dtype == output.dtype else y.astype(output.dtype)


def class_targets(output, y):
    """Classification targets, checked: integer class indices (n_samples,) in range, or one-hot
    rows shaped like ``output`` (in its dtype). A column vector (n_samples, 1) is rejected
    rather than silently broadcast."""
    y = _samples(output, y)
    if y.ndim == 1:
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"class labels must be integers, got dtype {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= output.shape[1]):
            raise ValueError(
                f"class labels must lie in [0, {output.shape[1] - 1}] for {output.shape[1]} "
                f"outputs, got labels from {y.min()} to {y.max()}"
            )
        return y
    if y.ndim == 2 and y.shape[1] == 1 and output.shape[1] != 1:
        raise ValueError(
            f"class labels of shape {y.shape} are a column vector; pass them as shape "
            f"({y.shape[0]},) (e.g. y.ravel()) or one-hot of shape {output.shape}"
        )
    if y.shape != output.shape:
        raise ValueError(
            f"one-hot targets of shape {y.shape} do not match predictions of shape {output.shape}"
        )
    return y if y.dtype == output.dtype else y.astype(output.dtype)


class Loss:
    """Base class: checked public methods around the unchecked ``sample_losses`` / ``gradient``."""

    targets = staticmethod(value_targets)

    def __init__(self):
        self._buffers = Buffers()

    def __repr__(self):
        return f"{type(self).__name__}()"

    def forward(self, output, y):
        """Per-sample losses: (n_samples,)."""
        return self.sample_losses(output, self.targets(output, y))

    def calculate(self, output, y):
        """Mean loss over samples, as a float."""
        return self.mean(output, self.targets(output, y))

    def mean(self, output, y):
        """Mean loss for targets already checked by ``targets``."""
        losses = self.sample_losses(output, y)
        return float(losses.sum()) / len(losses)

    def backward(self, output, y):
        """Store and return ``dinputs``: d(mean loss)/d(output), shaped like ``output``."""
        return self.gradient(output, self.targets(output, y))

    def regularization_loss(self, layers):
        return regularization_loss(layers)

    def _dinputs(self, output):
        self.dinputs = self._buffers.get("dinputs", output.shape, output.dtype)
        return self.dinputs


class CategoricalCrossentropy(Loss):
    """``-log(p[target])`` per sample, for sparse class indices or one-hot rows."""

    targets = staticmethod(class_targets)

    def sample_losses(self, output, y):
        sparse = y.ndim == 1
        correct = output[np.arange(len(output)), y] if sparse else np.sum(output * y, axis=1)
        np.clip(correct, CLIP, 1 - CLIP, out=correct)
        return -np.log(correct)

    def gradient(self, output, y):
        # dL/dp = -y / p / n, with p clipped so a zero probability gives a finite gradient
        n = len(output)
        dinputs = self._dinputs(output)
        if y.ndim == 1:
            dinputs.fill(0)
            rows = np.arange(n)
            dinputs[rows, y] = -1.0 / (np.clip(output[rows, y], CLIP, 1 - CLIP) * n)
        else:
            np.clip(output, CLIP, 1 - CLIP, out=dinputs)
            np.divide(y, dinputs, out=dinputs)
            dinputs *= -1.0 / n
        return dinputs


class SoftmaxCategoricalCrossentropy:
    """Backward of Softmax followed by categorical cross-entropy in one step: ``(p - y) / n``.

    Cheaper and more accurate than chaining the two backwards; a Model ending in Softmax
    with CategoricalCrossentropy uses it automatically.
    """

    def __init__(self):
        self._buffers = Buffers()

    def backward(self, softmax_output, y):
        """softmax_output: (n_samples, n_classes); y sparse or one-hot -> dinputs, same shape."""
        return self.gradient(softmax_output, class_targets(softmax_output, y))

    def gradient(self, softmax_output, y):
        """``backward`` for targets already checked by ``class_targets``."""
        n = len(softmax_output)
        dinputs = self._buffers.get("dinputs", softmax_output.shape, softmax_output.dtype)
        if y.ndim == 1:
            np.copyto(dinputs, softmax_output)
            dinputs[np.arange(n), y] -= 1
        else:
            np.subtract(softmax_output, y, out=dinputs)
        dinputs *= 1.0 / n
        self.dinputs = dinputs
        return dinputs


class BinaryCrossentropy(Loss):
    """``-mean(y log p + (1 - y) log(1 - p))`` over outputs, per sample; p clipped."""

    def sample_losses(self, output, y):
        p = np.clip(output, CLIP, 1 - CLIP)
        losses = y * np.log(p) + (1 - y) * np.log1p(-p)
        return -np.mean(losses, axis=1)

    def gradient(self, output, y):
        # dL/dp = -(y / p - (1 - y) / (1 - p)) / n_outputs / n_samples = (p - y) / (p (1 - p)) / size
        p = np.clip(output, CLIP, 1 - CLIP)
        dinputs = self._dinputs(output)
        np.subtract(p, y, out=dinputs)
        dinputs /= p * (1 - p)
        dinputs *= 1.0 / output.size
        return dinputs


class MeanSquaredError(Loss):
    """``mean((y - p)^2)`` over outputs, per sample."""

    def sample_losses(self, output, y):
        return np.mean((y - output) ** 2, axis=1)

    def gradient(self, output, y):
        # dL/dp = 2 (p - y) / n_outputs / n_samples
        dinputs = np.subtract(output, y, out=self._dinputs(output))
        dinputs *= 2.0 / output.size
        return dinputs


class MeanAbsoluteError(Loss):
    """``mean(|y - p|)`` over outputs, per sample."""

    def sample_losses(self, output, y):
        return np.mean(np.abs(y - output), axis=1)

    def gradient(self, output, y):
        # dL/dp = sign(p - y) / n_outputs / n_samples (the book has the sign backwards)
        dinputs = np.subtract(output, y, out=self._dinputs(output))
        np.sign(dinputs, out=dinputs)
        dinputs *= 1.0 / output.size
        return dinputs


LOSSES = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError,
    "mae": MeanAbsoluteError,
}
