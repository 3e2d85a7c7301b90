"""Optimizers: ``step(layers)`` applies one iteration to every layer that has ``params``.

The learning rate decays as ``learning_rate / (1 + decay * iterations)``. Moment estimates
are kept by the optimizer, keyed by parameter array, never stored on layers; every update
is computed in place in the parameters' dtype.
"""

import math

import numpy as np

from nncore._validate import non_negative, number_in, positive


class Optimizer:
    """Learning-rate schedule and per-parameter state; subclasses define ``_update``."""

    n_slots = 0  # state arrays per parameter (momentum, cache, ...)

    def __init__(self, learning_rate, decay):
        self.learning_rate = positive("learning_rate", learning_rate)
        self.decay = non_negative("decay", decay)
        self.iterations = 0
        self._state = {}

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self.learning_rate}, decay={self.decay})"

    @property
    def current_learning_rate(self):
        """The learning rate the next step uses."""
        return self.learning_rate / (1.0 + self.decay * self.iterations)

    def step(self, layers):
        """One update of every ``(param, grad)`` pair of every layer that has parameters."""
        lr = self.current_learning_rate
        for layer in layers:
            for param, grad in getattr(layer, "params", ()):
                self._update(param, grad, self._slots(param), lr)
        self.iterations += 1

    def _slots(self, param):
        """Zero-initialised state arrays for ``param`` plus one scratch array, made once."""
        entry = self._state.get(id(param))
        if entry is None or entry[0] is not param:
            slots = [np.zeros_like(param) for _ in range(self.n_slots + 1)]
            entry = self._state[id(param)] = (param, slots)
        return entry[1]

    def state(self, param):
        """The optimizer's state arrays for ``param`` (without the scratch array)."""
        return self._slots(param)[: self.n_slots]


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum: ``v = momentum * v - lr * g; p += v``."""

    def __init__(self, learning_rate=1.0, decay=0.0, momentum=0.0):
        super().__init__(learning_rate, decay)
        self.momentum = number_in("momentum", momentum, 0, 1)
        self.n_slots = 1 if self.momentum else 0

    def _update(self, param, grad, slots, lr):
        scratch = slots[-1]
        np.multiply(grad, lr, out=scratch)
        if self.momentum:
            velocity = slots[0]
            velocity *= self.momentum
            velocity -= scratch
            param += velocity
        else:
            param -= scratch


class Adagrad(Optimizer):
    """``cache += g^2; p -= lr * g / (sqrt(cache) + epsilon)``."""

    n_slots = 1

    def __init__(self, learning_rate=1.0, decay=0.0, epsilon=1e-7):
        super().__init__(learning_rate, decay)
        self.epsilon = positive("epsilon", epsilon)

    def _update(self, param, grad, slots, lr):
        cache, scratch = slots
        np.multiply(grad, grad, out=scratch)
        cache += scratch
        _apply_scaled_step(param, grad, cache, scratch, lr, self.epsilon)


class RMSprop(Optimizer):
    """``cache = rho * cache + (1 - rho) * g^2; p -= lr * g / (sqrt(cache) + epsilon)``."""

    n_slots = 1

    def __init__(self, learning_rate=0.001, decay=0.0, epsilon=1e-7, rho=0.9):
        super().__init__(learning_rate, decay)
        self.epsilon = positive("epsilon", epsilon)
        self.rho = number_in("rho", rho, 0, 1)

    def _update(self, param, grad, slots, lr):
        cache, scratch = slots
        cache *= self.rho
        np.multiply(grad, grad, out=scratch)
        scratch *= 1.0 - self.rho
        cache += scratch
        _apply_scaled_step(param, grad, cache, scratch, lr, self.epsilon)


def _apply_scaled_step(param, grad, cache, scratch, lr, epsilon):
    """``p -= lr * g / (sqrt(cache) + epsilon)`` without temporaries."""
    np.sqrt(cache, out=scratch)
    scratch += epsilon
    np.divide(grad, scratch, out=scratch)
    scratch *= lr
    param -= scratch


class Adam(Optimizer):
    """Adam with bias correction, as in the book:
    ``m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    p -= lr * m_hat / (sqrt(v_hat) + epsilon)`` with ``m_hat = m / (1 - b1^t)``,
    ``v_hat = v / (1 - b2^t)``, t the 1-based step number.
    """

    n_slots = 2

    def __init__(self, learning_rate=0.001, decay=0.0, epsilon=1e-7, beta_1=0.9, beta_2=0.999):
        super().__init__(learning_rate, decay)
        self.epsilon = positive("epsilon", epsilon)
        self.beta_1 = number_in("beta_1", beta_1, 0, 1)
        self.beta_2 = number_in("beta_2", beta_2, 0, 1)

    def _update(self, param, grad, slots, lr):
        m, v, scratch = slots
        t = self.iterations + 1
        # Bias correction folded into scalars: m_hat / (sqrt(v_hat) + eps)
        # = m * c2 / c1 / (sqrt(v) + eps * c2) with c1 = 1 - b1^t, c2 = sqrt(1 - b2^t)
        c2 = math.sqrt(1.0 - self.beta_2**t)
        step_size = lr * c2 / (1.0 - self.beta_1**t)
        _adam_passes(
            param, grad, m, v, scratch, self.beta_1, self.beta_2, self.epsilon * c2, step_size
        )


def _adam_passes(param, grad, m, v, scratch, beta_1, beta_2, epsilon, step_size):
    """One Adam step in twelve in-place passes, no temporaries."""
    np.subtract(grad, m, out=scratch)  # m += (1 - b1)(g - m) is b1 m + (1 - b1) g
    scratch *= 1.0 - beta_1
    m += scratch
    v *= beta_2
    np.multiply(grad, grad, out=scratch)
    scratch *= 1.0 - beta_2
    v += scratch
    np.sqrt(v, out=scratch)
    scratch += epsilon
    np.divide(m, scratch, out=scratch)
    scratch *= step_size
    param -= scratch


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam}
