import numpy as np
import pytest

from nncore import DATASETS, spiral

pytestmark = pytest.mark.numerical

CLASSIFICATION = {"spiral": 3, "vertical": 3, "blobs": 3, "moons": 2, "circles": 2}


def _kwargs(name, samples=50):
    kwargs = {"samples": samples}
    if name in ("spiral", "vertical", "blobs"):
        kwargs["classes"] = 3
    return kwargs


def test_every_dataset_is_covered_here():
    assert set(DATASETS) == set(CLASSIFICATION) | {"sine"}


@pytest.mark.parametrize("name", sorted(CLASSIFICATION))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_classification_shapes_dtypes_and_balance(name, dtype):
    X, y = DATASETS[name](**_kwargs(name), seed=0, dtype=dtype)
    classes = CLASSIFICATION[name]
    assert X.shape == (50 * classes, 2) and X.dtype == dtype
    assert y.shape == (50 * classes,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [50] * classes)
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sine_is_regression(dtype):
    X, y = DATASETS["sine"](samples=200, dtype=dtype)
    assert X.shape == (200, 1) and y.shape == (200, 1)
    assert X.dtype == dtype and y.dtype == dtype
    np.testing.assert_allclose(y, np.sin(2 * np.pi * X), atol=1e-6)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_same_seed_same_arrays_and_global_state_untouched(name):
    state = np.random.get_state()[1].copy()
    kwargs = _kwargs(name)
    if name == "sine":
        kwargs["noise"] = 0.1
    X1, y1 = DATASETS[name](**kwargs, seed=3)
    X2, y2 = DATASETS[name](**kwargs, seed=np.random.default_rng(3))
    X3, y3 = DATASETS[name](**kwargs, seed=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    random_part = (y1, y3) if name == "sine" else (X1, X3)  # sine's X is a fixed grid
    assert not np.array_equal(*random_part)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_spiral_follows_the_book_algorithm():
    samples, classes, noise = 40, 3, 0.2
    rng = np.random.default_rng(11)
    expected = np.zeros((samples * classes, 2))
    for k in range(classes):
        r = np.linspace(0.0, 1, samples)
        t = np.linspace(k * 4, (k + 1) * 4, samples) + rng.standard_normal(samples) * noise
        expected[samples * k : samples * (k + 1)] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
    X, y = spiral(samples, classes, seed=11, dtype="float64")
    np.testing.assert_array_equal(X, expected)
    np.testing.assert_array_equal(y, np.repeat(np.arange(classes), samples))


def test_float32_data_is_the_rounded_float64_data():
    X64, _ = spiral(30, 2, seed=1, dtype="float64")
    X32, _ = spiral(30, 2, seed=1, dtype="float32")
    np.testing.assert_array_equal(X32, X64.astype(np.float32))


def test_many_classes_do_not_overflow_labels():
    _, y = spiral(2, 300, seed=0)
    assert y.max() == 299 and y.dtype == np.int64


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: spiral(0, 3), "samples must be a positive integer"),
        (lambda: spiral(10, 3, noise=-1), "noise must be a number >= 0"),
        (lambda: spiral(10, 3, seed="x"), "seed must be an int"),
        (lambda: DATASETS["circles"](10, factor=2), "factor"),
        (lambda: DATASETS["blobs"](10, spread=-1), "spread must be a number >= 0"),
        (lambda: DATASETS["blobs"](10, spread="wide"), "spread must be a number >= 0"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
