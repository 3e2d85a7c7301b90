import numpy as np
import pytest
from gradcheck import assert_gradients_close, numerical_gradient

from nncore import (
    LOSSES,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Dense,
    MeanAbsoluteError,
    MeanSquaredError,
    Softmax,
    SoftmaxCategoricalCrossentropy,
    regularization_loss,
)

pytestmark = pytest.mark.numerical


def _probabilities(rng, n, k):
    logits = rng.standard_normal((n, k))
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


# (predictions, targets) for each registered loss; a new loss must add its cases here.
def _cases(name, rng):
    n = 6
    if name == "categorical_crossentropy":
        p = _probabilities(rng, n, 4)
        sparse = rng.integers(0, 4, n)
        return [(p, sparse), (p.copy(), np.eye(4)[sparse])]
    if name == "binary_crossentropy":
        return [
            (rng.uniform(0.1, 0.9, (n, 2)), rng.integers(0, 2, (n, 2)).astype(float)),
            (rng.uniform(0.1, 0.9, (n, 1)), rng.integers(0, 2, n)),
        ]
    if name in ("mse", "mae"):
        # targets at least 0.1 away from predictions, so |p - y| is differentiable
        p = rng.standard_normal((n, 3))
        return [
            (p, p + rng.choice([-1, 1], p.shape) * rng.uniform(0.1, 1, p.shape)),
            (p[:, :1].copy(), p[:, 0] + 0.5),
        ]
    raise AssertionError(f"add gradient-check cases for the new loss '{name}'")


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_backward_matches_finite_differences(name):
    rng = np.random.default_rng(0)
    loss = LOSSES[name]()
    for output, y in _cases(name, rng):
        analytic = loss.backward(output, y).copy()
        numeric = numerical_gradient(lambda o=output, t=y: loss.calculate(o, t), output)
        assert_gradients_close(analytic, numeric)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_is_a_float_and_gradient_keeps_float32(name):
    loss = LOSSES[name]()
    output, y = _cases(name, np.random.default_rng(1))[0]
    output = output.astype(np.float32)
    assert isinstance(loss.calculate(output, y), float)
    assert loss.backward(output, y).dtype == np.float32


def test_fused_softmax_crossentropy_equals_composed_backward():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((8, 5))
    softmax = Softmax()
    p = softmax.forward(logits)
    for y in (rng.integers(0, 5, 8), np.eye(5)[rng.integers(0, 5, 8)]):
        composed = softmax.backward(CategoricalCrossentropy().backward(p, y)).copy()
        fused = SoftmaxCategoricalCrossentropy().backward(p, y)
        np.testing.assert_allclose(fused, composed, rtol=1e-10, atol=1e-12)


def test_unfused_crossentropy_backward_is_finite_for_zero_probability():
    output = np.array([[0.0, 1.0], [1.0, 0.0]])
    grad = CategoricalCrossentropy().backward(output, np.array([0, 1]))
    assert np.all(np.isfinite(grad))
    assert grad[0, 0] == pytest.approx(-1 / (1e-7 * 2))


def test_crossentropy_rejects_column_vector_labels():
    with pytest.raises(ValueError, match="column vector"):
        CategoricalCrossentropy().calculate(np.full((3, 3), 1 / 3), np.array([[0], [1], [2]]))


@pytest.mark.parametrize(
    "y, message",
    [
        (np.array([0, 1]), "2 samples but predictions have 3"),
        (np.array([0, 1, 3]), r"labels must lie in \[0, 2\]"),
        (np.array([0, -1, 2]), r"labels must lie in \[0, 2\]"),
        (np.array([0.0, 1.0, 2.0]), "must be integers"),
        (np.ones((3, 2)), "do not match predictions"),
    ],
)
def test_crossentropy_rejects_bad_targets(y, message):
    with pytest.raises(ValueError, match=message):
        CategoricalCrossentropy().calculate(np.full((3, 3), 1 / 3), y)


def test_regression_losses_reject_mismatched_targets():
    with pytest.raises(ValueError, match="do not match"):
        MeanSquaredError().calculate(np.zeros((4, 2)), np.zeros(4))


def test_hand_computed_values():
    p = np.array([[0.5], [2.0]])
    y = np.array([1.0, 1.0])
    assert MeanSquaredError().calculate(p, y) == pytest.approx((0.25 + 1.0) / 2)
    assert MeanAbsoluteError().calculate(p, y) == pytest.approx((0.5 + 1.0) / 2)
    bce = BinaryCrossentropy().calculate(np.array([[0.8], [0.4]]), np.array([1, 0]))
    assert bce == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2)


def test_mean_absolute_error_gradient_points_from_target_to_prediction():
    grad = MeanAbsoluteError().backward(np.array([[3.0], [-1.0]]), np.array([1.0, 0.0]))
    np.testing.assert_allclose(grad, [[0.5], [-0.5]])  # sign(p - y) / n


def test_binary_crossentropy_with_probability_exactly_one_is_finite():
    loss = BinaryCrossentropy()
    assert np.isfinite(loss.calculate(np.array([[1.0], [0.0]]), np.array([0, 1])))
    assert np.all(np.isfinite(loss.backward(np.array([[1.0], [0.0]]), np.array([0, 1]))))


def test_regularization_loss_sums_layer_penalties():
    layer = Dense(
        2,
        2,
        weight_regularizer_l1=0.1,
        weight_regularizer_l2=0.2,
        bias_regularizer_l1=0.3,
        bias_regularizer_l2=0.4,
        dtype="float64",
    )
    layer.weights[...] = [[1.0, -2.0], [0.5, 0.0]]
    layer.biases[...] = [[-1.0, 3.0]]
    expected = 0.1 * 3.5 + 0.2 * 5.25 + 0.3 * 4.0 + 0.4 * 10.0
    assert regularization_loss([layer, Softmax()]) == pytest.approx(expected)
