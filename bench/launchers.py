"""The same 16-job sweep under each launcher: wall time, speed-up over basic, start-up cost.

    python bench/launchers.py [--jobs 16] [--epochs 1500] [--repeats 3]

Every job trains the spiral network (width 256, full batch) for ``--epochs`` epochs: short
and compute-bound. Each sweep runs as its own ``python -m runner -m ...`` process in a fresh
folder, with one BLAS thread per job so the launchers, not BLAS, provide the parallelism.
Start-up is the wall time of a 1-job sweep of a 1-epoch run: imports, Hydra, and whatever the
launcher starts (worker pools, a local Ray instance). Needs the [ray] and [slurm] extras for
those rows; a missing launcher is reported, not faked.
"""

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

LAUNCHERS = {
    "basic": [],
    "joblib (2 workers)": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "submitit_local": ["hydra/launcher=submitit_local"],
    "ray (local instance)": ["hydra/launcher=ray"],
}
PLUGINS = {
    "submitit_local": "hydra_plugins.hydra_submitit_launcher",
    "ray (local instance)": "hydra_plugins.hydra_ray_launcher",
}


def sweep_seconds(launcher_args, jobs, epochs):
    """Wall time of one sweep in a fresh folder, or None if it did not finish ok."""
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    args = [
        sys.executable,
        "-m",
        "runner",
        "-m",
        *launcher_args,
        f"seed=range(0,{jobs})",
        "model.width=256",
        f"trainer.epochs={epochs}",
        f"trainer.log_every={max(epochs, 1)}",
    ]
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        done = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        print(f"  failed: {' '.join(launcher_args)}\n{done.stderr[-1500:]}", file=sys.stderr)
        return None
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    available = {}
    for name, launcher_args in LAUNCHERS.items():
        module = PLUGINS.get(name)
        if module and importlib.util.find_spec(module) is None:
            print(f"({name}: plugin not installed, row skipped)")
            continue
        available[name] = launcher_args

    sweep = {name: [] for name in available}
    startup = {name: [] for name in available}
    for _ in range(args.repeats):  # interleaved, so machine noise hits every launcher alike
        for name, launcher_args in available.items():
            startup[name].append(sweep_seconds(launcher_args, 1, 1))
            sweep[name].append(sweep_seconds(launcher_args, args.jobs, args.epochs))

    base = statistics.median(t for t in sweep["basic"] if t)
    base_start = statistics.median(t for t in startup["basic"] if t)
    print(
        f"\n{args.jobs}-job sweep, spiral width 256, full batch, {args.epochs} epochs per job, "
        f"1 BLAS thread per job, {os.cpu_count()} CPUs, median of {args.repeats} (min – max)\n"
    )
    print(
        "| launcher | sweep wall time | speed-up over basic | 1-job sweep (start-up) | start-up over basic |"
    )
    print("|---|---|---|---|---|")
    for name in available:
        times = [t for t in sweep[name] if t]
        starts = [t for t in startup[name] if t]
        if not times or not starts:
            print(f"| {name} | failed | – | – | – |")
            continue
        median, start = statistics.median(times), statistics.median(starts)
        print(
            f"| {name} | {median:.1f} s ({min(times):.1f} – {max(times):.1f}) | {base / median:.2f}x "
            f"| {start:.1f} s | +{start - base_start:.1f} s |"
        )


if __name__ == "__main__":
    main()
