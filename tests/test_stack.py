"""The Hydra and OmegaConf under the runner: @hydra.main's options on each major, the tested
ranges (pyproject.toml's bounds) and the one line a version outside them gets."""

import re
from pathlib import Path

import hydra
import pytest
from conftest import run_cli
from hydra.errors import InstantiationException

from runner import stack

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT_BOUNDS = {
    name: spec
    for name, spec in re.findall(
        r'"(hydra-core|omegaconf)([<>=!~][^"]*)"', (ROOT / "pyproject.toml").read_text()
    )
}


@pytest.mark.parametrize(
    ("version", "specifier", "inside"),
    [
        ("1.3.8", ">=1.3.2,<1.4", True),
        ("1.3.2", ">=1.3.2,<1.4", True),
        ("1.3.1", ">=1.3.2,<1.4", False),
        ("1.4.0", ">=1.3.2,<1.4", False),
        ("1.4.0rc3", ">=1.3.2,<1.4", False),  # PEP 440: <1.4 excludes 1.4's pre-releases
        ("1.4.0.dev2", ">=1.3.2,<1.4", False),
        ("1.4.0rc3", ">=1.3.2,<1.5", True),
        ("2.4.1rc1", ">=2.3,<2.4", False),
        ("2.3.1", ">=2.3,<2.4", True),
        ("2.3", ">=2.3,<2.4", True),
        ("2.2.3", ">=2.3,<2.4", False),
        ("1.3.2.post1", ">=1.3.2,<1.4", True),
    ],
)
def test_within_reads_bounds_as_pip_does(version, specifier, inside):
    assert stack.within(version, specifier) is inside


def test_tested_ranges_are_pyprojects_bounds():
    """The installed metadata is pyproject.toml's (reinstall after changing a bound)."""
    assert set(PYPROJECT_BOUNDS) == set(stack.CHECKED)
    installed = stack.tested_ranges()
    for name, spec in PYPROJECT_BOUNDS.items():
        assert set(installed[name].split(",")) == set(spec.split(",")), name


REQUIREMENTS = [
    "numpy<3,>=1.26",
    "hydra-core<1.4,>=1.3.2",
    "omegaconf<2.4,>=2.3",
    'x; extra == "a"',
]


def test_versions_inside_the_range_say_nothing():
    versions = {"hydra-core": "1.3.8", "omegaconf": "2.3.1"}
    assert stack.untested(versions, REQUIREMENTS) is None


def test_a_version_outside_gets_one_line_naming_installed_and_tested():
    line = stack.untested({"hydra-core": "1.4.0rc3", "omegaconf": "2.4.1rc1"}, REQUIREMENTS)
    assert line.count("\n") == 0
    assert "hydra-core 1.4.0rc3 (tested: >=1.3.2,<1.4)" in line
    assert "omegaconf 2.4.1rc1 (tested: >=2.3,<2.4)" in line
    only = stack.untested({"hydra-core": "1.3.8", "omegaconf": "2.2.3"}, REQUIREMENTS)
    assert "omegaconf 2.2.3" in only and "hydra-core" not in only


@pytest.mark.parametrize(
    ("versions", "requirements"),
    [({"hydra-core": "not a version"}, REQUIREMENTS), ({}, None), (None, ["hydra-core<<1"])],
)
def test_an_unreadable_version_or_bound_is_never_an_error(versions, requirements):
    assert stack.untested(versions, requirements) is None


def test_main_options_follow_the_installed_hydra():
    def main_13(config_path=None, config_name=None, version_base=None): ...

    def main_14(
        config_path=None, config_name=None, version_base=None, execution_whitelist=None
    ): ...

    def main_15(config_path=None, config_name=None): ...

    assert stack.main_options(main_13) == {"version_base": "1.3"}
    assert stack.main_options(main_15) == {}  # a Hydra with neither: its own defaults
    options = stack.main_options(main_14)
    assert "version_base" not in options  # deprecated in 1.4, removed in 1.5
    assert set(options["execution_whitelist"]) == set(stack.EXECUTION_WHITELIST)
    major_minor = tuple(int(p) for p in hydra.__version__.split(".")[:2])
    assert stack.has_whitelist() is (major_minor >= (1, 4))


def test_version_base_for_compose_is_one_no_major_warns_about(tmp_path):
    import warnings

    from hydra import compose, initialize_config_dir

    (tmp_path / "config.yaml").write_text("x: 1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 1.3 warns without version_base, 1.4 with it
        with initialize_config_dir(config_dir=str(tmp_path), **stack.version_base()):
            assert compose("config").x == 1


def test_the_whitelist_names_the_runners_own_plugins_and_callbacks_only():
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher
    from hydra.plugins.sweeper import Sweeper
    from omegaconf import OmegaConf

    from runner.plugins import make_visible

    make_visible()
    ours = {
        name
        for name, cls in Plugins.instance().class_name_to_class.items()
        if name.startswith("hydra_plugins.nnrunner.") and issubclass(cls, (Launcher, Sweeper))
    }
    assert ours <= set(stack.LAUNCHERS + stack.SWEEPERS)
    optional = {n for n in stack.LAUNCHERS if "submitit" in n or "joblib" in n}  # their extras
    assert set(stack.LAUNCHERS + stack.SWEEPERS) - ours <= optional
    callbacks = OmegaConf.load(ROOT / "conf" / "config.yaml").hydra.callbacks
    assert {c._target_ for c in callbacks.values()} == set(stack.CALLBACKS)
    assert all(name.startswith(("runner.", "hydra_plugins.nnrunner.")) for name in ours)


def test_hydras_refusal_becomes_one_line_naming_the_key():
    error = InstantiationException(
        "Target 'payload.Plant' is not in the Hydra execution whitelist.\n"
        "Pass _execution_whitelist_ from trusted code to allow expected targets.\n"
        "full_key: hydra.callbacks.x"
    )
    line = stack.refusal(error)
    assert line.startswith("hydra.callbacks.x._target_=payload.Plant refused") and "\n" not in line
    assert stack.refusal(InstantiationException("Error locating target 'a.b'")) is None
    assert stack.refusal(ValueError("whitelist")) is None


def test_a_plain_run_prints_no_warning(tmp_path):
    result = run_cli(tmp_path, "trainer.epochs=0", "trainer.plots=false")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
