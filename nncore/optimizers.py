"""Optimizers: ``step(layers)`` applies one iteration to every layer that has ``params``.

The learning rate decays as ``learning_rate / (1 + decay * iterations)``. Moment estimates
are kept by the optimizer, keyed by parameter array, never stored on layers; every update
is computed in place in the parameters' dtype.

State stays off the subnormal range (magnitudes below ``np.finfo(dtype).smallest_normal``),
where arithmetic is many times slower on many x86 CPUs. A slot whose gradient is zero (a dead
ReLU unit's weights, a feature that is rarely non-zero) shrinks by its decay factor every step
and would reach that range after some hundreds of steps. So every ``sweep_interval`` steps
the optimizer sweeps its state, with ``limit = smallest_normal / decay ** sweep_interval``:

- a slot that can be negative (momentum, Adam's first moment): values with magnitude below
  ``limit`` become exactly zero;
- a slot that cannot (a cache of squared gradients, Adam's second moment) starts at ``limit``
  and is raised to it: it then stays normal between sweeps, even when a subnormal ``g^2`` is
  added to it.

A value left by a sweep cannot decay into the subnormal range before the next one; a sweep
every few dozen steps costs next to nothing, where a check in every step would cost passes
over the state (bench/subnormals.py). What a sweep removes or adds lies far below float32's
resolution of any parameter that is not itself almost zero (tests/test_subnormals.py).
"""

import math

import numpy as np

from nncore._validate import non_negative, number_in, positive

# At most this many steps between sweeps; a sweep costs a few passes over the state.
MAX_SWEEP_INTERVAL = 64
# A limit is at most smallest_normal * SWEEP_MARGIN: slots that decay fast (a small momentum)
# are swept more often rather than at a higher limit.
SWEEP_MARGIN = 2.0**20


class Optimizer:
    """Learning-rate schedule and per-parameter state; subclasses define ``_update`` and, per
    state slot, ``_slot_decays``: the factor the slot keeps per step when its gradient is zero,
    and whether it can be negative."""

    n_slots = 0  # state arrays per parameter (momentum, cache, ...)

    def __init__(self, learning_rate, decay):
        self.learning_rate = positive("learning_rate", learning_rate)
        self.decay = non_negative("decay", decay)
        self.iterations = 0
        self._state = {}
        self.max_sweep_interval = MAX_SWEEP_INTERVAL

    @property
    def max_sweep_interval(self):
        """Steps between sweeps at most; None switches sweeps off (to measure what they save)."""
        return self._max_sweep_interval

    @max_sweep_interval.setter
    def max_sweep_interval(self, value):
        self._max_sweep_interval = value
        self._interval = None  # worked out again at the next step

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
        interval = self._interval
        if interval is None:  # worked out once: small steps (W1) would feel the property
            interval = self._interval = self.sweep_interval
        if interval and self.iterations % interval == 0:
            self.sweep()

    def _slot_decays(self):
        """Per state slot: (decay factor per step with zero gradient, slot can be negative)."""
        return ()

    @property
    def sweep_interval(self):
        """Steps between sweeps (0: none): at most ``max_sweep_interval``, fewer when a slot
        decays so fast that its limit would exceed ``smallest_normal * SWEEP_MARGIN``."""
        if self.max_sweep_interval is None:
            return 0
        interval = int(self.max_sweep_interval)
        for decay, _ in self._slot_decays():
            if decay < 1.0:
                steps = int(math.log(SWEEP_MARGIN) / -math.log(decay)) if decay > 0 else 1
                interval = min(interval, steps)
        return max(1, interval)

    def _limits(self, dtype):
        """Per slot: the magnitude below which a sweep flushes (signed) or raises (not) values."""
        tiny = float(np.finfo(dtype).smallest_normal)
        interval = max(1, self.sweep_interval)
        return [tiny / decay**interval if decay > 0 else tiny for decay, _ in self._slot_decays()]

    def sweep(self):
        """Flush to zero (signed slots) or raise to the limit (non-negative slots) every state
        value that could otherwise become subnormal before the next sweep."""
        decays = self._slot_decays()
        for _, slots in self._state.values():
            scratch = slots[-1]
            limits = self._limits(scratch.dtype)
            for slot, limit, (_, signed) in zip(slots, limits, decays, strict=False):
                # branch-free passes: a masked copy with a scattered mask is much slower, and
                # so is np.maximum against a scalar rather than against an array
                if signed:
                    np.abs(slot, out=scratch)
                    np.greater_equal(scratch, limit, out=scratch)  # 1.0 keeps, 0.0 flushes
                    slot *= scratch
                else:
                    scratch.fill(limit)
                    np.maximum(slot, scratch, out=slot)

    def _slots(self, param):
        """State arrays for ``param`` plus one scratch array, made once: signed slots start at
        zero, non-negative ones at their sweep limit."""
        entry = self._state.get(id(param))
        if entry is None or entry[0] is not param:
            slots = [np.zeros_like(param) for _ in range(self.n_slots + 1)]
            if self.sweep_interval:
                limits = self._limits(param.dtype)
                for slot, limit, (_, signed) in zip(
                    slots, limits, self._slot_decays(), strict=False
                ):
                    if not signed:
                        slot.fill(limit)
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

    def _slot_decays(self):
        return ((self.momentum, True),) if self.momentum else ()

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

    def _slot_decays(self):
        return ((1.0, False),)  # the cache only grows; a sweep removes subnormal g^2 sums

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

    def _slot_decays(self):
        return ((self.rho, False),)

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

    The moments are stored scaled, ``M = m / (1 - b1)`` and ``V = v / (1 - b2)``, so each
    update is one pass shorter (``M = b1 M + g``, ``V = b2 V + g^2``): ten passes over the
    state in all, not twelve; the constants move into the step's two scalars. ``state()``
    returns ``M`` and ``V``; ``moments()`` the book's ``m`` and ``v``.
    """

    n_slots = 2

    def __init__(self, learning_rate=0.001, decay=0.0, epsilon=1e-7, beta_1=0.9, beta_2=0.999):
        super().__init__(learning_rate, decay)
        self.epsilon = positive("epsilon", epsilon)
        self.beta_1 = number_in("beta_1", beta_1, 0, 1)
        self.beta_2 = number_in("beta_2", beta_2, 0, 1)

    def _slot_decays(self):
        return ((self.beta_1, True), (self.beta_2, False))

    def moments(self, param):
        """The book's ``m`` and ``v`` for ``param`` (copies of the scaled state)."""
        scaled_m, scaled_v = self.state(param)
        return scaled_m * (1.0 - self.beta_1), scaled_v * (1.0 - self.beta_2)

    def _update(self, param, grad, slots, lr):
        scaled_m, scaled_v, scratch = slots
        epsilon, step_size = adam_scalars(
            lr, self.beta_1, self.beta_2, self.epsilon, self.iterations + 1
        )
        _adam_passes(
            param, grad, scaled_m, scaled_v, scratch, self.beta_1, self.beta_2, epsilon, step_size
        )


def adam_scalars(lr, beta_1, beta_2, epsilon, t):
    """(epsilon, step size) of step ``t`` (1-based) on the scaled moments:
    ``m_hat / (sqrt(v_hat) + eps) = M (1 - b1) / c1 / (a sqrt(V) + eps)
    = M / (sqrt(V) + eps / a) * (1 - b1) / (c1 a)``, with ``c1 = 1 - b1^t`` and
    ``a = sqrt((1 - b2) / (1 - b2^t))``."""
    a = math.sqrt((1.0 - beta_2) / (1.0 - beta_2**t))
    return epsilon / a, lr * (1.0 - beta_1) / ((1.0 - beta_1**t) * a)


def _adam_passes(param, grad, scaled_m, scaled_v, scratch, beta_1, beta_2, epsilon, step_size):
    """One Adam step on the scaled moments in ten in-place passes, no temporaries."""
    scaled_m *= beta_1
    scaled_m += grad
    scaled_v *= beta_2
    np.multiply(grad, grad, out=scratch)
    scaled_v += scratch
    np.sqrt(scaled_v, out=scratch)
    scratch += epsilon
    np.divide(scaled_m, scratch, out=scratch)
    scratch *= step_size
    param -= scratch


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam}
