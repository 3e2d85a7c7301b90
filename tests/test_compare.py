from pathlib import Path

import pandas as pd
import pytest

from runner.analysis.compare import main
from runner.analysis.ranking import compare, default_by
from runner.analysis.runs import CompareError, load_runs


def _runs(tmp_path):
    rows = []
    for lr, accs in {"0.1": [0.8, 0.9], "0.01": [0.6, 0.7], "1.0": [0.3, None]}.items():
        for seed, acc in enumerate(accs):
            rows.append(
                {
                    "run_id": f"{lr}-{seed}",
                    "status": "ok" if acc is not None else "diverged",
                    "overrides": f"optimizer.learning_rate={lr} seed={seed}",
                    "model": "dense2",
                    "seed": seed,
                    "optimizer.learning_rate": float(lr),
                    "val_accuracy": acc,
                    "val_loss": None if acc is None else 1 - acc,
                    "seconds": 1.0,
                }
            )
    path = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_groups_average_over_seeds_and_sort_best_first(tmp_path):
    runs = load_runs([_runs(tmp_path)])
    table, not_ok = compare(runs, ["optimizer.learning_rate"], "val_accuracy")
    assert list(table["optimizer.learning_rate"]) == [0.1, 0.01, 1.0]
    assert table["val_accuracy_mean"].iloc[0] == pytest.approx(0.85)
    assert table["val_accuracy_std"].iloc[0] == pytest.approx(pd.Series([0.8, 0.9]).std())
    assert list(table["n"]) == [2, 2, 1]
    assert list(table["not_ok"]) == [0, 0, 1]
    assert list(not_ok["run_id"]) == ["1.0-1"]  # listed, not averaged


def test_losses_rank_lowest_first(tmp_path):
    table, _ = compare(load_runs([_runs(tmp_path)]), ["optimizer.learning_rate"], "val_loss")
    assert list(table["optimizer.learning_rate"]) == [0.1, 0.01, 1.0]
    assert table["val_loss_mean"].is_monotonic_increasing


def test_default_groups_are_the_swept_keys_without_seed(tmp_path):
    assert default_by(load_runs([_runs(tmp_path)])) == ["optimizer.learning_rate"]


def test_same_run_from_two_sources_counts_once(tmp_path):
    path = _runs(tmp_path)
    assert len(load_runs([path, path])) == 6


def test_cli_prints_table_and_writes_csv(tmp_path, capsys):
    out = tmp_path / "table.csv"
    assert main([str(_runs(tmp_path)), "--metric", "val_accuracy", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ranked by val_accuracy at the last epoch (higher is better)" in printed
    assert "not averaged: 1 run did not finish ok" in printed
    assert pd.read_csv(out)["optimizer.learning_rate"].tolist() == [0.1, 0.01, 1.0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.csv"], "no such file or folder: missing.csv"),
        (["RUNS", "--by", "modle"], "no column 'modle'"),
        (["RUNS", "--metric", "val_f1"], "no column 'val_f1'"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, args, message):
    runs = str(_runs(tmp_path))
    code = main([runs if a == "RUNS" else a for a in args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_csv_without_status_column_is_rejected(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(CompareError, match="no 'status' column"):
        load_runs([path])


def test_plot_and_pivot_from_real_runs(tmp_path):
    from conftest import run_cli
    from matplotlib.image import imread

    assert (
        run_cli(
            tmp_path,
            "-m",
            "model.width=8,16",
            "seed=0,1",
            "trainer.epochs=50",
            "trainer.log_every=10",
            "trainer.plots=false",
        ).returncode
        == 0
    )
    curves = run_cli(tmp_path, "--plot", "curves.png", module="runner.compare")
    assert curves.returncode == 0, curves.stderr
    assert imread(tmp_path / "curves.png").shape[:2] == (400, 1000)
    grid = run_cli(
        tmp_path, "--pivot", "model.width", "seed", "--plot", "grid.png", module="runner.compare"
    )
    assert grid.returncode == 0, grid.stderr
    assert "model.width x seed" in grid.stdout
    assert imread(tmp_path / "grid.png").shape[:2] == (600, 600)


def test_folds_are_averaged_like_seeds_and_test_figures_are_shown_not_ranked(tmp_path):
    rows = []
    for model, base in (("dense2", 0.8), ("dense3", 0.7)):
        for fold in range(3):
            accuracy = base + 0.01 * fold
            rows.append(
                {
                    "run_id": f"{model}-{fold}",
                    "status": "ok",
                    "model": model,
                    "seed": 0,
                    "data.fold": fold,
                    "val_accuracy": accuracy,
                    "val_loss": 1 - accuracy,
                    "test_accuracy": 1.5 - accuracy,  # reversed: must not decide the order
                }
            )
    path = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    runs = load_runs([path])
    assert default_by(runs) == ["model"]  # data.fold is a replicate, as the seed is
    table, _ = compare(runs, ["model"], "val_accuracy")
    assert list(table["model"]) == ["dense2", "dense3"] and list(table["n"]) == [3, 3]
    assert table["test_accuracy_mean"].tolist() == pytest.approx([0.69, 0.79])


@pytest.mark.faults
def test_at_best_names_the_runs_whose_metrics_cannot_be_read(tmp_path, capsys):
    from handwritten_runs import write_runs

    ledger = write_runs(tmp_path, learning_rates=(0.01, 0.05), seeds=(0, 1))
    runs = pd.read_csv(ledger)
    broken = runs["run_dir"].iloc[0]
    (Path(broken) / "metrics.csv").write_bytes(b"\xff\xfe\x00garbled")
    gone = runs["run_dir"].iloc[3]
    (Path(gone) / "metrics.csv").unlink()
    assert main([str(ledger), "--at", "best", "--metric", "val_accuracy"]) == 0
    captured = capsys.readouterr()
    assert (
        "--at best: 2 runs ranked at their last epoch instead: run0 (metrics.csv cannot be read"
        in captured.err
    )
    assert "run3 (no metrics.csv)" in captured.err
    table, _ = compare(load_runs([ledger]), ["optimizer.learning_rate"], "val_accuracy", at="best")
    assert list(table["n"]) == [2, 2]  # none left out


@pytest.mark.faults
def test_a_table_that_cannot_be_written_is_one_line_naming_the_file(tmp_path, capsys):
    out = tmp_path / "no-such-folder" / "table.csv"
    assert main([str(_runs(tmp_path)), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"compare: {out}: No such file or directory; the table was not written"]
