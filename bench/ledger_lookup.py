"""What it costs to ask the ledger which runs are done, at ledger sizes users reach.

    python bench/ledger_lookup.py               # 1k, 10k and 100k rows
    python bench/ledger_lookup.py --rows 100000 --repeats 7

A ledger of ``--rows`` rows is made from a real run's row (the runner's own columns, about 50),
each with its own run_id and run_key, a tenth of them failed. Measured, as the median of
``--repeats``:

- pandas: ``read_csv(usecols=[run_key, status, run_dir])``, the obvious way;
- scan, cold: ``runner.known_runs.known`` with no index beside the ledger (a first sweep);
- scan, warm: the same after 100 more rows were appended, the index of the previous scan kept
  (every later sweep);
- a job's lookup: load the sweep's snapshot, find 1000 keys and read their rows.

Each figure is "median (best)": on a shared machine the best is the cost, the median what
other processes left of it.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from runner import known_runs
from runner.records import append_to_ledger


def one_real_row(folder):
    subprocess.run(
        [sys.executable, "-m", "runner", "trainer.epochs=1", "trainer.plots=false"],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return pd.read_csv(Path(folder) / "outputs" / "runs.csv", dtype=str, keep_default_na=False)


def make_ledger(path, template, rows):
    frame = pd.concat([template] * rows, ignore_index=True)
    frame["run_id"] = [f"20261203-120000-{i % 1000000:06d}-{i // 1000000:04x}" for i in range(rows)]
    frame["run_key"] = [f"{i:016x}" for i in range(rows)]
    frame.loc[frame.index % 10 == 3, "status"] = "failed"
    frame.to_csv(path, index=False)


def timed(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, min(times) * 1000


def measure(folder, template, rows, repeats):
    ledger = Path(folder) / f"runs-{rows}.csv"
    make_ledger(ledger, template, rows)
    index = ledger.with_name(f".{ledger.name}.index.npz")
    pandas_ms = timed(
        lambda: pd.read_csv(ledger, usecols=["run_key", "status", "run_dir"], dtype=str), repeats
    )

    def cold():
        index.unlink(missing_ok=True)
        known_runs.known(ledger)

    cold_ms = timed(cold, repeats)
    extra = template.iloc[0].to_dict()
    counter = iter(range(10**9))

    def warm():
        for _ in range(100):
            i = next(counter)
            append_to_ledger(
                ledger, {**extra, "run_id": f"20261203-130000-{i:06d}-ffff", "run_key": f"{i:016x}"}
            )
        start = time.perf_counter()
        known_runs.known(ledger)
        return time.perf_counter() - start

    known_runs.known(ledger)
    warm_times = [warm() for _ in range(repeats)]
    warm_ms = statistics.median(warm_times) * 1000, min(warm_times) * 1000
    snapshot = Path(folder) / "snapshot.npz"
    known_runs.known(ledger).save(snapshot)
    wanted = [f"{i:016x}" for i in range(0, rows, max(1, rows // 1000))][:1000]

    def lookups():
        known = known_runs.Known.load(snapshot)
        for key in wanted:
            offset = known.offset(key, "all")
            known_runs.row_at(ledger, offset)

    lookup_ms = timed(lookups, repeats)
    size = ledger.stat().st_size / 1e6
    per_lookup = tuple(ms * 1000 / len(wanted) for ms in lookup_ms)  # µs
    return rows, size, pandas_ms, cold_ms, warm_ms, per_lookup


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        template = one_real_row(folder)
        print(f"{len(template.columns)} columns a row\n")
        print(
            "| rows | MB | pandas, 3 columns | scan, cold | scan, warm (+100 rows) | a job's lookup |"
        )
        print("|---:|---:|---:|---:|---:|---:|")
        for rows in (int(r) for r in args.rows.split(",")):
            rows, size, pandas_ms, cold_ms, warm_ms, lookup_ms = measure(
                folder, template, rows, args.repeats
            )
            cells = [f"{m:.1f} ({b:.1f}) ms" for m, b in (pandas_ms, cold_ms, warm_ms)]
            cells.append("{:.0f} ({:.0f}) µs".format(*lookup_ms))
            print(f"| {rows:,} | {size:.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
