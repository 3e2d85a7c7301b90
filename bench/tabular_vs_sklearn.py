"""Test accuracy of ``data=csv`` runs against scikit-learn's MLPClassifier, on the same rows.

    python bench/tabular_vs_sklearn.py            # digits, wine, breast_cancer, iris; 5 seeds
    python bench/tabular_vs_sklearn.py --seeds 3 --datasets iris wine

Each bundled dataset is written to a CSV (iris with its species names as a string target) and
trained by ``python -m runner -m data=csv ... seed=0..S-1`` with early stopping, keeping the
best epoch. scikit-learn gets the same test rows (the runner's fixed test split, computed by
the same function) and the other 80% to fit on, standardised on them, with
``MLPClassifier(hidden_layer_sizes=(100,), early_stopping=True)``, which holds its own 10% out
for early stopping; random_state=0..S-1. Both are one hidden layer of 100 ReLU units trained
with Adam at a 0.001 learning rate in minibatches of 200. The table shows the mean test
accuracy over the seeds; the target is |runner - sklearn| <= 0.02.
"""

import argparse
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNNER = [
    "model.width=100",
    "optimizer.learning_rate=0.001",
    "optimizer.decay=0",
    "trainer.batch_size=200",
    "trainer.epochs=2000",
    "trainer.log_every=5",
    "trainer.early_stopping.patience=50",
    "trainer.progress=none",
]


def dataset(name):
    from sklearn import datasets

    loaded = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = loaded.frame.copy()
    frame.columns = [str(c).replace(" ", "_").replace("(", "").replace(")", "") for c in frame]
    if name == "iris":
        frame["target"] = np.asarray(loaded.target_names)[loaded.target]
    return frame


def runner_accuracy(frame, seeds, tmp):
    path = tmp / "data.csv"
    frame.to_csv(path, index=False)
    sweep = tmp / "sweep"
    args = ["data=csv", f"data.path={path}", "data.target=target", *RUNNER]
    seeds_arg = "seed=" + ",".join(map(str, range(seeds)))
    done = subprocess.run(
        [sys.executable, "-m", "runner", "-m", *args, seeds_arg, f"hydra.sweep.dir={sweep}"],
        cwd=tmp,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"runner failed: {done.stderr[-2000:]}")
    jobs = pd.read_csv(sweep / "summary.csv")
    return jobs["test_accuracy"].mean(), jobs["best_epoch"].mean()


def sklearn_accuracy(frame, seeds):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    from runner.tables.splits import split_rows

    X = frame.drop(columns="target").to_numpy(dtype=float)
    labels, y = np.unique(frame["target"].to_numpy(), return_inverse=True)
    # the runner's test rows: its split with test_fraction 0.2 (fixed seed), stratified
    _, _, test = split_rows(len(y), y, 0.2, 0.2, None, 0, True, np.random.default_rng(0), "")
    fit = np.setdiff1d(np.arange(len(y)), test)
    scaler = StandardScaler().fit(X[fit])
    scores = []
    for seed in range(seeds):
        model = MLPClassifier(
            hidden_layer_sizes=(100,),
            early_stopping=True,
            max_iter=2000,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(scaler.transform(X[fit]), y[fit])
        scores.append(model.score(scaler.transform(X[test]), y[test]))
    return float(np.mean(scores)), len(test)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--datasets", nargs="+", default=["digits", "wine", "breast_cancer", "iris"]
    )
    args = parser.parse_args()
    print(
        f"{'dataset':<15}{'rows':>6}{'test':>6}{'runner':>9}{'sklearn':>9}{'diff':>8}{'best_epoch':>12}"
    )
    for name in args.datasets:
        frame = dataset(name)
        with tempfile.TemporaryDirectory() as tmp:
            ours, best_epoch = runner_accuracy(frame, args.seeds, Path(tmp))
        theirs, n_test = sklearn_accuracy(frame, args.seeds)
        print(
            f"{name:<15}{len(frame):>6}{n_test:>6}{ours:>9.4f}{theirs:>9.4f}"
            f"{ours - theirs:>+8.4f}{best_epoch:>12.0f}"
        )


if __name__ == "__main__":
    main()
