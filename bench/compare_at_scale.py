"""What ``python -m runner.compare`` costs on a big ledger (generated, never committed).

    python bench/compare_at_scale.py                 # 100k runs: 2000 configurations x 50 seeds
    python bench/compare_at_scale.py --configs 20000 --seeds 5

The ledger has the runner's own columns (a real run's row as the template) with the learning
rate, width and seed varied and val_accuracy drawn around a per-configuration mean. Measured as
whole commands (fresh process, start-up included, median of ``--repeats``): a plain grouped
compare (t intervals and tie tests), the same with ``--ci-method bootstrap``, and a ``--where``
filter that keeps a tenth of the runs.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_ledger(folder, configs, seeds):
    subprocess.run(
        [sys.executable, "-m", "runner", "trainer.epochs=1", "trainer.plots=false"],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    template = pd.read_csv(Path(folder) / "outputs" / "runs.csv")
    rng = np.random.default_rng(0)
    n = configs * seeds
    frame = pd.concat([template] * n, ignore_index=True)
    config = np.repeat(np.arange(configs), seeds)
    rates = np.geomspace(1e-3, 1e-1, 20)
    frame["optimizer.learning_rate"] = rates[config % 20]
    frame["model.width"] = 8 * (1 + config // 20)
    frame["seed"] = np.tile(np.arange(seeds), configs)
    centre = rng.uniform(0.6, 0.85, configs)[config]
    frame["val_accuracy"] = np.clip(centre + rng.normal(0, 0.02, n), 0, 1)
    frame["run_id"] = [f"20261203-120000-{i % 1000000:06d}-{i // 1000000:04x}" for i in range(n)]
    frame["run_key"] = [f"{i:016x}" for i in range(n)]
    path = Path(folder) / "big.csv"
    frame.to_csv(path, index=False)
    return path


def timed(args, folder, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "runner.compare", *args],
            cwd=folder,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ledger = str(make_ledger(folder, args.configs, args.seeds))
        size = Path(ledger).stat().st_size / 1e6
        rows = args.configs * args.seeds
        print(f"{rows:,} runs, {args.configs} configurations x {args.seeds} seeds, {size:.0f} MB\n")
        print("| command | median (best) |")
        print("|---|---:|")
        for label, extra in [
            ("compare (t intervals, tie tests)", []),
            ("compare --ci-method bootstrap", ["--ci-method", "bootstrap"]),
            ("compare --where 'model.width < 80'", ["--where", "model.width < 80"]),
        ]:
            median, best = timed([ledger, *extra], folder, args.repeats)
            print(f"| {label} | {median:.2f} s ({best:.2f} s) |")


if __name__ == "__main__":
    main()
