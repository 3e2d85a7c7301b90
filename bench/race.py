"""What racing (``hydra/sweeper=race``) buys against the full grid, on 3 grids.

    python bench/race.py                        # 10 repetitions of each grid, 1 fresh race each
    python bench/race.py --repeats 20 --grids spiral,wine
    python bench/race.py --repeats 3 --fresh 0  # no wall-time rows

Grids (every run one BLAS thread; each grid's trainer.epochs is in the table):

- spiral: ``model.width=4,16,64 optimizer.learning_rate=0.0005,0.005,0.05`` (9 configurations),
  objective val_loss;
- wine: scikit-learn's bundled ``load_wine`` written to a CSV (``data=csv``, 3 classes, 178
  rows), ``model.width=4,16,64 optimizer.learning_rate=0.001,0.01,0.1`` (9), objective val_loss;
- diabetes: scikit-learn's bundled ``load_diabetes`` written to a CSV (``data=csv``, a
  regression, 442 rows), ``model.width=4,16,64 optimizer.learning_rate=0.001,0.01,0.1`` (9),
  ``loss=mse``, objective val_rmse.

For each grid and repetition r the first seed is ``r * max_seeds``. In one outputs folder the
full grid runs first (every configuration on seeds first..first+max_seeds-1), then the race
over the same grid and first seed: each run the race asks for is found done in the ledger and
reused, so its decisions are exactly those of a fresh race (same seeds, same values), at no
cost. The full grid's tied-best is ``runner.analysis.ranking.compare`` on its sweep folder
(groups whose verdict is ``best`` or ``tied best`` at level 0.95 over max_seeds seeds). A
repetition is a hit when the race's leader (its winner, or when it ended tied the first of its
closing lines, the best mean of those left) is among those; a stricter column asks it of every
configuration the race left. Runs spent are the race's seeds summed over configurations (race.csv) as
a share of the full grid's; the race's own time per round is ``sweeper_ms`` of race_rounds.csv.

Wall time: ``--fresh`` races per grid in a new outputs folder (nothing to reuse) against the
full grid of the same first seed (timed in its repetition, also in a fresh folder).
"""

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runner.analysis.ranking import compare  # noqa: E402
from runner.analysis.runs import load_runs  # noqa: E402

COMMON = ["trainer.plots=false", "trainer.progress=none"]
GRIDS = {
    "spiral": {
        "grid": ["model.width=4,16,64", "optimizer.learning_rate=0.0005,0.005,0.05"],
        "fixed": ["trainer.epochs=1000", "trainer.log_every=1000"],
        "objective": "val_loss",
    },
    "wine": {
        "dataset": "load_wine",
        "grid": ["model.width=4,16,64", "optimizer.learning_rate=0.001,0.01,0.1"],
        "fixed": ["data=csv", "data.target=target", "trainer.epochs=300", "trainer.log_every=300"],
        "objective": "val_loss",
    },
    "diabetes": {
        "dataset": "load_diabetes",
        "grid": ["model.width=4,16,64", "optimizer.learning_rate=0.001,0.01,0.1"],
        "fixed": [
            "data=csv",
            "data.target=target",
            "data.task=regression",
            "loss=mse",
            "trainer.epochs=300",
            "trainer.log_every=300",
        ],
        "objective": "val_rmse",
    },
}
TARGETS = {"hit": 0.95, "runs": 0.50, "ms": 50.0}


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(
        f"{i.get('internal_api')} {i.get('version') or ''} kernel={i.get('architecture')}"
        for i in threadpool_info()
        if i["user_api"] == "blas"
    )


def write_csv(dataset, folder):
    """scikit-learn's bundled ``dataset`` (no download) -> a CSV in ``folder``, target last."""
    import sklearn.datasets

    frame = getattr(sklearn.datasets, dataset)(as_frame=True).frame
    frame.columns = [c.replace("/", "_") for c in frame.columns]
    path = Path(folder) / f"{dataset}.csv"
    frame.to_csv(path, index=False)
    return path


def runner(cwd, *overrides):
    """``python -m runner -m ...`` in ``cwd`` -> wall seconds; exits with its error if it failed."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "runner", "-m", *overrides]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {shlex.join(command)}\n{done.stderr[-3000:]}")
    return seconds


def settings(pairs):
    """'a=1 b=0.5' or key/value pairs -> a frozenset of (key, value) with numbers as floats, so
    the race's configuration text and the summary's cells compare alike."""

    def value(v):
        try:
            return float(v)
        except (TypeError, ValueError):
            return str(v)

    if isinstance(pairs, str):
        pairs = [p.split("=", 1) for p in pairs.split()]
    return frozenset((k, value(v)) for k, v in pairs)


def tied_best(sweep_dir, keys, objective):
    """The full grid's configurations that ``compare`` calls best or tied best at 0.95."""
    runs = load_runs([sweep_dir])
    table, _ = compare(runs, keys, objective, level=0.95)
    best = table[table["vs_best"].isin(["best", "tied best"])]
    return {settings(zip(keys, row, strict=True)) for row in best[keys].itertuples(index=False)}


def race_outcome(sweep_dir):
    """-> (configurations the race left as winner or tied, its leader (the winner, or the tied
    configuration with the best mean: the first of its closing lines; every objective here is
    minimized), runs it spent, its sweeper_ms rows)."""
    race = pd.read_csv(sweep_dir / "race.csv")
    rounds = pd.read_csv(sweep_dir / "race_rounds.csv")
    left = race[race["status"].isin(["winner", "tied"])]
    leader = left.sort_values("mean", kind="stable")["configuration"].iloc[0]
    return (
        [settings(c) for c in left["configuration"]],
        settings(leader),
        int(race["seeds"].sum()),
        list(rounds["sweeper_ms"]),
    )


def repetition(spec, folder, first, max_seeds):
    """Full grid then race in ``folder`` -> a dict of what the repetition found."""
    grid, fixed, objective = spec["grid"], spec["fixed"], spec["objective"]
    keys = [g.split("=", 1)[0] for g in grid]
    base = [*grid, *fixed, *COMMON, f"objective={objective}"]
    full_dir, race_dir = folder / "outputs" / f"full{first}", folder / "outputs" / f"race{first}"
    full_seconds = runner(
        folder,
        *base,
        f"seed=range({first},{first + max_seeds})",
        f"hydra.sweep.dir={full_dir}",
    )
    runner(
        folder,
        "hydra/sweeper=race",
        *base,
        f"seed={first}",
        f"hydra.sweeper.max_seeds={max_seeds}",
        f"hydra.sweep.dir={race_dir}",
    )
    best = tied_best(full_dir, keys, objective)
    left, leader, runs, sweeper_ms = race_outcome(race_dir)
    configurations = 1
    for g in grid:
        configurations *= len(g.split("=", 1)[1].split(","))
    return {
        "hit": all(c in best for c in left),
        "leader_hit": leader in best,
        "tied": len(left) > 1,
        "share": runs / (configurations * max_seeds),
        "sweeper_ms": sweeper_ms,
        "full_seconds": full_seconds,
        "tied_best": len(best),
        "left": left,
        "best": best,
    }


def fresh_race(spec, data_path, first, max_seeds):
    """A race in a new outputs folder (nothing to reuse) -> wall seconds."""
    with tempfile.TemporaryDirectory(prefix="race_fresh_", dir="/tmp") as folder:
        data = [f"data.path={data_path}"] if data_path else []
        return runner(
            Path(folder),
            "hydra/sweeper=race",
            *spec["grid"],
            *spec["fixed"],
            *COMMON,
            *data,
            f"objective={spec['objective']}",
            f"seed={first}",
            f"hydra.sweeper.max_seeds={max_seeds}",
        )


def describe(configurations):
    def text(v):
        return f"{v:g}" if isinstance(v, float) else v

    return "; ".join(" ".join(f"{k}={text(v)}" for k, v in sorted(c)) for c in configurations)


def mark(ok):
    return "met" if ok else "MISSED"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="repetitions per grid")
    parser.add_argument("--max-seeds", type=int, default=10, help="the full grid's seeds")
    parser.add_argument(
        "--grids", default=",".join(GRIDS), help="comma-separated, of: spiral,wine,diabetes"
    )
    parser.add_argument(
        "--fresh", type=int, default=1, help="fresh races timed per grid (0: no wall-time rows)"
    )
    args = parser.parse_args()
    names = args.grids.split(",")
    unknown = [n for n in names if n not in GRIDS]
    if unknown:
        parser.error(f"--grids: unknown {unknown}; known: {','.join(GRIDS)}")
    if args.fresh > args.repeats:
        parser.error(
            "--fresh: at most --repeats (each fresh race is timed against a repetition's grid)"
        )

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    results, walls = {}, {}
    with tempfile.TemporaryDirectory(prefix="race_bench_", dir="/tmp") as tmp:
        for name in names:
            spec = dict(GRIDS[name])
            folder = Path(tmp) / name
            folder.mkdir()
            data_path = None
            if "dataset" in spec:
                data_path = write_csv(spec["dataset"], folder)
                spec["fixed"] = [*spec["fixed"], f"data.path={data_path}"]
            reps = []
            for r in range(args.repeats):
                rep = repetition(spec, folder, r * args.max_seeds, args.max_seeds)
                reps.append(rep)
                print(
                    f"  {name} r={r}: hit={rep['hit']} tied={rep['tied']} "
                    f"share={rep['share']:.0%} full grid tied-best={rep['tied_best']} "
                    f"full {rep['full_seconds']:.1f} s",
                    file=sys.stderr,
                )
                if not rep["hit"]:
                    print(f"    race left {describe(rep['left'])}", file=sys.stderr)
                    print(f"    full grid's tied-best {describe(rep['best'])}", file=sys.stderr)
            results[name] = (spec, reps)
            walls[name] = [
                (fresh_race(GRIDS[name], data_path, r * args.max_seeds, args.max_seeds), reps[r])
                for r in range(args.fresh)
            ]

    command = shlex.join(["python", "bench/race.py", *sys.argv[1:]])
    print(
        f"Racing against the full grid at max_seeds={args.max_seeds}, {args.repeats} repetitions "
        f"per grid (first seed r*{args.max_seeds}); {cores} cores, pool launcher, one BLAS thread "
        f"per run ({blas_info()}); level 0.95, min_seeds 3.\n"
        "Each race ran after its full grid in the same outputs folder: every run it asked for was "
        "found done in the ledger and reused, so its decisions are a fresh race's, at no cost.\n"
        "Leader: the race's winner, or when it ended tied the first of its closing lines (the "
        "best mean of those left); the target is that it is among the full grid's tied-best "
        "(runner.compare's best/tied best at 0.95 over the max_seeds seeds). The stricter "
        "column asks it of every configuration the race left.\n"
    )
    print(
        "| grid | configurations | fixed | leader among tied-best (target >= 95%) | every one "
        "left among tied-best | ended tied | full grid's "
        "tied-best (mean) | race runs / full grid: mean, max (target <= 50%) | race's own ms a "
        "round: median, max (target <= 50) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (spec, reps) in results.items():
        hits = sum(r["hit"] for r in reps) / len(reps)
        leads = sum(r["leader_hit"] for r in reps) / len(reps)
        shares = [r["share"] for r in reps]
        ms = [m for r in reps for m in r["sweeper_ms"]]
        n = 1
        for g in spec["grid"]:
            n *= len(g.split("=", 1)[1].split(","))
        fixed = " ".join(
            f for f in spec["fixed"] if f.startswith(("trainer.epochs", "loss", "data="))
        )
        print(
            f"| {name} | {n}: {' '.join(spec['grid'])} | {fixed} objective={spec['objective']} "
            f"| {leads:.0%} ({sum(r['leader_hit'] for r in reps)}/{len(reps)}) "
            f"{mark(leads >= TARGETS['hit'])} "
            f"| {hits:.0%} ({sum(r['hit'] for r in reps)}/{len(reps)}) "
            f"| {sum(r['tied'] for r in reps)}/{len(reps)} "
            f"| {statistics.mean(r['tied_best'] for r in reps):.1f} "
            f"| {statistics.mean(shares):.0%}, {max(shares):.0%} "
            f"{mark(max(shares) <= TARGETS['runs'])} "
            f"| {statistics.median(ms):.1f}, {max(ms):.1f} {mark(max(ms) <= TARGETS['ms'])} |"
        )
    if any(walls.values()):
        print(
            "\nWall time, a fresh race (new outputs folder, nothing to reuse) against the full "
            "grid of the same first seed (also fresh). Other work shares this machine: noisy.\n"
        )
        print("| grid | first seed | race | full grid | race / full | race runs / full |")
        print("|---|---|---|---|---|---|")
        for name, pairs in walls.items():
            for r, (race_seconds, rep) in enumerate(pairs):
                print(
                    f"| {name} | {r * args.max_seeds} | {race_seconds:.1f} s "
                    f"| {rep['full_seconds']:.1f} s | {race_seconds / rep['full_seconds']:.0%} "
                    f"| {rep['share']:.0%} |"
                )
    print(f"\n`{command}`")


if __name__ == "__main__":
    main()
