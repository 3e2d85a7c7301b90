"""Activation functions: ``forward(inputs)``, ``backward(dvalues)``, ``predictions(outputs)``.

Shapes: inputs, output, dvalues and dinputs are all (n_samples, n_features). Results are
written into buffers each activation owns, in the dtype of its inputs.
"""

import functools

import numpy as np

from nncore._arrays import Buffers
from nncore._validate import non_negative


class Activation:
    """Shared buffer handling; subclasses implement ``forward`` and ``backward``."""

    def __init__(self):
        self._buffers = Buffers()

    def __repr__(self):
        return f"{type(self).__name__}()"

    def _buffer(self, name, like, dtype=None):
        return self._buffers.get(name, like.shape, dtype or like.dtype)

    def predictions(self, outputs):
        """What the network predicts from this activation's outputs (regression: the values)."""
        return outputs


@functools.lru_cache
def exp_floor(dtype):
    """The smallest argument that activations pass to ``exp``: ``2**24`` times the smallest
    normal number's logarithm, so that probabilities, and gradients of probabilities divided
    by a batch size, stay normal. A probability raised to ``exp(exp_floor)`` (2e-31 in float32,
    1e-300 in float64) changes no row sum at its dtype's resolution."""
    return float(np.log(np.finfo(dtype).smallest_normal)) + 24 * float(np.log(2.0))


# Widths up to this are reduced row-wise column by column: numpy's axis=1 reduction of a
# narrow array runs a tiny inner loop per row and is several times slower.
NARROW = 16


def row_reduce(ufunc, x, out):
    """``ufunc.reduce(x, axis=1, keepdims=True, out=out)``, fast for narrow x: (n, k) -> (n, 1)."""
    k = x.shape[1]
    if k > NARROW or k < 2:
        return ufunc.reduce(x, axis=1, keepdims=True, out=out)
    column = out[:, 0]
    ufunc(x[:, 0], x[:, 1], out=column)
    for j in range(2, k):
        ufunc(column, x[:, j], out=column)
    return out


class ReLU(Activation):
    """``max(0, x)``."""

    def forward(self, inputs, training=False):
        self.inputs = inputs
        # maximum against a zeros array is faster than against the scalar 0 (BENCHMARKS.md)
        zeros = self._buffers.filled("zeros", inputs.shape, inputs.dtype, 0)
        self.output = np.maximum(inputs, zeros, out=self._buffer("output", inputs))
        return self.output

    def backward(self, dvalues):
        positive = np.greater(self.inputs, 0, out=self._buffer("mask", dvalues, np.bool_))
        self.dinputs = np.multiply(dvalues, positive, out=self._buffer("dinputs", dvalues))
        return self.dinputs


class LeakyReLU(Activation):
    """``x`` for ``x > 0``, ``alpha * x`` otherwise."""

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = non_negative("alpha", alpha)

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"

    def forward(self, inputs, training=False):
        self.inputs = inputs
        positive = np.greater(inputs, 0, out=self._buffer("mask", inputs, np.bool_))
        # slope is 1 where x > 0 and alpha elsewhere; it is also the derivative
        self.slope = np.multiply(positive, 1.0 - self.alpha, out=self._buffer("slope", inputs))
        self.slope += self.alpha
        self.output = np.multiply(inputs, self.slope, out=self._buffer("output", inputs))
        return self.output

    def backward(self, dvalues):
        self.dinputs = np.multiply(dvalues, self.slope, out=self._buffer("dinputs", dvalues))
        return self.dinputs


class Softmax(Activation):
    """Row-wise ``exp(x) / sum(exp(x))``, shifted by the row maximum so huge logits stay finite.

    Shifted logits are raised to ``exp_floor``: a class far below the best one gets a tiny
    normal probability instead of a subnormal one, on which arithmetic is many times slower.
    """

    def forward(self, inputs, training=False):
        self.inputs = inputs
        out = self._buffer("output", inputs)
        row = self._buffers.get("row", (inputs.shape[0], 1), inputs.dtype)
        np.subtract(inputs, row_reduce(np.maximum, inputs, row), out=out)
        # against a filled array: np.maximum against a scalar is slower (as in ReLU)
        floor = self._buffers.filled("floor", inputs.shape, inputs.dtype, exp_floor(out.dtype.type))
        np.maximum(out, floor, out=out)
        np.exp(out, out=out)
        out /= row_reduce(np.add, out, row)
        self.output = out
        return out

    def backward(self, dvalues):
        # Jacobian-vector product of every row at once: s * (d - sum(d * s))
        s = self.output
        dinputs = np.multiply(dvalues, s, out=self._buffer("dinputs", dvalues))
        row = self._buffers.get("row", (dvalues.shape[0], 1), dvalues.dtype)
        np.subtract(dvalues, row_reduce(np.add, dinputs, row), out=dinputs)
        dinputs *= s
        self.dinputs = dinputs
        return dinputs

    def predictions(self, outputs):
        """Class index per row: (n_samples,)."""
        return np.argmax(outputs, axis=1)


class Sigmoid(Activation):
    """``1 / (1 + exp(-x))``, computed as ``exp(-log(1 + exp(-x)))`` so no input overflows;
    outputs below ``exp(exp_floor)`` are exactly zero, so that none is subnormal (see Softmax)."""

    def forward(self, inputs, training=False):
        self.inputs = inputs
        out = np.negative(inputs, out=self._buffer("output", inputs))
        np.logaddexp(0, out, out=out)
        np.copyto(out, np.inf, where=out > -exp_floor(out.dtype.type))
        np.negative(out, out=out)
        np.exp(out, out=out)
        self.output = out
        return out

    def backward(self, dvalues):
        # d sigmoid = s * (1 - s)
        s = self.output
        dinputs = np.subtract(1, s, out=self._buffer("dinputs", dvalues))
        dinputs *= s
        dinputs *= dvalues
        self.dinputs = dinputs
        return dinputs

    def predictions(self, outputs):
        """1 where the probability exceeds 0.5, else 0; same shape as ``outputs``."""
        return (outputs > 0.5).astype(np.int64)


class Tanh(Activation):
    """Hyperbolic tangent."""

    def forward(self, inputs, training=False):
        self.inputs = inputs
        self.output = np.tanh(inputs, out=self._buffer("output", inputs))
        return self.output

    def backward(self, dvalues):
        # d tanh = 1 - tanh^2
        t = self.output
        dinputs = np.multiply(t, t, out=self._buffer("dinputs", dvalues))
        np.subtract(1, dinputs, out=dinputs)
        dinputs *= dvalues
        self.dinputs = dinputs
        return dinputs


class Linear(Activation):
    """Identity; the output layer of a regression network."""

    def forward(self, inputs, training=False):
        self.inputs = inputs
        self.output = inputs
        return inputs

    def backward(self, dvalues):
        self.dinputs = dvalues
        return dvalues


ACTIVATIONS = {
    "linear": Linear,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "softmax": Softmax,
    "tanh": Tanh,
}
