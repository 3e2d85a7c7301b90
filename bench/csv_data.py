"""What a large CSV costs: loading, splitting and encoding it, from the file and from a sweep's
cache, and predicting it with a trained run.

    python bench/csv_data.py                  # 1,000,000 rows x 20 numeric columns + a label
    python bench/csv_data.py --rows 200000

Each figure is the best of ``--repeats`` fresh processes (the first load in a sweep happens in
a fresh job process too), timed around the call inside the process after importing what a job
has imported by then (runner.train, and with it pandas), so Python's start-up and imports are
not counted:

- first load: parse the file, split it (test, validation), standardise, write the cache;
- cached load: the same with the cache written by the first (the file is not parsed again);
- predict: ``runner.predict`` of the whole file with a run trained on it (2 epochs), to a CSV.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

LOAD = """
import sys, time
import numpy as np
from omegaconf import OmegaConf
import runner.train  # what a job has imported before it loads its data (pandas among it)
from runner.data import load_dataset
cfg = OmegaConf.create({"name": "csv", "path": sys.argv[1], "target": "label"})
start = time.perf_counter()
data = load_dataset(cfg, np.random.SeedSequence(0).spawn(3), "float32", ".", sys.argv[2])
print(time.perf_counter() - start, len(data.X_train), len(data.X_val), len(data.X_test))
"""
PREDICT = """
import sys, time
from pathlib import Path
from runner.predict import Predictor
start = time.perf_counter()
rows = Predictor.load(sys.argv[1]).predict_file(Path(sys.argv[2]), sys.argv[3])
print(time.perf_counter() - start, rows)
"""


def write_csv(path, rows, columns=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, columns))
    label = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    header = ",".join([*(f"f{i}" for i in range(columns)), "label"])
    table = np.column_stack([X, label])
    fmt = ["%.6g"] * columns + ["%d"]
    np.savetxt(path, table, fmt=fmt, delimiter=",", header=header, comments="")


def timed(code, *args):
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "big.csv"
        write_csv(data, args.rows)
        size = data.stat().st_size / 1e6
        first, cached = [], []
        for repeat in range(args.repeats):
            cache = tmp / f"cache{repeat}"
            seconds, *split = timed(LOAD, data, cache)
            first.append(float(seconds))
            cached.append(float(timed(LOAD, data, cache)[0]))
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "runner",
                "data=csv",
                f"data.path={data}",
                "data.target=label",
                "trainer.epochs=2",
                "trainer.batch_size=4096",
                "trainer.progress=none",
                "trainer.plots=false",
                f"hydra.run.dir={tmp / 'run'}",
                f"paths.outputs={tmp / 'outputs'}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if run.returncode:
            sys.exit(f"training failed: {run.stderr}")
        predict = [
            float(timed(PREDICT, tmp / "run", data, tmp / "predictions.csv")[0])
            for _ in range(args.repeats)
        ]
    rows = f"{args.rows:,} rows x 20 columns ({size:.0f} MB)"
    print(f"\n{rows}; train/val/test rows {' / '.join(split)}; best of {args.repeats}")
    print(f"{'step':<34}{'seconds':>10}{'target':>10}   every repeat")
    for name, values, target in (
        ("load, split, encode (first)", first, "< 3"),
        ("the same from the sweep's cache", cached, "< 0.3"),
        ("runner.predict to a CSV", predict, "< 5"),
    ):
        every = " / ".join(f"{v:.3f}" for v in values)
        print(f"{name:<34}{min(values):>10.3f}{target:>10}   {every}")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"(bench took {time.perf_counter() - t0:.0f} s)")
