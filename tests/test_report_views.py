"""What the report's views show, read back from Chromium on ledgers written by hand: log axes
for a key swept on a log scale, tick labels that never overlap, a folder column that wraps,
and a regression section's own scores (RMSE, MAE, R²), each the right way up."""

import pandas as pd
import pytest
from conftest import run_cli
from handwritten_runs import write_runs
from report_browser import browser_page, drawn_labels, overlapping
from test_records import tiny_disk  # noqa: F401, F811 - the 200 KiB tmpfs fixture

from runner.analysis import curve_data

LOG_RATES = (0.0005, 0.005, 0.05)


def _report(cwd, *args):
    result = run_cli(cwd, *args, "--out", "report.html", module="runner.report")
    assert result.returncode == 0, result.stderr
    return cwd / "report.html"


def _axis_types(page):
    """{axis name: type} of the parallel coordinates and of each slice's x axis."""
    return page.evaluate(
        """() => {
          const chart = (div) => echarts.getInstanceByDom(div).getOption();
          const found = {};
          chart(document.querySelector('[data-view=parcoords]')).parallelAxis
            .forEach((a) => { found['parcoords ' + a.name] = a.type; });
          document.querySelectorAll('.slice').forEach((div) => {
            const x = chart(div).xAxis[0];
            found['slice ' + x.name] = x.type;
          });
          return found;
        }"""
    )


def test_a_learning_rate_swept_on_a_log_scale_is_drawn_on_log_axes(tmp_path):
    write_runs(tmp_path, learning_rates=LOG_RATES, widths=(8, 32))
    with browser_page(_report(tmp_path)) as (page, problems):
        types = _axis_types(page)
        assert types["parcoords optimizer.learning_rate (log)"] == "log"
        assert types["slice optimizer.learning_rate"] == "log"
        assert types["parcoords model.width"] == types["slice model.width"] == "value"
        # the log axis is ticked at the rates swept, not at the powers of ten between them
        labels = drawn_labels(page, "[data-view=parcoords]")[0]
        shown = {label["text"] for label in labels}
        assert {"0.0005", "0.005", "0.05"} <= shown and "0.001" not in shown
    assert problems == []


def test_tick_labels_never_overlap(tmp_path):
    """Rates 0.0009 and 0.001 side by side on a log axis, twelve long model names on a slice,
    curves on a log loss axis: every chart's labels stay apart (one of a crowded pair hidden)."""
    models = [f"a_model_with_a_long_name_{i}" for i in range(12)]
    write_runs(tmp_path, learning_rates=(0.0009, 0.001, 0.01, 0.1), seeds=(0,), models=models)
    with browser_page(_report(tmp_path)) as (page, problems):
        charts = drawn_labels(page, ".explorer [_echarts_instance_]")
        assert len(charts) >= 4 and sum(len(labels) for labels in charts) > 60
        assert [overlapping(labels) for labels in charts] == [[] for _ in charts]
        slices = page.evaluate(
            "[...document.querySelectorAll('.slice')].map(d => echarts.getInstanceByDom(d)"
            ".getOption().xAxis[0].axisLabel.rotate)"
        )
        assert 30 in slices  # the model names, tilted to fit
    assert problems == []


def test_the_folder_column_wraps_instead_of_scrolling(tmp_path):
    ledger = write_runs(tmp_path, learning_rates=LOG_RATES)
    folders = pd.read_csv(ledger)["run_dir"].tolist()
    with browser_page(_report(tmp_path)) as (page, problems):
        shown = page.evaluate(
            """() => {
              const view = document.querySelector('[data-view=table]');
              const header = [...view.querySelectorAll('th')].map(th => th.textContent);
              const cells = [...view.querySelectorAll('tbody tr')]
                .map(tr => tr.cells[header.indexOf('folder')]);
              const range = document.createRange();
              range.selectNodeContents(cells[0]);
              return {
                whiteSpace: getComputedStyle(cells[0]).whiteSpace,
                lines: new Set([...range.getClientRects()].map(r => Math.round(r.top))).size,
                texts: cells.map(td => td.textContent),
                scrolls: view.scrollWidth > view.clientWidth,
              };
            }"""
        )
        assert shown["whiteSpace"] == "normal" and shown["lines"] >= 2  # wrapped on the page
        assert not shown["scrolls"]  # the table fits beside the folders
        assert sorted(shown["texts"]) == sorted(folders)  # copied whole, nothing added
    assert problems == []


def _regression_page(page):
    return page.evaluate(
        """() => {
          const e = window.explorers[0];
          const curves = echarts.getInstanceByDom(e.part('curves')).getOption();
          return {
            metrics: e.s.metrics.map(m => [m.name, m.higher]),
            axes: e.axesShown.map(a => a.name),
            scoreAxis: curves.yAxis[1].name,
            curves: [...new Set(curves.series.map(s => s.tooltip.formatter({value: [0, 0]}).split('\\n')[1].split(' ')[0]))],
            selected: e.selected.map(i => e.runs.metrics[e.metric][i]),
          };
        }"""
    )


def test_a_regression_section_shows_rmse_mae_and_r2_never_accuracy(tmp_path):
    write_runs(tmp_path, "regression", learning_rates=LOG_RATES, widths=(8, 32))
    path = _report(tmp_path, "--metric", "val_r2")
    html = path.read_text()
    assert "ranked by val_r2 (higher is better)" in html
    assert "val_accuracy" not in html and "train_accuracy" not in html
    assert "1. model=dense2 optimizer.learning_rate=0.05 model.width=32 seed=0" in html
    assert "<p>val_rmse 0.08" in html and "val_mae " in html and "val_r2 0.99" in html
    with browser_page(path) as (page, problems):
        shown = _regression_page(page)
    assert problems == []
    metrics = dict(shown["metrics"])
    assert metrics["val_r2"] is True and metrics["val_rmse"] is metrics["val_mae"] is False
    assert not [m for m in metrics if "accuracy" in m]
    assert {"val_rmse", "val_mae", "val_r2", "train_rmse"} <= set(shown["axes"])
    assert shown["scoreAxis"] == "rmse (lower is better)"
    assert set(shown["curves"]) == {"val_loss", "train_loss", "val_rmse", "train_rmse"}
    assert shown["selected"] == sorted(shown["selected"], reverse=True)  # best R² first


def test_a_regression_runs_curves_are_its_rmse(tmp_path):
    write_runs(tmp_path, "regression")
    (run_dir,) = {p.parent for p in tmp_path.glob("outputs/sweeps/*/0/metrics.csv")}
    curves = curve_data.read(run_dir)
    assert set(curves) == {"epoch", "train_loss", "val_loss", "train_rmse", "val_rmse"}
    rmse = pd.read_csv(run_dir / "metrics.csv")["val_rmse"]
    assert curve_data.unpack(curves["val_rmse"]) == pytest.approx(rmse, abs=1e-4)


def _page_data(page):
    import html
    import json
    import re

    found = re.search(r"<script type='application/json' id='explorer-data'>(.*?)</script>", page)
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.faults
def test_the_rerun_command_passes_each_override_as_one_word(tmp_path):
    import shlex
    import subprocess

    ledger = write_runs(tmp_path, learning_rates=(0.01, 0.05))
    runs = pd.read_csv(ledger)
    typed = ["+note=a b  c", "+other='x y'", "data.path=/tmp/my data.csv", "~trainer.plots"]
    runs["overrides"] = [" ".join([*typed, f"seed={i}"]) for i in range(len(runs))]
    runs.to_csv(ledger, index=False)
    page = _report(tmp_path).read_text()
    commands = _page_data(page)["sections"][0]["runs"]["command"]
    for i, command in enumerate(commands):
        assert command.startswith("python -m runner ")
        words = command.removeprefix("python -m runner ")
        pasted = subprocess.run(  # as a user pastes it into a shell
            ["bash", "-c", f"printf '%s\\n' {words}"], capture_output=True, text=True, check=True
        )
        assert pasted.stdout.splitlines() == [*typed, f"seed={i}"]
        assert shlex.split(words) == [*typed, f"seed={i}"]


@pytest.mark.faults
def test_a_garbled_number_in_the_ledger_is_left_out_of_the_best_runs_lines(tmp_path):
    ledger = write_runs(tmp_path, learning_rates=(0.01, 0.05))
    text = ledger.read_text().splitlines()
    header = text[0].split(",")
    row = text[1].split(",")
    row[header.index("train_loss")] = "0.3x8"  # garbled: compare reads it as no number
    ledger.write_text("\n".join([text[0], ",".join(row), *text[2:]]) + "\n")
    page = _report(tmp_path).read_text()
    assert "<h3>Best" in page and "0.3x8" not in page.split("<h3>Best", 1)[1].split("<pre>")[0]


@pytest.mark.faults
def test_a_report_that_cannot_be_written_is_one_line_naming_the_file(tmp_path, monkeypatch, capsys):
    import errno
    import os

    write_runs(tmp_path)
    out = tmp_path / "report.html"

    def fsync_on_a_full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync_on_a_full_disk)
    monkeypatch.chdir(tmp_path)
    from runner.analysis.report import main

    assert main(["--out", str(out)]) == 1
    monkeypatch.undo()
    (line,) = capsys.readouterr().err.strip().splitlines()  # one line, no traceback
    assert line.startswith(f"report: {out}: No space left on device (the disk is full")
    assert line.endswith("; nothing was written")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


@pytest.mark.faults
def test_a_report_on_a_full_disk_is_one_line_and_leaves_no_temporary(tmp_path, tiny_disk):  # noqa: F811
    write_runs(tmp_path)
    out = tiny_disk / "report.html"  # the page (its ECharts inlined) is bigger than the disk
    result = run_cli(tmp_path, "--out", str(out), module="runner.report")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"report: {out}: No space left on device")
    assert list(tiny_disk.iterdir()) == []
