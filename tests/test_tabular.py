"""A user's CSV as the runner encodes it: text, true/false and missing cells, the splits (test,
stratified validation, k-fold), and the sweep's parsed-file cache."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import compose

from runner.data import load_dataset
from runner.errors import ConfigError
from runner.tables import cache as csv_cache
from runner.tables.encoding import Encoding


def _load(base_dir, *overrides, seed=0, cache_dir=None):
    cfg = compose("data=csv", *overrides)
    seeds = np.random.SeedSequence(seed).spawn(3)
    return load_dataset(cfg.data, seeds, "float64", base_dir, cache_dir)


@pytest.fixture
def shop(tmp_path):
    """120 rows: a number, a colour (text), a flag (true/false), an imbalanced string target."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "price": rng.normal(50, 10, 120).round(2),
            "colour": rng.choice(["red", "green", "blue"], 120),
            "member": rng.choice([True, False], 120),
            "bought": ["yes"] * 90 + ["no"] * 30,
        }
    )
    frame.to_csv(tmp_path / "shop.csv", index=False)
    return tmp_path, frame


def test_text_and_boolean_columns_become_inputs_fitted_on_training_rows(shop):
    base, frame = shop
    data = _load(base, "data.path=shop.csv", "data.target=bought")
    encoding = data.encoding
    assert encoding.inputs == ["price", "colour=blue", "colour=green", "colour=red", "member"]
    assert data.class_names == ("no", "yes") and encoding.classes == ["no", "yes"]
    one_hot = data.X_train[:, 1:4]
    assert set(one_hot.sum(axis=1)) == {1.0}  # one colour per row
    assert set(np.unique(data.X_train[:, 4])) == {0.0, 1.0}
    # standardised with the training rows' statistics, which are saved for predict
    assert data.X_train[:, 0].mean() == pytest.approx(0, abs=1e-9)
    assert data.X_train[:, 0].std() == pytest.approx(1, abs=1e-9)
    price = encoding.features[0]
    assert price.mean != pytest.approx(frame["price"].mean(), abs=1e-12)  # not all rows'
    # the saved encoding turns the file's rows into exactly the training inputs
    again = Encoding.from_json(json.loads(json.dumps(encoding.to_json())))
    table = csv_cache.read_table(base / "shop.csv")
    X = again.encode(table)
    assert any(np.allclose(X[i], data.X_train[0]) for i in range(len(X)))


def test_a_category_only_validation_rows_have_is_all_zeros(tmp_path):
    rows = ["x,c,y"] + [f"{i},{'a' if i % 2 else 'b'},{i % 2}" for i in range(40)]
    rows[5] = "4,zzz,0"  # one rare category
    (tmp_path / "rare.csv").write_text("\n".join(rows) + "\n")
    for seed in range(6):
        data = _load(tmp_path, "data.path=rare.csv", "data.target=y", seed=seed)
        held = np.vstack([data.X_val, data.X_test])
        if "c=zzz" not in data.encoding.inputs:  # the zzz row was held out
            assert (held[:, 1:].sum(axis=1) == 0).sum() == 1
            return
    pytest.fail("no seed held the rare row out")


def test_stratified_splits_keep_class_proportions_and_the_test_rows_are_fixed(shop):
    base, _ = shop
    args = ("data.path=shop.csv", "data.target=bought", "data.standardize=false")
    first, other_seed = _load(base, *args), _load(base, *args, seed=5)
    for data in (first, other_seed):
        for y in (data.y_train, data.y_val, data.y_test):
            assert np.mean(y == 0) == pytest.approx(0.25, abs=0.02)
    np.testing.assert_array_equal(np.sort(first.X_test, axis=0), np.sort(other_seed.X_test, axis=0))
    assert not np.array_equal(np.sort(first.X_val, axis=0), np.sort(other_seed.X_val, axis=0))
    random = _load(base, *args, "data.split=random", "data.test_fraction=0.5", seed=3)
    assert len(random.y_test) == 60


def test_k_folds_partition_the_rows_left_after_the_test_split(shop):
    base, _ = shop
    args = ("data.path=shop.csv", "data.target=bought", "data.folds=4")
    folds = [_load(base, *args, f"data.fold={k}", "data.standardize=false") for k in range(4)]
    vals = np.vstack([fold.X_val for fold in folds])
    rest = np.vstack([folds[0].X_train, folds[0].X_val])
    assert len(vals) == len(rest) == 96  # 120 - 24 test rows
    key = lambda X: sorted(map(tuple, X))  # noqa: E731
    assert key(vals) == key(rest)  # every row is in exactly one validation fold
    assert {len(fold.X_val) for fold in folds} == {24}
    for fold in folds:
        assert np.mean(fold.y_val == 0) == pytest.approx(0.25, abs=0.05)


@pytest.mark.parametrize(
    "mode, rows, filled",
    [("drop", 117, None), ("mean", 119, "price")],
)
def test_missing_cells_are_dropped_or_filled_from_training_rows(shop, mode, rows, filled):
    base, frame = shop
    frame = frame.copy()
    frame.loc[3, "price"] = np.nan
    frame.loc[7, "colour"] = None
    frame.loc[9, "bought"] = None
    frame.to_csv(base / "holes.csv", index=False)
    args = ("data.path=holes.csv", "data.target=bought", f"data.missing={mode}")
    data = _load(base, *args)
    assert sum(map(len, (data.y_train, data.y_val, data.y_test))) == rows
    assert np.isfinite(data.X_train).all()
    note = data.notes[0]
    assert note.startswith(f"data.missing={mode}: dropped {120 - rows} of 120 rows")
    if filled:
        fills = {f.name: f.fill for f in data.encoding.features if f.fill is not None}
        assert set(fills) == {"price", "colour", "member"}
        assert fills["colour"] in ("red", "green", "blue") and fills["member"] in (True, False)
    with pytest.raises(ConfigError) as error:
        _load(base, "data.path=holes.csv", "data.target=bought")
    message = str(error.value)
    assert message.startswith("data.missing=error: holes.csv has missing cells in 'price' (1)")
    assert "first on lines 5, 9, 11" in message and "data.missing=drop" in message


@pytest.mark.parametrize(
    "content, overrides, message",
    [
        (
            "a,y\n1,x\n2,y\nthree,x\n4,y\n5,x\n",
            [],
            "data.features=a: column is numeric but line 4 of bad.csv holds 'three'",
        ),
        ("a,y\n" + "".join(f"{i},x\n" for i in range(9)), [], "data.target=y: has a single class"),
        (
            "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(4)),
            ["data.test_fraction=0.9"],
            "data.test_fraction=0.9: leaves no training rows (4 rows in bad.csv)",
        ),
        (
            "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(4)),
            ["data.folds=5"],
            "data.folds=5: bad.csv has 3 rows left for training and validation, fewer than folds",
        ),
    ],
)
def test_bad_tables_are_one_line_naming_the_key(tmp_path, content, overrides, message):
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, "data.path=bad.csv", "data.target=y", *overrides)
    assert str(error.value).startswith(message), str(error.value)
    assert "\n" not in str(error.value)


def test_integer_labels_keep_their_values(tmp_path):
    rows = "a,y\n" + "".join(f"{i},{[3, 7, 11][i % 3]}\n" for i in range(30))
    (tmp_path / "ints.csv").write_text(rows)
    data = _load(tmp_path, "data.path=ints.csv", "data.target=y")
    assert data.encoding.classes == [3, 7, 11] and data.class_names == ("3", "7", "11")
    assert json.loads(json.dumps(data.encoding.to_json()))["classes"] == [3, 7, 11]


def test_a_sweep_parses_a_file_once_and_loads_it_from_the_cache(shop, monkeypatch):
    base, frame = shop
    cache = base / "sweep" / ".cache"
    args = ("data.path=shop.csv", "data.target=bought")
    parsed = _load(base, *args, cache_dir=cache)
    assert len(list(cache.glob("csv-*"))) == 1

    def no_parsing(*_, **__):
        raise AssertionError("parsed the CSV again")

    monkeypatch.setattr(pd, "read_csv", no_parsing)
    cached = _load(base, *args, cache_dir=cache)
    np.testing.assert_array_equal(parsed.X_train, cached.X_train)
    np.testing.assert_array_equal(parsed.y_test, cached.y_test)
    assert parsed.encoding.to_json() == cached.encoding.to_json()
    monkeypatch.undo()
    frame.iloc[::2].to_csv(base / "shop.csv", index=False)  # an edited file is parsed again
    assert len(_load(base, *args, cache_dir=cache).y_train) < len(parsed.y_train)
    assert len(list(cache.glob("csv-*"))) == 2


@pytest.mark.slow
def test_a_sweep_on_a_csv_caches_it_and_records_test_figures(shop):
    from conftest import run_cli

    base, _ = shop
    result = run_cli(
        base,
        "-m",
        "data=csv",
        "data.path=shop.csv",
        "data.target=bought",
        "trainer.epochs=50",
        "seed=0,1",
        "hydra.sweep.dir=sweep",
    )
    assert result.returncode == 0, result.stderr
    assert len(list((base / "sweep" / ".cache").glob("csv-*"))) == 1
    jobs = pd.read_csv(base / "sweep" / "summary.csv")
    assert list(jobs["status"]) == ["ok", "ok"]
    assert jobs["test_accuracy"].between(0, 1).all() and jobs["best_epoch"].notna().all()
    for job in ("0", "1"):
        saved = json.loads((base / "sweep" / job / "preprocessing.json").read_text())
        assert saved["classes"] == ["no", "yes"] and saved["source"]["rows"]["test"] == 24


@pytest.mark.parametrize("standardize", ["true", "false"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_one_pass_numeric_path_equals_the_general_one(
    tmp_path, monkeypatch, standardize, dtype
):
    from runner.tables import float_splits

    rng = np.random.default_rng(3)
    n = 3000
    frame = pd.DataFrame(
        {
            "stamp": 1.7e9 + rng.normal(0, 50, n),  # an offset float32 alone would round away
            "small": rng.normal(0, 1e-3, n),
            "flat": np.full(n, 2.5),
            "label": rng.integers(0, 3, n),
        }
    )
    frame.to_csv(tmp_path / "num.csv", index=False)

    def load(cache):
        cfg = compose(
            "data=csv", "data.path=num.csv", "data.target=label", f"data.standardize={standardize}"
        )
        seeds = np.random.SeedSequence(7).spawn(3)
        return load_dataset(cfg.data, seeds, dtype, tmp_path, cache)

    calls = []
    real = float_splits.encode_splits
    monkeypatch.setattr(float_splits, "encode_splits", lambda *a: calls.append(1) or real(*a))
    fast, cached = load(None), load(tmp_path / "cache")
    _ = load(tmp_path / "cache")  # from the cache: the moments come back with the arrays
    assert len(calls) == 3
    monkeypatch.setattr(float_splits, "applies", lambda *a: False)
    general = load(None)
    tolerance = 2e-8 if dtype == "float64" else 2e-6  # a 1.7e9 column: its ulp / std ~ 5e-9
    for split in ("X_train", "X_val", "X_test"):
        for other in (general, cached):
            np.testing.assert_allclose(
                getattr(fast, split), getattr(other, split), rtol=tolerance, atol=tolerance
            )
    for mine, theirs in zip(fast.encoding.features, general.encoding.features, strict=True):
        assert mine.mean == pytest.approx(theirs.mean, rel=1e-12, abs=1e-12)
        assert mine.std == pytest.approx(theirs.std, rel=1e-9)
    if standardize == "true":
        stamp = fast.X_train[:, 0].astype(np.float64)
        assert abs(stamp.mean()) < 1e-5 and stamp.std() == pytest.approx(1, abs=1e-5)
        assert fast.X_train[:, 2].tolist() == [0.0] * len(fast.X_train)  # std 0: left at 0
