"""Early stopping, the best epoch and the parameters a run keeps (trainer.keep), the test split."""

import numpy as np
import pandas as pd
import pytest
from conftest import compose

from runner import train
from runner.best_epoch import BestEpoch
from runner.build import dataset_and_model
from runner.data import load_dataset
from runner.errors import ConfigError
from runner.run_key import run_key


def _rows(values, every=100, monitor="val_loss"):
    return [{"epoch": i * every, monitor: value} for i, value in enumerate(values)]


def test_patience_counts_epochs_since_the_best_logged_one():
    best = BestEpoch(np.zeros(3), patience=200)
    reasons = [best.logged(row) for row in _rows([1.0, 0.8, 0.9, 0.85, 0.95])]
    assert reasons[:3] == [None, None, None]  # epoch 200 is 100 epochs after the best
    assert "stopped early at epoch 300" in reasons[3] and "patience=200" in reasons[3]
    assert best.best_epoch == 100 and best.best_value == 0.8


def test_min_delta_and_accuracy_monitors():
    best = BestEpoch(np.zeros(1), monitor="val_accuracy", min_delta=0.05)
    for row in _rows([0.5, 0.54, 0.56, 0.40], monitor="val_accuracy"):
        best.logged(row)
    assert best.best_epoch == 200  # 0.54 is not 0.05 better than 0.5; 0.56 is
    nan_first = BestEpoch(np.zeros(1))
    nan_first.logged({"epoch": 0, "val_loss": float("nan")})
    nan_first.logged({"epoch": 10, "val_loss": 2.0})
    assert nan_first.best_epoch == 10


def test_keep_best_restores_the_parameters_of_the_best_epoch():
    parameters = np.array([1.0, 2.0])
    best = BestEpoch(parameters, keep="best")
    best.logged({"epoch": 0, "val_loss": 1.0})
    parameters += 10
    best.logged({"epoch": 10, "val_loss": 0.5})  # best: [11, 12]
    parameters += 10
    best.logged({"epoch": 20, "val_loss": 0.7})
    assert best.restore()["epoch"] == 10
    np.testing.assert_array_equal(parameters, [11.0, 12.0])
    last = BestEpoch(parameters, keep="last")
    last.logged({"epoch": 0, "val_loss": 1.0})
    assert last.restore() is None


def _run(tmp_path, *overrides):
    # 15 points per class and a wide network: validation loss turns up well before 4000 epochs
    cfg = compose(
        "trainer.plots=false",
        "model=wide",
        "data.samples=15",
        "trainer.epochs=4000",
        "trainer.log_every=50",
        *overrides,
    )
    ctx = train.RunContext(run_dir=tmp_path / "run", ledger=tmp_path / "runs.csv")
    return train.run(cfg, ctx), ctx


@pytest.mark.numerical
def test_early_stopping_keeps_the_best_epoch_everywhere_a_user_reads_it(tmp_path):
    row, ctx = _run(tmp_path, "trainer.early_stopping.patience=300", "data.test_fraction=1.5")
    assert row["status"] == "failed"  # a test fraction must be below 1
    assert "data.test_fraction=1.5" in row["message"]

    row, ctx = _run(
        tmp_path / "ok", "trainer.early_stopping.patience=300", "data.test_fraction=0.5"
    )
    metrics = pd.read_csv(ctx.run_dir / "metrics.csv")
    assert row["status"] == "ok" and "stopped early" in row["message"]
    assert row["epochs_done"] < 4000 and row["epochs_done"] == metrics["epoch"].iloc[-1]
    assert row["epochs_done"] - row["best_epoch"] >= 300
    best = metrics.loc[metrics["val_loss"].idxmin()]
    assert row["best_epoch"] == best["epoch"]
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        assert row[key] == pytest.approx(best[key])  # the kept epoch's figures, not the last
    assert row["val_loss"] < metrics["val_loss"].iloc[-1]
    # params.npz holds the best epoch's parameters and the test split was scored with them
    cfg = compose("model=wide", "data.samples=15", "data.test_fraction=0.5")
    dataset, model = dataset_and_model(cfg, 0, tmp_path)
    model.load(ctx.run_dir / "params.npz")
    val = model.evaluate(dataset.X_val, dataset.y_val)
    assert val["data_loss"] == pytest.approx(row["val_loss"], rel=1e-5)
    test = model.evaluate(dataset.X_test, dataset.y_test)
    assert row["test_loss"] == pytest.approx(test["data_loss"], rel=1e-5)
    assert len(dataset.X_test) == 3 * 8  # half of the 15 training points per class, rounded
    ledger = pd.read_csv(tmp_path / "ok" / "runs.csv")
    assert ledger.loc[0, "best_epoch"] == row["best_epoch"]
    assert ledger.loc[0, "test_accuracy"] == pytest.approx(row["test_accuracy"])


@pytest.mark.numerical
def test_keep_last_reports_the_last_epoch_and_still_names_the_best(tmp_path):
    row, ctx = _run(tmp_path, "trainer.epochs=1000")
    metrics = pd.read_csv(ctx.run_dir / "metrics.csv")
    assert row["epochs_done"] == 1000 and row["message"] == ""
    assert row["val_loss"] == pytest.approx(metrics["val_loss"].iloc[-1])
    assert row["best_epoch"] == metrics.loc[metrics["val_loss"].idxmin(), "epoch"]
    assert row["test_loss"] is None  # no test split: nothing to report


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "trainer.early_stopping.patience=0",
            "trainer.early_stopping.patience=0: must be a positive",
        ),
        (
            "trainer.early_stopping.monitor=loss",
            "trainer.early_stopping.monitor=loss: choose one of: val_loss",
        ),
        (
            "trainer.early_stopping.min_delta=-1",
            "trainer.early_stopping.min_delta=-1: must be a number >= 0",
        ),
        ("+trainer.early_stopping.wait=3", "trainer.early_stopping.wait=3: unknown key"),
        ("trainer.keep=worst", "trainer.keep=worst: choose one of: auto, best, last"),
    ],
)
def test_bad_early_stopping_settings_name_the_key(override, message):
    from runner.checks import check_trainer

    with pytest.raises(ConfigError) as error:
        check_trainer(compose(override))
    assert str(error.value).startswith(message), str(error.value)


def test_new_keys_at_their_defaults_keep_a_runs_key():
    """Runs recorded before early stopping and test splits existed are still recognised."""
    before = {"seed": 0, "data.name": "spiral", "trainer.epochs": 100}
    now = {
        **before,
        "trainer.early_stopping.patience": None,
        "trainer.early_stopping.monitor": "val_loss",
        "trainer.early_stopping.min_delta": 0.0,
        "trainer.keep": "auto",
        "data.test_fraction": 0,
    }
    assert run_key(now) == run_key(before)
    assert run_key({**now, "trainer.early_stopping.patience": 100}) != run_key(before)
    assert run_key({**now, "trainer.keep": "best"}) != run_key(before)
    assert run_key({**now, "data.test_fraction": 0.2}) != run_key(before)


def test_generated_test_split_is_its_own_draw_and_leaves_training_as_it_was(tmp_path):
    def load(*overrides):
        cfg = compose(*overrides)
        return load_dataset(cfg.data, np.random.SeedSequence(0).spawn(3), cfg.dtype, tmp_path)

    plain, tested = load(), load("data.test_fraction=0.2")
    assert plain.X_test is None and tested.X_test.shape == (60, 2)
    np.testing.assert_array_equal(plain.X_train, tested.X_train)
    np.testing.assert_array_equal(plain.X_val, tested.X_val)
    assert not np.isin(tested.X_test, tested.X_train).all()
