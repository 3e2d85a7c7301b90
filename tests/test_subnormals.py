"""No optimizer state, probability or gradient is left on subnormal floats.

Subnormal numbers (magnitude below ``np.finfo(dtype).smallest_normal``) make arithmetic many
times slower on many x86 CPUs. Whether a value is subnormal is a property of the value, not of
timing, so these tests hold on any CPU, BLAS kernel and thread count.
"""

import numpy as np
import pytest

import nncore
from nncore import OPTIMIZERS

pytestmark = pytest.mark.numerical

# learning rates that kill ReLU units, and decay factors fast enough that state decays into
# the subnormal range within a few hundred steps (with the defaults it takes about 800)
SETTINGS = {
    "adam": dict(learning_rate=0.05, beta_1=0.5, beta_2=0.9),
    "rmsprop": dict(learning_rate=0.05, rho=0.7),
    "adagrad": dict(learning_rate=0.5),
    "sgd": dict(learning_rate=1.0, momentum=0.5),
}
STEPS = 400


def subnormals(array):
    magnitude = np.abs(array)
    return int(np.count_nonzero((magnitude > 0) & (magnitude < np.finfo(array.dtype).tiny)))


def dying_model(name, sweeps=True, **settings):
    """A 2-32-32-3 ReLU network with biases of -0.5: a big learning rate kills many units."""
    layers = []
    sizes = (2, 32, 32, 3)
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        dense = nncore.Dense(n_in, n_out, weight_init="he", seed=i)
        last = i == len(sizes) - 2
        if not last:
            dense.biases[...] = -0.5
        layers += [dense, nncore.Softmax() if last else nncore.ReLU()]
    optimizer = OPTIMIZERS[name](**(settings or SETTINGS[name]))
    if not sweeps:
        optimizer.max_sweep_interval = None
    return nncore.Model(layers, nncore.CategoricalCrossentropy(), optimizer, seed=0)


def train_counting(model, steps=STEPS):
    """Train full-batch; after every step, count subnormals in the state and in the network."""
    X, y = nncore.spiral(50, 3, seed=0)
    state_counts, network_counts = [], []
    for _ in range(steps):
        model.train_step(X, y)
        state_counts.append(
            sum(subnormals(slot) for slot in model.optimizer.state(model.parameters()))
        )
        arrays = [model.parameters(), model._flat.grads]
        arrays += [layer.output for layer in model.layers]
        arrays += [getattr(layer, "dinputs", None) for layer in model.layers]
        network_counts.append(sum(subnormals(a) for a in arrays if a is not None))
    return state_counts, network_counts


def dead_units(model):
    X, _ = nncore.spiral(50, 3, seed=0)
    model.forward(X)
    relus = [layer for layer in model.layers if isinstance(layer, nncore.ReLU)]
    return float(np.mean([np.all(layer.output == 0, axis=0).mean() for layer in relus]))


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_no_state_is_subnormal_after_any_step(name):
    model = dying_model(name)
    state_counts, network_counts = train_counting(model)
    assert dead_units(model) > 0.2  # the scenario really has dead units
    assert max(state_counts) == 0
    assert max(network_counts) == 0


@pytest.mark.parametrize("name", ["adam", "rmsprop", "sgd"])
def test_without_sweeps_the_same_run_reaches_subnormals(name):
    """The scenario above is one that does produce subnormal state when nothing prevents it."""
    state_counts, _ = train_counting(dying_model(name, sweeps=False))
    assert max(state_counts) > 0


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_sweeps_change_no_float32_parameter(name):
    """What a sweep flushes or raises lies below float32's resolution of every parameter: the
    same run with and without sweeps leaves bit-identical parameters."""
    with_sweeps, without = dying_model(name), dying_model(name, sweeps=False)
    train_counting(with_sweeps, steps=200)
    train_counting(without, steps=200)
    assert with_sweeps.parameters().dtype == np.float32
    np.testing.assert_array_equal(with_sweeps.parameters(), without.parameters())


@pytest.mark.parametrize(
    "name, settings",
    [(name, {}) for name in sorted(OPTIMIZERS) if name != "sgd"]
    + [("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.1}), ("rmsprop", {"rho": 0.2})],
)
def test_state_that_decays_for_many_steps_stays_normal(name, settings):
    """A state that starts at typical magnitudes and then sees zero gradients for 3000 steps
    (800 take Adam's first moment into the subnormal range; 35 a momentum of 0.1)."""
    optimizer = OPTIMIZERS[name](**settings)
    rng = np.random.default_rng(0)
    value = rng.standard_normal(1000).astype(np.float32)
    grad = (rng.standard_normal(1000) * 1e-3).astype(np.float32)
    layer = type("Layer", (), {"params": [(value, grad)]})()
    optimizer.step([layer])
    grad[...] = 0
    for _ in range(3000):
        optimizer.step([layer])
        assert sum(subnormals(slot) for slot in optimizer.state(value)) == 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_and_sigmoid_outputs_stay_normal(dtype):
    logits = np.array([[0.0, -50.0, -100.0, -1000.0], [500.0, 0.0, -1e30, 3.0]], dtype=dtype)
    probabilities = nncore.Softmax().forward(logits)
    assert subnormals(probabilities) == 0 and np.all(probabilities > 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    sigmoid = nncore.Sigmoid().forward(logits)
    assert subnormals(sigmoid) == 0
    np.testing.assert_array_equal(sigmoid[:, :2] > 0.5, [[False, False], [True, False]])
