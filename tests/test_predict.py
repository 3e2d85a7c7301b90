"""python -m runner.predict: a trained run's predictions for new rows, and its one-line refusals."""

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

from runner.predict import main as predict_main


def _flowers(path, n=180, seed=0):
    """Three string classes told apart by two numbers; a text column that helps a little."""
    rng = np.random.default_rng(seed)
    label = rng.choice(["iris-a", "iris-b", "iris-c"], n)
    centre = {"iris-a": (0, 0), "iris-b": (3, 0), "iris-c": (0, 3)}
    xy = np.array([centre[k] for k in label]) + rng.normal(0, 0.6, (n, 2))
    soil = np.where(label == "iris-a", "clay", rng.choice(["sand", "loam"], n))
    frame = pd.DataFrame(
        {"id": np.arange(n), "length": xy[:, 0], "width": xy[:, 1], "soil": soil, "kind": label}
    )
    frame.to_csv(path, index=False)
    return frame


TRAIN = (
    "data=csv",
    "data.path=flowers.csv",
    "data.target=kind",
    "data.features=[length,width,soil]",
    "dtype=float64",
    "trainer.epochs=300",
    "trainer.progress=none",
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("predict")
    frame = _flowers(base / "flowers.csv")
    result = run_cli(base, *TRAIN, "hydra.run.dir=outputs/run")
    assert result.returncode == 0, result.stderr
    return base, frame, base / "outputs" / "run"


def _predict(base, *args):
    return run_cli(base, *args, module="runner.predict")


@pytest.mark.numerical
def test_predictions_are_the_runs_model_on_the_same_encoding(trained):
    base, frame, run_dir = trained
    result = _predict(base, str(run_dir), "flowers.csv", "--out", "p.csv", "--keep", "id")
    assert result.returncode == 0, result.stderr
    assert "180 predictions" in result.stderr
    predicted = pd.read_csv(base / "p.csv")
    assert list(predicted.columns) == [
        "id",
        "predicted_kind",
        "proba_iris-a",
        "proba_iris-b",
        "proba_iris-c",
    ]
    assert set(predicted["predicted_kind"]) <= {"iris-a", "iris-b", "iris-c"}
    probabilities = predicted.filter(like="proba_").to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    # every row of the file is in one split: the correct predictions add up to the run's scores
    summary = pd.read_csv(run_dir / "summary.csv").iloc[0]
    rows = pd.read_json(run_dir / "preprocessing.json", typ="series")["source"]["rows"]
    expected = sum(rows[split] * summary[f"{split}_accuracy"] for split in ("train", "val", "test"))
    correct = (predicted["predicted_kind"] == frame["kind"]).sum()
    assert correct == pytest.approx(expected, abs=0.5)
    assert correct / len(frame) > 0.8  # and the model learned the clusters


def test_no_proba_and_stdout(trained):
    base, _, run_dir = trained
    result = _predict(base, str(run_dir), "flowers.csv", "--no-proba")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "predicted_kind" and len(lines) == 181


@pytest.mark.parametrize(
    "edit, args, message",
    [
        (lambda f: f.drop(columns="width"), [], "new.csv has no column 'width'"),
        (
            lambda f: f.assign(soil=["peat"] + list(f["soil"][1:])),
            ["--unknown", "error"],
            "new.csv: column 'soil' has the category 'peat' on line 2, which the training rows "
            "did not have (known: clay, loam, sand); without --unknown error",
        ),
        (
            lambda f: f.astype({"length": object}).assign(
                length=list(f["length"][:2]) + ["tall"] + list(f["length"][3:])
            ),
            [],
            "new.csv: column 'length' is numeric but line 4 holds 'tall'",
        ),
        (lambda f: f, ["--keep", "name"], "new.csv has no column 'name'"),
    ],
)
def test_bad_rows_are_one_line_and_write_nothing(trained, tmp_path, edit, args, message):
    base, frame, run_dir = trained
    edit(frame).to_csv(tmp_path / "new.csv", index=False)
    (tmp_path / "p.csv").write_text("kept\n")
    code = predict_main(
        [str(run_dir), str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.csv"), *args]
    )
    assert code == 2
    assert (tmp_path / "p.csv").read_text() == "kept\n"  # an earlier file is left as it was
    assert not list(tmp_path.glob(".p.csv*"))


def test_an_unseen_category_is_unknown_and_counted_unless_unknown_error(trained, tmp_path):
    base, frame, run_dir = trained
    soil = ["peat"] * 7 + ["rock"] * 2 + list(frame["soil"][9:])
    frame.assign(soil=soil).to_csv(tmp_path / "new.csv", index=False)
    result = _predict(tmp_path, str(run_dir), "new.csv", "--out", "p.csv")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        "note: categories the training rows did not have, encoded as unknown (all zeros): "
        "'soil' in 9 of 180 rows"
    )
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(frame)
    strict = _predict(tmp_path, str(run_dir), "new.csv", "--unknown", "error")
    assert strict.returncode == 2 and "'peat' on line 2" in strict.stderr
    assert len(strict.stderr.strip().splitlines()) == 1


def test_error_messages_name_the_problem(trained, tmp_path, capsys, monkeypatch):
    base, _, run_dir = trained
    monkeypatch.chdir(tmp_path)
    assert error_of(["0123abcd", "x.csv"], capsys).startswith(
        "error: 0123abcd: no such run folder, and no ledger at outputs/runs.csv to look it up in"
    )
    monkeypatch.chdir(base)

    def error(*args):
        assert predict_main([*map(str, args)]) == 2
        return capsys.readouterr().err.strip()

    assert error(run_dir, tmp_path / "none.csv").endswith("none.csv: no such file")
    assert error("0123abcd", base / "flowers.csv").startswith(
        "error: 0123abcd: no run folder, and no run_id or run_key of that name"
    )
    older = tmp_path / "older"
    older.mkdir()
    (older / ".hydra").mkdir()
    (older / ".hydra" / "config.yaml").write_text((run_dir / ".hydra" / "config.yaml").read_text())
    assert "has no preprocessing.json: it was made by an older version" in error(
        older, base / "flowers.csv"
    )
    assert "is not a run folder" in error(tmp_path, base / "flowers.csv")


def error_of(args, capsys):
    assert predict_main(args) == 2
    return capsys.readouterr().err.strip()


def test_runs_without_parameters_are_refused(trained):
    base, _, _ = trained
    forward = run_cli(base, *TRAIN, "trainer.epochs=0", "hydra.run.dir=outputs/forward")
    assert forward.returncode == 0, forward.stderr
    result = _predict(base, "outputs/forward", "flowers.csv")
    assert result.returncode == 2 and "never trained (trainer.epochs=0" in result.stderr
    failed = run_cli(
        base, *TRAIN, "optimizer=sgd", "optimizer.learning_rate=1e9", "hydra.run.dir=outputs/nan"
    )
    assert failed.returncode == 1
    result = _predict(base, "outputs/nan", "flowers.csv")
    assert "saved no parameters (params.npz): its status is diverged" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_best_of_a_sweep_and_runs_by_id(trained):
    base, _, _ = trained
    sweep = run_cli(
        base,
        "-m",
        *TRAIN,
        "optimizer.learning_rate=0.0001,0.05",
        "hydra.sweep.dir=outputs/sweep",
    )
    assert sweep.returncode == 0, sweep.stderr
    result = _predict(base, "best", "flowers.csv", "--from", "outputs/sweep", "--out", "b.csv")
    assert result.returncode == 0, result.stderr
    jobs = pd.read_csv(base / "outputs" / "sweep" / "summary.csv")
    best = jobs.loc[jobs["val_loss"].idxmin()]
    assert f"best of 2 ok runs on val_loss: {best['run_dir']}" in result.stderr
    by_id = _predict(base, best["run_id"], "flowers.csv", "--out", "i.csv")
    assert by_id.returncode == 0, by_id.stderr
    assert (base / "b.csv").read_text() == (base / "i.csv").read_text()
    # the file after --from's folders, as one naturally types it
    after = _predict(base, "best", "--from", "outputs/sweep", "flowers.csv", "--out", "a.csv")
    assert after.returncode == 0, after.stderr
    assert (base / "a.csv").read_text() == (base / "b.csv").read_text()
    missing = _predict(base, "best", "--from", "outputs/sweep")
    assert missing.returncode == 2 and "required: NEW_CSV" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_generated_data_run_predicts_a_csv_of_points(tmp_path):
    result = run_cli(tmp_path, "trainer.epochs=50", "trainer.progress=none", "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr
    pd.DataFrame({"x0": [0.1, -0.5], "x1": [0.3, 0.2]}).to_csv(tmp_path / "pts.csv", index=False)
    result = _predict(tmp_path, "run", "pts.csv")
    assert result.returncode == 0, result.stderr
    predicted = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert list(predicted.columns) == ["predicted_y", "proba_0", "proba_1", "proba_2"]
