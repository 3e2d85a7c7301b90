"""A run that diverged is recorded as such, whichever sign it gave, and stops at the first."""

import math

import numpy as np
import pandas as pd
import pytest
from test_train import _run

from runner.divergence import CEILING, SATURATED_EPOCHS, DivergenceWatch

pytestmark = pytest.mark.numerical

HUGE_SGD = ("optimizer=sgd", "optimizer.learning_rate=1e9", "trainer.epochs=300")


def test_huge_learning_rate_is_diverged_not_ok_and_stops_early(tmp_path):
    row, ctx = _run(tmp_path, *HUGE_SGD, "trainer.log_every=100")
    assert row["status"] == "diverged"
    assert "parameters reached" in row["message"] and "float32 holds safely" in row["message"]
    assert "optimizer.learning_rate (now 1e+09)" in row["message"]
    assert row["epochs_done"] <= 10  # parameters are checked every 10 epochs
    assert not (ctx.run_dir / "params.npz").exists()
    metrics = pd.read_csv(ctx.run_dir / "metrics.csv")
    assert metrics["train_accuracy"].notna().all()  # the stop row is measured like any other
    assert pd.read_csv(tmp_path / "runs.csv").loc[0, "status"] == "diverged"


def test_loss_stuck_at_the_clipping_ceiling_is_diverged(tmp_path):
    # in float64 the same weights (~1e24) are representable, so the loss is what gives it away
    row, _ = _run(tmp_path, *HUGE_SGD, "dtype=float64")
    assert row["status"] == "diverged"
    assert "clipping ceiling of categorical_crossentropy" in row["message"], row["message"]
    assert row["epochs_done"] < 2 * SATURATED_EPOCHS


def test_without_stop_on_divergence_it_trains_on_and_is_still_diverged(tmp_path):
    row, _ = _run(tmp_path, *HUGE_SGD, "trainer.stop_on_divergence=false")
    assert row["status"] == "diverged" and row["epochs_done"] == 300
    assert "at epoch 10" in row["message"]  # the first sign is the one reported


def test_a_healthy_run_is_ok(tmp_path):
    row, _ = _run(tmp_path, "trainer.epochs=300")
    assert row["status"] == "ok" and row["message"] == ""


def _watch(loss_name="categorical_crossentropy", dtype=np.float32):
    return DivergenceWatch(loss_name, np.zeros(5, dtype=dtype), hint="try less")


def test_non_finite_loss_or_parameters_are_fatal():
    watch = _watch()
    watch.start(1.1)
    sign = watch.epoch(3, math.nan, math.nan)
    assert sign.fatal and sign.reason == "train_loss became nan at epoch 3; try less"
    watch.parameters[2] = np.inf
    sign = watch.check_parameters(20)
    assert sign.fatal and "non-finite at epoch 20" in sign.reason


def test_ceiling_needs_consecutive_epochs_above_the_untrained_loss():
    watch = _watch()
    watch.start(1.1)
    stuck = CEILING * 0.7
    signs = [watch.epoch(e, stuck, stuck) for e in range(1, SATURATED_EPOCHS)]
    assert not any(signs)
    assert watch.epoch(SATURATED_EPOCHS - 0, 0.5, 0.5) is None  # one good epoch resets it
    signs = [watch.epoch(e, stuck, stuck) for e in range(20, 20 + SATURATED_EPOCHS)]
    assert signs[-1] and "since epoch 20" in signs[-1].reason and not signs[-1].fatal
    # a network that starts there (a huge initial scale) and comes down is not diverged
    big_start = _watch()
    big_start.start(CEILING * 0.9)
    assert not any(big_start.epoch(e, CEILING * 0.8, CEILING * 0.8) for e in range(1, 30))


def test_regression_losses_have_no_ceiling():
    watch = _watch("mse")
    watch.start(0.5)
    assert not any(watch.epoch(e, 100.0, 100.0) for e in range(1, 30))


def test_final_loss_well_above_the_untrained_one():
    watch = _watch("mse")
    watch.start(0.5)
    assert watch.end(100, 0.7) is None
    sign = watch.end(100, 0.9)
    assert "ended at 0.9, above the untrained network's 0.5 (epoch 0)" in sign.reason
    assert watch.end(0, 0.9) is None  # a forward-only run trains nothing


def test_parameter_limit_follows_the_dtype():
    for dtype, limit in ((np.float32, 1.8e19), (np.float64, 1.3e154)):
        watch = _watch(dtype=dtype)
        watch.parameters[0] = limit * 0.9
        assert watch.check_parameters(10) is None
        watch.parameters[0] = -limit * 1.1
        assert "beyond what" in watch.check_parameters(10).reason
