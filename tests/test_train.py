"""The training loop called directly: what a run writes, whatever way it ends."""

import math

import numpy as np
import pandas as pd
import pytest
from conftest import compose

import nncore
from runner import train
from runner.records import METRIC_COLUMNS, RUN_COLUMNS

pytestmark = pytest.mark.numerical


def _run(tmp_path, *overrides, name="run"):
    cfg = compose("trainer.plots=false", *overrides)  # pictures are test_plots.py's
    ctx = train.RunContext(
        run_dir=tmp_path / name,
        ledger=tmp_path / "runs.csv",
        base_dir=tmp_path,
        overrides=" ".join(overrides),
        choices={
            "model": "dense2",
            "data": "spiral",
            "loss": "categorical_crossentropy",
            "optimizer": "adam",
        },
    )
    return train.run(cfg, ctx), ctx


def test_run_writes_metrics_summary_params_and_ledger(tmp_path):
    row, ctx = _run(tmp_path, "trainer.epochs=25", "trainer.log_every=10")
    metrics = pd.read_csv(ctx.run_dir / "metrics.csv")
    assert list(metrics.columns) == METRIC_COLUMNS
    assert list(metrics["epoch"]) == [0, 10, 20, 25]
    summary = pd.read_csv(ctx.run_dir / "summary.csv")
    ledger = pd.read_csv(tmp_path / "runs.csv")
    assert list(summary.columns[: len(RUN_COLUMNS)]) == RUN_COLUMNS
    assert list(ledger.columns) == list(summary.columns)
    assert ledger.loc[0, "run_id"] == summary.loc[0, "run_id"] == row["run_id"]
    assert row["status"] == "ok" and row["epochs_done"] == 25
    assert row["val_accuracy"] == pytest.approx(metrics["val_accuracy"].iloc[-1])
    for key in ("seed", "trainer.epochs", "optimizer.learning_rate", "model.width", "data.samples"):
        assert key in ledger.columns
    assert ledger.loc[0, "optimizer.learning_rate"] == 0.05
    assert (ctx.run_dir / "params.npz").is_file()


def test_epoch_zero_is_the_untrained_forward_pass(tmp_path):
    row, ctx = _run(tmp_path, "trainer.epochs=0")
    metrics = pd.read_csv(ctx.run_dir / "metrics.csv")
    assert list(metrics["epoch"]) == [0]
    # a 0.01-scale network is nearly uniform over 3 classes: loss ~ ln 3
    assert metrics["train_loss"].iloc[0] == pytest.approx(math.log(3), abs=1e-3)
    assert row["status"] == "ok" and row["epochs_done"] == 0


def test_training_learns_the_spiral(tmp_path):
    row, _ = _run(tmp_path, "trainer.epochs=2000", "trainer.log_every=500")
    assert row["val_accuracy"] > 0.7  # chance is 1/3


def test_minibatches_take_many_steps_per_epoch(tmp_path):
    """20 epochs: 20 steps of the full batch against 200 of 32 rows. Early, where float32's
    rounding has not yet made the two trajectories chaotic (at 100 epochs the order of the
    two losses flips with the BLAS kernel), and with a margin: about 1.05 against 0.98 here."""
    full, _ = _run(tmp_path, "trainer.epochs=20", name="full")
    mini, ctx = _run(tmp_path, "trainer.epochs=20", "trainer.batch_size=32", name="mini")
    assert mini["status"] == "ok"
    assert mini["train_loss"] < full["train_loss"] - 0.03  # 10 steps per epoch instead of 1


def test_same_config_and_seed_give_identical_metrics(tmp_path):
    args = ("trainer.epochs=40", "trainer.log_every=10", "trainer.batch_size=50", "model=wide")
    _, first = _run(tmp_path, *args, name="a")
    _, second = _run(tmp_path, *args, name="b")
    columns = [c for c in METRIC_COLUMNS if c != "seconds"]
    a = pd.read_csv(first.run_dir / "metrics.csv")[columns]
    b = pd.read_csv(second.run_dir / "metrics.csv")[columns]
    pd.testing.assert_frame_equal(a, b)
    _, third = _run(tmp_path, *args, "seed=1", name="c")
    assert not pd.read_csv(third.run_dir / "metrics.csv")[columns].equals(a)


def test_nan_loss_stops_the_run_as_diverged_and_keeps_rows(tmp_path):
    row, ctx = _run(
        tmp_path,
        "data=sine",
        "loss=mse",
        "optimizer=sgd",
        "optimizer.learning_rate=50",
        "optimizer.momentum=0.9",
        "trainer.epochs=500",
        "trainer.log_every=1",
    )
    metrics = pd.read_csv(ctx.run_dir / "metrics.csv")
    assert row["status"] == "diverged"
    assert "optimizer.learning_rate" in row["message"]
    assert 1 < len(metrics) < 500 and not math.isfinite(metrics["train_loss"].iloc[-1])
    assert pd.read_csv(tmp_path / "runs.csv").loc[0, "status"] == "diverged"


def test_config_mistake_is_recorded_as_failed(tmp_path):
    row, ctx = _run(tmp_path, "model.layers.0.activation=relux")
    assert row["status"] == "failed"
    assert row["message"].startswith(
        "model.layers.0.activation=relux: unknown activation; choose one of:"
    )
    ledger = pd.read_csv(tmp_path / "runs.csv")
    assert (
        ledger.loc[0, "status"] == "failed"
        and ledger.loc[0, "model.layers.0.activation"] == "relux"
    )


def test_unexpected_error_keeps_its_traceback_next_to_the_run(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(nncore.Model, "train_epoch", broken)
    row, ctx = _run(tmp_path, "trainer.epochs=5")
    assert row["status"] == "failed" and "RuntimeError: boom" in row["message"]
    assert "Traceback" in (ctx.run_dir / "error.log").read_text()
    assert len(pd.read_csv(ctx.run_dir / "metrics.csv")) == 1  # epoch 0 was logged before


def test_ctrl_c_records_interrupted_keeps_rows_and_reraises(tmp_path, monkeypatch):
    original = nncore.Model.train_epoch
    calls = []

    def interrupt_at_epoch_7(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(nncore.Model, "train_epoch", interrupt_at_epoch_7)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "trainer.epochs=100", "trainer.log_every=2")
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert list(metrics["epoch"]) == [0, 2, 4, 6]
    summary = pd.read_csv(tmp_path / "run" / "summary.csv")
    assert summary.loc[0, "status"] == "interrupted" and summary.loc[0, "epochs_done"] == 6
    assert pd.read_csv(tmp_path / "runs.csv").loc[0, "status"] == "interrupted"


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.epochs=-3", "trainer.epochs=-3: must be an integer >= 0"),
        ("trainer.epochs=ten", "trainer.epochs=ten: must be an integer >= 0"),
        ("trainer.batch_size=0", "trainer.batch_size=0: must be a positive integer or null"),
        ("trainer.log_every=0", "trainer.log_every=0: must be a positive integer"),
        ("trainer.shuffle=maybe", "trainer.shuffle=maybe: must be true or false"),
        ("trainer.plots=maybe", "trainer.plots=maybe: must be true, false or auto"),
        ("model.width=-4", "model.layers.0.units=-4: must be a positive integer"),
        ("model.width=2.5", "model.layers.0.units=2.5: must be a positive integer"),
        ("optimizer.learning_rate=0", "optimizer.learning_rate=0: must be a number > 0"),
        ("optimizer.learning_rate=fast", "optimizer.learning_rate=fast: must be a number"),
        (
            "optimizer.name=adamw",
            "optimizer.name=adamw: unknown optimizer; choose one of: adagrad, adam, rmsprop, sgd",
        ),
        ("loss.name=hinge", "loss.name=hinge: unknown loss; choose one of: binary_crossentropy"),
        (
            "+optimizer.lr=0.1",
            "optimizer.lr=0.1: not an option of optimizer=adam; choose from: learning_rate",
        ),
        ("data.samples=0", "data.samples=0: must be a positive integer"),
        ("data.name=swirl", "data.name=swirl: unknown dataset; choose one of: blobs, circles, csv"),
        ("objective=val_f1", "objective=val_f1: choose one of: val_loss, val_accuracy"),
        ("seed=-1", "seed=-1: must be an integer >= 0"),
        (
            "model.output.activation=sigmoid",
            "model.output.activation=sigmoid: does not fit loss=categorical_crossentropy; use softmax",
        ),
        (
            "data=sine loss=binary_crossentropy",
            "loss=binary_crossentropy: needs class labels but data=sine has a regression target; use loss=mae or loss=mse",
        ),
        (
            "data=sine objective=val_accuracy",
            "objective=val_accuracy: a regression run does not record it; choose the loss or one of: val_rmse",
        ),
        (
            "objective=val_rmse",
            "objective=val_rmse: a classification run does not record it",
        ),
        (
            "loss=mse",
            "loss=mse: needs a regression target but data=spiral has class labels; use loss=binary_crossentropy or loss=categorical_crossentropy",
        ),
        (
            "loss=binary_crossentropy",
            "loss=binary_crossentropy: needs 2 classes but data=spiral has 3",
        ),
    ],
)
def test_each_mistake_names_key_value_and_what_is_allowed(tmp_path, override, message):
    row, _ = _run(tmp_path, *override.split())
    assert row["status"] == "failed"
    assert row["message"].startswith(message), row["message"]
    assert "\n" not in row["message"]


def test_every_mistake_of_one_config_is_reported_together(tmp_path):
    row, _ = _run(
        tmp_path, "trainer.epochs=-1", "trainer.log_every=0", "dtype=float16", "data.noise=-1"
    )
    assert row["status"] == "failed"
    for part in (
        "trainer.epochs=-1: must be an integer >= 0",
        "trainer.log_every=0: must be a positive integer",
        "dtype=float16: choose one of: float32, float64",
    ):
        assert part in row["message"], row["message"]
    assert "\n" not in row["message"]


def test_an_unresolvable_interpolation_names_its_key(tmp_path):
    row, _ = _run(tmp_path, "trainer.epochs=${oops}")
    assert row["status"] == "failed"
    assert row["message"].startswith("trainer.epochs=${oops}: cannot be resolved:"), row["message"]
    assert not (tmp_path / "run" / "error.log").exists()  # a mistake, not a bug


def test_keys_nothing_reads_are_warned_about(tmp_path, capsys):
    row, _ = _run(tmp_path, "trainer.epochs=2", "+foo.bar=1")
    assert row["status"] == "ok"
    assert "warning: foo.bar=1: nothing reads 'foo'" in capsys.readouterr().err


def test_keys_read_through_an_interpolation_are_not_warned_about(tmp_path, capsys):
    row, _ = _run(tmp_path, "trainer.epochs=2", "+search.width=8", "model.width=${search.width}")
    assert row["status"] == "ok" and row["model.layers.0.units"] == 8
    assert "nothing reads" not in capsys.readouterr().err


def test_softmax_output_on_a_regression_target_is_rejected(tmp_path):
    row, _ = _run(tmp_path, "data=sine", "loss=mse", "model.output.activation=softmax")
    assert row["message"].startswith("model.output.activation=softmax: softmax outputs sum to 1")


def test_task_returns_the_objective(tmp_path):
    row, _ = _run(tmp_path, "trainer.epochs=3", "objective=val_accuracy")
    assert train.objective(row, "val_accuracy") == row["val_accuracy"]
    assert math.isnan(train.objective({"val_loss": None}, "val_loss"))


def test_a_regression_run_records_rmse_mae_r2_in_place_of_accuracy(tmp_path, capsys):
    """data=sine with the default loss: the loss follows the task (mse, said once), metrics.csv
    and the row carry RMSE, MAE and R² (checked against their definitions), no accuracy."""
    row, ctx = _run(tmp_path, "data=sine", "trainer.epochs=200", "data.test_fraction=0.2")
    assert row["status"] == "ok", row["message"]
    assert "note: loss=mse in place of the default loss=categorical_crossentropy" in (
        capsys.readouterr().err
    )
    assert row["loss"] == "mse" and row["loss.name"] == "mse" and row["data.task"] == "regression"
    metrics = pd.read_csv(ctx.run_dir / "metrics.csv")
    assert "val_accuracy" not in metrics and "train_accuracy" not in metrics
    assert {"train_rmse", "val_rmse", "val_mae", "val_r2"} <= set(metrics.columns)
    assert row["train_accuracy"] is None and row["val_accuracy"] is None
    last = metrics.iloc[-1]
    assert row["val_rmse"] == pytest.approx(last["val_rmse"])
    # with MSE as the loss, val_loss is the mean squared error of the same predictions
    assert last["val_rmse"] == pytest.approx(np.sqrt(last["val_loss"]), rel=1e-4)
    assert last["val_mae"] <= last["val_rmse"] + 1e-12
    assert last["val_r2"] > metrics.iloc[0]["val_r2"]  # 200 epochs of Adam fit the sine better
    assert row["test_rmse"] > 0 and row["test_r2"] <= 1 and row["test_accuracy"] is None


def test_regression_scores_match_their_textbook_definitions():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(40, 2))
    output = (y + rng.normal(scale=0.3, size=y.shape)).astype(np.float32)
    scores = nncore.regression_scores(output, y)
    error = output.astype(np.float64) - y
    r2 = [1 - np.sum(error[:, k] ** 2) / np.sum((y[:, k] - y[:, k].mean()) ** 2) for k in (0, 1)]
    assert scores["rmse"] == pytest.approx(np.sqrt(np.mean(error**2)))
    assert scores["mae"] == pytest.approx(np.mean(np.abs(error)))
    assert scores["r2"] == pytest.approx(np.mean(r2))
    assert nncore.regression_scores(y[:, :1], y[:, 0])["r2"] == 1.0  # (n, 1) against (n,)
