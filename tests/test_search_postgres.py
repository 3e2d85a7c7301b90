"""A search whose study lives in a real PostgreSQL (tests/postgres_server.py), through Optuna's
RDBStorage and as Optuna's journal in a table (journal+postgresql://), and in the journal file, with trials proposed, reported for pruning and finished by several processes at
once: the pool's workers and Slurm tasks (tests/slurm_cluster.py). No trial lost, none
numbered twice, none run twice; a second command continues the study."""

import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import run_cli, start_cli
from postgres_server import PostgresServer, missing

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


# Optuna's RDBStorage (SQLAlchemy's psycopg driver), and Optuna's journal in one table of the
# server (runner.sweeps.search.pg_journal)
KINDS = {"rdb": "+psycopg", "pgjournal": ""}


def _url(server, kind):
    url = server.url(KINDS[kind])
    return f"journal+{url}" if kind == "pgjournal" else url


def _trials(storage, name):
    if isinstance(storage, str) and storage.startswith("journal+"):
        from runner.sweeps.search.pg_journal import PostgresJournalBackend

        storage = optuna.storages.JournalStorage(PostgresJournalBackend(storage))
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


@pytest.mark.parametrize("kind", list(KINDS))
def test_two_pool_workers_search_and_prune_through_postgresql_and_a_second_command_continues(
    tmp_path, postgres_server, kind
):
    url = _url(postgres_server, kind)
    study = (f"hydra.sweeper.study_name=pool_{kind}", f"hydra.sweeper.storage={url}")
    first = run_cli(tmp_path, *SEARCH, *study, "hydra.sweeper.n_trials=8", timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    _check_each_trial_once(tmp_path, _trials(url, f"pool_{kind}"), 8)

    second = run_cli(tmp_path, *SEARCH, *study, "hydra.sweeper.n_trials=4", timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    said = second.stdout + second.stderr
    assert f"continuing study 'pool_{kind}' (8 trials so far) in {url}: 4 more" in said
    _check_each_trial_once(tmp_path, _trials(url, f"pool_{kind}"), 12)


@pytest.mark.parametrize("storage", ["postgresql", "pgjournal", "journal"])
def test_slurm_tasks_search_at_once_through_a_shared_study(
    tmp_path, postgres_server, slurm_cluster, storage
):
    """Two trials at a time, each in its own Slurm task, reporting to the study for pruning
    while the sweep's process proposes the next: the database, or the journal file in the
    sweep folder (a folder every task shares)."""
    where = {
        "postgresql": lambda: _url(postgres_server, "rdb"),
        "pgjournal": lambda: _url(postgres_server, "pgjournal"),
        "journal": lambda: "journal",
    }[storage]()
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


def test_a_proposal_equal_to_a_finished_trial_takes_its_value_without_running_again(
    tmp_path, postgres_server
):
    """Two trials at a time over a space of two values: from the second batch on every
    proposal repeats a finished trial (the finished ones are read once a batch). Each such
    trial is told the earlier one's value and has no job; every other trial ran once."""
    url = postgres_server.url("+psycopg")
    result = run_cli(
        tmp_path,
        "-m",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.n_trials=6",
        'hydra.sweeper.params={model.width: "choice(16, 32)"}',
        "hydra.sweeper.study_name=repeats",
        f"hydra.sweeper.storage={url}",
        "trainer.epochs=20",
        "trainer.plots=false",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trials = _trials(url, "repeats")
    assert sorted(t.number for t in trials) == list(range(6))  # none lost, none numbered twice
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    by_number = {t.number: t for t in trials}
    repeats = [t for t in trials if "repeat_of" in t.user_attrs]
    assert len(repeats) >= 2  # at most two distinct proposals can have run
    for trial in repeats:
        earlier = by_number[trial.user_attrs["repeat_of"]]
        assert "repeat_of" not in earlier.user_attrs and earlier.number != trial.number
        assert earlier.params == trial.params and earlier.value == trial.value
    ledger = pd.read_csv(tmp_path / "outputs" / "runs.csv")
    ran = sorted(t.number for t in trials if "repeat_of" not in t.user_attrs)
    assert sorted(ledger["trial"]) == ran  # each other trial ran once, no repeat ran
    assert result.stdout.count("which is done; not run again") == len(repeats)


SHORT = (
    "-m",
    "hydra/sweeper=optuna",
    'hydra.sweeper.params={optimizer.learning_rate: "interval(0.001, 0.1)"}',
    "hydra.sweeper.n_trials=2",
    "trainer.epochs=10",
)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_database_that_does_not_answer_is_one_line_before_any_trial(
    tmp_path, postgres_server, kind
):
    url = _url(postgres_server, kind).replace(f":{postgres_server.port}/", ":1/")
    result = run_cli(tmp_path, *SHORT, f"hydra.sweeper.storage={url}", timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: hydra.sweeper.storage={url}: cannot be opened: ")
    assert not (tmp_path / "outputs" / "runs.csv").exists()  # no trial ran


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_missing_driver_is_one_line_with_the_install_hint(tmp_path, postgres_server, kind):
    url = _url(postgres_server, kind)
    without_psycopg = (
        "import sys, runpy; sys.modules['psycopg'] = None; "
        "sys.argv = ['runner', *sys.argv[1:]]; runpy.run_module('runner', run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", without_psycopg, *SHORT, f"hydra.sweeper.storage={url}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "pip install -e '.[postgres]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_server_stopped_mid_search_is_one_line_and_resume_continues_once_it_is_back(
    tmp_path, kind
):
    """Its own server: this test stops it. The trials that finished keep their rows; the
    running ones end; --resume, once the server is back, completes the study."""
    if missing():
        pytest.skip(missing())
    with PostgresServer() as server:
        url = _url(server, kind)
        args = (
            *SEARCH,
            f"hydra.sweeper.storage={url}",
            "hydra.sweeper.study_name=stopped",
            "hydra.sweeper.n_trials=6",
            "hydra.sweep.dir=sweep",
            "trainer.epochs=3000",  # about 150 reports to the study: still running when it stops
        )
        process = start_cli(tmp_path, *args)
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("sweep/*/metrics.csv")):
            assert process.poll() is None and time.monotonic() < deadline, "no trial started"
            time.sleep(0.2)
        server.stop("immediate")
        _, err = process.communicate(timeout=300)
        assert process.returncode == 1, err[-3000:]
        assert "Traceback" not in err
        last = err.strip().splitlines()[-1]
        assert f"hydra.sweeper.storage={url}: the study's storage stopped answering" in last

        server.restart()
        resumed = run_cli(tmp_path, "--resume", "sweep", timeout=600)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        trials = _trials(url, "stopped")
        finished = [t for t in trials if t.state.is_finished()]
        assert len({t.number for t in trials}) == len(trials)  # none numbered twice
        done = [t for t in finished if t.state != optuna.trial.TrialState.FAIL]
        assert len(done) >= 6, [t.state for t in trials]


def _append_many(url, writer, count):
    from runner.sweeps.search.pg_journal import PostgresJournalBackend

    backend = PostgresJournalBackend(url, create_table=False)
    for i in range(count):
        backend.append_logs([{"writer": writer, "i": i}, {"writer": writer, "i": i, "second": 1}])


def test_journal_appends_from_processes_at_once_keep_every_entry_once_and_in_order(
    postgres_server,
):
    """Four processes append 2-entry batches at once; a reader sees each entry once, each
    process's entries in the order it wrote them and each batch's two together, and a read from
    any log number returns exactly the entries from there on."""
    import multiprocessing

    from runner.sweeps.search.pg_journal import TABLE, PostgresJournalBackend

    url = _url(postgres_server, "pgjournal")
    backend = PostgresJournalBackend(url)
    before = len(backend.read_logs(0))
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_append_many, args=(url, w, 40)) for w in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
        assert process.exitcode == 0
    logs = [log for log in backend.read_logs(before) if "writer" in log]
    assert len(logs) == 4 * 40 * 2
    for w in range(4):
        mine = [(log["i"], "second" in log) for log in logs if log["writer"] == w]
        assert mine == [(i, second) for i in range(40) for second in (False, True)]
    for at in range(0, len(logs), 2):  # a batch is never split by another writer's entries
        assert logs[at]["writer"] == logs[at + 1]["writer"] and "second" in logs[at + 1]
    everything = backend.read_logs(before)  # other tests may append to the table meanwhile
    assert backend.read_logs(before + 7)[: len(everything) - 7] == everything[7:]
    import psycopg

    from runner.sweeps.search.pg_journal import conninfo

    with psycopg.connect(conninfo(url)) as connection:
        numbers = [n for (n,) in connection.execute(f"SELECT log_number FROM {TABLE} ORDER BY 1")]
    assert numbers == list(range(len(numbers)))  # gap-free, none numbered twice
