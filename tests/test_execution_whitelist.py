"""A `_target_` is code: only the runner's own run (runner.stack.EXECUTION_WHITELIST).

A sweep folder someone sent may carry a payload in its multirun.yaml; `--resume` refuses it in
one line before Hydra sees it, on Hydra 1.3 and 1.4 alike. On 1.4 Hydra itself also refuses any
target outside the whitelist the runner passes to @hydra.main."""

import shutil

import pandas as pd
import pytest
import yaml
from conftest import run_cli

from runner import stack

PLANT = """from pathlib import Path


class Plant:
    def __init__(self, path):
        Path(path).write_text("ran")
"""
# the default launcher and sweeper of Hydra: the folder only has to be a real one
SWEEP = ["-m", "trainer.epochs=0", "trainer.plots=false", "seed=0"]
BASIC = ["hydra/launcher=basic", "hydra/sweeper=basic"]


@pytest.fixture(scope="module")
def received(tmp_path_factory):
    """A real one-job sweep folder, made once; each test gets its own copy."""
    origin = tmp_path_factory.mktemp("origin")
    result = run_cli(origin, *SWEEP, *BASIC, f"hydra.sweep.dir={origin / 'sweep'}")
    assert result.returncode == 0, result.stderr
    return origin / "sweep"


def _copy(received, tmp_path):
    (tmp_path / "plant.py").write_text(PLANT)  # importable: `python -m` puts the cwd on sys.path
    folder = tmp_path / "sweep"
    shutil.copytree(received, folder)
    return folder


def _plant(folder, edit):
    saved = folder / "multirun.yaml"
    config = yaml.safe_load(saved.read_text())
    edit(config)
    saved.write_text(yaml.safe_dump(config))


def _task(*overrides):
    return lambda config: config["hydra"]["overrides"]["task"].extend(overrides)


def _callback(marker):
    def edit(config):  # a composed callback with no override behind it (a --config-dir's)
        config["hydra"]["callbacks"]["plant"] = {"_target_": "plant.Plant", "path": str(marker)}

    return edit


PAYLOADS = {
    "callback override": (
        lambda marker: _task(
            "+hydra.callbacks.plant._target_=plant.Plant", f"+hydra.callbacks.plant.path={marker}"
        ),
        "hydra.callbacks.plant._target_=plant.Plant",
    ),
    "os.system node": (
        lambda marker: _task(f"+hydra.callbacks.x={{_target_:os.system,command:'touch {marker}'}}"),
        "hydra.callbacks.x=",
    ),
    "saved callback": (_callback, "hydra.callbacks.plant._target_=plant.Plant"),
    "sampler": (
        lambda marker: _task("hydra.sweeper.sampler._target_=plant.Plant"),
        "hydra.sweeper.sampler._target_=plant.Plant",
    ),
}


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_resume_refuses_a_foreign_target_in_one_line(received, tmp_path, payload):
    folder = _copy(received, tmp_path)
    marker = tmp_path / "MARKER"
    edit, key = PAYLOADS[payload]
    _plant(folder, edit(marker))
    rows = len(pd.read_csv(received.parent / "outputs" / "runs.csv"))

    result = run_cli(tmp_path, "--resume", str(folder), *BASIC)

    assert result.returncode == 2, result.stderr
    assert not marker.exists()
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert key in line and "refused" in line, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "outputs").exists()  # nothing ran here
    assert len(pd.read_csv(received.parent / "outputs" / "runs.csv")) == rows


def test_resume_of_a_clean_folder_still_runs(received, tmp_path):
    folder = _copy(received, tmp_path)
    result = run_cli(tmp_path, "--resume", str(folder), *BASIC)
    assert result.returncode == 0, result.stderr
    assert "refused" not in result.stderr


def test_hydra_refuses_a_target_outside_the_whitelist_where_it_has_one(tmp_path):
    """On Hydra 1.4 the whitelist makes Hydra refuse the payload even where the runner does not
    look (here typed on the command line); 1.3 has no whitelist, and a command line is the user's
    own, so there it runs (README, Trust and security)."""
    (tmp_path / "plant.py").write_text(PLANT)
    marker = tmp_path / "MARKER"
    payload = [
        "+hydra.callbacks.plant._target_=plant.Plant",
        f"+hydra.callbacks.plant.path={marker}",
    ]

    result = run_cli(tmp_path, "trainer.epochs=0", "trainer.plots=false", *payload)

    if stack.has_whitelist():
        assert result.returncode == 2 and not marker.exists()
        (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert "hydra.callbacks.plant._target_=plant.Plant refused" in line
        assert "Traceback" not in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert marker.read_text() == "ran"
