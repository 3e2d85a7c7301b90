"""Each optimizer's update from a set state equals the textbook formula."""

import numpy as np
import pytest

from nncore import OPTIMIZERS, SGD, Adagrad, Adam, Dense, RMSprop
from nncore.optimizers import SWEEP_MARGIN

pytestmark = pytest.mark.numerical

RNG = np.random.default_rng(0)
P0 = RNG.standard_normal((3, 2))
G = RNG.standard_normal((3, 2))
S1 = RNG.uniform(0.1, 1.0, (3, 2))  # a set first state (momentum, cache or m)
S2 = RNG.uniform(0.1, 1.0, (3, 2))  # a set second state (Adam's v)


class _Param:
    """One parameter with its gradient, shaped like a layer to the optimizer."""

    def __init__(self):
        self.value, self.grad = P0.copy(), G.copy()
        self.params = [(self.value, self.grad)]


def _step_from_state(optimizer, *states, iterations=4):
    param = _Param()
    for slot, state in zip(optimizer.state(param.value), states, strict=True):
        slot[...] = state
    optimizer.iterations = iterations
    optimizer.step([param])
    return param.value, optimizer.state(param.value)


def test_sgd():
    p, _ = _step_from_state(SGD(learning_rate=0.5))
    np.testing.assert_allclose(p, P0 - 0.5 * G, rtol=1e-12)


def test_sgd_momentum():
    p, (velocity,) = _step_from_state(SGD(learning_rate=0.5, momentum=0.9), S1)
    expected_velocity = 0.9 * S1 - 0.5 * G
    np.testing.assert_allclose(velocity, expected_velocity, rtol=1e-12)
    np.testing.assert_allclose(p, P0 + expected_velocity, rtol=1e-12)


def test_adagrad():
    p, (cache,) = _step_from_state(Adagrad(learning_rate=0.3, epsilon=1e-7), S1)
    expected_cache = S1 + G**2
    np.testing.assert_allclose(cache, expected_cache, rtol=1e-12)
    np.testing.assert_allclose(p, P0 - 0.3 * G / (np.sqrt(expected_cache) + 1e-7), rtol=1e-12)


def test_rmsprop():
    p, (cache,) = _step_from_state(RMSprop(learning_rate=0.02, rho=0.8, epsilon=1e-7), S1)
    expected_cache = 0.8 * S1 + 0.2 * G**2
    np.testing.assert_allclose(cache, expected_cache, rtol=1e-12)
    np.testing.assert_allclose(p, P0 - 0.02 * G / (np.sqrt(expected_cache) + 1e-7), rtol=1e-12)


def test_adam_with_bias_correction():
    b1, b2, lr, eps = 0.8, 0.95, 0.01, 1e-3
    adam = Adam(learning_rate=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    # the state is stored as M = m / (1 - b1) and V = v / (1 - b2)
    p, (scaled_m, scaled_v) = _step_from_state(adam, S1 / (1 - b1), S2 / (1 - b2), iterations=4)
    m, v = adam.moments(p)
    np.testing.assert_allclose(m, scaled_m * (1 - b1), rtol=1e-15)
    np.testing.assert_allclose(v, scaled_v * (1 - b2), rtol=1e-15)
    t = 5  # 1-based number of this step
    expected_m = b1 * S1 + (1 - b1) * G
    expected_v = b2 * S2 + (1 - b2) * G**2
    m_hat = expected_m / (1 - b1**t)
    v_hat = expected_v / (1 - b2**t)
    np.testing.assert_allclose(m, expected_m, rtol=1e-12)
    np.testing.assert_allclose(v, expected_v, rtol=1e-12)
    np.testing.assert_allclose(p, P0 - lr * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-12)


def test_book_defaults():
    assert SGD().learning_rate == 1.0 and SGD().momentum == 0.0
    assert Adagrad().learning_rate == 1.0 and Adagrad().epsilon == 1e-7
    rms = RMSprop()
    assert (rms.learning_rate, rms.rho, rms.epsilon) == (0.001, 0.9, 1e-7)
    adam = Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_decay_schedule(name):
    optimizer = OPTIMIZERS[name](learning_rate=0.5, decay=0.1)
    layer = _Param()
    rates = []
    for _ in range(4):
        rates.append(optimizer.current_learning_rate)
        optimizer.step([layer])
    np.testing.assert_allclose(rates, [0.5 / (1 + 0.1 * k) for k in range(4)], rtol=1e-15)
    assert optimizer.iterations == 4


def test_step_uses_the_decayed_rate():
    optimizer = SGD(learning_rate=1.0, decay=1.0)
    layer = _Param()
    optimizer.step([layer])  # rate 1
    before = layer.value.copy()
    optimizer.step([layer])  # rate 1 / (1 + 1 * 1)
    np.testing.assert_allclose(layer.value, before - 0.5 * G, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_belongs_to_the_optimizer(name):
    layer = Dense(3, 2, seed=0, dtype="float64")
    layer.dweights[...] = 1.0
    attributes = set(vars(layer))
    first, second = OPTIMIZERS[name](learning_rate=0.1), OPTIMIZERS[name](learning_rate=0.1)
    first.step([layer])
    assert set(vars(layer)) == attributes  # no cache or momentum stored on the layer
    for a, b in zip(first.state(layer.weights), second.state(layer.weights), strict=True):
        assert a is not b
        # fresh state is zero, or (a non-negative cache) the sweep's tiny floor
        assert np.all(np.abs(b) <= np.finfo(b.dtype).smallest_normal * SWEEP_MARGIN)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_updates_keep_float32(name):
    layer = Dense(3, 2, seed=0)
    layer.dweights[...] = 0.5
    OPTIMIZERS[name]().step([layer])
    assert layer.weights.dtype == np.float32 and layer.biases.dtype == np.float32


def test_layers_without_parameters_are_skipped():
    from nncore import ReLU

    layer = _Param()
    SGD(learning_rate=1.0).step([ReLU(), layer])
    np.testing.assert_allclose(layer.value, P0 - G)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Adam(learning_rate=0), "learning_rate must be a number > 0"),
        (lambda: SGD(momentum=1.5), "momentum must be a number >= 0 and < 1"),
        (lambda: RMSprop(rho=-0.1), "rho"),
        (lambda: Adam(beta_2=1.0), "beta_2"),
        (lambda: Adagrad(decay=-1), "decay must be a number >= 0"),
    ],
)
def test_bad_hyperparameters_are_rejected(make, message):
    with pytest.raises(ValueError, match=message):
        make()
