"""Layers with parameters (Dense) and the Dropout layer.

Every layer follows the book's shape: ``forward(inputs, training=False)`` stores and
returns ``output``; ``backward(dvalues)`` stores ``dinputs`` (and ``dweights``,
``dbiases`` for Dense). Outputs and gradients live in buffers the layer owns and reuses
for the next call with the same batch size: copy ``output`` if you need to keep it.
"""

import math

import numpy as np

from nncore._arrays import Buffers, as_generator, float_dtype
from nncore._validate import non_negative, number_in, positive_int
from nncore.registry import lookup


def normal_init(rng, n_inputs, n_neurons, scale):
    """``scale * N(0, 1)``: the book's default with scale 0.01."""
    return scale * rng.standard_normal((n_inputs, n_neurons))


def he_init(rng, n_inputs, n_neurons, scale):
    """He/Kaiming normal, ``N(0, 2 / n_inputs)``: suited to ReLU layers."""
    return math.sqrt(2.0 / n_inputs) * rng.standard_normal((n_inputs, n_neurons))


def glorot_init(rng, n_inputs, n_neurons, scale):
    """Glorot/Xavier uniform, ``U(-a, a)`` with ``a = sqrt(6 / (n_inputs + n_neurons))``."""
    limit = math.sqrt(6.0 / (n_inputs + n_neurons))
    return rng.uniform(-limit, limit, (n_inputs, n_neurons))


INITIALIZERS = {"normal": normal_init, "he": he_init, "glorot": glorot_init}


class Dense:
    """Fully connected layer: ``output = inputs @ weights + biases``.

    weights: (n_inputs, n_neurons); biases: (1, n_neurons). ``weight_init`` is one of
    INITIALIZERS; ``weight_scale`` is the standard deviation of the ``normal`` scheme.
    ``need_dinputs=False`` skips the input gradient (the first layer of a model needs none).
    """

    def __init__(
        self,
        n_inputs,
        n_neurons,
        weight_init="normal",
        weight_scale=0.01,
        weight_regularizer_l1=0.0,
        weight_regularizer_l2=0.0,
        bias_regularizer_l1=0.0,
        bias_regularizer_l2=0.0,
        seed=None,
        dtype="float32",
    ):
        positive_int("n_inputs", n_inputs)
        positive_int("n_neurons", n_neurons)
        regularizers = {
            "weight_regularizer_l1": weight_regularizer_l1,
            "weight_regularizer_l2": weight_regularizer_l2,
            "bias_regularizer_l1": bias_regularizer_l1,
            "bias_regularizer_l2": bias_regularizer_l2,
        }
        for name, value in {**regularizers, "weight_scale": weight_scale}.items():
            non_negative(name, value)
        self.dtype = float_dtype(dtype)
        init = lookup(INITIALIZERS, "weight_init", weight_init)
        rng = as_generator(seed)
        self.n_inputs, self.n_neurons = int(n_inputs), int(n_neurons)
        self.weights = init(rng, self.n_inputs, self.n_neurons, weight_scale).astype(self.dtype)
        self.biases = np.zeros((1, self.n_neurons), dtype=self.dtype)
        self.dweights = np.zeros_like(self.weights)
        self.dbiases = np.zeros_like(self.biases)
        for name, value in regularizers.items():
            setattr(self, name, float(value))
        self.need_dinputs = True
        self._buffers = Buffers()

    def __repr__(self):
        return f"Dense({self.n_inputs}, {self.n_neurons})"

    # attribute names of each (parameter, gradient) pair; a Model packs them into one buffer
    param_names = (("weights", "dweights"), ("biases", "dbiases"))

    @property
    def params(self):
        """(parameter, gradient) pairs an optimizer updates in place."""
        return [(getattr(self, p), getattr(self, g)) for p, g in self.param_names]

    def forward(self, inputs, training=False):
        """inputs: (n_samples, n_inputs) -> output: (n_samples, n_neurons)."""
        if inputs.ndim != 2 or inputs.shape[1] != self.n_inputs:
            raise ValueError(
                f"Dense({self.n_inputs}, {self.n_neurons}) expects inputs of shape "
                f"(n_samples, {self.n_inputs}), got {inputs.shape}"
            )
        self.inputs = inputs
        out = self._buffers.get("output", (inputs.shape[0], self.n_neurons), self.dtype)
        np.matmul(inputs, self.weights, out=out)
        out += self.biases
        self.output = out
        return out

    def backward(self, dvalues):
        """dvalues: (n_samples, n_neurons) -> dinputs: (n_samples, n_inputs)."""
        np.matmul(self.inputs.T, dvalues, out=self.dweights)
        # bias gradient = column sums, as ones(1, n) @ dvalues: BLAS beats np.sum here (BENCHMARKS.md)
        ones = self._buffers.filled("ones", (1, dvalues.shape[0]), self.dtype, 1)
        np.matmul(ones, dvalues, out=self.dbiases)
        self._add_regularizer_gradients()
        if self.need_dinputs:
            shape = (dvalues.shape[0], self.n_inputs)
            self.dinputs = self._buffers.get("dinputs", shape, self.dtype)
            np.matmul(dvalues, self.weights.T, out=self.dinputs)
        else:
            self.dinputs = None
        return self.dinputs

    def _add_regularizer_gradients(self):
        """Add the penalties' gradients: ``l1 * sign(w)`` and ``2 * l2 * w``.

        |w| has no derivative at exactly 0; any value in [-1, 1] is a subgradient there. We
        use ``np.sign``, which gives 0: a weight that is exactly zero stays zero under the
        penalty alone, the minimum-norm choice that lets L1 keep weights sparse. The book
        uses +1 at 0 (``dL1 = ones; dL1[w < 0] = -1``), which pushes a zero weight negative.
        """
        for param, grad, l1, l2 in (
            (self.weights, self.dweights, self.weight_regularizer_l1, self.weight_regularizer_l2),
            (self.biases, self.dbiases, self.bias_regularizer_l1, self.bias_regularizer_l2),
        ):
            if l1:
                grad += l1 * np.sign(param)
            if l2:
                grad += (2.0 * l2) * param

    def regularization_loss(self):
        """``l1 * sum|w| + l2 * sum(w^2)`` over weights and biases, as a float."""
        total = 0.0
        if self.weight_regularizer_l1:
            total += self.weight_regularizer_l1 * float(np.abs(self.weights).sum())
        if self.weight_regularizer_l2:
            total += self.weight_regularizer_l2 * float(np.vdot(self.weights, self.weights))
        if self.bias_regularizer_l1:
            total += self.bias_regularizer_l1 * float(np.abs(self.biases).sum())
        if self.bias_regularizer_l2:
            total += self.bias_regularizer_l2 * float(np.vdot(self.biases, self.biases))
        return total


class Dropout:
    """Inverted dropout: in training, zero a fraction ``rate`` of inputs and scale the rest by
    ``1 / (1 - rate)``; outside training it is the identity. Draws from its own Generator."""

    def __init__(self, rate, seed=None, dtype="float32"):
        self.rate = number_in("dropout rate", rate, 0, 1)
        self.dtype = float_dtype(dtype)
        self.rng = as_generator(seed)
        self._buffers = Buffers()

    def __repr__(self):
        return f"Dropout({self.rate})"

    def forward(self, inputs, training=False):
        """inputs: (n_samples, n_features) -> output of the same shape."""
        self.training = training
        if not training or self.rate == 0.0:
            self.output = inputs
            return inputs
        uniform = self._buffers.get("uniform", inputs.shape, self.dtype)
        self.rng.random(out=uniform, dtype=self.dtype)
        keep = self._buffers.get("keep", inputs.shape, np.bool_)
        np.greater_equal(uniform, self.rate, out=keep)
        self.mask = self._buffers.get("mask", inputs.shape, self.dtype)
        np.multiply(keep, 1.0 / (1.0 - self.rate), out=self.mask)
        self.output = self._buffers.get("output", inputs.shape, self.dtype)
        np.multiply(inputs, self.mask, out=self.output)
        return self.output

    def backward(self, dvalues):
        if not self.training or self.rate == 0.0:
            self.dinputs = dvalues
            return dvalues
        self.dinputs = self._buffers.get("dinputs", dvalues.shape, self.dtype)
        np.multiply(dvalues, self.mask, out=self.dinputs)
        return self.dinputs


LAYERS = {"dense": Dense, "dropout": Dropout}
