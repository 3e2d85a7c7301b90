"""Every reach past a dependency's public API (runner.sweeps.compat) works on the installed
versions, and fails here naming the dependency and its version when the internal changes
shape; and every fallback, with the internal taken away, still runs the sweep, with one
warning."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import CONF_DIR
from omegaconf import OmegaConf

from runner.sweeps import compat

ROOT = Path(__file__).resolve().parent.parent
OURS = ["runner.sweeps.callback.SweepRecorder"]  # the execution whitelist (Hydra 1.4)


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(compat, "_said", set())


def reached(capsys, function, *args):
    """``function(*args)``, failing with the dependency and version if the reach fell back."""
    try:
        result = function(*args)
    except compat.Moved as error:
        pytest.fail(f"{error}: the internal changed shape; see runner/sweeps/compat.py")
    said = capsys.readouterr().err
    assert "warning:" not in said, said
    return result


@pytest.fixture
def sweep_config(tmp_path):
    """A job's full config as the launcher gets it (``seed=3``), and the config loader."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    base = {"version_base": "1.3"} if compat.hydra_series() == "1.3" else {}
    with initialize_config_dir(config_dir=str(CONF_DIR), **base):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration(
            "config", [f"hydra.sweep.dir={tmp_path}", "hydra.mode=MULTIRUN"], RunMode.MULTIRUN
        )
        yield loader, master, loader.load_sweep_config(master, ["seed=3"])


def test_hydra_is_of_a_series_the_fast_paths_were_checked_against():
    import hydra

    assert compat.hydra_series() is not None, (
        f"hydra-core {hydra.__version__}: the composition cache and the pool's run_job were "
        f"checked against {compat.HYDRA_SERIES} only (tests/test_compose_cache.py)"
    )


def test_apply_overrides(capsys, sweep_config):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    _, _, config = sweep_config
    parsed = OverridesParser.create().parse_overrides(["seed=11", "+note=hi", "~trainer.shuffle"])
    reached(capsys, compat.apply_overrides, parsed, config)
    assert config.seed == 11 and config.note == "hi" and "shuffle" not in config.trainer


def test_override_dirname(capsys, sweep_config):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    loader, master, config = sweep_config
    assert reached(capsys, compat.fast_composition, master) is None
    lines = ["seed=7", "optimizer.learning_rate=0.1"]
    with_overrides = loader.load_sweep_config(master, lines)
    config.hydra.overrides.task = lines
    reached(
        capsys, compat.set_override_dirname, config, OverridesParser.create().parse_overrides(lines)
    )
    assert config.hydra.job.override_dirname == with_overrides.hydra.job.override_dirname
    assert config.hydra.job.override_dirname == "optimizer.learning_rate=0.1,seed=7"


def test_callbacks(capsys, sweep_config):
    _, _, config = sweep_config
    callbacks = reached(capsys, compat.job_callbacks, config, OURS)
    assert not isinstance(callbacks, compat.PublicCallbacks)
    assert [type(c).__name__ for c in callbacks.callbacks] == ["SweepRecorder"]


def test_basic_sweeper(capsys):
    from hydra.plugins.sweeper import Sweeper

    found = reached(capsys, compat.basic_sweeper)
    assert issubclass(found, Sweeper) and found.__name__ == "BasicSweeper"


def test_failure_of(capsys):
    from hydra.core.utils import JobReturn, JobStatus

    ret, error = JobReturn(), ValueError("bad")
    ret.status, ret.return_value = JobStatus.FAILED, error
    assert reached(capsys, compat.failure_of, ret) is error


def test_hydra_part_shares_the_node(capsys, sweep_config):
    _, _, config = sweep_config
    part = reached(capsys, compat.hydra_part, config)
    assert part._get_node("hydra") is config._get_node("hydra")  # shared, not copied
    assert OmegaConf.to_yaml(part) == OmegaConf.to_yaml(compat._hydra_part_public(config))
    assert part.hydra.job.name == config.hydra.job.name


def test_task_part(capsys, sweep_config):
    _, _, config = sweep_config
    task = reached(capsys, compat.task_part, config)
    assert "hydra" not in task and "hydra" in config
    assert OmegaConf.to_yaml(task) == OmegaConf.to_yaml(compat._task_part_public(config))
    assert OmegaConf.is_struct(task) == OmegaConf.is_struct(config)


def test_omegaconf_dumper(capsys):
    import yaml

    dumper = reached(capsys, compat.omegaconf_dumper)
    text = yaml.dump({"a": "1", "b": "true", "c": "x"}, Dumper=dumper, sort_keys=False)
    assert text == OmegaConf.to_yaml({"a": "1", "b": "true", "c": "x"})


def test_submitit_executor(capsys, tmp_path):
    pytest.importorskip("submitit", reason="the [slurm] extra is not installed")
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the [slurm] extra")
    params = {
        "submitit_folder": str(tmp_path / ".submitit"),
        "timeout_min": 5,
        "cpus_per_task": 1,
        "max_num_timeout": 2,
        "name": "job",
    }
    sweep = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "sweep")}}})
    executor = reached(capsys, compat.submitit_executor, params, "local", sweep)
    assert executor.cluster == "local" and (tmp_path / "sweep").is_dir()
    assert executor._executor.max_num_timeout == 2  # noqa: SLF001 - submitit's own record


# -- fallbacks: the internal taken away, unit by unit ----------------------------------------


def test_without_callbacks_the_public_ones(capsys, sweep_config, monkeypatch):
    import hydra._internal.callbacks as callbacks_module

    _, _, config = sweep_config
    monkeypatch.delattr(callbacks_module, "Callbacks")
    callbacks = compat.job_callbacks(config, OURS)
    assert isinstance(callbacks, compat.PublicCallbacks)
    assert [type(c).__name__ for c in callbacks.callbacks] == ["SweepRecorder"]
    compat.job_callbacks(config, OURS)
    assert _one_warning(capsys.readouterr().err, "hydra-core", "Callbacks")


def test_without_the_basic_sweepers_module_the_registrys_class(capsys, monkeypatch):
    import sys

    expected = compat.basic_sweeper()
    monkeypatch.setitem(sys.modules, "hydra._internal.core_plugins.basic_sweeper", None)
    assert compat.basic_sweeper() is expected
    assert _one_warning(capsys.readouterr().err, "hydra-core", "basic_sweeper")


def test_without_the_return_value_field_the_public_property(capsys):
    from hydra.core.utils import JobStatus

    class Elsewhere:  # a JobReturn that keeps its value under another name
        status = JobStatus.FAILED
        overrides = ["seed=1"]

        @property
        def return_value(self):
            raise ValueError("bad")

    error = compat.failure_of(Elsewhere())
    assert isinstance(error, ValueError) and str(error) == "bad"
    assert _one_warning(capsys.readouterr().err, "hydra-core", "_return_value")


def test_without_set_parent_a_copy(capsys, sweep_config, monkeypatch):
    _, _, config = sweep_config
    expected = OmegaConf.to_yaml(compat._hydra_part_public(config))
    # Hydra's own set_config (the fallback) needs _set_parent: only compat's check fails
    monkeypatch.setattr(compat, "callable", lambda _: False, raising=False)
    part = compat.hydra_part(config)
    assert OmegaConf.to_yaml(part) == expected
    assert part._get_node("hydra") is not config._get_node("hydra")
    assert not OmegaConf.is_readonly(config.hydra)
    assert _one_warning(capsys.readouterr().err, "omegaconf", "_set_parent")


def test_without_content_a_deep_copy(capsys, sweep_config, monkeypatch):
    _, _, config = sweep_config
    expected = OmegaConf.to_yaml(compat._task_part_public(config))
    monkeypatch.setattr(compat, "_content_of", lambda config: None)  # kept elsewhere
    task = compat.task_part(config)
    assert OmegaConf.to_yaml(task) == expected and "hydra" in config
    assert _one_warning(capsys.readouterr().err, "omegaconf", "_content")


def test_without_the_dumper_omegaconfs_to_yaml(capsys, monkeypatch):
    import importlib

    import omegaconf._utils

    from runner.sweeps import yaml_files

    config = OmegaConf.create({"a": "1", "b": {"c": [1, 2]}, "d": "\x07bell"})
    monkeypatch.delattr(omegaconf._utils, "get_omega_conf_dumper")
    try:
        reloaded = importlib.reload(yaml_files)
        assert reloaded._C_DUMPER is None
        assert reloaded.to_yaml(config) == OmegaConf.to_yaml(config)
        assert _one_warning(capsys.readouterr().err, "omegaconf", "get_omega_conf_dumper")
    finally:
        monkeypatch.undo()
        importlib.reload(yaml_files)


def test_without_the_apply_function_full_composition(capsys, sweep_config, monkeypatch):
    from runner.sweeps.compose import ComposeCache

    loader, master, _ = sweep_config
    moved = compat.Moved("hydra-core", "ConfigLoaderImpl._apply_overrides_to_config")
    monkeypatch.setattr(compat, "fast_composition", lambda master: moved)
    cache = ComposeCache(loader, master)
    for seed in range(3):
        config = cache.load([f"seed={seed}"])
        assert config.seed == seed
    assert cache.fast == 0 and cache.full == 3 and cache.recipe(["seed=1"]) is None
    ComposeCache(loader, master)
    assert _one_warning(capsys.readouterr().err, "hydra-core", "_apply_overrides_to_config")


def test_submitit_executor_that_cannot_be_set_up_says_so(tmp_path, monkeypatch):
    pytest.importorskip("submitit", reason="the [slurm] extra is not installed")
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the [slurm] extra")
    import hydra_plugins.hydra_submitit_launcher.config as upstream

    monkeypatch.delattr(upstream, "BaseQueueConf")
    sweep = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    with pytest.raises(compat.Moved, match=r"hydra-submitit-launcher \S+: config.BaseQueueConf"):
        compat.submitit_executor({"submitit_folder": str(tmp_path)}, "local", sweep)


def _one_warning(err, distribution, what):
    lines = [line for line in err.splitlines() if line.startswith("warning:")]
    version = compat.version(distribution)
    assert len(lines) == 1 and f"{distribution} {version}" in lines[0] and what in lines[0], err
    return True


# -- fallbacks under a real sweep: every process of it without the internal -----------------

MOVED = "is not what nnrunner was written against"  # compat's warning, not others'
SWEEP = ["-m", "seed=0,1,2", "trainer.epochs=2", "trainer.plots=false"]


def _sweep_without(tmp_path, patch, *extra):
    """``python -m runner -m seed=0,1,2`` with ``patch`` run first in every process of it
    (a sitecustomize.py on PYTHONPATH: the pool's fork server and workers too)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(patch))
    work = tmp_path / "work"
    work.mkdir()
    path = os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "runner", *SWEEP, *extra],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr
    ledger = (work / "outputs" / "runs.csv").read_text().splitlines()
    assert len(ledger) == 4 and all(",ok," in row for row in ledger[1:]), ledger
    return [line for line in done.stderr.splitlines() if MOVED in line]


@pytest.mark.slow
def test_a_sweep_on_an_untested_hydra_takes_hydras_own_paths(tmp_path):
    said = _sweep_without(
        tmp_path,
        """
        import runner.sweeps.compat as compat
        compat.hydra_series = lambda: None
        """,
    )
    assert len(said) == 1 and "hydra-core" in said[0] and "series" in said[0], said


@pytest.mark.slow
def test_a_sweep_without_hydras_callbacks_class(tmp_path):
    said = _sweep_without(
        tmp_path,
        """
        import hydra._internal.hydra  # Hydra's own binding stays
        import hydra._internal.callbacks
        del hydra._internal.callbacks.Callbacks
        """,
        "hydra.launcher.n_jobs=1",
    )
    assert len(said) == 1 and "Callbacks" in said[0], said


@pytest.mark.slow
def test_a_sweep_without_omegaconfs_dumper(tmp_path):
    said = _sweep_without(
        tmp_path,
        """
        import omegaconf
        import omegaconf._utils
        del omegaconf._utils.get_omega_conf_dumper
        """,
    )
    assert len(said) == 1 and "omegaconf" in said[0], said


MODE_COMMAND_LINES = [
    [],
    ["model=dense3", "seed=1,2"],
    ["hydra.mode=MULTIRUN"],
    ["hydra.mode=RUN", "hparams_search=spiral_optuna"],
    ["experiment=spiral_width_sweep"],  # with_declared_mode adds hydra.mode=MULTIRUN
    ["hparams_search=spiral_optuna"],
    ["hydra.mode=multirun"],  # not the plain form: Hydra's own check
    ["+hydra.mode=MULTIRUN"],  # an error Hydra's composition reports
    ["~hydra.mode"],
    ["hydra.mode=${oc.env:MODE,RUN}"],
    ["hydra/launcher=basic", "hydra.job.chdir=false"],
]


@pytest.fixture
def mode_checks(monkeypatch):
    """(Hydra 1.3's own get_mode, the quick one) on a Hydra holding the runner's config."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from runner.stack import version_base

    if compat.hydra_series() != "1.3":
        pytest.skip("Hydra 1.4 reads the mode from the command line and primary config itself")
    from hydra._internal.hydra import Hydra

    monkeypatch.setattr(Hydra, "get_mode", Hydra.get_mode)  # undone after the test
    own = Hydra.get_mode
    compat.quick_mode_check()
    assert Hydra.get_mode is not own
    with initialize_config_dir(config_dir=str(CONF_DIR), **version_base()):
        yield GlobalHydra.instance().hydra, own, Hydra.get_mode


@pytest.mark.parametrize("args", MODE_COMMAND_LINES, ids=" ".join)
def test_the_quick_mode_check_answers_as_hydras_composition(args, mode_checks, capsys):
    from runner.presets import with_declared_mode

    hydra_app, own, quick = mode_checks
    overrides = with_declared_mode(args, CONF_DIR)
    assert quick(hydra_app, "config", list(overrides)) == own(hydra_app, "config", list(overrides))
    assert "warning:" not in capsys.readouterr().err


def test_with_dash_m_a_declaring_preset_is_a_multirun_either_way(mode_checks):
    """``-m experiment=...``: the command line chose the mode, so runner.presets adds none;
    Hydra's composition answers MULTIRUN, the quick check None, and Hydra's ``_run_app`` makes
    both a multirun (None: by appending ``hydra.mode=MULTIRUN``, as for any ``-m``)."""
    from hydra.types import RunMode

    hydra_app, own, quick = mode_checks
    overrides = ["experiment=spiral_width_sweep"]
    assert own(hydra_app, "config", list(overrides)) == RunMode.MULTIRUN
    assert quick(hydra_app, "config", list(overrides)) is None


def test_a_primary_config_that_declares_its_mode_goes_through_hydras_check(tmp_path, monkeypatch):
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    from runner.stack import version_base

    if compat.hydra_series() != "1.3":
        pytest.skip("Hydra 1.4 reads the mode from the command line and primary config itself")
    from hydra._internal.hydra import Hydra

    monkeypatch.setattr(Hydra, "get_mode", Hydra.get_mode)
    calls = []
    own = Hydra.get_mode
    monkeypatch.setattr(Hydra, "get_mode", lambda *a: calls.append(a) or own(*a))
    compat.quick_mode_check()
    (tmp_path / "config.yaml").write_text("seed: 0\nhydra:\n  mode: MULTIRUN\n")
    with initialize_config_dir(config_dir=str(tmp_path), **version_base()):
        hydra_app = GlobalHydra.instance().hydra
        assert Hydra.get_mode(hydra_app, "config", ["seed=1"]) == RunMode.MULTIRUN
        assert len(calls) == 1  # Hydra's own composition answered
        (tmp_path / "config.yaml").write_text("seed: 0\n")
        assert Hydra.get_mode(hydra_app, "config", ["seed=1"]) is None
        assert len(calls) == 1  # answered without it


def test_without_hydras_get_mode_nothing_is_patched(monkeypatch, capsys):
    if compat.hydra_series() != "1.3":
        pytest.skip("nothing is patched on Hydra 1.4")
    from hydra._internal.hydra import Hydra

    monkeypatch.delattr(Hydra, "get_mode")
    compat.quick_mode_check()
    assert not hasattr(Hydra, "get_mode")
    assert "Hydra.get_mode" in capsys.readouterr().err


def test_the_quick_mode_check_replaces_hydras_on_13_only(monkeypatch):
    """1.4 reads the mode from the command line and the primary config without composing: its
    check is kept; 1.3's is replaced, once however often the runner starts in a process."""
    from hydra._internal.hydra import Hydra

    own = Hydra.get_mode
    monkeypatch.setattr(Hydra, "get_mode", own)
    compat.quick_mode_check()
    quick = Hydra.get_mode
    compat.quick_mode_check()
    assert Hydra.get_mode is quick
    assert (quick is not own) == (compat.hydra_series() == "1.3")
