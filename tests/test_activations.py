import warnings

import numpy as np
import pytest
from gradcheck import assert_gradients_close, numerical_gradient

from nncore import ACTIVATIONS, Sigmoid, Softmax

pytestmark = pytest.mark.numerical


def _inputs(rng, shape=(6, 5)):
    x = rng.standard_normal(shape)
    # keep away from the kinks of relu-like functions, where finite differences are undefined
    return np.where(np.abs(x) < 1e-2, 0.5, x)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_backward_matches_finite_differences(name):
    rng = np.random.default_rng(0)
    x = _inputs(rng)
    dvalues = rng.standard_normal(x.shape)
    activation = ACTIVATIONS[name]()

    activation.forward(x)
    analytic = activation.backward(dvalues).copy()
    numeric = numerical_gradient(lambda: np.sum(activation.forward(x) * dvalues), x)

    assert_gradients_close(analytic, numeric)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_and_gradient_keep_the_input_dtype(name, dtype):
    x = _inputs(np.random.default_rng(1)).astype(dtype)
    activation = ACTIVATIONS[name]()
    assert activation.forward(x).dtype == dtype
    assert activation.backward(np.ones_like(x)).dtype == dtype


def test_softmax_rows_sum_to_one_for_huge_logits():
    x = np.array([[1000.0, 1000.0, -1000.0], [-1e30, 0.0, 1e30]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = Softmax().forward(x)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out[0], [0.5, 0.5, 0.0], atol=1e-7)


def test_softmax_matches_definition_for_wide_and_narrow_outputs():
    rng = np.random.default_rng(2)
    for width in (1, 2, 3, 16, 17, 40):
        x = rng.standard_normal((7, width))
        expected = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(Softmax().forward(x), expected, rtol=1e-12)


def test_sigmoid_is_finite_and_silent_for_extreme_inputs():
    x = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = Sigmoid().forward(x)
    np.testing.assert_allclose(out, [[0.0, 1.9287498e-22, 0.5, 1.0, 1.0]], rtol=1e-6)


def test_sigmoid_matches_definition():
    x = np.linspace(-20, 20, 41).reshape(1, -1)
    np.testing.assert_allclose(Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-12)


def test_predictions():
    outputs = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]])
    np.testing.assert_array_equal(Softmax().predictions(outputs), [1, 0])
    np.testing.assert_array_equal(Sigmoid().predictions(np.array([[0.2], [0.9]])), [[0], [1]])
    regression = np.array([[1.5], [-2.0]])
    np.testing.assert_array_equal(ACTIVATIONS["linear"]().predictions(regression), regression)
