import subprocess
import sys

import numpy as np
import pytest
from gradcheck import assert_gradients_close, numerical_gradient

from nncore import (
    SGD,
    Adam,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Dense,
    Dropout,
    Linear,
    MeanSquaredError,
    Model,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    sine,
    spiral,
)

pytestmark = pytest.mark.numerical


def _spiral_model(seed=0, dtype="float32", optimizer=None, **dense_kwargs):
    rng = np.random.default_rng(seed)
    layers = [
        Dense(2, 16, seed=rng, dtype=dtype, **dense_kwargs),
        ReLU(),
        Dense(16, 3, seed=rng, dtype=dtype, **dense_kwargs),
        Softmax(),
    ]
    return Model(layers, CategoricalCrossentropy(), optimizer or Adam(learning_rate=0.05), seed=rng)


def _flat_grads(model):
    return np.concatenate(
        [grad.ravel() for layer in model.trainable_layers for _, grad in layer.params]
    )


@pytest.mark.parametrize("fused_head", [True, False], ids=["softmax+cce", "tanh+mse"])
def test_model_gradients_match_finite_differences(fused_head):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((7, 2))
    if fused_head:
        model = _spiral_model(dtype="float64", weight_regularizer_l2=0.01)
        model.layers[0].weights *= 50  # away from the tiny default so ReLU kinks are rare
        y = rng.integers(0, 3, 7)
    else:
        model = Model(
            [
                Dense(2, 4, weight_init="he", seed=1, dtype="float64"),
                Tanh(),
                Dense(4, 2, weight_init="he", seed=2, dtype="float64"),
                Linear(),
            ],
            MeanSquaredError(),
        )
        y = rng.standard_normal((7, 2))
    assert (model._fused is not None) == fused_head

    def total_loss():
        out = model.forward(X)
        return model.loss.calculate(out, y) + model.loss.regularization_loss(model.trainable_layers)

    model.backward(model.forward(X), y)
    analytic = _flat_grads(model)
    numeric = np.concatenate(
        [
            numerical_gradient(total_loss, param).ravel()
            for layer in model.trainable_layers
            for param, _ in layer.params
        ]
    )
    assert_gradients_close(analytic, numeric)


def test_book_adam_run_learns_the_spiral():
    """Adam(0.05, decay=5e-7), 2-64-3 on spiral(100, 3): the book shows 0.94 at epoch 1000.

    Float32 trajectories this long are chaotic: another BLAS kernel or thread count moves a
    single seed's best accuracy by +-0.05. Over these 8 seeds the mean is 0.880-0.899 under the
    SkylakeX, Haswell, Sandybridge and Prescott kernels; the bound leaves 0.04 below that.
    """
    best = []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        X, y = spiral(100, 3, seed=rng)
        model = Model(
            [Dense(2, 64, seed=rng), ReLU(), Dense(64, 3, seed=rng), Softmax()],
            CategoricalCrossentropy(),
            Adam(learning_rate=0.05, decay=5e-7),
            seed=rng,
        )
        best.append(max(model.train_epoch(X, y)["accuracy"] for _ in range(1000)))
    assert np.mean(best) >= 0.84, best
    assert min(best) >= 0.6, best  # every seed learns far past chance (1/3)


def test_train_step_reports_numbers_and_prints_nothing(capsys):
    X, y = spiral(20, 3, seed=0)
    model = _spiral_model(weight_regularizer_l2=1e-3)
    stats = model.train_step(*model.prepare(X, y))
    assert set(stats) == {"loss", "data_loss", "regularization_loss", "accuracy"}
    assert all(isinstance(value, float) for value in stats.values())
    assert stats["loss"] == pytest.approx(stats["data_loss"] + stats["regularization_loss"])
    assert stats["regularization_loss"] > 0
    assert capsys.readouterr() == ("", "")


def test_same_seed_same_training():
    X, y = spiral(30, 3, seed=0)
    runs = []
    for _ in range(2):
        model = _spiral_model(seed=4)
        runs.append([model.train_epoch(X, y, batch_size=16) for _ in range(5)])
    assert runs[0] == runs[1]


def test_minibatches_cover_every_sample_once_and_reshuffle_each_epoch():
    model = _spiral_model(seed=1)
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    epochs = [
        [yb.copy() for _, yb in model.batches(X, y, batch_size=4, shuffle=True)] for _ in range(2)
    ]
    for batches in epochs:
        assert [len(b) for b in batches] == [4, 4, 2]
        assert sorted(np.concatenate(batches)) == list(range(10))
    assert not np.array_equal(np.concatenate(epochs[0]), np.concatenate(epochs[1]))
    in_order = [yb.copy() for _, yb in model.batches(X, y, batch_size=4)]
    np.testing.assert_array_equal(np.concatenate(in_order), y)


def test_evaluate_is_the_same_in_batches_and_does_not_train():
    X, y = spiral(40, 3, seed=2)
    model = _spiral_model(seed=2)
    model.layers[0].weights *= 100
    before = model.layers[0].weights.copy()
    full = model.evaluate(X, y)
    batched = model.evaluate(X, y, batch_size=7)
    assert batched["loss"] == pytest.approx(full["loss"], rel=1e-5)
    assert batched["accuracy"] == pytest.approx(full["accuracy"])
    np.testing.assert_array_equal(model.layers[0].weights, before)


def test_predict_returns_a_new_array_each_call():
    X, _ = spiral(5, 3, seed=0)
    model = _spiral_model()
    first = model.predict(X)
    second = model.predict(X * 2)
    assert first is not second and not np.array_equal(first, second)
    np.testing.assert_allclose(model.predict(X, batch_size=4), first, rtol=1e-6)


def test_one_layer_model_learns_logistic_regression():
    X, y = spiral(50, 2, noise=0.0, seed=0)
    X = X + np.array([[3.0, 0.0]], dtype=np.float32) * (2 * y[:, None] - 1)  # separable
    model = Model([Dense(2, 1, seed=0), Sigmoid()], BinaryCrossentropy(), Adam(0.1), seed=0)
    for _ in range(200):
        stats = model.train_epoch(X, y)
    assert stats["accuracy"] == 1.0


def test_sine_regression_trains_with_mse():
    X, y = sine(200)
    rng = np.random.default_rng(0)
    model = Model(
        [
            Dense(1, 32, weight_init="he", seed=rng),
            Tanh(),
            Dense(32, 1, weight_init="he", seed=rng),
            Linear(),
        ],
        MeanSquaredError(),
        Adam(learning_rate=0.01),
        seed=rng,
    )
    first = model.evaluate(X, y)["loss"]
    for _ in range(500):
        model.train_epoch(X, y)
    assert model.evaluate(X, y)["loss"] < first / 20


def test_float32_end_to_end_and_float64_on_request():
    X, y = spiral(10, 3, seed=0, dtype="float64")
    for dtype in (np.float32, np.float64):
        model = _spiral_model(dtype=dtype.__name__, weight_regularizer_l1=1e-3)
        model.train_epoch(X, y)
        assert model.dtype is dtype
        for layer in model.layers:
            assert layer.output.dtype == dtype
        for layer in model.trainable_layers:
            for param, grad in layer.params:
                assert param.dtype == dtype and grad.dtype == dtype
        for state in model.optimizer.state(model._flat.values):
            assert state.dtype == dtype


def test_dropout_is_active_only_in_training():
    X, y = spiral(50, 3, seed=0)
    rng = np.random.default_rng(0)
    model = Model(
        [Dense(2, 32, seed=rng), ReLU(), Dropout(0.5, seed=rng), Dense(32, 3, seed=rng), Softmax()],
        CategoricalCrossentropy(),
        Adam(0.01),
        seed=rng,
    )
    np.testing.assert_array_equal(model.predict(X), model.predict(X))
    model.train_epoch(X, y)
    assert np.mean(model.layers[2].output == 0) > 0.3


def test_save_and_load_round_trip(tmp_path):
    X, y = spiral(20, 3, seed=0)
    trained = _spiral_model(seed=1)
    for _ in range(5):
        trained.train_epoch(X, y)
    path = tmp_path / "params.npz"
    trained.save(path)
    fresh = _spiral_model(seed=2)
    fresh.load(path)
    np.testing.assert_array_equal(fresh.predict(X), trained.predict(X))
    with np.load(path, allow_pickle=False) as stored:
        assert sorted(stored.files) == [
            "layer0.biases",
            "layer0.weights",
            "layer2.biases",
            "layer2.weights",
        ]


def test_load_rejects_parameters_of_another_shape_and_changes_nothing(tmp_path):
    path = tmp_path / "params.npz"
    _spiral_model().save(path)
    other = Model([Dense(2, 16), ReLU(), Dense(16, 4), Softmax()], CategoricalCrossentropy())
    before = [param.copy() for layer in other.trainable_layers for param, _ in layer.params]
    with pytest.raises(ValueError, match=r"'layer2.weights' has shape \(16, 3\)"):
        other.load(path)
    after = [param for layer in other.trainable_layers for param, _ in layer.params]
    for old, new in zip(before, after, strict=True):  # layer0 matched, yet was not overwritten
        np.testing.assert_array_equal(old, new)


def test_load_refuses_non_finite_parameters(tmp_path):
    model = _spiral_model()
    model.layers[2].biases[0, 1] = np.nan
    path = tmp_path / "params.npz"
    model.save(path)
    fresh = _spiral_model(seed=3)
    with pytest.raises(ValueError, match="'layer2.biases' holds non-finite"):
        fresh.load(path)


class _Payload:
    """Unpickling this would create a file: proof that loading ran code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_load_never_unpickles(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "params.npz"
    payload = np.array([_Payload(str(marker))], dtype=object)
    np.savez(path, **{"layer0.weights": payload})
    with pytest.raises(ValueError, match="holds objects, not numbers") as refused:
        _spiral_model().load(path)
    assert not marker.exists() and "allow_pickle" not in str(refused.value)


def test_flat_parameters_stay_shared_with_layers_after_steps():
    X, y = spiral(10, 3, seed=0)
    model = _spiral_model(optimizer=SGD(learning_rate=1.0))
    before = model.layers[0].weights.copy()
    model.train_epoch(X, y)
    assert not np.array_equal(model.layers[0].weights, before)
    assert np.shares_memory(model.layers[0].weights, model._flat.values)


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: Model([Dense(2, 8), ReLU(), Dense(4, 3)], CategoricalCrossentropy()),
            r"layer 2 Dense\(4, 3\) expects 4 inputs but the layer before it gives 8",
        ),
        (lambda: Model([], CategoricalCrossentropy()), "at least one layer"),
        (lambda: Model([ReLU()], CategoricalCrossentropy()), "layer with parameters"),
        (
            lambda: Model([Dense(2, 3), Dense(3, 3, dtype="float64")], MeanSquaredError()),
            "share one dtype",
        ),
    ],
)
def test_bad_models_are_rejected(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.ones((4, 3)), np.zeros(4, dtype=int), r"inputs must have shape \(n_samples, 2\)"),
        (np.ones((4, 2)), np.zeros((4, 1), dtype=int), "column vector"),
        (np.ones((4, 2)), np.array([0, 1, 2, 3]), r"labels must lie in \[0, 2\]"),
        (np.ones((4, 2)), np.zeros(5, dtype=int), "5 samples but predictions have 4"),
    ],
)
def test_bad_data_is_rejected(X, y, message):
    with pytest.raises(ValueError, match=message):
        _spiral_model().train_epoch(X, y)


def test_nncore_imports_nothing_but_numpy():
    code = "import sys, nncore; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert not loaded & {"pandas", "hydra", "omegaconf", "yaml", "scipy", "matplotlib", "torch"}
