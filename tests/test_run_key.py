"""run_key: the same experiment however typed, a new key for anything that changes the result."""

import pandas as pd
import pytest
from conftest import compose, run_cli
from omegaconf import OmegaConf

from runner.records import flatten
from runner.run_key import data_fingerprint, run_key


def _key(*overrides, base_dir="."):
    scalars = flatten(OmegaConf.to_container(compose(*overrides), resolve=True))
    return run_key(scalars, data_fingerprint(scalars, base_dir))


def test_the_same_experiment_typed_two_ways_has_one_key():
    assert _key("seed=1", "optimizer.learning_rate=0.01") == _key(
        "optimizer.learning_rate=0.01", "seed=1"
    )
    assert _key("model=dense2") == _key("model=dense3", "model.layers=[{units:64,activation:relu}]")
    assert _key("trainer.log_every=1", "trainer.plots=true", "trainer.progress=none") == _key()


@pytest.mark.parametrize(
    "change", ["seed=2", "model.width=32", "optimizer=sgd", "data=moons", "dtype=float64"]
)
def test_what_changes_the_result_changes_the_key(change):
    assert _key(change) != _key()


def test_an_edited_csv_is_a_new_key_and_a_moved_one_is_not(tmp_path):
    rows = "x1,x2,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40))
    (tmp_path / "a.csv").write_text(rows)
    (tmp_path / "b.csv").write_text(rows)
    csv = ["data=csv", "data.target=label"]
    first = _key(*csv, "data.path=a.csv", base_dir=tmp_path)
    assert _key(*csv, "data.path=b.csv", base_dir=tmp_path) == first
    (tmp_path / "b.csv").write_text(rows.replace("\n5,2,1\n", "\n5,2,0\n"))
    assert _key(*csv, "data.path=b.csv", base_dir=tmp_path) != first


def test_runs_record_their_key_and_excluded_keys_do_not_change_the_result(tmp_path):
    tiny = ["trainer.epochs=30", "data.samples=20", "data.val_samples=10", "model.width=8"]
    for extra in (["trainer.log_every=1"], ["trainer.log_every=7", "trainer.progress=none"]):
        assert run_cli(tmp_path, *tiny, *extra).returncode == 0
    runs = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert runs.run_key.nunique() == 1 and len(runs) == 2
    assert runs.val_loss.iloc[0] == runs.val_loss.iloc[1]
    summary = pd.read_csv(next((tmp_path / "outputs" / "runs").rglob("summary.csv")))
    assert summary.run_key.iloc[0] == runs.run_key.iloc[0]


def test_a_csv_key_carries_the_rules_that_read_the_file_and_generated_keys_do_not(monkeypatch):
    from runner import run_key as keys

    csv = {"data.name": "csv", "data.path": "a.csv", "data.target": "y", "seed": 0}
    spiral = {"data.name": "spiral", "data.samples": 100, "seed": 0}
    before = keys.run_key(csv, "sha256:ab"), keys.run_key(spiral)
    monkeypatch.setattr(keys, "CSV_RULES", keys.CSV_RULES + 1)
    assert keys.run_key(csv, "sha256:ab") != before[0]  # read differently: a new experiment
    assert keys.run_key(spiral) == before[1]
