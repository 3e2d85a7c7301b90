"""The ledger: many writers at once, new columns, exact floats."""

import multiprocessing

import pandas as pd

from runner.records import RUN_COLUMNS, MetricsWriter, append_to_ledger, flatten


def _append_many(ledger, writer, count):
    for i in range(count):
        row = {"run_id": f"w{writer}-{i}", "status": "ok", "overrides": f'seed={i},x="a, b"'}
        if i % 5 == 0:
            row[f"extra.writer{writer}"] = i  # a new column forces a rewrite under the lock
        append_to_ledger(ledger, row)


def test_parallel_writers_lose_and_garble_no_row(tmp_path):
    ledger = tmp_path / "runs.csv"
    writers, per_writer = 6, 25
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_append_many, args=(ledger, w, per_writer)) for w in range(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    runs = pd.read_csv(ledger)
    assert len(runs) == writers * per_writer
    assert sorted(runs["run_id"]) == sorted(
        f"w{w}-{i}" for w in range(writers) for i in range(per_writer)
    )
    assert set(runs["status"]) == {"ok"}
    assert runs["overrides"].str.endswith('x="a, b"').all()
    for w in range(writers):
        written = runs.loc[runs["run_id"].str.startswith(f"w{w}-"), f"extra.writer{w}"].dropna()
        assert sorted(written) == list(range(0, per_writer, 5))


def test_new_columns_are_added_and_old_rows_kept_verbatim(tmp_path):
    ledger = tmp_path / "runs.csv"
    append_to_ledger(ledger, {"run_id": "a", "status": "ok", "val_loss": 0.1 + 0.2})
    append_to_ledger(
        ledger, {"run_id": "b", "status": "failed", "message": "x=1: bad", "new.key": 3}
    )
    runs = pd.read_csv(ledger)
    assert list(runs.columns[: len(RUN_COLUMNS)]) == RUN_COLUMNS
    assert runs["val_loss"].iloc[0] == 0.1 + 0.2  # exact round trip
    assert runs["new.key"].iloc[1] == 3 and pd.isna(runs["new.key"].iloc[0])
    assert not list(tmp_path.glob(".*tmp"))


def test_metrics_writer_flushes_every_row(tmp_path):
    writer = MetricsWriter(tmp_path / "metrics.csv", ["epoch", "train_loss"])
    writer.write({"epoch": 0, "train_loss": 1.25})
    assert pd.read_csv(tmp_path / "metrics.csv").to_dict("records") == [
        {"epoch": 0, "train_loss": 1.25}
    ]
    writer.close()


def test_flatten_names_nested_keys_with_dots():
    config = {"seed": 1, "model": {"layers": [{"units": 64}], "width": 8}, "x": None}
    assert flatten(config) == {"seed": 1, "model.layers.0.units": 64, "model.width": 8, "x": None}
