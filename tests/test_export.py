"""runner.export mlflow: runs into a real MLflow store and a real `mlflow server`, with params,
per-epoch metrics stepped by epoch, files as artifacts and statuses mapped; twice is once."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pandas as pd
import pytest
from conftest import run_cli

mlflow = pytest.importorskip("mlflow")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Two runs: one that trains (ok) and one whose learning rate makes it diverge."""
    cwd = tmp_path_factory.mktemp("sweep")
    result = run_cli(
        cwd,
        "-m",
        "optimizer=sgd",
        "optimizer.learning_rate=0.5,1e9",
        "trainer.epochs=100",
        "trainer.log_every=10",
    )
    assert result.returncode == 1, result.stderr  # a diverged job: exit 1, the rows kept
    assert "diverged" in result.stderr
    return cwd


def _export(cwd, *args, env=None):
    return run_cli(cwd, "mlflow", *args, module="runner.export", env=env)


def _search(uri, experiment):
    """mlflow.search_runs, as a user of the store would call it."""
    mlflow.set_tracking_uri(uri)
    try:
        return mlflow.search_runs(experiment_names=[experiment])
    finally:
        mlflow.set_tracking_uri(None)


def _check_exported(client, experiment, ledger):
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert len(runs) == len(ledger) == 2
    by_id = {run.data.tags["nnrunner.run_id"]: run for run in runs}
    for _, row in ledger.iterrows():
        run = by_id[row["run_id"]]
        assert run.data.tags["nnrunner.run_key"] == row["run_key"]
        assert run.data.params["optimizer.learning_rate"] == str(row["optimizer.learning_rate"])
        assert run.data.params["model.width"] == str(row["model.width"])
        history = client.get_metric_history(run.info.run_id, "val_loss")
        metrics = pd.read_csv(f"{row['run_dir']}/metrics.csv")
        assert [m.step for m in history] == list(metrics["epoch"])[: len(history)]
        expected = "FINISHED" if row["status"] == "ok" else "FAILED"
        assert run.info.status == expected and run.data.tags["nnrunner.status"] == row["status"]
        if row["status"] == "ok":
            assert len(history) == len(metrics)
            assert run.data.metrics["val_accuracy"] == pytest.approx(row["val_accuracy"])
            assert run.data.metrics["n_parameters"] == row["n_parameters"]
            files = {f.path for f in client.list_artifacts(run.info.run_id)}
            assert {"metrics.csv", "summary.csv", "params.npz", ".hydra"} <= files


def test_export_to_a_local_store_is_searchable_and_idempotent(sweep, tmp_path):
    ledger = pd.read_csv(sweep / "outputs" / "runs.csv", dtype={"run_key": str})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = _export(sweep, "--tracking-uri", uri, "--experiment", "spiral")
    assert first.returncode == 0, first.stderr
    assert "export: 2 runs into MLflow experiment 'spiral'" in first.stdout
    again = _export(sweep, "--tracking-uri", uri, "--experiment", "spiral")
    assert again.returncode == 0 and "0 runs" in again.stdout and "2 were there" in again.stdout
    found = _search(uri, "spiral")
    assert len(found) == 2 and set(found["tags.nnrunner.run_id"]) == set(ledger["run_id"])
    _check_exported(mlflow.tracking.MlflowClient(uri), "spiral", ledger)


def test_artifacts_go_beside_the_store_not_into_the_working_folder(sweep, tmp_path):
    """As `mlflow server --default-artifact-root` does: sqlite:///x/mlflow.db keeps the runs'
    files in x/mlartifacts, whatever folder the export is run from."""
    store = tmp_path / "x"
    store.mkdir()
    result = _export(
        sweep, "--tracking-uri", f"sqlite:///{store / 'mlflow.db'}", "--experiment", "a b"
    )
    assert result.returncode == 0, result.stderr
    assert not (sweep / "mlruns").exists() and not (sweep / "mlartifacts").exists()
    copied = sorted(
        p.relative_to(store) for p in store.glob("mlartifacts/*/*/artifacts/metrics.csv")
    )
    assert len(copied) == 2 and all(p.parts[1] == "a_b" for p in copied)
    client = mlflow.tracking.MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    location = client.get_experiment_by_name("a b").artifact_location
    assert location == (store / "mlartifacts" / "a_b").as_uri()


@pytest.mark.parametrize("where", ["uri", "path"])
def test_a_file_store_mlflow_refuses_is_one_line_with_the_fix(sweep, tmp_path, where):
    store = tmp_path / "runs" / "mlruns"
    uri = store.as_uri() if where == "uri" else str(store)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_ALLOW_FILE_STORE"}
    result = _export(sweep, "--tracking-uri", uri, env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"export: MLflow 3 refuses the file store {uri} unless MLFLOW_ALLOW_FILE_STORE=true is "
        f"set; use a database store, --tracking-uri sqlite:///{tmp_path / 'runs' / 'mlflow.db'}, "
        "or set the variable"
    ]


def test_export_to_a_file_store(sweep, tmp_path):
    """MLflow 3 keeps the ./mlruns file store for those who opt in; it works there too."""
    ledger = pd.read_csv(sweep / "outputs" / "runs.csv", dtype={"run_key": str})
    uri = (tmp_path / "mlruns").as_uri()
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"}
    for _ in range(2):
        result = _export(sweep, "--tracking-uri", uri, env=env)
        assert result.returncode == 0, result.stderr
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        found = _search(uri, "nnrunner")
        assert len(found) == 2
        _check_exported(mlflow.tracking.MlflowClient(uri), "nnrunner", ledger)
    finally:
        del os.environ["MLFLOW_ALLOW_FILE_STORE"]


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_export_to_a_tracking_server(sweep, tmp_path):
    ledger = pd.read_csv(sweep / "outputs" / "runs.csv", dtype={"run_key": str})
    port = _free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"),
            *("--port", str(port), "--workers", "1"),
            *("--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}"),
            *("--artifacts-destination", str(tmp_path / "artifacts")),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "no mlflow server"
                time.sleep(0.5)
        for _ in range(2):
            result = _export(sweep, "--tracking-uri", uri)
            assert result.returncode == 0, result.stderr
        _check_exported(mlflow.tracking.MlflowClient(uri), "nnrunner", ledger)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_a_server_that_does_not_answer_is_one_line_at_once(sweep):
    start = time.monotonic()
    uri = f"http://127.0.0.1:{_free_port()}"
    result = _export(sweep, env={**os.environ, "MLFLOW_TRACKING_URI": uri})  # as MLflow reads it
    assert result.returncode == 2 and time.monotonic() - start < 30
    assert f"export: cannot reach the MLflow tracking server at {uri}" in result.stderr
    assert "Traceback" not in result.stderr
