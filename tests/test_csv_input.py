"""A user's own CSV as the runner reads it (issue 27): the task inferred from the target, a file
with no rows, the separator, near-unique text columns, and data.features typed with commas."""

import numpy as np
import pandas as pd
import pytest
from conftest import compose, run_cli
from omegaconf import OmegaConf

from runner.data import comma_lists, load_dataset
from runner.dataset import CLASSIFICATION, REGRESSION
from runner.errors import ConfigError
from runner.records import flatten
from runner.run_key import data_fingerprint, run_key
from runner.tables import cache as csv_cache
from runner.tables.separator import detect

QUICK = ("trainer.epochs=30", "trainer.progress=none", "trainer.plots=false")


def _load(base_dir, *overrides, seed=0):
    cfg = compose("data=csv", *overrides)
    seeds = np.random.SeedSequence(seed).spawn(3)
    return load_dataset(cfg.data, seeds, "float64", base_dir)


def _cars(n=120, seed=0):
    """Cars: a fractional mpg, whole-number cylinders (3 values) and horsepower (many), a
    near-unique name and a three-valued origin."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "mpg": rng.normal(23, 7, n).round(1),
            "cyl": rng.choice([4, 6, 8], n),
            "hp": rng.integers(50, 230, n),
            "weight": rng.normal(3000, 800, n).round(0),  # whole numbers, read as floats
            "name": [f"car {i % 90}" for i in range(n)],
            "origin": rng.choice(["usa", "europe", "japan"], n),
            "turbo": rng.choice([True, False], n),
        }
    )


@pytest.fixture
def cars(tmp_path):
    frame = _cars()
    frame.to_csv(tmp_path / "cars.csv", index=False)
    return tmp_path, frame


# ------------------------------------------------------------------ item 5: data.task=auto


@pytest.mark.parametrize(
    "target, task, why",
    [
        ("mpg", REGRESSION, "numbers with fractions"),
        ("hp", REGRESSION, "whole numbers, more than 20 values"),
        ("cyl", CLASSIFICATION, "whole numbers, at most 20 values"),
        ("origin", CLASSIFICATION, "text"),
        ("turbo", CLASSIFICATION, "true/false"),
    ],
)
def test_the_task_follows_the_target_and_a_note_says_why(cars, target, task, why):
    base, frame = cars
    data = _load(base, "data.path=cars.csv", f"data.target={target}", "data.max_categories=null")
    assert data.task == task
    distinct = frame[target].nunique()
    assert data.notes[-1] == (
        f"data.task=auto: target '{target}' has {distinct} distinct values ({why}): {task}; "
        "data.task=classification|regression overrides"
    )


def test_whole_floats_with_few_values_are_classes_labelled_as_whole_numbers(tmp_path):
    rows = "x,grade\n" + "".join(f"{i},{float(i % 4 + 1)}\n" for i in range(60))
    (tmp_path / "grades.csv").write_text(rows)
    data = _load(tmp_path, "data.path=grades.csv", "data.target=grade")
    assert data.task == CLASSIFICATION and data.encoding.classes == [1, 2, 3, 4]
    assert "target 'grade' has 4 distinct values (whole numbers" in data.notes[-1]


def test_data_task_overrides_the_rule_without_a_note(cars):
    base, _ = cars
    data = _load(base, "data.path=cars.csv", "data.target=hp", "data.task=classification")
    assert data.task == CLASSIFICATION and not any("data.task=auto" in n for n in data.notes)


def test_the_run_prints_the_inferred_task_in_one_line(cars):
    base, frame = cars
    result = run_cli(
        base,
        "data=csv",
        "data.path=cars.csv",
        "data.target=mpg",
        "data.features=[cyl,hp,weight]",
        "loss=mse",
        *QUICK,
        "hydra.run.dir=outputs/mpg",
    )
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "data.task=auto" in line]
    assert notes == [
        f"note: data.task=auto: target 'mpg' has {frame.mpg.nunique()} distinct values (numbers "
        "with fractions): regression; data.task=classification|regression overrides"
    ]


# ------------------------------------------------------------------ item 7: a file with no rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run on cars.csv with gaps filled (data.missing=mean), to predict with."""
    base = tmp_path_factory.mktemp("cars")
    frame = _cars()
    frame.loc[[3, 8], "hp"] = np.nan
    frame.to_csv(base / "cars.csv", index=False)
    args = ("data=csv", "data.path=cars.csv", "data.target=cyl", "data.missing=mean")
    result = run_cli(base, *args, *QUICK, "hydra.run.dir=outputs/run")
    assert result.returncode == 0, result.stderr
    return base, frame, base / "outputs" / "run"


def _one_line_error(result):
    assert result.returncode != 0 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    return line


def test_predict_on_a_header_only_file_is_one_line(trained):
    base, frame, run_dir = trained
    frame.head(0).to_csv(base / "empty.csv", index=False)
    result = run_cli(base, str(run_dir), "empty.csv", "--out", "p.csv", module="runner.predict")
    assert (
        _one_line_error(result) == "error: empty.csv has a header but no rows: nothing to predict"
    )
    assert not (base / "p.csv").exists()


def test_training_on_a_header_only_file_is_one_line(tmp_path):
    _cars().head(0).to_csv(tmp_path / "empty.csv", index=False)
    result = run_cli(tmp_path, "data=csv", "data.path=empty.csv", "data.target=cyl", *QUICK)
    assert _one_line_error(result) == "error: data.path=empty.csv: has a header but no rows"


# ------------------------------------------------------------------ item 9: the separator


@pytest.mark.parametrize(
    "text, sep",
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b;c\n1,5;2;3\n", ";"),  # decimal commas in the rows
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a|b\n1|2\n", "|"),
        ('"a,b";c;d\n1;2;3\n', ";"),  # a comma inside a quoted name
        ("a,b;c\n1,x;y\n2,z;w\n", ","),  # semicolons inside a comma file's text
        ("label\nx\ny\n", ","),  # a single column
    ],
)
def test_the_separator_is_detected_from_the_first_lines(tmp_path, text, sep):
    (tmp_path / "f.csv").write_text(text)
    assert detect(tmp_path / "f.csv") == sep


def test_a_semicolon_file_trains_and_predicts_with_a_note(trained, tmp_path):
    base, frame, run_dir = trained
    frame.to_csv(tmp_path / "cars.csv", index=False, sep=";")
    args = ("data=csv", "data.path=cars.csv", "data.target=cyl", "data.missing=mean", *QUICK)
    result = run_cli(tmp_path, *args, "hydra.run.dir=outputs/semi")
    assert result.returncode == 0, result.stderr
    assert "note: data.sep=auto: read cars.csv as semicolon-separated (';')" in result.stderr
    comma = pd.read_csv(base / "cars.csv")  # the comma file, predicted by the ';' run
    comma.to_csv(tmp_path / "new.csv", index=False)
    for new in ("cars.csv", "new.csv"):
        out = run_cli(tmp_path, "outputs/semi", new, "--out", f"p-{new}", module="runner.predict")
        assert out.returncode == 0, out.stderr
        assert ("semicolon-separated" in out.stderr) == (new == "cars.csv")
    predictions = [pd.read_csv(tmp_path / f"p-{new}") for new in ("cars.csv", "new.csv")]
    pd.testing.assert_frame_equal(*predictions)


def test_a_wrong_separator_says_which_one_the_file_has(tmp_path):
    _cars().to_csv(tmp_path / "cars.csv", index=False, sep=";")
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, "data.path=cars.csv", "data.target=cyl", "data.sep=comma")
    assert str(error.value).endswith(
        "(one column: is the file semicolon-separated (';')? data.sep=auto detects it)"
    )
    data = _load(tmp_path, "data.path=cars.csv", "data.target=cyl", "data.sep=semicolon")
    assert data.notes[0] == "data.sep=semicolon: read cars.csv as semicolon-separated (';')"
    assert data.encoding.to_json()["sep"] == ";"


def test_the_cache_keeps_a_table_per_separator(tmp_path):
    (tmp_path / "f.csv").write_text("a;b\n1;2\n3;4\n")
    cache = tmp_path / "cache"
    for _ in range(2):  # parsed, then loaded
        table = csv_cache.read_table(tmp_path / "f.csv", cache, ";")
        assert list(table.columns) == ["a", "b"] and len(table) == 2
    assert list(csv_cache.read_table(tmp_path / "f.csv", cache).columns) == ["a;b"]


def _key(base, *overrides):
    scalars = flatten(OmegaConf.to_container(compose("data=csv", *overrides), resolve=True))
    return scalars, run_key(scalars, data_fingerprint(scalars, base))


def test_sep_and_max_categories_are_in_the_run_key_only_when_not_auto(cars):
    base, _ = cars
    csv = ("data.path=cars.csv", "data.target=cyl")
    scalars, key = _key(base, *csv)
    before = {k: v for k, v in scalars.items() if k not in ("data.sep", "data.max_categories")}
    assert run_key(before, data_fingerprint(before, base)) == key  # runs made before the keys
    assert _key(base, *csv, "data.sep=semicolon")[1] != key
    assert _key(base, *csv, "data.max_categories=null")[1] != key


# ------------------------------------------------------------------ item 10: many categories


def test_a_near_unique_text_column_is_dropped_with_a_note(cars):
    base, frame = cars
    data = _load(base, "data.path=cars.csv", "data.target=cyl")
    assert not any(name.startswith("name=") for name in data.encoding.inputs)
    assert any(name.startswith("origin=") for name in data.encoding.inputs)
    assert data.notes[0] == (
        "dropped text column 'name': 90 distinct values in 120 rows, more than "
        "data.max_categories=auto (60); data.max_categories=null keeps it (one input per value)"
    )
    kept = _load(base, "data.path=cars.csv", "data.target=cyl", "data.max_categories=null")
    assert sum(name.startswith("name=") for name in kept.encoding.inputs) > 60
    assert not any("dropped" in note for note in kept.notes)


def test_features_that_are_no_list_of_names_are_refused_naming_the_key(cars):
    base, _ = cars
    with pytest.raises(ConfigError) as error:
        _load(base, "data.path=cars.csv", "data.target=cyl", "data.features=-1")
    assert str(error.value) == (
        "data.features=-1: must be a list of column names (data.features=[a,b]) or null "
        "(every other column)"
    )


def test_a_limit_that_drops_every_feature_is_refused(cars):
    base, _ = cars
    with pytest.raises(ConfigError) as error:
        _load(
            base,
            "data.path=cars.csv",
            "data.target=cyl",
            "data.features=[name,origin]",
            "data.max_categories=2",
        )
    assert str(error.value).startswith(
        "data.max_categories=2: drops every feature of cars.csv (name, origin)"
    )


def test_predict_counts_unknown_categories_per_column_and_filled_rows(trained):
    base, frame, run_dir = trained
    new = frame.head(10).fillna({"hp": 100})
    new.loc[[0, 1, 2], "origin"] = "mars"
    new.loc[[4, 5], "hp"] = np.nan
    new.loc[5, "weight"] = np.nan
    new.to_csv(base / "new.csv", index=False)
    result = run_cli(base, str(run_dir), "new.csv", "--out", "p.csv", module="runner.predict")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[:2] == [
        "note: categories the training rows did not have, encoded as unknown (all zeros): "
        "'origin' in 3 of 10 rows",
        "note: filled missing cells in 2 of 10 rows (data.missing=mean: the training rows' means "
        "and most frequent values)",
    ]
    assert len(pd.read_csv(base / "p.csv")) == 10


# ------------------------------------------------------------------ item 11: data.features=a,b


def test_comma_features_are_a_list_on_a_single_run_and_a_hinted_sweep_with_m():
    args, hints = comma_lists(["data=csv", "data.features=cyl,hp", "seed=1,2"])
    assert args == ["data=csv", "data.features=[cyl,hp]", "seed=1,2"] and hints == []
    args, hints = comma_lists(["-m", "data.features=cyl,hp"])
    assert args == ["-m", "data.features=cyl,hp"]
    assert hints == [
        "data.features=cyl,hp is a sweep, one job per value; for one run on all of them write "
        "data.features=[cyl,hp]"
    ]
    untouched = ["data.features=[a,b]", "data.features=choice(a,b)", 'data.features="a,b"']
    assert comma_lists(untouched) == (untouched, [])


def test_a_quoted_comma_string_of_features_is_the_list(cars):
    base, _ = cars
    data = _load(base, "data.path=cars.csv", "data.target=cyl", 'data.features="hp, origin"')
    assert data.encoding.inputs[0] == "hp" and data.encoding.inputs[1].startswith("origin=")
    result = run_cli(
        base,
        "data=csv",
        "data.path=cars.csv",
        "data.target=cyl",
        'data.features="hp,weight"',
        *QUICK,
        "hydra.run.dir=outputs/quoted",
    )
    assert result.returncode == 0, result.stderr
    saved = (base / "outputs" / "quoted" / "preprocessing.json").read_text()
    assert '"inputs": [\n    "hp",\n    "weight"\n  ]' in saved


def test_unquoted_comma_features_on_the_command_line(cars):
    base, _ = cars
    common = ("data=csv", "data.path=cars.csv", "data.target=cyl", "data.features=hp,weight")
    result = run_cli(base, *common, *QUICK, "hydra.run.dir=outputs/plain")
    assert result.returncode == 0, result.stderr
    saved = (base / "outputs" / "plain" / "preprocessing.json").read_text()
    assert '"inputs": [\n    "hp",\n    "weight"\n  ]' in saved
    dry = run_cli(base, "-m", *common, *QUICK, "runner.dry_run=true")
    assert dry.returncode == 0, dry.stderr
    hint = (
        "note: data.features=hp,weight is a sweep, one job per value; for one run on all of "
        "them write data.features=[hp,weight]"
    )
    assert hint in dry.stderr
