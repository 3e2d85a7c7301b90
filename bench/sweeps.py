"""What a sweep costs next to the training it does, under every launcher.

    python bench/sweeps.py                       # 64 jobs: 2 learning rates x 32 seeds
    python bench/sweeps.py --seeds 8 --forward-jobs 200 --launchers pool,basic
    python bench/sweeps.py --seeds 100 --launchers pool,slurm --jobs-per-task 25 --forward-jobs 0 --no-sklearn

One grid (spiral, dense2, Adam, learning_rate 0.01 and 0.05, ``--seeds`` seeds, 2000 epochs,
full batch) is measured five ways, in one run of this script:

- pure training: the same jobs' training loops one after another in this process (model and
  data built by the runner's own code, no files written), and the ideal sweep, pure / cores;
- each launcher: the wall time of ``python -m runner -m ...`` in a fresh folder, start-up
  included, and its ratio to the ideal (``ray`` starts and stops a local Ray instance in each
  sweep; ``ray_running`` joins one this script started with ``ray start --head``; ``slurm``
  submits to a real Slurm this script starts on this machine, as root, with the tests'
  ``tests/slurm_cluster.py``, ``--jobs-per-task`` jobs per task, queueing included);
- scikit-learn's GridSearchCV over the same grid with MLPClassifier (when installed);
- per-job overhead: ``--forward-jobs`` forward-only jobs (``trainer.epochs=0``), minus a 1-job
  sweep's wall time (start-up), divided by the number of jobs;
- where the pool's time went, from its jobs' own records in the ledger (``started_at``,
  ``seconds``): before the first job, between a worker's jobs, after the last one.

Every sweep starts from compiled modules, as a user's does (``PYTHONDONTWRITEBYTECODE`` is
unset for them).

Every sweep gets one BLAS thread per process, so the launchers, not BLAS, give the parallelism.
"""

import argparse
import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAUNCHERS = {
    "pool": [],  # the default for -m
    "basic": ["hydra/launcher=basic"],
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs={cores}"],
    "ray": ["hydra/launcher=ray"],  # a local instance started and stopped by each sweep
    "ray_running": [  # a local instance started once (ray start --head), joined by each sweep
        "hydra/launcher=ray_cluster",
        "hydra.launcher.ray.init.address={ray_address}",
    ],
    "submitit_local": ["hydra/launcher=submitit_local"],
    "slurm": [  # a Slurm started by this script on this machine (tests/slurm_cluster.py)
        "hydra/launcher=slurm",
        "hydra.launcher.partition=cpu",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=1",
        "hydra.launcher.jobs_per_task={jobs_per_task}",
    ],
}
PLUGINS = {
    "ray": "ray",
    "ray_running": "ray",
    "submitit_local": "hydra_plugins.hydra_submitit_launcher",
    "slurm": "hydra_plugins.hydra_submitit_launcher",
}
LEARNING_RATES = (0.01, 0.05)
EPOCHS = 2000


@contextlib.contextmanager
def running_ray(needed, n):
    """A local Ray instance of ``n`` CPUs for the ``ray_running`` rows -> its address (or None
    when no row needs one); stopped at the end."""
    if not needed:
        yield None
        return
    port = 6390
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    ray = [str(Path(sys.executable).with_name("ray"))]
    subprocess.run(
        [*ray, "start", "--head", f"--num-cpus={n}", "--include-dashboard=false", f"--port={port}"],
        env=env,
        check=True,
        capture_output=True,
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([*ray, "stop"], env=env, capture_output=True)


@contextlib.contextmanager
def running_slurm(needed):
    """A Slurm on this machine for the ``slurm`` row -> the environment its commands need (or
    None when no row needs one); stopped at the end."""
    if not needed:
        yield None
        return
    spec = importlib.util.spec_from_file_location(
        "slurm_cluster", ROOT / "tests" / "slurm_cluster.py"
    )
    slurm_cluster = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(slurm_cluster)
    reason = slurm_cluster.missing()
    if reason:
        raise SystemExit(f"the slurm row needs a Slurm here: {reason}")
    with slurm_cluster.SlurmCluster() as cluster:
        yield cluster.env


def cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def pure_training(seeds):
    """Seconds to train every job of the grid in this process, nothing written."""
    import numpy as np
    from hydra import compose, initialize_config_dir

    from runner.plugins import make_visible
    from runner.stack import version_base

    make_visible()

    from runner.build import build_model
    from runner.data import load_dataset

    total = 0.0
    with initialize_config_dir(config_dir=str(ROOT / "conf"), **version_base()):
        for lr in LEARNING_RATES:
            for seed in range(seeds):
                cfg = compose("config", [f"optimizer.learning_rate={lr}", f"seed={seed}"])
                data_seeds, model_seed = np.random.SeedSequence(seed).spawn(2)
                data = load_dataset(cfg.data, data_seeds.spawn(2), cfg.dtype, ROOT)
                model = build_model(cfg, data, model_seed)
                start = time.perf_counter()
                for _ in range(EPOCHS):
                    model.train_epoch(data.X_train, data.y_train, accuracy=False)
                total += time.perf_counter() - start
    return total


def sweep_seconds(launcher_args, *grid, env=None, phases=None):
    """Wall time of one ``python -m runner -m`` in a fresh folder, or None if it failed.
    ``phases``, a list, gets the sweep's :func:`phases` appended."""
    env = {**(env or os.environ), "OPENBLAS_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's runs start from compiled modules
    command = [sys.executable, "-m", "runner", "-m", *launcher_args, *grid, "trainer.plots=false"]
    with tempfile.TemporaryDirectory() as folder:
        began, start = time.time(), time.perf_counter()
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            print(f"  {' '.join(launcher_args)} failed:\n{done.stderr[-1500:]}", file=sys.stderr)
            return None
        ledger = Path(folder) / "outputs" / "runs.csv"
        rows = len(ledger.read_text().splitlines()) - 1 if ledger.exists() else 0
        if phases is not None:
            phases.append(sweep_phases(ledger, began, began + seconds))
    return seconds, rows


def sweep_phases(ledger, began, ended):
    """Where a sweep's wall time went, from its jobs' own records (each job's ``started_at`` and
    ``seconds`` in the ledger): before the first job started, the span from the first job's
    start to the last one's end, the jobs' own seconds over the cores, the rest of the span per
    job (each worker's time between its jobs: a job's config, folder, ``.hydra/`` files and
    hand-over), and after the last job (the summary and the closing table)."""
    import csv
    from datetime import datetime

    with open(ledger, newline="") as file:
        jobs = [
            (datetime.fromisoformat(r["started_at"]).timestamp(), float(r["seconds"]))
            for r in csv.DictReader(file)
        ]
    first = min(start for start, _ in jobs)
    last = max(start + seconds for start, seconds in jobs)
    busy = sum(seconds for _, seconds in jobs) / min(cores(), len(jobs))
    return {
        "before": first - began,
        "span": last - first,
        "busy": busy,
        "between": (last - first - busy) / (len(jobs) / min(cores(), len(jobs))),
        "after": ended - last,
        "job": sum(seconds for _, seconds in jobs) / len(jobs),
    }


def grid_search_seconds(seeds):
    """scikit-learn's GridSearchCV over the same grid: one fit per candidate on the same split."""
    import numpy as np
    from sklearn.model_selection import GridSearchCV, PredefinedSplit
    from sklearn.neural_network import MLPClassifier

    from nncore import spiral

    X, y = spiral(100, 3, seed=0, dtype="float64")
    X_val, y_val = spiral(100, 3, seed=1, dtype="float64")
    split = PredefinedSplit(np.r_[np.full(len(X), -1), np.zeros(len(X_val))])
    search = GridSearchCV(
        MLPClassifier(
            hidden_layer_sizes=(64,),
            solver="adam",
            batch_size=len(X),
            max_iter=EPOCHS,
            tol=0,
            n_iter_no_change=EPOCHS + 1,
            alpha=0,
        ),
        {"learning_rate_init": list(LEARNING_RATES), "random_state": list(range(seeds))},
        cv=split,
        n_jobs=cores(),
        refit=False,
    )
    start = time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(np.r_[X, X_val], np.r_[y, y_val])
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=32, help="seeds per learning rate")
    parser.add_argument("--forward-jobs", type=int, default=1000)
    parser.add_argument("--launchers", default=",".join(LAUNCHERS))
    parser.add_argument(
        "--forward-launchers", default="pool", help="launchers timed on the forward-only jobs"
    )
    parser.add_argument("--jobs-per-task", type=int, default=25, help="slurm: jobs per task")
    parser.add_argument(
        "--sklearn", action=argparse.BooleanOptionalAction, default=True, help="the sklearn row"
    )
    args = parser.parse_args()
    n = cores()
    grid = [
        f"optimizer.learning_rate={','.join(map(str, LEARNING_RATES))}",
        f"seed=range(0,{args.seeds})",
        f"trainer.epochs={EPOCHS}",
        f"trainer.log_every={EPOCHS}",
    ]
    jobs = len(LEARNING_RATES) * args.seeds
    pure = pure_training(args.seeds)
    ideal = pure / n
    print(f"{jobs} jobs (spiral, dense2, Adam, lr {LEARNING_RATES} x {args.seeds} seeds, ", end="")
    print(f"{EPOCHS} epochs, full batch) on {n} cores, one BLAS thread per process\n")
    print("| what | wall time | x ideal | ledger rows |")
    print("|---|---|---|---|")
    print(f"| pure training, one process | {pure:.2f} s | – | – |")
    print(f"| ideal: pure / {n} cores | {ideal:.2f} s | 1.00 | – |")
    phases = {}
    for name in args.launchers.split(","):
        if name in PLUGINS and importlib.util.find_spec(PLUGINS[name]) is None:
            print(f"| {name} | not installed | – | – |")
            continue
        with (
            running_ray(name == "ray_running", n) as address,
            running_slurm(name == "slurm") as slurm_env,
        ):
            launcher = [
                a.format(cores=n, ray_address=address, jobs_per_task=args.jobs_per_task)
                for a in LAUNCHERS[name]
            ]
            found = [] if name == "pool" else None  # the pool's workers are one per core
            result = sweep_seconds(launcher, *grid, env=slurm_env, phases=found)
        if result is None:
            print(f"| {name} | failed | – | – |")
            continue
        seconds, rows = result
        if found:
            phases[name] = found[0]
        print(f"| launcher {name} | {seconds:.2f} s | {seconds / ideal:.2f} | {rows} |")
    if phases:
        print(
            f"\nWhere each sweep's time went, from its jobs' records (pure training: "
            f"{pure / jobs * 1000:.0f} ms a job)\n"
        )
        print(
            "| launcher | before the first job | jobs' span | job seconds / cores | "
            "between jobs, per job | after the last job | a job's own seconds |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, p in phases.items():
            print(
                f"| {name} | {p['before']:.2f} s | {p['span']:.2f} s | {p['busy']:.2f} s | "
                f"{p['between'] * 1000:.1f} ms | {p['after']:.2f} s | {p['job'] * 1000:.0f} ms |"
            )
    if args.sklearn and importlib.util.find_spec("sklearn"):
        seconds = grid_search_seconds(args.seeds)
        print(
            f"| scikit-learn GridSearchCV (n_jobs={n}) | {seconds:.2f} s | {seconds / ideal:.2f} | – |"
        )

    if not args.forward_jobs:
        return
    print(f"\n{args.forward_jobs} forward-only jobs (trainer.epochs=0): overhead per job\n")
    print("| launcher | start-up (1-job sweep) | all jobs | per job beyond start-up |")
    print("|---|---|---|---|")
    for name in args.forward_launchers.split(","):
        with running_ray(name == "ray_running", n) as address:
            launcher = [a.format(cores=n, ray_address=address) for a in LAUNCHERS[name]]
            one = sweep_seconds(launcher, "seed=0", "trainer.epochs=0")
            many = sweep_seconds(launcher, f"seed=range(0,{args.forward_jobs})", "trainer.epochs=0")
        if one is None or many is None:
            print(f"| {name} | failed | – | – |")
            continue
        per_job = (many[0] - one[0]) / args.forward_jobs * 1000
        print(f"| {name} | {one[0]:.2f} s | {many[0]:.2f} s | {per_job:.1f} ms |")


if __name__ == "__main__":
    main()
