"""The sweep report: one self-contained HTML file, rendered for real in headless Chromium."""

import shutil

import pytest
from conftest import run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("sweep")
    result = run_cli(
        cwd, "-m", "model.width=8,32", "seed=0,1", "trainer.epochs=300", "trainer.log_every=100"
    )
    assert result.returncode == 0, result.stderr
    return cwd


def test_report_is_self_contained(sweep):
    result = run_cli(
        sweep,
        "outputs/sweeps",
        "--out",
        "report.html",
        "--pivot",
        "model.width",
        "seed",
        module="runner.report",
    )
    assert result.returncode == 0, result.stderr
    page = (sweep / "report.html").read_text()
    assert page.count("<img") >= 3 and page.count("data:image/png;base64,") == page.count("<img")
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "model.width" in page and "Best 3 runs" in page
    assert "Comparison: data=spiral · classification" in page  # a section, as in compare
    assert " ± " in page and "vs best" in page and ">best<" in page  # intervals and ties
    # sweep jobs drew no pictures; the report drew the best runs' from their files
    assert not list(sweep.glob("outputs/sweeps/**/*.png"))
    assert page.count("alt='boundary.png'") == 3 and page.count("alt='curves.png'") == 3


def test_report_renders_in_headless_chromium(sweep):
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    assert (
        run_cli(sweep, "outputs/sweeps", "--out", "report.html", module="runner.report").returncode
        == 0
    )
    problems = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        page = browser.new_page()
        page.on(
            "console",
            lambda message: problems.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on(
            "request",
            lambda request: (
                None if request.url.startswith(("file:", "data:")) else problems.append(request.url)
            ),
        )
        page.goto((sweep / "report.html").as_uri())
        images = page.evaluate(
            "[...document.images].map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
        )
        rows = page.locator("table").first.locator("tbody tr").count()
        heading = page.locator("h2").first.inner_text()
        browser.close()
    assert problems == []
    assert rows == 2 and heading.startswith("Comparison: data=spiral")
    assert len(images) >= 3
    assert all(
        complete and width > 100 and height > 100 for _, complete, width, height in images
    ), images


def test_report_of_nothing_is_a_clear_error(tmp_path):
    result = run_cli(tmp_path, "--out", "r.html", module="runner.report")
    assert result.returncode == 2 and "no ledger at outputs/runs.csv" in result.stderr
    assert not (tmp_path / "r.html").exists()
