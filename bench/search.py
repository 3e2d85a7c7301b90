"""What the Optuna sweeper buys and costs, on ``hparams_search=spiral_optuna``.

    python bench/search.py                     # everything below, about 10 minutes
    python bench/search.py --only overhead     # the sweeper's own cost per trial
    python bench/search.py --only pruning --sampler-seeds 0,1,2
    python bench/search.py --only seeds

- overhead: ask + tell + storage per trial, in this process, for SQLite, JournalStorage (the
  default), PostgreSQL through RDBStorage and Optuna's journal in a PostgreSQL table
  (``journal+postgresql://``; a server this script starts on this machine with the tests'
  ``tests/postgres_server.py``, when Debian's ``postgresql`` and the [postgres] extra are
  installed), with the preset's search space and TPE, over ``--trials`` trials: Optuna's own
  ask + tell one at a time, and the sweeper's loop with two workers, both with the sweeper's
  TPE settings; for a database also the SQL statements per trial;
- pruning: the preset's search without a pruner and with each pruner, for each sampler seed:
  wall time of ``python -m runner hparams_search=spiral_optuna`` and its best val_accuracy
  (mean over the sampler seeds);
- seeds: the single-seed search against ``hydra.sweeper.seeds=3``; each one's best
  configuration then trained on fresh seeds (100-104, or ``--fresh-seeds N`` of them), whose
  mean val_accuracy is the honest figure of what the search found; the mean over the sampler
  seeds last.
"""

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PRUNERS = {
    "none": [],
    "median": ["hydra/sweeper/pruner=median"],
    "asha": ["hydra/sweeper/pruner=asha"],
    "asha_4": [
        "hydra/sweeper/pruner=asha",
        "hydra.sweeper.pruner.reduction_factor=4",
    ],
    "hyperband": ["hydra/sweeper/pruner=hyperband"],
}
FRESH_SEEDS = range(100, 105)


def runner(cwd, *overrides):
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "runner", "hparams_search=spiral_optuna", *overrides],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):
        sys.exit(f"runner failed:\n{result.stderr[-3000:]}")
    return seconds


def search(overrides):
    """One search in a fresh folder -> (wall seconds, its optimization_results.yaml)."""
    with tempfile.TemporaryDirectory() as folder:
        seconds = runner(folder, *overrides)
        (found,) = Path(folder).glob("outputs/sweeps/*/*/optimization_results.yaml")
        return seconds, yaml.safe_load(found.read_text())


def fresh_seed_accuracy(params, seeds=FRESH_SEEDS, extra=()):
    """val_accuracy of ``params`` trained on each of ``seeds``, one single run each (two at a
    time) -> the values in seed order."""
    from concurrent.futures import ThreadPoolExecutor

    import pandas as pd

    settings = [f"{k}={v}" for k, v in params.items()]
    with tempfile.TemporaryDirectory() as folder:

        def one(seed):
            where = Path(folder) / str(seed)
            where.mkdir()
            runner(
                where, "hydra.mode=RUN", "trainer.plots=false", *extra, *settings, f"seed={seed}"
            )
            return float(pd.read_csv(where / "outputs" / "runs.csv")["val_accuracy"].iloc[0])

        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(one, seeds))


@contextlib.contextmanager
def postgres():
    """A PostgreSQL server on this machine -> its URL, or None (said) where it cannot run."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "postgres_server", Path(__file__).resolve().parent.parent / "tests" / "postgres_server.py"
    )
    server_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(server_module)
    reason = server_module.missing() or (
        None if importlib.util.find_spec("psycopg") else "the [postgres] extra is not installed"
    )
    if reason:
        print(f"(no postgresql row: {reason})")
        yield None
        return
    with server_module.PostgresServer() as server:
        yield server.url("+psycopg")


def overhead(trials):
    """Each storage twice: Optuna's own ask + tell one trial at a time (the figure BENCHMARKS.md
    has kept since the start), and the sweeper's loop as ``runner.sweeps.search.engine`` runs
    it with two workers (``n_jobs=2``: two asks, the check for repeats of finished trials, two
    tells). Per trial: the median and the last 10 trials' median in ms, and for a database the
    SQL statements it sent (counted on SQLAlchemy's engine)."""
    import os

    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    from runner.sweeps.search.engine import not_repeats
    from runner.sweeps.search.study import Location, open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {
        "optimizer.learning_rate": FloatDistribution(1e-3, 0.1, log=True),
        "model.width": CategoricalDistribution([16, 32, 64, 128, 256]),
        "model.layers.0.activation": CategoricalDistribution(["relu", "tanh", "leaky_relu"]),
        "search.l2": FloatDistribution(1e-6, 1e-2, log=True),
    }
    loops = {"ask + tell": (1, False), "sweeper, n_jobs=2": (2, True)}
    rows = []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder, postgres() as postgres_url:
        targets = [("sqlite", f"sqlite:///{folder}/study.db"), ("journal", f"{folder}/study.log")]
        if postgres_url:
            targets.append(("postgresql", postgres_url))
            targets.append(("pg journal", "journal+" + postgres_url.replace("+psycopg", "")))
        for kind, target in targets:
            for loop, (batch, check) in loops.items():
                name = loop.replace(" ", "_")
                if kind == "journal":  # a file of its own, as each sweep folder has
                    target = f"{folder}/{name}.log"
                kinds = {"journal": "journal", "pg journal": "pgjournal"}
                storage = open_storage(Location(kinds.get(kind, "rdb"), target, name))
                statements = _count_statements(storage, psycopg_cursors=kind == "pg journal")
                study = optuna.create_study(
                    study_name=name,
                    storage=storage,
                    direction="maximize",
                    sampler=_sweepers_tpe(),
                )
                times, sent = [], statements[0]
                for _ in range(trials // batch):
                    clock = time.perf_counter()
                    asked = [study.ask(space) for _ in range(batch)]
                    for trial in not_repeats(study, asked) if check else asked:
                        study.tell(trial, trial.params["optimizer.learning_rate"])
                    times += [(time.perf_counter() - clock) / batch] * batch
                per_trial = (statements[0] - sent) / len(times) if kind != "journal" else None
                rows.append(
                    (
                        kind,
                        loop,
                        statistics.median(times) * 1000,
                        statistics.median(times[-10:]) * 1000,
                        per_trial,
                    )
                )
    print(
        f"\nsweeper overhead per trial (TPE, {trials} trials, load average {load:.1f} at the start)"
    )
    print(f"{'storage':<11} {'loop':<18} {'median ms':>10} {'last 10 ms':>11} {'statements':>11}")
    for kind, loop, median, last, per_trial in rows:
        shown = f"{per_trial:.1f}" if per_trial is not None else "-"
        print(f"{kind:<11} {loop:<18} {median:>10.1f} {last:>11.1f} {shown:>11}")


def _sweepers_tpe():
    """TPE as ``hydra/sweeper/sampler=tpe`` builds it (its settings, seed 0). Its settings
    change the cost: independent TPE reads the study's trials back from the storage once per
    parameter of a trial, multivariate TPE once for all of them."""
    from omegaconf import OmegaConf

    from hydra_plugins.nnrunner.config import TPESamplerConf
    from runner.sweeps.search.study import SAMPLERS, build

    return build(SAMPLERS, OmegaConf.structured(TPESamplerConf), "sampler")


def _count_statements(storage, psycopg_cursors=False):
    """A one-item list counting the SQL statements ``storage`` sends from now on (RDBStorage's
    public ``engine``; psycopg's cursors for a journal in PostgreSQL; a journal file sends
    none)."""
    count = [0]
    if psycopg_cursors:  # every cursor of the process: the bench sends nothing else
        import psycopg

        for method in ("execute", "executemany"):
            sent = getattr(psycopg.Cursor, method)

            def counted(self, *args, _sent=sent, **kwargs):
                count[0] += 1
                return _sent(self, *args, **kwargs)

            setattr(psycopg.Cursor, method, counted)
        return count
    engine = getattr(storage, "engine", None)
    if engine is not None:
        from sqlalchemy import event

        @event.listens_for(engine, "before_cursor_execute")
        def _one_more(*_):
            count[0] += 1

    return count


def pruning(seeds, pruners, trials):
    """Each sampler seed runs every pruner in turn (interleaved, so that a noisy spell of the
    machine falls on all of them alike) -> a row per pruner."""
    print(f"\npruning: hparams_search=spiral_optuna, {trials} trials, sampler seeds {seeds}")
    runs = {name: [] for name in pruners}
    for seed in seeds:
        for name in pruners:
            seconds, found = search(
                [
                    f"hydra.sweeper.n_trials={trials}",
                    f"hydra.sweeper.sampler.seed={seed}",
                    *PRUNERS[name],
                ]
            )
            runs[name].append((seconds, found["best_value"], found["trials"]["pruned"]))
    print(
        f"{'pruner':<22} {'wall s (mean)':>14} {'best val_acc (mean)':>20} {'pruned':>7}  per seed"
    )
    base = statistics.mean(w for w, _, _ in runs[pruners[0]])
    for name, found in runs.items():
        wall = statistics.mean(w for w, _, _ in found)
        best = statistics.mean(b for _, b, _ in found)
        pruned = statistics.mean(p for _, _, p in found)
        detail = ", ".join(f"{w:.1f}s/{b:.3f}" for w, b, _ in found)
        print(
            f"{name:<22} {wall:>8.1f} ({wall / base:.2f}x) {best:>14.4f} {pruned:>7.1f}  {detail}"
        )


def seeds_experiment(trials, sampler_seeds, fresh_seeds):
    """Each sampler seed: the one-seed search and the three-seed search, each one's best
    configuration retrained on the fresh seeds; then the mean over the sampler seeds, which is
    the figure the target is about (one sampler seed's 5 fresh seeds have a standard error of
    0.01-0.015, more than the gap between good configurations of this problem). With
    ``--fresh-seeds`` above 5 the first five and all of them are shown."""
    seeds = range(FRESH_SEEDS.start, FRESH_SEEDS.start + fresh_seeds)
    print(
        f"\nseed replicates: {trials} trials, sampler seeds {sampler_seeds}; best configuration "
        f"retrained on seeds {seeds.start}-{seeds.stop - 1}"
    )
    print(
        f"{'sampler seed':<13} {'search':<8} {'wall s':>7} {'best in search':>15} "
        f"{'first 5 mean ± std':>19} {f'all {fresh_seeds} mean':>12}  best parameters"
    )
    fresh = {"1 seed": [], "3 seeds": []}
    for sampler_seed in sampler_seeds:
        for label, extra in (("1 seed", []), ("3 seeds", ["hydra.sweeper.seeds=3"])):
            seconds, found = search(
                [
                    f"hydra.sweeper.n_trials={trials}",
                    f"hydra.sweeper.sampler.seed={sampler_seed}",
                    *extra,
                ]
            )
            values = fresh_seed_accuracy(found["best_params"], seeds)
            first = values[:5]
            fresh[label].append((statistics.mean(first), statistics.mean(values)))
            shown = " ".join(
                f"{k.split('.')[-1]}={_short(v)}" for k, v in found["best_params"].items()
            )
            print(
                f"{sampler_seed:<13} {label:<8} {seconds:>7.1f} {found['best_value']:>15.4f} "
                f"{statistics.mean(first):>10.4f} ± {statistics.stdev(first):.4f} "
                f"{statistics.mean(values):>12.4f}  {shown}"
            )
    for label, means in fresh.items():
        first = statistics.mean(m for m, _ in means)
        every = statistics.mean(m for _, m in means)
        print(f"{'mean':<13} {label:<8} {'':>7} {'':>15} {first:>10.4f} {'':>8} {every:>12.4f}")


def _short(value):
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["overhead", "pruning", "seeds"])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--sampler-seeds", default="0,1,2")
    parser.add_argument("--pruners", default="none,asha,asha_4,median,hyperband")
    parser.add_argument(
        "--fresh-seeds", type=int, default=5, help="seeds each best is retrained on"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    seeds = [int(s) for s in args.sampler_seeds.split(",")]
    if args.only in (None, "overhead"):
        overhead(args.trials)
    if args.only in (None, "pruning"):
        pruning(seeds, args.pruners.split(","), args.trials)
    if args.only in (None, "seeds"):
        seeds_experiment(args.trials, seeds, args.fresh_seeds)


if __name__ == "__main__":
    main()
