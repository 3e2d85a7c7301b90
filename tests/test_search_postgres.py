"""A search whose study lives in a real PostgreSQL (tests/postgres_server.py), and in the
journal file, with trials proposed, reported for pruning and finished by several processes at
once: the pool's workers and Slurm tasks (tests/slurm_cluster.py). No trial lost, none
numbered twice, none run twice; a second command continues the study."""

import pandas as pd
import pytest
from conftest import run_cli

optuna = pytest.importorskip("optuna", reason="the [optuna] extra is not installed")
pytest.importorskip("psycopg", reason="the [postgres] extra is not installed")
pytestmark = pytest.mark.slow

SEARCH = (
    "-m",
    "hydra/sweeper=optuna",
    "hydra/sweeper/pruner=median",
    "hydra.sweeper.pruner.n_startup_trials=2",
    "hydra.sweeper.n_jobs=2",
    'hydra.sweeper.params={optimizer.learning_rate: "interval(0.001, 0.1)"}',
    "trainer.epochs=200",
    "trainer.log_every=20",
    "trainer.plots=false",
)
SLURM = (
    "hydra/launcher=slurm",
    "hydra.launcher.partition=cpu",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
)


def _trials(storage, name):
    study = optuna.load_study(study_name=name, storage=storage)
    return study.get_trials(deepcopy=False)


def _check_each_trial_once(cwd, trials, expected):
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(expected)), numbers  # none lost, none numbered twice
    finished = {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    assert all(t.state in finished for t in trials), [t.state for t in trials]
    ledger = pd.read_csv(cwd / "outputs" / "runs.csv")
    assert len(ledger) == expected and ledger["trial"].is_unique  # none run twice
    assert set(ledger["status"]) <= {"ok", "pruned"}


def test_two_pool_workers_search_and_prune_through_postgresql_and_a_second_command_continues(
    tmp_path, postgres_server
):
    url = postgres_server.url("+psycopg")
    study = ("hydra.sweeper.study_name=pool", f"hydra.sweeper.storage={url}")
    first = run_cli(tmp_path, *SEARCH, *study, "hydra.sweeper.n_trials=8", timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    _check_each_trial_once(tmp_path, _trials(url, "pool"), 8)

    second = run_cli(tmp_path, *SEARCH, *study, "hydra.sweeper.n_trials=4", timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    _check_each_trial_once(tmp_path, _trials(url, "pool"), 12)


@pytest.mark.parametrize("storage", ["postgresql", "journal"])
def test_slurm_tasks_search_at_once_through_a_shared_study(
    tmp_path, postgres_server, slurm_cluster, storage
):
    """Two trials at a time, each in its own Slurm task, reporting to the study for pruning
    while the sweep's process proposes the next: the database, or the journal file in the
    sweep folder (a folder every task shares)."""
    where = postgres_server.url("+psycopg") if storage == "postgresql" else "journal"
    name = f"slurm_{storage}"
    result = run_cli(
        tmp_path,
        *SEARCH,
        *SLURM,
        f"hydra.sweeper.storage={where}",
        f"hydra.sweeper.study_name={name}",
        "hydra.sweeper.n_trials=6",
        env=slurm_cluster.env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    if storage == "journal":
        (log,) = tmp_path.glob("outputs/sweeps/*/*/study.log")
        where = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(log)))
    _check_each_trial_once(tmp_path, _trials(where, name), 6)
