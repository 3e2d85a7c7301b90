"""A race on the real Slurm of tests/slurm_cluster.py: each round is its own array job, the
race decides as on the pool, and the console says the cluster's one note once per sweep, not
once per round."""

import pandas as pd
import pytest
from conftest import run_cli

pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
pytestmark = pytest.mark.slow


def test_a_race_on_slurm_decides_and_notes_once(tmp_path, slurm_cluster):
    done = run_cli(
        tmp_path,
        "-m",
        "hydra/sweeper=race",
        "hydra/launcher=slurm",
        "hydra.launcher.partition=cpu",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=1",
        "hydra.sweeper.max_seeds=5",
        "model.width=4,32",
        "optimizer.learning_rate=0.00001,0.05",
        "trainer.epochs=1000",
        "trainer.log_every=500",
        "trainer.plots=false",
        env=slurm_cluster.env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (race_csv,) = tmp_path.glob("outputs/sweeps/*/*/race.csv")
    table = pd.read_csv(race_csv)
    rounds = pd.read_csv(race_csv.parent / "race_rounds.csv")
    assert len(rounds) >= 2  # more than one array job
    assert set(table.status) <= {"winner", "tied", "eliminated"}
    out = table[table.status == "eliminated"]
    assert "model.width=4 optimizer.learning_rate=1e-05" in set(out.configuration)
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    assert len(ledger) == table.seeds.sum() and ledger.run_key.is_unique
    assert done.stderr.count("keeps no job accounting") == 1
