"""The numbers the seed notebook printed (../shared/seed) are the reference values."""

import math

import numpy as np
import pytest

from nncore import CategoricalAccuracy, CategoricalCrossentropy

pytestmark = pytest.mark.numerical

SOFTMAX_OUTPUTS = np.array([[0.7, 0.1, 0.2], [0.1, 0.5, 0.4], [0.02, 0.9, 0.08]])
CLASS_TARGETS = np.array([0, 1, 1])
ONE_HOT_TARGETS = np.eye(3, dtype=np.int64)[CLASS_TARGETS]


def test_single_sample_loss_is_minus_log_0_7():
    loss = CategoricalCrossentropy().calculate(np.array([[0.7, 0.1, 0.2]]), np.array([[1, 0, 0]]))
    assert loss == pytest.approx(0.35667494393873245, rel=1e-15)


@pytest.mark.parametrize("targets", [CLASS_TARGETS, ONE_HOT_TARGETS], ids=["sparse", "one-hot"])
def test_batch_loss_matches_seed(targets):
    loss = CategoricalCrossentropy().calculate(SOFTMAX_OUTPUTS, targets)
    assert loss == pytest.approx(0.38506088005216804, rel=1e-15)


@pytest.mark.parametrize("targets", [CLASS_TARGETS, ONE_HOT_TARGETS], ids=["sparse", "one-hot"])
def test_batch_accuracy_matches_seed(targets):
    assert CategoricalAccuracy().calculate(SOFTMAX_OUTPUTS, targets) == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_confidently_wrong_prediction_is_clipped_not_infinite(dtype):
    output = np.array([[1.0, 0.0, 0.0]], dtype=dtype)
    loss = CategoricalCrossentropy().calculate(output, np.array([2]))
    assert loss == pytest.approx(-math.log(1e-7), rel=1e-5)
