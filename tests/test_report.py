"""The sweep report: one self-contained HTML file, the explorer's views rendered for real in
headless Chromium with the network blocked: parallel coordinates brushed with the mouse, the
table following, curves on demand, a search's results, escaping, one section per dataset."""

import os
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli
from report_browser import browser_page as _browser_page

VIEWS = ("Parallel coordinates", "Slices", "Curves", "Table")
EVIL = "<script>document.title='x'</script>"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("sweep")
    result = run_cli(
        cwd,
        "-m",
        "model.width=8,32",
        "optimizer.learning_rate=0.01,0.05",
        "seed=0,1",
        "trainer.epochs=300",
        "trainer.log_every=20",
    )
    assert result.returncode == 0, result.stderr
    return cwd


def _report(cwd, *args):
    result = run_cli(cwd, *args, "--out", "report.html", module="runner.report")
    assert result.returncode == 0, result.stderr
    return cwd / "report.html"


def _table_rows(page, section=0):
    return page.evaluate(
        """(section) => [...document.querySelectorAll(`#explorer-${section} [data-view=table] tbody tr`)]
            .map(tr => [...tr.cells].map(td => td.textContent))""",
        section,
    )


def _drawn_canvases(page):
    """How many of the views' canvases hold pixels that are not blank."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.explorer canvas')].filter(c => {
              const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
              return false;
            }).length"""
    )


def test_report_is_one_self_contained_file(sweep):
    page = _report(sweep, "outputs/sweeps", "--pivot", "model.width", "seed").read_text()
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert page.count("<img") >= 3 and page.count("data:image/png;base64,") == page.count("<img")
    assert "id='explorer-data'" in page and "echarts" in page
    for heading in ("Comparison", *VIEWS, "Best 3 runs"):
        assert f"<h3>{heading}" in page
    assert "<h2>data=spiral · classification" in page  # a section, as in compare
    assert " ± " in page and "vs best" in page  # intervals and ties
    assert ">best<" in page or ">tied best" in page
    # sweep jobs drew no pictures; the report drew the best runs' boundaries from their files,
    # and no curves.png: the curves are interactive
    assert not list(sweep.glob("outputs/sweeps/**/*.png"))
    assert page.count("alt='boundary.png'") == 3 and "alt='curves.png'" not in page
    # each best run's config is shown as what differs from the config all runs share
    assert "differs from the section" in page and "Config shared by every run" in page


def test_views_render_offline_and_a_brush_filters_the_table(sweep):
    path = _report(sweep, "outputs/sweeps")
    with _browser_page(path) as (page, problems):
        headings = page.evaluate("[...document.querySelectorAll('h3')].map(h => h.textContent)")
        assert all(view in headings for view in VIEWS), headings
        # parallel coordinates, curves, and a slice per swept key, each drawn
        keys = page.evaluate("window.explorers[0].s.keys.map(k => k.name)")
        assert keys == ["model.width", "optimizer.learning_rate"]
        assert _drawn_canvases(page) == 2 + len(keys)
        assert len(_table_rows(page)) == 8

        # drag along the model.width axis over the upper values only, as a user would
        box = page.evaluate(
            """() => {
              const e = window.explorers[0];
              const chart = echarts.getInstanceByDom(e.part('parcoords'));
              const parallel = chart.getModel().getComponent('parallel', 0).coordinateSystem;
              const dim = 'dim' + e.axesShown.findIndex(a => a.name === 'model.width');
              const low = parallel.dataToPoint(20, dim), high = parallel.dataToPoint(33, dim);
              const rect = e.part('parcoords').getBoundingClientRect();
              return [rect.left + low[0], rect.top + low[1], rect.top + high[1]];
            }"""
        )
        x, y_from, y_to = box
        page.mouse.move(x, y_from)
        page.mouse.down()
        page.mouse.move(x, y_to, steps=8)
        page.mouse.up()
        page.wait_for_function("window.explorers[0].brushed !== null")
        rows = _table_rows(page)
        header = page.evaluate(
            "[...document.querySelectorAll('#explorer-0 [data-view=table] th')].map(t => t.textContent)"
        )
        width = next(i for i, name in enumerate(header) if name.startswith("model.width"))
        assert len(rows) == 4 and {row[width] for row in rows} == {"32"}
        assert "4 of 8 runs in the brush" in page.inner_text("#explorer-0 [data-view=controls]")

        # a second axis narrows it further: several axes at once
        page.evaluate("window.explorers[0].brush('optimizer.learning_rate', [[0.04, 0.06]])")
        page.wait_for_function("window.explorers[0].tableRows.length === 2")

        # one line per group: the table lists the groups in the brush with their means
        page.select_option("#explorer-0 [data-view=controls] select >> nth=1", "groups")
        page.wait_for_timeout(100)
        assert len(_table_rows(page)) == 4  # the brush is cleared by a new set of lines

        # clicking a row adds its runs' curves
        before = page.evaluate("window.explorers[0].selected.length")
        page.locator("#explorer-0 [data-view=table] tbody tr").last.click()
        after = page.evaluate("window.explorers[0].selected.length")
        assert after == before + 2  # the group's two seeds
        assert page.title().startswith("Runs: ")
    assert problems == []


def test_strings_from_runs_are_shown_as_text_never_run(tmp_path):
    """A CSV whose target column and classes are markup: the override, the table and the
    headings show it as text, and the page's title is untouched in Chromium."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    labels = np.where(X[:, 0] > 0, EVIL, "<b>plain</b>")
    pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], EVIL: labels}).to_csv(
        tmp_path / "evil.csv", index=False
    )
    result = run_cli(
        tmp_path,
        "-m",
        "seed=0,1",
        "data=csv",
        "data.path=evil.csv",
        f'data.target="{EVIL}"',
        "trainer.epochs=40",
        "trainer.log_every=10",
    )
    assert result.returncode == 0, result.stderr
    path = _report(tmp_path, "outputs/sweeps")
    assert EVIL not in path.read_text()  # escaped in the markup and in the embedded data
    with _browser_page(path) as (page, problems):
        assert page.title().startswith("Runs: ")
        assert page.evaluate("document.title") != "x"
        assert EVIL in page.inner_text("body")  # shown, as text
        assert page.locator("script").count() == 3  # echarts, the data, the views: nothing else
    assert problems == []


def test_one_section_per_dataset_each_with_its_views(tmp_path):
    for data in ("spiral", "moons"):
        result = run_cli(
            tmp_path, "-m", f"data={data}", "seed=0,1", "trainer.epochs=60", "trainer.log_every=20"
        )
        assert result.returncode == 0, result.stderr
    path = _report(tmp_path)
    page = path.read_text()
    assert "<h2>data=spiral" in page and "<h2>data=moons" in page
    assert page.count("<h3>Parallel coordinates</h3>") == 2
    with _browser_page(path) as (browser_page, problems):
        assert browser_page.evaluate("window.explorers.length") == 2
        assert len(_table_rows(browser_page, 1)) == 2
    assert problems == []


def _small_search(cwd, *overrides):
    """The spiral_optuna preset on a small spiral, sampled every 20 epochs."""
    pytest.importorskip("optuna")
    result = run_cli(
        cwd,
        "hparams_search=spiral_optuna",
        "data.samples=30",
        "data.val_samples=30",
        "trainer.log_every=20",
        *overrides,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_search_shows_its_history_and_importances(tmp_path):
    _small_search(tmp_path, "trainer.epochs=60", "hydra.sweeper.n_trials=6")
    path = _report(tmp_path, "outputs/sweeps")
    assert "<h3>Search results</h3>" in path.read_text()
    with _browser_page(path) as (page, problems):
        titles = page.evaluate(
            """() => [...document.querySelectorAll('[data-view=search] .plot')]
                .map(d => echarts.getInstanceByDom(d)).filter(Boolean)
                .map(c => c.getOption().title[0].text)"""
        )
        assert titles == ["Optimization history", "Parameter importances"]
        # every searched parameter is an axis, also those the groups did not need
        axes = page.evaluate("window.explorers[0].axesShown.map(a => a.name)")
        assert {"optimizer.learning_rate", "model.width", "search.l2"} <= set(axes)
    assert problems == []


def test_a_search_on_two_objectives_shows_its_pareto_front(tmp_path):
    _small_search(
        tmp_path,
        "trainer.epochs=40",
        "hydra.sweeper.n_trials=5",
        "objective=[val_accuracy,n_parameters]",
    )
    with _browser_page(_report(tmp_path, "outputs/sweeps")) as (page, problems):
        series = page.evaluate(
            """() => echarts.getInstanceByDom(document.querySelector('[data-view=search] .plot'))
                .getOption().series.map(s => [s.name, s.data.length])"""
        )
    assert problems == []
    names = dict(series)
    assert set(names) == {"trial", "Pareto front"} and names["Pareto front"] >= 1
    assert names["trial"] + names["Pareto front"] == 5


def test_open_hands_the_page_to_the_users_browser(sweep, tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser"  # stands in for the user's browser: notes what it was given
    browser.write_text(
        f"#!{sys.executable}\nimport sys\nopen(r'{opened}', 'w').write(sys.argv[1])\n"
    )
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser)}
    result = run_cli(
        sweep, "outputs/sweeps", "--out", "r.html", "--open", module="runner.report", env=env
    )
    assert result.returncode == 0, result.stderr
    assert opened.read_text() == (sweep / "r.html").resolve().as_uri()

    env["BROWSER"] = str(tmp_path / "no-such-browser")
    result = run_cli(
        sweep, "outputs/sweeps", "--out", "r.html", "--open", module="runner.report", env=env
    )
    assert result.returncode == 0 and "no web browser found here; open file://" in result.stderr


def test_report_of_nothing_is_a_clear_error(tmp_path):
    result = run_cli(tmp_path, "--out", "r.html", module="runner.report")
    assert result.returncode == 2 and "no ledger at outputs/runs.csv" in result.stderr
    assert not (tmp_path / "r.html").exists()
