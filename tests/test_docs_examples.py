"""Every command block of the docs and README.md runs, and prints what the page shows (issue 31).

A page's ```console blocks are run in order in a temporary folder: a line starting with `$ ` is
a command (a line ending in `\\` goes on to the next), the lines after it, up to the next `$ `,
are its output (stdout and stderr together). The pages of the Tutorial run as one sequence in
one folder, since each step goes on from the last; every other page in a folder of its own. A
fenced block with a title (```python title="make_data.py") is a file the page asks the reader
to write: it is written into the folder when the page reaches it.

Output is compared line by line, with runs of spaces as one space and blank lines left out.
What differs from machine to machine is written in the page as:

- `…` on a line of its own: any number of lines, none included;
- `…` within a line: any text on that line (a time, a date, a folder's name);
- `{a..b}`: a number from a to b, for figures that depend on the CPU (float32 training moves
  with the BLAS kernel: a preset's figure is written as the range its file states).

A command must exit 0 unless the output the page shows has an `error`. A page that needs an
extra says so with `<!-- docs-test: needs optuna -->` and is skipped without it. ```bash and
```text blocks are shown, not run: installing, and what needs a cluster, a server or minutes of
CPU.
"""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(?P<lang>[\w-]*)(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
TITLE = re.compile(r'title="(?P<name>[^"]+)"')
NEEDS = re.compile(r"<!-- docs-test: needs (?P<modules>[\w ,]+?) -->")
NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
RANGE = re.compile(r"\{(?P<low>[-+.\deE]+)\.\.(?P<high>[-+.\deE]+)\}")
ANY_LINES = "…"
TIMEOUT = 300  # seconds a command may take


def nav_pages():
    """The docs' pages in the order of mkdocs.yml's nav."""
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]

    def walk(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)

    return [page for page in walk(nav) if page.endswith(".md")]


def steps(text):
    """A page's ("file", name, content) and ("run", command, expected lines), in order."""
    found = []
    for block in FENCE.finditer(text):
        title = TITLE.search(block["info"])
        if title:
            found.append(("file", title["name"], block["body"]))
        elif block["lang"] == "console":
            command, expected = None, []
            lines = iter(block["body"].splitlines())
            for line in lines:
                if line.startswith("$ "):
                    if command is not None:
                        found.append(("run", command, expected))
                    command, expected = line[2:], []
                    while command.endswith("\\"):
                        command = command[:-1].rstrip() + " " + next(lines).lstrip("> ").strip()
                elif command is not None:
                    expected.append(line)
            if command is not None:
                found.append(("run", command, expected))
    return found


def _normal(lines):
    return [" ".join(line.split()) for line in lines if line.strip()]


def _pattern(line):
    """An expected line as a regular expression, and how many {a..b} ranges it holds."""
    parts, ranges, at = [], [], 0
    for token in re.finditer(rf"{re.escape(ANY_LINES)}|{RANGE.pattern}", line):
        parts.append(re.escape(line[at : token.start()]))
        if token.group() == ANY_LINES:
            parts.append(".*?")
        else:
            parts.append(NUMBER)
            ranges.append((float(token["low"]), float(token["high"])))
        at = token.end()
    parts.append(re.escape(line[at:]))
    return re.compile("".join(parts)), ranges


def line_matches(expected, actual):
    pattern, ranges = _pattern(expected)
    found = pattern.fullmatch(actual)
    if not found:
        return False
    return all(
        low <= float(v) <= high for v, (low, high) in zip(found.groups(), ranges, strict=True)
    )


def output_matches(expected, actual):
    """Do these output lines match the page's? (see the module's docstring)"""
    expected, actual = _normal(expected), _normal(actual)
    memo = {}

    def match(i, j):
        if (i, j) not in memo:
            if i == len(expected):
                memo[i, j] = j == len(actual)
            elif expected[i] == ANY_LINES:
                memo[i, j] = match(i + 1, j) or (j < len(actual) and match(i, j + 1))
            else:
                memo[i, j] = (
                    j < len(actual) and line_matches(expected[i], actual[j]) and match(i + 1, j + 1)
                )
        return memo[i, j]

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * (len(expected) + len(actual)) + 100))
    return match(0, 0)


def test_the_output_convention():
    assert line_matches("ok after 5 epochs in … s", "ok after 5 epochs in 1.2 s")
    assert line_matches("val_accuracy {0.7..0.9}", "val_accuracy 0.8533")
    assert not line_matches("val_accuracy {0.7..0.9}", "val_accuracy 0.6")
    assert not line_matches("run folder: a", "run folder: ab")
    assert output_matches(["a", "…", "d"], ["a", "b", "c", "d"])
    assert output_matches(["a", "…", "b"], ["a", "", "b"])
    assert not output_matches(["a", "b"], ["a", "b", "c"])
    assert steps("```console\n$ echo a \\\n    b\na b\n```\n") == [("run", "echo a b", ["a b"])]


def _runs():
    """The Tutorial as one sequence (slow: about 40 s), every other page with commands alone."""
    pages = [p for p in nav_pages() if any(kind == "run" for kind, *_ in steps(_read(p)))]
    tutorial = [p for p in pages if p.startswith("tutorial/")]
    others = [p for p in pages if not p.startswith("tutorial/")]
    runs = [pytest.param(tutorial, id="tutorial", marks=pytest.mark.slow)] * bool(tutorial)
    return runs + [pytest.param([p], id=p) for p in [*others, README]]


README = "README.md"  # the front page's blocks run too, as a sequence of their own


def _read(page):
    return (ROOT / page if page == README else DOCS / page).read_text()


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HYDRA_", "MLFLOW_"))}
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
        NO_COLOR="1",
        COLUMNS="100",
        TERM="dumb",
    )
    return env


@pytest.mark.parametrize("pages", _runs())
def test_the_docs_commands_print_what_the_pages_show(pages, tmp_path):
    for page in pages:
        for needs in NEEDS.finditer(_read(page)):
            for module in re.split(r"[ ,]+", needs["modules"].strip()):
                try:
                    importlib.import_module(module)
                except ImportError as error:
                    pytest.skip(f"{page} needs {module} ({error}): pip install -e '.[{module}]'")
    env = _env()
    for page in pages:
        for kind, what, content in steps(_read(page)):
            if kind == "file":
                (tmp_path / what).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / what).write_text(content)
                continue
            done = subprocess.run(
                ["bash", "-c", what],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=TIMEOUT,
            )
            actual = done.stdout.splitlines()
            shown = "\n".join(content)
            assert output_matches(content, actual), (
                f"{page}: $ {what}\n--- the page shows:\n{shown}\n--- it printed "
                f"(exit {done.returncode}):\n{done.stdout}"
            )
            if done.returncode != 0:
                assert "error" in shown, (
                    f"{page}: $ {what} exited {done.returncode}:\n{done.stdout}"
                )


def test_every_block_with_a_prompt_is_a_console_block_the_suite_runs():
    """A `$ command` shown in any other block would look tested and not be."""
    for page in [*nav_pages(), README]:
        for block in FENCE.finditer(_read(page)):
            if block["lang"] != "console" and not TITLE.search(block["info"]):
                prompts = [line for line in block["body"].splitlines() if line.startswith("$ ")]
                assert not prompts, f"{page}: ```{block['lang']} block with {prompts[0]!r}"
