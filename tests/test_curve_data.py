"""The report's curves: thinned to a few hundred epochs and packed in 16 bits, losing no more
than half a step of each curve's own range, with gaps kept."""

import numpy as np
import pandas as pd
import pytest

from runner.analysis import curve_data

pytestmark = pytest.mark.numerical


def test_packed_curves_come_back_within_half_a_step():
    rng = np.random.default_rng(0)
    for values in (rng.normal(0, 1, 500), np.geomspace(5.0, 1e-4, 300), np.full(7, 0.25)):
        back = curve_data.unpack(curve_data.pack(values))
        span = (values.max() - values.min()) or 1.0
        assert np.max(np.abs(back - values)) <= span / curve_data.STEPS / 2 + 1e-12
        assert back[np.argmin(values)] == pytest.approx(values.min(), rel=1e-12)
        assert back[np.argmax(values)] == pytest.approx(values.max(), rel=1e-12)


def test_missing_values_stay_missing():
    values = np.array([1.0, np.nan, 0.5, np.inf, 0.0])
    back = curve_data.unpack(curve_data.pack(values))
    assert np.isnan(back[[1, 3]]).all()
    np.testing.assert_allclose(back[[0, 2, 4]], [1.0, 0.5, 0.0])


def test_thinning_keeps_first_and_last_and_at_most_the_limit():
    for count in (201, 1000, 2001, 100_000):
        picked = curve_data.thinned(count, 200)
        assert len(picked) <= 200 and picked[0] == 0 and picked[-1] == count - 1
        assert len(set(np.diff(picked[:-1]))) == 1  # evenly spaced but for the last
    assert list(curve_data.thinned(50, 200)) == list(range(50))


def test_a_run_folder_becomes_compact_curves(tmp_path):
    epochs = np.arange(0, 2000, 2)
    pd.DataFrame(
        {"epoch": epochs, "val_loss": 1 / (1 + epochs), "val_accuracy": epochs / 2000.0}
    ).to_csv(tmp_path / "metrics.csv", index=False)
    curves = curve_data.read(tmp_path)
    # 1000 rows: every 6th (epochs 0, 12, ..., 1992) and the last one, 1998
    assert curves["epoch"] == {"first": 0, "step": 12, "count": 167, "last": 1998}
    assert set(curves) == {"epoch", "val_loss", "val_accuracy"}
    kept = np.append(epochs[::6], 1998)
    np.testing.assert_allclose(curve_data.unpack(curves["val_accuracy"]), kept / 2000.0, atol=1e-4)
    assert curve_data.read(tmp_path / "missing") is None
