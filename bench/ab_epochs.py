"""Before and after a change to nncore: W1-W3 epoch times from two source trees, in fresh
processes that alternate, so both see the same minutes of a noisy host.

    git worktree add /tmp/before HEAD~1          # or: git archive REV | tar -x -C /tmp/before
    python bench/ab_epochs.py --before /tmp/before --pairs 4 --only W2,W3

Each process imports nncore from its tree (``PYTHONPATH``), builds the workload of
``bench/speed.py`` (same data and initial weights), trains one warm-up epoch and then
``--epochs`` more, and reports the median epoch. The table gives each tree's median over the
pairs and the median of the per-pair ratios (after / before).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = {"W1": 200, "W2": 6, "W3": 2}

CHILD = """
import json, sys, time
sys.path.insert(0, {bench!r})
import speed
out = {{}}
for name in {names!r}:
    spec = speed.WORKLOADS[name]
    X, y = speed.load_data(name)
    run = speed.NncoreRun(spec, name, X, y)
    run.train(1)
    times = []
    for _ in range({epochs!r}[name]):
        start = time.perf_counter()
        run.train(1)
        times.append(time.perf_counter() - start)
    out[name] = sorted(times)[len(times) // 2]
print(json.dumps(out))
"""


def epoch_times(tree, names):
    """Median epoch seconds per workload, nncore imported from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = CHILD.format(bench=str(ROOT / "bench"), names=names, epochs=EPOCHS)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="source tree of the 'before' nncore")
    parser.add_argument("--after", default=str(ROOT), help="source tree of the 'after' nncore")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--only", default="W2,W3", help="comma-separated workloads of W1,W2,W3")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = sorted(set(names) - set(EPOCHS))
    if unknown:
        parser.error(f"--only: unknown workload {', '.join(unknown)}; allowed: W1, W2, W3")
    before, after = {n: [] for n in names}, {n: [] for n in names}
    for _ in range(args.pairs):
        for tree, into in ((args.before, before), (args.after, after)):
            for name, seconds in epoch_times(tree, names).items():
                into[name].append(seconds)
    print(f"{args.pairs} interleaved pairs; median epoch of each process, then over the pairs\n")
    print("| workload | before | after | after / before (median of pairs) |")
    print("|---|---|---|---|")
    for name in names:
        ratio = statistics.median(a / b for a, b in zip(after[name], before[name], strict=True))
        print(
            f"| {name} | {statistics.median(before[name]) * 1e3:.1f} ms "
            f"| {statistics.median(after[name]) * 1e3:.1f} ms | {ratio:.3f} |"
        )


if __name__ == "__main__":
    main()
