"""The ledger: many writers at once, new columns, exact floats, and damage it survives."""

import errno
import multiprocessing
import os

import pandas as pd
import pytest
from conftest import run_cli

from runner.records import RUN_COLUMNS, MetricsWriter, append_to_ledger, flatten, read_runs


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
    runs = pd.read_csv(ledger, float_precision="round_trip")  # pandas < 3 parses faster, inexactly
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


def _rows(n, start=0):
    return [
        {"run_id": f"r{i}", "status": "ok", "val_loss": i / 10} for i in range(start, start + n)
    ]


def test_a_failed_append_leaves_the_ledger_as_it_was(tmp_path, monkeypatch):
    ledger = tmp_path / "runs.csv"
    for row in _rows(3):
        append_to_ledger(ledger, row)
    before = ledger.read_bytes()
    real_write = os.write

    def disk_full_halfway(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full_halfway)
    with pytest.raises(OSError, match="No space left"):
        append_to_ledger(ledger, _rows(1, 3)[0])
    assert ledger.read_bytes() == before  # no partial row
    monkeypatch.undo()
    append_to_ledger(ledger, _rows(1, 4)[0])
    assert list(read_runs(ledger)["run_id"]) == ["r0", "r1", "r2", "r4"]


def test_a_row_cut_by_a_crash_is_removed_before_the_next_one(tmp_path, capsys):
    ledger = tmp_path / "runs.csv"
    for row in _rows(2):
        append_to_ledger(ledger, row)
    with open(ledger, "ab") as file:
        file.write(b"r9,ok,,2026-12-01T")  # what a crash mid-write leaves
    append_to_ledger(ledger, _rows(1, 2)[0])
    assert "ended in a row cut short" in capsys.readouterr().err
    assert list(read_runs(ledger)["run_id"]) == ["r0", "r1", "r2"]
    assert ledger.read_text().count("\n") == 4


def test_readers_skip_damaged_lines_naming_each(tmp_path, capsys):
    """What a full disk did to a ledger before rows were written whole: a row cut at 4096
    bytes with the next row glued onto it, a row with a wrong field count, a cut last line."""
    ledger = tmp_path / "runs.csv"
    for row in _rows(3):
        append_to_ledger(ledger, row)
    good = ledger.read_text()
    header, first = good.splitlines()[:2]
    columns = len(header.split(","))
    glued = first[:10] + first  # line 5: cut mid-row, then a whole row
    ledger.write_text(good + glued + "\n" + "r7,,bogus" + "," * (columns - 3) + "\n" + first[:12])
    runs = read_runs(ledger)
    assert list(runs["run_id"]) == ["r0", "r1", "r2"]
    err = capsys.readouterr().err
    saw = glued.count(",") + 1
    assert f"line 5 is damaged ({saw} fields where {columns} belong); skipped" in err
    assert "line 6 has no valid status ('bogus'); skipped" in err
    assert "line 7 is cut short (an interrupted write); skipped" in err


def test_compare_reads_a_damaged_ledger_and_counts_only_whole_rows(tmp_path):
    ledger = tmp_path / "runs.csv"
    for row in _rows(4):
        append_to_ledger(ledger, {**row, "model": "dense2", "val_accuracy": 0.5})
    ledger.write_text(ledger.read_text() + "r8,ok,,2026")  # cut: a run with no metrics
    result = run_cli(tmp_path, str(ledger), "--by", "model", module="runner.compare")
    assert result.returncode == 0, result.stderr
    assert "4 runs" in result.stdout and "cut short" in result.stderr


def test_rows_are_written_exactly_as_pandas_writes_them(tmp_path):
    import numpy as np

    from runner.records import csv_text, write_summary

    row = {
        "run_id": "r0",
        "status": "ok",
        "message": 'a "quoted", two-line\nmessage',
        "seconds": 0.1234,
        "val_loss": np.float32(0.1),
        "val_accuracy": np.float64(1 / 3),
        "best_val_loss": float("nan"),
        "n_parameters": np.int64(451),
        "job": None,
        "trainer.shuffle": True,
        "flag": np.bool_(False),
        "tiny": 1e-300,
        "huge": 1e22,
        "minus_zero": -0.0,
        "inf": float("-inf"),
        "big": 12345678901234567890,
        "unicode": "αβ, 中文",
    }
    expected = pd.DataFrame([row]).to_csv(index=False)
    assert csv_text(list(row), [row.values()]) == expected
    write_summary(tmp_path, row)
    assert (tmp_path / "summary.csv").read_text() == pd.DataFrame(
        [{**{c: row.get(c) for c in RUN_COLUMNS}, **row}]
    ).to_csv(index=False)


def _ledger_with_damage(tmp_path):
    """Three good rows, then a status that is none, a stray comma, bytes that are not UTF-8
    in a message, and a last row cut short."""
    ledger = tmp_path / "runs.csv"
    for row in _rows(3):
        append_to_ledger(ledger, {**row, "message": "fine"})
    lines = ledger.read_bytes().split(b"\n")[:-1]
    damaged = [
        lines[1].replace(b",ok,", b",0k,"),
        lines[2].replace(b",ok,", b",ok,,"),
    ]
    latin = lines[3].replace(b"fine", b"caf\xe9 \xff")
    ledger.write_bytes(b"\n".join([lines[0], *damaged, latin, lines[1]]) + b"\nr9,ok,cut")
    return ledger, [*damaged, b"r9,ok,cut"], latin


@pytest.mark.faults
def test_a_rewrite_for_a_new_column_keeps_every_damaged_line(tmp_path, capsys):
    ledger, damaged, latin = _ledger_with_damage(tmp_path)
    before = ledger.read_bytes()
    append_to_ledger(ledger, {"run_id": "new", "status": "ok", "new.key": 7})
    err = capsys.readouterr().err
    kept = tmp_path / "runs.csv.damaged"
    assert f"3 damaged lines (2, 3, 6) kept byte for byte in {kept}" in err
    assert kept.read_bytes() == b"\n".join(damaged) + b"\n"
    after = ledger.read_bytes()
    for line in before.split(b"\n"):  # every byte is still somewhere: the ledger or .damaged
        assert line in after or line in kept.read_bytes()
    assert latin + b"," in after  # not UTF-8: kept in place, byte for byte, one new empty cell
    runs = read_runs(ledger, dtype=str)
    assert list(runs["run_id"]) == ["r2", "r0", "new"] and runs["new.key"].iloc[-1] == "7"
    assert "not UTF-8" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "runs.csv",
        "runs.csv.damaged",
        "runs.csv.lock",
    ]


@pytest.mark.faults
def test_a_ledger_whose_header_is_cut_is_set_aside_whole(tmp_path, capsys):
    ledger = tmp_path / "runs.csv"
    for row in _rows(3):
        append_to_ledger(ledger, row)
    header, rest = ledger.read_bytes().split(b"\n", 1)
    ledger.write_bytes(header[:20] + b"\n" + rest)
    before = ledger.read_bytes()
    from runner.records import DamagedFile

    with pytest.raises(DamagedFile, match="header line is cut short"):
        read_runs(ledger)
    append_to_ledger(ledger, _rows(1, 5)[0])
    assert (tmp_path / "runs.csv.damaged").read_bytes() == before
    assert "moved, byte for byte, to" in capsys.readouterr().err
    assert list(read_runs(ledger)["run_id"]) == ["r5"]


@pytest.mark.faults
@pytest.mark.parametrize("content", [b"", b"run_id,run_k", b"run_id,,status\nr0,x,ok\n"])
def test_an_empty_or_garbled_header_is_one_clear_error(tmp_path, content):
    from runner.records import DamagedFile

    ledger = tmp_path / "runs.csv"
    ledger.write_bytes(content)
    with pytest.raises(DamagedFile, match=f"{ledger}: "):
        read_runs(ledger)
    append_to_ledger(ledger, _rows(1)[0])  # a run after it still records itself
    assert list(read_runs(ledger)["run_id"]) == ["r0"]
    if content:
        assert (tmp_path / "runs.csv.damaged").read_bytes().startswith(content)


def _full_disk_after(limit):
    """An os.write that takes ``limit`` bytes in all, then fails as a full disk does."""
    real_write, left = os.write, [limit]

    def write(fd, data):
        if left[0] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        taken = real_write(fd, bytes(data[: left[0]]))
        left[0] -= taken
        return taken

    return write


@pytest.mark.faults
def test_metrics_writer_never_leaves_a_partial_row_on_a_full_disk(tmp_path, monkeypatch):
    path = tmp_path / "metrics.csv"
    writer = MetricsWriter(path, ["epoch", "train_loss"])
    writer.write({"epoch": 0, "train_loss": 1.25})
    before = path.read_bytes()
    monkeypatch.setattr(os, "write", _full_disk_after(5))
    with pytest.raises(OSError, match="No space left"):
        writer.write({"epoch": 1, "train_loss": 0.123456789})
    monkeypatch.undo()
    assert path.read_bytes() == before  # cut back to the whole rows
    writer.write({"epoch": 2, "train_loss": 0.5})  # space again: the file goes on, unglued
    writer.close()
    assert pd.read_csv(path).to_dict("records") == [
        {"epoch": 0, "train_loss": 1.25},
        {"epoch": 2, "train_loss": 0.5},
    ]


@pytest.mark.faults
def test_an_atomic_write_on_a_full_disk_names_the_file_and_leaves_no_temporary(
    tmp_path, monkeypatch
):
    import builtins

    from runner.records import write_text_atomically

    target = tmp_path / "summary.csv"
    target.write_text("old\n")
    real_open = builtins.open

    class Full:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            self.file.write(data[:3])
            raise OSError(errno.ENOSPC, "No space left on device", self.file.name)

    def open_full(path, mode="r", *args, **kwargs):
        file = real_open(path, mode, *args, **kwargs)
        return Full(file) if "w" in mode and ".tmp" in str(path) else file

    monkeypatch.setattr(builtins, "open", open_full)
    with pytest.raises(OSError) as raised:
        write_text_atomically(target, "new\n")
    monkeypatch.undo()
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename == str(target)  # the file asked for, not the temporary one
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.csv"]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 200 KiB tmpfs, as a full disk is: mounted as root, skipped where mounting is refused."""
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"no tmpfs can be mounted here (needs root): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk):
    """Take every free byte of ``disk``."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError) as full:
            while True:
                os.write(fd, b"x" * 512)
    finally:
        os.close(fd)
    assert full.value.errno == errno.ENOSPC


@pytest.mark.faults
def test_on_a_full_disk_the_ledger_and_metrics_keep_whole_rows_and_no_temporary(tiny_disk):
    ledger = tiny_disk / "runs.csv"
    for row in _rows(3):
        append_to_ledger(ledger, row)
    writer = MetricsWriter(tiny_disk / "metrics.csv", ["epoch", "train_loss", "note"])
    writer.write({"epoch": 0, "train_loss": 1.0, "note": "x"})
    before = ledger.read_bytes()
    _fill(tiny_disk)
    for row in ({**_rows(1, 3)[0], "note": "y" * 5000}, {**_rows(1, 4)[0], "new.key": 1}):
        with pytest.raises(OSError) as raised:  # an append, then a rewrite for a new column
            append_to_ledger(ledger, row)
        assert raised.value.errno == errno.ENOSPC
        assert ledger.read_bytes() == before
    with pytest.raises(OSError):
        for epoch in range(1, 10_000):  # the page the file has left fills, then a row fails
            writer.write({"epoch": epoch, "train_loss": 0.5, "note": "z" * 100})
    writer.close()
    metrics = (tiny_disk / "metrics.csv").read_bytes()
    assert metrics.endswith(b"\r\n") and all(line.count(b",") == 2 for line in metrics.splitlines())
    assert sorted(p.name for p in tiny_disk.iterdir()) == [
        "filler",
        "metrics.csv",
        "runs.csv",
        "runs.csv.lock",
    ]
