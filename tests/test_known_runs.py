"""The ledger lookup: every key's latest ok row and latest row, found by byte offset, the same
whether read whole or from the index of an earlier scan, and never misled by a ledger that was
rewritten, a message spanning lines, a row cut short or an earlier version's layout."""

import pandas as pd
import pytest
from conftest import run_cli

from runner import known_runs
from runner.records import append_to_ledger


def _row(i, key, status="ok", message="", **extra):
    return {
        "run_id": f"20261203-120000-{i:06d}-abcd",
        "run_key": key,
        "status": status,
        "message": message,
        "run_dir": f"/runs/{i}",
        "seed": i,
        **extra,
    }


def _lookup(ledger, key, mode):
    offset = known_runs.known(ledger).offset(key, mode)
    return None if offset is None else known_runs.row_at(ledger, offset)


def test_latest_ok_row_and_latest_row_of_each_key(tmp_path):
    ledger = tmp_path / "runs.csv"
    a, b = "a" * 16, "b" * 16
    for i, (key, status) in enumerate(
        [(a, "ok"), (b, "failed"), (a, "ok"), (a, "interrupted"), (b, "diverged")]
    ):
        append_to_ledger(ledger, _row(i, key, status))
    assert _lookup(ledger, a, "auto")["run_dir"] == "/runs/2"  # the later of two ok rows
    assert _lookup(ledger, a, "all")["run_dir"] == "/runs/3"  # the latest of any status
    assert _lookup(ledger, b, "auto") is None  # never ok
    assert _lookup(ledger, b, "all")["status"] == "diverged"
    assert _lookup(ledger, "c" * 16, "all") is None
    assert _lookup(ledger, a, "never") is None


def test_messages_with_commas_quotes_and_newlines_do_not_confuse_it(tmp_path):
    ledger = tmp_path / "runs.csv"
    tricky = 'bad value "x,y"\n20261203-120000-000009-abcd,' + "f" * 16 + ",ok,\nend"
    append_to_ledger(ledger, _row(0, "a" * 16, "failed", message=tricky))
    append_to_ledger(ledger, _row(1, "b" * 16))
    row = _lookup(ledger, "a" * 16, "all")
    assert row["message"] == tricky and row["run_dir"] == "/runs/0"
    assert _lookup(ledger, "b" * 16, "auto")["run_dir"] == "/runs/1"
    assert len(pd.read_csv(ledger)) == 2


def test_the_index_reads_only_new_rows_and_notices_a_rewrite(tmp_path):
    ledger = tmp_path / "runs.csv"
    for i in range(50):
        append_to_ledger(ledger, _row(i, f"{i:016x}"))
    known_runs.known(ledger)
    index = tmp_path / ".runs.csv.index.npz"
    assert index.is_file()
    for i in range(50, 60):
        append_to_ledger(ledger, _row(i, f"{i:016x}"))
    assert _lookup(ledger, f"{55:016x}", "auto")["run_dir"] == "/runs/55"
    # a new config key rewrites the ledger with one more column: every offset moves
    append_to_ledger(ledger, _row(60, f"{60:016x}", **{"model.width": 8}))
    for i in (0, 30, 60):
        assert _lookup(ledger, f"{i:016x}", "auto")["run_dir"] == f"/runs/{i}"
    fresh = known_runs.scan(ledger)
    index.unlink()
    again = known_runs.scan(ledger)
    assert (fresh.keys == again.keys).all() and (fresh.offsets == again.offsets).all()


def test_an_edited_middle_row_is_noticed(tmp_path):
    ledger = tmp_path / "runs.csv"
    for i in range(5):
        append_to_ledger(ledger, _row(i, f"{i:016x}"))
    known_runs.known(ledger)
    text = ledger.read_text().replace("/runs/2,", "/runs/two,")
    ledger.write_text(text)
    assert _lookup(ledger, f"{4:016x}", "auto")["run_dir"] == "/runs/4"


def test_a_row_cut_short_and_keyless_rows(tmp_path):
    ledger = tmp_path / "runs.csv"
    append_to_ledger(ledger, _row(0, "a" * 16))
    append_to_ledger(ledger, _row(1, ""))
    with open(ledger, "a") as file:
        file.write("20261203-120000-000002-abcd," + "c" * 16 + ",o")  # a crash mid-row
    found = known_runs.scan(ledger)
    assert found.unknown == 1
    assert list(found.keys) == [b"a" * 16, b""]


def test_an_earlier_versions_ledger_is_upgraded_from_saved_configs(tmp_path):
    tiny = ["trainer.epochs=5", "data.samples=10", "data.val_samples=5", "model.width=4"]
    for seed in (0, 1, 2):
        assert run_cli(tmp_path, *tiny, f"seed={seed}").returncode == 0
    ledger = tmp_path / "outputs" / "runs.csv"
    runs = pd.read_csv(ledger, dtype=str, keep_default_na=False)
    keys = list(runs.run_key)
    old = runs.drop(columns=["run_key", "reused_from"])
    old.to_csv(ledger, index=False)
    (tmp_path / runs.run_dir[2] / ".hydra" / "config.yaml").unlink()
    assert known_runs.upgrade(ledger, tmp_path) == (2, 1)
    upgraded = pd.read_csv(ledger, dtype=str, keep_default_na=False)
    assert list(upgraded.columns[:3]) == ["run_id", "run_key", "status"]
    assert list(upgraded.run_key) == [keys[0], keys[1], ""]
    assert (
        (upgraded.drop(columns="run_key") == old.reindex(columns=upgraded.columns.drop("run_key")))
        .all()
        .all()
    )
    assert known_runs.known(ledger).unknown == 1
    assert known_runs.upgrade(ledger, tmp_path) is None  # once


def test_an_earlier_layout_is_refused_by_the_fast_scan(tmp_path):
    ledger = tmp_path / "runs.csv"
    ledger.write_text("run_id,status,message\n20261203-120000-000000-abcd,ok,\n")
    with pytest.raises(known_runs.LayoutError):
        known_runs.scan(ledger)
