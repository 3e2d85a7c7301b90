"""Datasets as the runner loads them: generated draws and your own CSV."""

import numpy as np
import pytest
from conftest import compose

from runner.data import load_dataset
from runner.dataset import CLASSIFICATION, REGRESSION
from runner.errors import ConfigError


def _load(base_dir, *overrides, seed=0):
    cfg = compose(*overrides)
    return load_dataset(cfg.data, np.random.SeedSequence(seed).spawn(3), cfg.dtype, base_dir)


@pytest.fixture
def csv_dir(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["height,weight,colour,label,price"]
    for i in range(50):
        lines.append(
            f"{rng.normal(170, 10):.2f},{rng.normal(70, 5):.2f},red,{['cat', 'dog'][i % 2]},{i * 1.5}"
        )
    (tmp_path / "pets.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_generated_validation_set_is_a_fresh_draw(tmp_path):
    data = _load(tmp_path)
    assert data.task == CLASSIFICATION and data.n_classes == 3
    assert data.X_train.shape == data.X_val.shape == (300, 2)
    assert not np.array_equal(data.X_train, data.X_val)
    np.testing.assert_array_equal(_load(tmp_path).X_val, data.X_val)


def test_csv_classification_with_named_classes(csv_dir):
    data = _load(
        csv_dir,
        "data=csv",
        "data.path=pets.csv",
        "data.target=label",
        "data.features=[height,weight]",
    )
    assert data.task == CLASSIFICATION and data.class_names == ("cat", "dog")
    # 20% test first (10 rows), then 20% of the other 40 for validation
    assert data.X_train.shape == (32, 2) and data.X_val.shape == (8, 2)
    assert data.X_test.shape == (10, 2)
    assert data.X_train.dtype == np.float32 and data.y_train.dtype == np.int64


def test_csv_split_is_seeded(csv_dir):
    args = ("data=csv", "data.path=pets.csv", "data.target=label", "data.features=[height,weight]")
    first, again, other = (
        _load(csv_dir, *args),
        _load(csv_dir, *args),
        _load(csv_dir, *args, seed=1),
    )
    np.testing.assert_array_equal(first.X_val, again.X_val)
    assert not np.array_equal(first.X_val, other.X_val)


def test_csv_regression_and_standardisation(csv_dir):
    data = _load(
        csv_dir,
        "data=csv",
        "data.path=pets.csv",
        "data.target=price",
        "data.features=[height,weight]",
        "data.standardize=true",
    )
    assert data.task == REGRESSION and data.y_train.shape == (32, 1)
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.X_train.std(axis=0), 1, atol=1e-5)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["data.path=missing.csv", "data.target=label"], "data.path=missing.csv: no such file"),
        (
            ["data.path=pets.csv", "data.target=species"],
            "data.target=species: no such column in pets.csv; columns: height, weight, colour, label, price",
        ),
        (
            ["data.path=pets.csv", "data.target=label", "data.test_fraction=1"],
            "data.test_fraction=1: must be a number from 0 (no test split)",
        ),
        (
            ["data.path=pets.csv", "data.target=label", "data.folds=5", "data.fold=5"],
            "data.fold=5: must be one of 0..4",
        ),
        (
            ["data.path=pets.csv", "data.target=label", "data.missing=fill"],
            "data.missing=fill: choose one of: error, drop, mean",
        ),
        (
            ["data.path=pets.csv", "data.target=label", "data.features=[height,size]"],
            "data.features=size: no such column",
        ),
        (["data.target=label"], "data.path=???: required for data=csv"),
        (
            [
                "data.path=pets.csv",
                "data.target=label",
                "data.features=[height]",
                "data.val_fraction=1.5",
            ],
            "data.val_fraction=1.5: must be a number between 0 and 1",
        ),
        (
            ["data.path=pets.csv", "data.target=label", "+data.delimiter=';'"],
            "data.delimiter=;: not a csv option",
        ),
        (
            ["data.path=pets.csv", "data.target=label", "data.sep=ab"],
            "data.sep=ab: auto, or one character between fields",
        ),
        (
            ["data.path=pets.csv", "data.target=label", "data.max_categories=0"],
            "data.max_categories=0: auto (the smaller of 100 and 50% of the rows), a positive",
        ),
    ],
)
def test_csv_problems_name_the_key(csv_dir, overrides, message):
    with pytest.raises(ConfigError) as error:
        _load(csv_dir, "data=csv", *overrides)
    assert str(error.value).startswith(message), str(error.value)


def test_missing_file_is_named_first_with_where_it_was_looked_for(csv_dir):
    with pytest.raises(ConfigError) as error:
        _load(csv_dir, "data=csv", "data.path=does_not_exist.csv", "+data.delimiter=x")
    message = str(error.value)
    assert message.startswith(
        f"data.path=does_not_exist.csv: no such file; looked in {csv_dir.resolve()}"
    ), message
    assert "data.target=???: required for data=csv" in message  # every problem, one line
    assert "data.delimiter=x: not a csv option" in message and "\n" not in message


@pytest.mark.parametrize(
    "content, message",
    [
        ("a,b,y\n", "data.path=bad.csv: has a header but no rows"),
        ("", "data.path=bad.csv: is empty"),
        ("a,b,y\n1,2,x\n3,4,x\n5,6,x\n", "data.target=y: has a single class ('x') in bad.csv"),
    ],
)
def test_csv_without_anything_to_learn_is_refused(tmp_path, content, message):
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, "data=csv", "data.path=bad.csv", "data.target=y")
    assert str(error.value).startswith(message), str(error.value)


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.classes=1", "data.classes=1: must be at least 2"),
        (
            "+data.sample=5",
            "data.sample=5: not an option of data=spiral; choose from: samples, classes, noise, val_samples",
        ),
    ],
)
def test_generated_data_problems_name_the_key(tmp_path, override, message):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, override)
    assert str(error.value).startswith(message), str(error.value)


def test_large_unscaled_features_get_a_hint(tmp_path):
    rng = np.random.default_rng(0)
    rows = [f"{a:.1f},{b:.1f},{int(a > b)}" for a, b in rng.uniform(0, 1000, (40, 2))]
    (tmp_path / "big.csv").write_text("area,price,y\n" + "\n".join(rows) + "\n")
    args = ("data=csv", "data.path=big.csv", "data.target=y")
    (note,) = [n for n in _load(tmp_path, *args, "data.standardize=false").notes if "area" in n]
    assert "feature 'area' reaches" in note and "data.standardize=true" in note
    assert not any("area" in n for n in _load(tmp_path, *args, "data.standardize=true").notes)
