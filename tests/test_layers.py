import numpy as np
import pytest
from gradcheck import assert_gradients_close, numerical_gradient

from nncore import INITIALIZERS, LAYERS, Dense, Dropout

pytestmark = pytest.mark.numerical

REGULARIZERS = [
    "weight_regularizer_l1",
    "weight_regularizer_l2",
    "bias_regularizer_l1",
    "bias_regularizer_l2",
]


# A fresh, deterministic layer of each registered kind; a new layer must add itself here.
def _make(name, n_inputs=4):
    if name == "dense":
        layer = Dense(n_inputs, 3, weight_init="glorot", seed=0, dtype="float64")
        layer.biases[...] = np.linspace(-1, 1, 3)
        return layer
    if name == "dropout":
        return Dropout(0.4, seed=7, dtype="float64")
    raise AssertionError(f"add a gradient-check factory for the new layer '{name}'")


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_backward_matches_finite_differences(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4))
    layer = _make(name)
    out = layer.forward(x, training=True)
    dvalues = rng.standard_normal(out.shape)
    layer.backward(dvalues)

    # a fresh layer per evaluation: same parameters and, for dropout, the same mask
    def loss():
        return np.sum(_make(name).forward(x, training=True) * dvalues)

    assert_gradients_close(layer.dinputs, numerical_gradient(loss, x))
    for param_name, grad_name in getattr(layer, "param_names", ()):
        param = getattr(layer, param_name)

        def loss_of_param(param=param):
            return np.sum(layer.forward(x, training=True) * dvalues)

        assert_gradients_close(getattr(layer, grad_name), numerical_gradient(loss_of_param, param))


@pytest.mark.parametrize("regularizer", REGULARIZERS)
def test_regularizer_gradients_match_finite_differences(regularizer):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3))
    layer = Dense(3, 2, seed=1, dtype="float64", **{regularizer: 0.3})
    layer.weights[...] = rng.uniform(0.2, 1, layer.weights.shape) * rng.choice([-1, 1], (3, 2))
    layer.biases[...] = [[0.7, -0.4]]
    dvalues = rng.standard_normal((5, 2))
    layer.forward(x)
    layer.backward(dvalues)

    def total_loss():
        return np.sum(layer.forward(x) * dvalues) + layer.regularization_loss()

    assert_gradients_close(layer.dweights, numerical_gradient(total_loss, layer.weights))
    assert_gradients_close(layer.dbiases, numerical_gradient(total_loss, layer.biases))


def test_default_init_is_small_normal_and_zero_biases():
    layer = Dense(200, 300, seed=0)
    assert layer.weights.shape == (200, 300) and layer.biases.shape == (1, 300)
    assert layer.weights.std() == pytest.approx(0.01, rel=0.02)
    assert not layer.biases.any()


@pytest.mark.parametrize("scheme, std", [("he", np.sqrt(2 / 200)), ("glorot", np.sqrt(2 / 500))])
def test_other_init_schemes_have_their_variance(scheme, std):
    assert scheme in INITIALIZERS
    layer = Dense(200, 300, weight_init=scheme, seed=0)
    assert layer.weights.std() == pytest.approx(std, rel=0.02)


def test_weight_scale_sets_normal_std():
    assert Dense(100, 100, weight_scale=0.5, seed=0).weights.std() == pytest.approx(0.5, rel=0.03)


def test_same_seed_same_weights_and_no_global_state():
    state = np.random.get_state()[1].copy()
    a, b = Dense(3, 4, seed=5), Dense(3, 4, seed=5)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert not np.array_equal(a.weights, Dense(3, 4, seed=6).weights)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_array_has_the_requested_dtype(dtype):
    layer = Dense(3, 2, weight_regularizer_l1=0.1, weight_regularizer_l2=0.1, dtype=dtype)
    x = np.ones((4, 3), dtype=dtype)
    layer.forward(x)
    layer.backward(np.ones((4, 2), dtype=dtype))
    for array in (
        layer.weights,
        layer.biases,
        layer.output,
        layer.dweights,
        layer.dbiases,
        layer.dinputs,
    ):
        assert array.dtype == dtype
    dropout = Dropout(0.5, seed=0, dtype=dtype)
    assert dropout.forward(x, training=True).dtype == dtype
    assert dropout.mask.dtype == dtype


def test_dropout_drops_the_given_fraction_and_rescales():
    x = np.ones((1000, 100), dtype=np.float32)
    out = Dropout(0.3, seed=0).forward(x, training=True)
    assert np.mean(out == 0) == pytest.approx(0.3, abs=0.01)
    np.testing.assert_allclose(out[out != 0], 1 / 0.7, rtol=1e-6)
    assert out.mean() == pytest.approx(1.0, abs=0.01)


def test_dropout_is_identity_outside_training():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(Dropout(0.5, seed=0).forward(x), x)


def test_dense_rejects_wrong_input_width():
    with pytest.raises(ValueError, match=r"expects inputs of shape \(n_samples, 3\)"):
        Dense(3, 2).forward(np.ones((4, 5), dtype=np.float32))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_inputs": 0, "n_neurons": 2}, "n_inputs must be a positive integer"),
        ({"n_inputs": 2, "n_neurons": 2.5}, "n_neurons must be a positive integer"),
        (
            {"n_inputs": 2, "n_neurons": 2, "weight_init": "xavierr"},
            "unknown weight_init 'xavierr'",
        ),
        ({"n_inputs": 2, "n_neurons": 2, "weight_regularizer_l2": -1}, "weight_regularizer_l2"),
        ({"n_inputs": 2, "n_neurons": 2, "dtype": "int32"}, "unknown dtype 'int32'"),
    ],
)
def test_dense_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Dense(**kwargs)


@pytest.mark.parametrize("rate", [-0.1, 1.0, "half"])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match="dropout rate"):
        Dropout(rate)


def test_l1_subgradient_at_exactly_zero_is_zero():
    """|w| has no derivative at 0; we take sign(0) = 0 (the book takes +1): see the docstring."""
    layer = Dense(2, 2, weight_regularizer_l1=0.5, bias_regularizer_l1=0.5, dtype="float64")
    layer.weights[...] = [[0.0, 2.0], [-3.0, 0.0]]
    layer.biases[...] = [[0.0, -1.0]]
    layer.forward(np.zeros((1, 2)))
    layer.backward(np.zeros((1, 2)))  # no data gradient: only the penalty's remains
    np.testing.assert_array_equal(layer.dweights, [[0.0, 0.5], [-0.5, 0.0]])
    np.testing.assert_array_equal(layer.dbiases, [[0.0, -0.5]])
