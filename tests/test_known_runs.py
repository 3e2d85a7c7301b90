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


@pytest.mark.faults
@pytest.mark.parametrize("cut", [0.5, 0.9, 22])
def test_an_index_cut_short_is_read_again_from_the_ledger(tmp_path, cut):
    ledger = tmp_path / "runs.csv"
    for i in range(20):
        append_to_ledger(ledger, _row(i, f"{i:016x}"))
    expected = known_runs.known(ledger)
    index = tmp_path / ".runs.csv.index.npz"
    data = index.read_bytes()
    index.write_bytes(data[: int(len(data) * cut) if cut < 1 else cut])  # a half zip: BadZipFile
    found = known_runs.known(ledger)
    assert (found.keys == expected.keys).all() and (found.ok == expected.ok).all()
    snapshot = tmp_path / ".known_runs.npz"  # a sweep's snapshot, cut the same way
    found.save(snapshot)
    snapshot.write_bytes(snapshot.read_bytes()[: len(data) // 2])
    with pytest.raises(ValueError, match="damaged or not a snapshot"):  # what reuse catches
        known_runs.Known.load(snapshot)


@pytest.mark.faults
def test_an_empty_ledger_or_one_whose_header_is_cut_knows_nothing_and_says_so(tmp_path, capsys):
    ledger = tmp_path / "runs.csv"
    ledger.write_bytes(b"")
    assert len(known_runs.known(ledger).keys) == 0
    ledger.write_bytes(b"run_id,run_")  # the fast scan's columns cut: not an earlier layout
    assert len(known_runs.known(ledger).keys) == 0
    assert "header line is cut short" in capsys.readouterr().err
    assert known_runs.upgrade(ledger, tmp_path) is None  # never rewritten as an earlier version's
    assert ledger.read_bytes() == b"run_id,run_"


@pytest.mark.faults
def test_a_snapshot_that_cannot_be_written_leaves_no_temporary_file(tmp_path, monkeypatch):
    import errno

    import numpy as np

    def savez_on_a_full_disk(path, **arrays):
        open(path, "wb").write(b"PK\x03")  # noqa: SIM115 - a half-written file, as ENOSPC leaves
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", savez_on_a_full_disk)
    known = known_runs.summarise(known_runs.scan_of_nothing())
    with pytest.raises(OSError, match="No space left"):
        known.save(tmp_path / ".known_runs.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.faults
def test_an_upgrade_keeps_damaged_rows_and_bytes_that_are_not_utf8(tmp_path, capsys):
    ledger = tmp_path / "runs.csv"
    ledger.write_bytes(
        b"run_id,status,message,run_dir\n"
        b"r0,ok,caf\xe9,/nowhere/0\n"
        b"r1,0k,,/nowhere/1\n"
        b"r2,ok,fine,/nowhere/2\n"
    )
    assert known_runs.upgrade(ledger, tmp_path) == (0, 2)
    assert ledger.read_bytes().splitlines()[1] == b"r0,,ok,caf\xe9,/nowhere/0"
    assert (tmp_path / "runs.csv.damaged").read_bytes() == b"r1,0k,,/nowhere/1\n"
    assert "kept byte for byte" in capsys.readouterr().err
