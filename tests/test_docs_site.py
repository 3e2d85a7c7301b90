"""The docs site (issue 31): `mkdocs build --strict` passes, the built site works from file://,
and the reference pages, generated from the code at build time, name every config key of
`python -m runner --cfg job` and every ledger column.

The build needs the docs extra (pip install -e ".[docs]"); the reference checks do not.
"""

import importlib.util
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HOOK = ROOT / "docs" / "_hooks" / "reference.py"


def _reference():
    spec = importlib.util.spec_from_file_location("docs_reference", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _flat_keys(node, prefix=""):
    """Dotted keys of a mapping; a list is one value."""
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flat_keys(value, f"{dotted}.")
        else:
            yield dotted


@pytest.fixture(scope="module")
def reference():
    return _reference()


def _cfg_job_keys(cwd):
    """The dotted keys ``python -m runner --cfg job`` shows, in its order."""
    shown = subprocess.run(
        [sys.executable, "-m", "runner", "--cfg", "job"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return list(_flat_keys(yaml.safe_load(shown)))


def test_the_config_reference_names_every_key_of_cfg_job(reference, tmp_path):
    keys = _cfg_job_keys(tmp_path)
    assert "trainer.early_stopping.patience" in keys and "optimizer.beta_2" in keys
    page = reference.page("config")
    missing = [key for key in keys if f"`{key}`" not in page]
    assert not missing, f"keys of python -m runner --cfg job not in the config reference: {missing}"
    assert not reference.PROBLEMS, reference.PROBLEMS


# Config keys no check constrains, so their "allowed" cell is rightly blank; each says why.
UNCHECKED = {
    "paths.outputs",  # any folder: runs create it where they write, and nothing checks it
    "paths.ledger",  # any file path (by default under paths.outputs); nothing checks it
}


def _allowed_cells(page):
    """{key: its "allowed" cell} of the config reference's four-column tables."""
    cells = {}
    for row in page.splitlines():
        parts = [cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]]
        if len(parts) == 4 and parts[0].startswith("`"):
            cells[parts[0].strip("`")] = parts[2]
    return cells


def test_every_checked_config_key_says_what_is_allowed(reference, tmp_path):
    """Every key of --cfg job and of each option of data, model, loss and optimizer has a
    non-empty "allowed" cell, but those of UNCHECKED, which stay blank."""
    keys = set(_cfg_job_keys(tmp_path))
    for group in ("data", "model", "loss", "optimizer"):
        for option in sorted((ROOT / "conf" / group).glob("*.yaml")):
            keys |= set(_flat_keys(yaml.safe_load(option.read_text()) or {}, f"{group}."))
    assert {"data.factor", "data.fold", "optimizer.rho", "optimizer.momentum"} <= keys
    cells = _allowed_cells(reference.page("config"))
    assert keys <= set(cells), f"keys not in the config reference: {sorted(keys - set(cells))}"
    blank = {key for key in keys if not cells[key]}
    assert not blank - UNCHECKED, f"keys without an allowed cell: {sorted(blank - UNCHECKED)}"
    assert not UNCHECKED - blank, (
        f"keys a check now constrains (drop them from UNCHECKED): {sorted(UNCHECKED - blank)}"
    )
    assert not reference.PROBLEMS, reference.PROBLEMS


@pytest.mark.parametrize(
    "overrides",
    [
        ["optimizer.learning_rate=-1"],
        ["optimizer=sgd", "optimizer.momentum=2"],
        ["data=circles", "data.factor=1.5"],
        ["model.width=0"],
    ],
)
def test_an_allowed_cell_says_what_a_run_says_of_a_bad_value(reference, overrides, tmp_path):
    """The cell holds the words a run prints when the value is refused (model.width: as the
    layer key it is interpolated into)."""
    run = subprocess.run(
        [sys.executable, "-m", "runner", *overrides, "trainer.epochs=0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2, run.stderr
    line = run.stderr.strip().splitlines()[-1]
    said = re.fullmatch(r"error: ([\w.]+)=[^:]*: (.+)", line)
    assert said, line
    key = overrides[-1].split("=")[0]
    cell = _allowed_cells(reference.page("config"))[key]
    assert said[2] in cell, (line, cell)
    assert said[1] == key or f"`{said[1]}`" in cell, (line, cell)


def test_the_columns_reference_names_every_ledger_and_metrics_column(reference):
    from runner.records import METRIC_COLUMNS, REGRESSION_METRIC_COLUMNS, RUN_COLUMNS, STATUSES

    page = reference.page("columns")
    from runner.sweeps.race.outcome import COLUMNS as RACE_COLUMNS
    from runner.sweeps.race.race import Round

    columns = RUN_COLUMNS + METRIC_COLUMNS + REGRESSION_METRIC_COLUMNS + list(STATUSES)
    columns += RACE_COLUMNS + list(Round.__annotations__)
    missing = [column for column in columns if f"`{column}`" not in page]
    assert not missing, f"columns not in the columns reference: {missing}"
    assert not reference.PROBLEMS, reference.PROBLEMS


@pytest.mark.parametrize(
    "choice",
    ["hydra/launcher=pool", "hydra/launcher=slurm", "hydra/sweeper=optuna", "hydra/sweeper=race"],
)
def test_the_hydra_reference_gives_every_launcher_and_sweeper_key_a_meaning(
    reference, choice, tmp_path
):
    group = choice.split("=")[0].split("/")[1]
    shown = subprocess.run(
        [sys.executable, "-m", "runner", choice, "--cfg", "hydra", "-p", f"hydra.{group}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    keys = [
        k
        for k in _flat_keys(yaml.safe_load(shown))
        if not k.startswith(("_", "sampler.", "pruner.")) and "._" not in k
    ]
    assert keys, shown
    page = reference.page("hydra")
    section = page.split(f"## `{choice}`")[1].split("\n## ")[0]
    rows = {
        row.split("|")[1].strip().strip("`"): row.split("|")[-2].strip()
        for row in section.splitlines()
        if row.startswith("| `")
    }
    missing = [key for key in keys if not rows.get(key)]
    assert not missing, f"{choice}: keys without a meaning in the hydra reference: {missing}"
    assert not reference.PROBLEMS, reference.PROBLEMS


def test_measured_timings_live_on_the_performance_page_only():
    """A timing quoted on a guide goes stale when the code gets faster; the Performance page
    (BENCHMARKS.md, rewritten by the bench scripts) and the lab notes hold them."""
    timing = re.compile(r"\b\d+(?:\.\d+)?(?:[–-]\d+(?:\.\d+)?)?\s?(?:ms|µs)\b|\b\d+\.\d+\s?s\b")
    keep = {"performance.md", "lab-notes.md"}
    quoted = [
        f"{page.relative_to(ROOT)}:{number}: {line.strip()}"
        for page in sorted((ROOT / "docs").rglob("*.md"))
        if page.name not in keep
        for number, line in enumerate(page.read_text().splitlines(), 1)
        if timing.search(line)
    ]
    assert not quoted, "timings outside the Performance page:\n" + "\n".join(quoted)


def test_the_commands_reference_names_every_flag(reference):
    page = reference.page("commands")
    for command, parser in reference.command_parsers():
        for action in parser._actions:
            for flag in action.option_strings:
                assert f"`{flag}" in page, f"{command} {flag} is not in the commands reference"
    for code in (0, 1, 2, 3, 130, 143):
        assert f"| {code} |" in reference.page("exit-codes")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name) and not (tag == "link" and attrs.get("rel") == "canonical"):
                self.links.append((tag, attrs[name]))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built by ``mkdocs build --strict`` into a temporary folder."""
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            pytest.skip(f"{module} is not installed: pip install -e '.[docs]'")
    site = tmp_path_factory.mktemp("docs") / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    log = built.stdout + built.stderr
    assert built.returncode == 0, log
    assert not re.search(r"^(WARNING|ERROR)\b", log, re.MULTILINE), log
    return site


def test_mkdocs_build_strict_and_the_site_works_from_file_urls(site):
    pages = sorted(p for p in site.rglob("*.html") if p.name != "404.html")
    assert len(pages) >= 20, [p.relative_to(site) for p in pages]
    parsed = {}
    for page in pages:
        links = _Links()
        links.feed(page.read_text())
        parsed[page] = links
    broken, remote, directories = [], [], []
    for page, links in parsed.items():
        for tag, link in links.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https"):
                if tag in ("script", "link", "img"):  # a resource, not a link a reader follows
                    remote.append((page.name, link))
                continue
            if parts.scheme or not (parts.path or parts.fragment):
                continue  # mailto:, data:, javascript:
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                directories.append((str(page.relative_to(site)), link))
            elif not target.exists() or (
                parts.fragment
                and target in parsed
                and unquote(parts.fragment) not in parsed[target].ids
            ):
                broken.append((str(page.relative_to(site)), link))
    assert not broken, f"links to nothing: {broken[:20]}"
    assert not directories, f"links to a folder do not open from file://: {directories[:20]}"
    assert not remote, f"resources fetched from the network: {remote[:20]}"
    # Material's offline plugin: the search index is a script, which file:// pages can load
    assert (site / "search" / "search_index.js").exists()
    reference_page = (site / "reference" / "config.html").read_text()
    assert "trainer.early_stopping.patience" in reference_page


def test_the_readme_links_into_the_docs_and_they_exist():
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert any(link.startswith("docs/") for link in local)
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README.md links to nothing: {missing}"
    assert len(text.splitlines()) <= 200, "the front page stays short (issue 31)"


def test_the_files_reference_names_every_file_a_run_and_a_sweep_write(reference):
    page = reference.page("files")
    names = ("metrics.csv", "params.npz", ".hydra/config.yaml", "multirun.yaml", "runs.csv")
    for name in (*names, "race.csv", "race_rounds.csv"):
        assert f"`{name}`" in page
    assert not reference.PROBLEMS, reference.PROBLEMS


def test_the_site_searches_and_navigates_offline_in_a_browser(site):
    """Opened from file:// in headless Chromium with the network blocked, as a reader opens
    site/index.html: the search finds pages (Material's offline plugin and the vendored
    iframe-worker shim) and a link of the navigation opens its page."""
    from report_browser import CHROMIUM

    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    problems = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda error: problems.append(str(error)))

            def block(route):
                if route.request.url.startswith(("file:", "data:", "blob:")):
                    route.continue_()
                else:
                    problems.append(route.request.url)
                    route.abort()

            page.route("**/*", block)
            page.goto((site / "tutorial" / "first-run.html").as_uri())
            page.keyboard.press("s")  # Material's shortcut to the search box
            page.keyboard.type("ledger", delay=20)
            page.wait_for_function(
                "/\\d+ matching/.test(document.querySelector('.md-search-result__meta')"
                ".textContent)",
                timeout=10_000,
            )
            page.keyboard.press("Escape")
            page.click("nav.md-nav--primary a[href$='first-sweep.html']")
            page.wait_for_url("**/tutorial/first-sweep.html")
            assert page.title().startswith("A first sweep")
        finally:
            browser.close()
    assert not problems, problems
