"""compare as a user reads it: sections that never mix datasets or tasks, one run per
experiment, intervals and ties that follow the statistics, and the query, diff and format
options, each error one line."""

import json

import numpy as np
import pandas as pd
import pytest

from runner.analysis.compare import main
from runner.analysis.grouping import default_by, one_per_experiment, sections
from runner.analysis.ranking import compare
from runner.analysis.runs import CompareError


def _ledger(tmp_path, effect=0.03, seeds=20, spread=0.01, extra=()):
    """Two Adam learning rates on the spiral, the first better by ``effect``, on the same seeds;
    a seed moves both alike (the spread a paired test removes)."""
    rng = np.random.default_rng(7)
    rows = []
    shared = rng.normal(0, 0.03, seeds)
    for lr, centre in ((0.05, 0.80), (0.01, 0.80 - effect)):
        for seed in range(seeds):
            rows.append(
                {
                    "run_id": f"r-{lr}-{seed}",
                    "run_key": f"{int(lr * 100):02d}{seed:014d}",
                    "status": "ok",
                    "started_at": f"2026-12-0{1 + seed % 3}T10:00:{seed:02d}",
                    "run_dir": f"/runs/{lr}/{seed}",
                    "model": "dense2",
                    "data": "spiral",
                    "loss": "categorical_crossentropy",
                    "objective": "val_accuracy",  # what ranks them, as in predict best
                    "seed": seed,
                    "optimizer.learning_rate": lr,
                    "val_accuracy": centre + shared[seed] + rng.normal(0, spread),
                    "val_loss": 0.5,
                }
            )
    rows += list(extra)
    path = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _table(path, **options):
    runs = pd.read_csv(path)
    return compare(runs, ["optimizer.learning_rate"], "val_accuracy", **options)[0]


def test_a_known_gap_is_separated_at_twenty_seeds_and_tied_at_three(tmp_path):
    table = _table(_ledger(tmp_path, seeds=20))
    assert list(table["optimizer.learning_rate"]) == [0.05, 0.01]
    assert list(table["vs_best"]) == ["best", ""]
    few = _table(_ledger(tmp_path, seeds=3))
    assert list(few["vs_best"]) == ["tied best", "tied best"]  # "best" only where separated
    assert few["p_value"].iloc[1] >= 0.05


def test_intervals_and_the_level(tmp_path):
    table = _table(_ledger(tmp_path, seeds=5))
    values = pd.read_csv(tmp_path / "runs.csv").query("`optimizer.learning_rate` == 0.05")
    mean, sd = values.val_accuracy.mean(), values.val_accuracy.std()
    half = 2.7764451051977987 * sd / np.sqrt(5)  # t(0.975, 4)
    assert table["val_accuracy_low"].iloc[0] == pytest.approx(mean - half)
    narrower = _table(tmp_path / "runs.csv", level=0.8)
    assert narrower["val_accuracy_high"].iloc[0] < table["val_accuracy_high"].iloc[0]
    boot = _table(tmp_path / "runs.csv", method="bootstrap")
    assert boot["val_accuracy_low"].iloc[0] < mean < boot["val_accuracy_high"].iloc[0]


def test_sections_keep_regression_and_other_datasets_apart(tmp_path):
    sine = {
        "run_id": "sine",
        "run_key": "s" * 16,
        "status": "ok",
        "model": "dense3",
        "data": "sine",
        "loss": "mse",
        "objective": "val_loss",
        "seed": 0,
        "val_accuracy": 0.99,  # regression accuracy: not comparable with the spiral's
        "val_loss": 0.001,
    }
    path = _ledger(tmp_path, seeds=3, extra=[sine])
    found = sections(pd.read_csv(path))
    assert [title for title, _ in found] == [
        "data=spiral · classification · objective=val_accuracy",
        "data=sine · regression · objective=val_loss",
    ]


def test_groups_are_every_key_that_differs_and_repeats_count_once(tmp_path):
    path = _ledger(tmp_path, seeds=3)
    runs = pd.read_csv(path)
    assert default_by(runs) == ["optimizer.learning_rate"]
    twice = pd.concat([runs, runs.assign(run_id=runs.run_id + "-again")], ignore_index=True)
    kept, repeats = one_per_experiment(twice)
    assert len(kept) == 6 and repeats == 6


def test_cli_prints_intervals_ties_and_repeats(tmp_path, capsys):
    path = _ledger(tmp_path, seeds=3)
    again = pd.read_csv(path, dtype={"run_key": str})  # keys of digits: keep them text
    again["run_id"] += "-again"
    again.to_csv(tmp_path / "again.csv", index=False)
    assert main([str(path), str(tmp_path / "again.csv"), "--seeds-needed"]) == 0
    out = capsys.readouterr().out
    assert "6 runs (6 repeats of the same experiments not counted" in out
    assert "±" in out and "tied best (p=" in out and "seeds needed: about" in out
    assert main([str(path), str(tmp_path / "again.csv"), "--all-repeats"]) == 0
    assert "12 runs" in capsys.readouterr().out


def test_at_best_reads_the_best_epoch_from_metrics(tmp_path):
    rows = []
    for i, final in enumerate((0.70, 0.72)):
        run_dir = tmp_path / f"run{i}"
        run_dir.mkdir()
        pd.DataFrame(
            {"epoch": [0, 1, 2], "val_loss": [1.0, 0.4, 0.6], "val_accuracy": [0.3, 0.9, final]}
        ).to_csv(run_dir / "metrics.csv", index=False)
        rows.append(
            {
                "run_id": f"r{i}",
                "status": "ok",
                "model": "dense2",
                "seed": i,
                "run_dir": str(run_dir),
                "val_accuracy": final,
                "val_loss": 0.6,
            }
        )
    runs = pd.DataFrame(rows)
    last = compare(runs, ["model"], "val_accuracy")[0]
    best = compare(runs, ["model"], "val_accuracy", at="best")[0]
    assert last["val_accuracy_mean"].iloc[0] == pytest.approx(0.71)
    assert best["val_accuracy_mean"].iloc[0] == pytest.approx(0.9)


def test_where_since_status_last_and_formats(tmp_path, capsys):
    path = str(_ledger(tmp_path, seeds=6))
    assert (
        main([path, "--where", "optimizer.learning_rate < 0.02 and seed >= 3", "--format", "csv"])
        == 0
    )
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert list(table["n"]) == [3]  # one learning rate left: one group
    assert main([path, "--since", "2026-12-03", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sum(row["n"] for row in rows) == 4  # seeds 2 and 5 of each rate started on the 3rd
    assert main([path, "--last", "2", "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out.splitlines()
    assert markdown[0].startswith("| section | metric |") and markdown[1].startswith("|---|")
    assert main([path, "--status", "failed"]) == 2
    assert "no runs are left" in capsys.readouterr().err


def test_diff_shows_only_what_differs(tmp_path, capsys):
    path = str(_ledger(tmp_path, seeds=3))
    assert main([path, "--diff", "r-0.05-1", "0100000000000002"]) == 0
    out = capsys.readouterr().out
    assert "2 config keys differ" in out and "optimizer.learning_rate" in out and "seed" in out
    assert "model " not in out.split("metric")[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--by", "optimizer.learnig_rate"], "did you mean optimizer.learning_rate?"),
        (["--metric", "val_acuracy"], "did you mean val_accuracy?"),
        (["--where", "optimizer.learning_rate <"], "--where 'optimizer.learning_rate <':"),
        (["--where", "widht > 3"], "no column widht"),
        (["--since", "yesterdayish"], "--since yesterdayish: not a date"),
        (["--status", "okay"], "--status okay: unknown status okay"),
        (["--diff", "nope", "r-0.05-1"], "--diff nope: no run with that folder"),
    ],
)
def test_mistakes_are_one_line(tmp_path, capsys, args, message):
    assert main([str(_ledger(tmp_path, seeds=3)), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_metric_cell_that_is_not_a_number_is_named(tmp_path):
    path = _ledger(tmp_path, seeds=3)
    runs = pd.read_csv(path, dtype={"val_accuracy": object})
    runs.loc[1, "val_accuracy"] = "n/a"
    with pytest.raises(CompareError, match=r"not a number in runs r-0.05-1 \('n/a'\)"):
        compare(runs, ["optimizer.learning_rate"], "val_accuracy")


def test_only_changed_hides_what_every_row_shares(tmp_path, capsys):
    path = str(_ledger(tmp_path, seeds=3))

    def header():
        return next(line for line in capsys.readouterr().out.splitlines() if "vs best" in line)

    assert main([path, "--by", "model,optimizer.learning_rate"]) == 0
    assert header().split()[:2] == ["model", "optimizer.learning_rate"]
    assert main([path, "--by", "model,optimizer.learning_rate", "--only-changed"]) == 0
    assert header().split() == ["optimizer.learning_rate", "n", "val_accuracy", "vs", "best"]


def _csv_runs(name, sha, target, classes, accuracies, objective="val_loss"):
    return [
        {
            "run_id": f"{name}-{seed}",
            "run_key": f"{sha[:4]}{seed:012d}",
            "status": "ok",
            "model": "dense2",
            "data": "csv",
            "data.path": f"/data/{name}",
            "run_dir": f"/runs/{name}/{seed}",
            "data.target": target,
            "data_sha256": sha * 16,
            "data.task": "classification",
            "loss": "categorical_crossentropy",
            "objective": objective,
            "seed": seed,
            "model.width": 16,
            "val_accuracy": accuracy,
            "val_loss": 1 - accuracy,
        }
        for seed, accuracy in enumerate(accuracies)
    ]


def test_two_files_never_share_a_section_and_a_renamed_copy_keeps_its_own(tmp_path, capsys):
    rows = _csv_runs("iris.csv", "1a2b", "species", 3, [0.97, 0.96, 0.97])
    rows += _csv_runs("glass.csv", "9f8e", "type", 7, [0.70, 0.71, 0.69])
    rows += _csv_runs("iris_copy.csv", "1a2b", "species", 3, [0.95, 0.95])
    path = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    found = sections(pd.read_csv(path, dtype={"data_sha256": str}))
    titles = [title for title, _ in found]
    assert titles == [
        "data=csv iris.csv, iris_copy.csv (target species, sha256 1a2b1a2b) · classification · objective=val_loss",
        "data=csv glass.csv (target type, sha256 9f8e9f8e) · classification · objective=val_loss",
    ]
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("== data=csv") == 2 and "p=" not in out.split("== data=csv glass")[1]


def test_a_lone_run_is_listed_not_ranked_and_best_needs_the_statistics(tmp_path, capsys):
    rows = _csv_runs("iris.csv", "1a2b", "species", 3, [0.90, 0.91, 0.90, 0.91, 0.90])
    rows += [
        dict(
            r,
            run_id="lone",
            run_key="lone" * 4,
            **{"model.width": 64, "val_accuracy": 0.99, "val_loss": 0.01},
        )
        for r in rows[:1]
    ]
    rows += [
        dict(
            r,
            run_id=f"w4-{i}",
            run_key=f"w4{i:014d}",
            **{"model.width": 4, "val_accuracy": 0.5 + i / 100, "val_loss": 0.5 - i / 100},
        )
        for i, r in enumerate(rows[:5])
    ]
    path = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    table = compare(pd.read_csv(path), ["model.width"], "val_loss")[0]
    # width 64's single run has the lowest loss, but one run is listed after the ranked groups
    assert list(table["model.width"]) == [16, 4, 64]
    assert list(table["vs_best"]) == ["best", "", "n=1"]
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "ranked by val_loss (the runs' objective) at the last epoch (lower is better)" in out


def test_predict_best_and_compare_name_the_same_run(tmp_path):
    from runner.predict import best_run

    rows = _csv_runs("iris.csv", "1a2b", "species", 3, [0.90, 0.95, 0.80])
    rows[0]["val_loss"] = 0.01  # the lowest val_loss (the objective) is not the top accuracy
    runs = pd.DataFrame(rows)
    assert best_run(runs, ["sweep"])["run_id"] == "iris.csv-0"
    assert grouping_default_metric(runs) == "val_loss"


def grouping_default_metric(runs):
    from runner.analysis.grouping import default_metric

    return default_metric(runs)


def test_diff_shows_each_value_as_the_config_holds_it(tmp_path):
    rows = _csv_runs("iris.csv", "1a2b", "species", 3, [0.9, 0.8])
    rows[1].update(
        {
            "optimizer.epsilon": 1e-07,
            "optimizer.decay": 0.0005,
            "trainer.epochs": 10000,
            "model.width": 64,
        }
    )
    rows[0].update({"optimizer.epsilon": 1e-08, "optimizer.decay": 0.0, "trainer.epochs": 2000})
    path = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    from runner.analysis.ranking import diff
    from runner.analysis.runs import load_runs

    text = diff(load_runs([str(path)]), "iris.csv-0", "iris.csv-1")
    table = {
        line.split()[0]: line.split()[1:]
        for line in text.splitlines()
        if line.strip().startswith(("optimizer.", "trainer.", "model."))
    }
    assert table["optimizer.epsilon"] == ["1e-08", "1e-07"]
    assert table["optimizer.decay"] == ["0", "0.0005"]
    assert table["trainer.epochs"] == ["2000", "10000"]
    assert table["model.width"] == ["16", "64"]


def test_pivot_says_what_each_cell_averages_over(tmp_path, capsys):
    rows = []
    for width in (4, 16):
        for lr in (0.01, 0.05):
            for l2 in (0.0, 0.001):
                rows += [
                    dict(
                        r,
                        run_id=f"{width}-{lr}-{l2}-{r['seed']}",
                        run_key=f"{width:02d}{int(lr * 100):02d}{int(l2 * 1000)}{r['seed']:011d}",
                        **{"model.width": width, "optimizer.learning_rate": lr, "search.l2": l2},
                    )
                    for r in _csv_runs("iris.csv", "1a2b", "species", 3, [0.9, 0.8])
                ]
    path = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert main([str(path), "--pivot", "model.width", "optimizer.learning_rate"]) == 0
    out = capsys.readouterr().out
    assert (
        "val_loss, model.width x optimizer.learning_rate: each cell is the mean over seeds, search.l2"
        in out
    )


def test_the_not_ok_table_fits_the_width_with_the_message_last():
    from runner.analysis.rendering import format_not_ok

    not_ok = pd.DataFrame(
        {
            "run_id": ["r1", "r2"],
            "status": ["failed", "diverged"],
            "overrides": ["model.width=0 " + "x" * 80, "optimizer.learning_rate=50"],
            "message": ["model.width=0: must be a positive integer " * 6, "loss became NaN"],
        }
    )
    lines = format_not_ok(not_ok, width=100).splitlines()
    assert len(lines) == 3 and all(len(line) <= 100 for line in lines)
    assert lines[0].split()[-1] == "message" and lines[1].endswith("…")
    assert lines[2].endswith("loss became NaN")


def test_a_regression_section_ranks_and_shows_rmse_not_accuracy(tmp_path, capsys):
    rows = [
        {
            "run_id": f"sine-{width}-{seed}",
            "run_key": f"{width:04d}{seed:012d}",
            "status": "ok",
            "data": "sine",
            "data.task": "regression",
            "loss": "mse",
            "objective": "val_rmse",
            "seed": seed,
            "model.width": width,
            "val_accuracy": None,
            "val_rmse": 0.1 * width + 0.01 * seed,
            "val_r2": 1 - 0.01 * width,
            "val_loss": (0.1 * width) ** 2,
        }
        for width in (1, 2)
        for seed in range(3)
    ]
    path = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "== data=sine · regression · objective=val_rmse ==" in out
    assert "ranked by val_rmse (the runs' objective) at the last epoch (lower is better)" in out
    header = next(line for line in out.splitlines() if "vs best" in line).split()
    assert "val_r2" in header and not any("accuracy" in column for column in header)
