"""Hostile sweep folders: `--resume` replays only overrides of the runner's own config.

A sweep folder may come from someone else. Its multirun.yaml is replayed as a command line, and
much of Hydra's config names code (a `_target_`, `hydra.callbacks`, `hydra.job.env_set`,
`hydra.job_logging`'s handler classes, `hydra.searchpath` or a `--config-dir` full of YAML, a
launcher's shell `setup`). Each payload below is planted in a real sweep folder; `--resume`
must refuse it in one line (exit 2), run nothing and write nothing, unless `--trust-folder`.
"""

import shutil

import pytest
import yaml
from cli_batch import Batch, selected_cases
from conftest import run_cli

from runner import stack
from runner.sweeps import replayable, resume

pytestmark = pytest.mark.faults

SWEEP = ["-m", "trainer.epochs=0", "trainer.plots=false", "seed=0", "hydra.launcher.n_jobs=1"]
EVIL_EXPERIMENT = """# @package _global_
hydra:
  callbacks:
    evil:
      _target_: builtins.open
      file: {marker}
      mode: w
"""


@pytest.fixture(scope="module")
def received(tmp_path_factory):
    """A real one-job sweep folder, made once; each test plants in a copy of it."""
    origin = tmp_path_factory.mktemp("origin")
    result = run_cli(origin, *SWEEP, f"hydra.sweep.dir={origin / 'sweep'}")
    assert result.returncode == 0, result.stderr
    return origin / "sweep"


def _task(*overrides):
    def edit(config, marker, evil_dir):
        config["hydra"]["overrides"]["task"].extend(
            o.format(marker=marker, dir=evil_dir) for o in overrides
        )

    return edit


def _hydra(*overrides):
    def edit(config, marker, evil_dir):
        config["hydra"]["overrides"]["hydra"].extend(
            o.format(marker=marker, dir=evil_dir) for o in overrides
        )

    return edit


def _both(*edits):
    def edit(config, marker, evil_dir):
        for one in edits:
            one(config, marker, evil_dir)

    return edit


def _config_dir(config, marker, evil_dir):
    config["hydra"]["runtime"]["config_sources"].append(
        {"path": str(evil_dir), "schema": "file", "provider": "command-line"}
    )


def _config_name(config, marker, evil_dir):
    _config_dir(config, marker, evil_dir)
    config["hydra"]["job"]["config_name"] = "evil"


def _saved_callback(config, marker, evil_dir):
    config["hydra"]["callbacks"]["evil"] = {
        "_target_": "builtins.open",
        "file": str(marker),
        "mode": "w",
    }


# name -> (how it is planted, a word the refusal names)
PAYLOADS = {
    "callback builtins.open": (
        _task(
            "+hydra.callbacks.x._target_=builtins.open",
            "+hydra.callbacks.x.file={marker}",
            "+hydra.callbacks.x.mode=w",
        ),
        "hydra.callbacks.x._target_=builtins.open",
    ),
    "callback builtins.print": (
        _task("+hydra.callbacks.x._target_=builtins.print"),
        "builtins.print",
    ),
    "callback subprocess.getoutput": (
        _task(
            "+hydra.callbacks.x._target_=subprocess.getoutput",
            "+hydra.callbacks.x.cmd='touch {marker}'",
        ),
        "subprocess.getoutput",
    ),
    "callback as one node": (
        _task("+hydra.callbacks.x={{_target_:subprocess.getoutput,cmd:'touch {marker}'}}"),
        "hydra.callbacks.x=",
    ),
    "callback with ++": (_task("++hydra.callbacks.x._target_=os.system"), "os.system"),
    "callback in hydra overrides": (
        _hydra("+hydra.callbacks.x._target_=builtins.exec"),
        "builtins.exec",
    ),
    "runner's callback removed": (_task("~hydra.callbacks.sweep_recorder"), "hydra.callbacks"),
    "callback saved in the config": (_saved_callback, "hydra.callbacks.evil._target_"),
    "environment of the jobs": (
        _hydra("+hydra.job.env_set.LD_PRELOAD=/tmp/evil.so"),
        "hydra.job.env_set",
    ),
    "logging handler class": (
        _hydra(
            "hydra.job_logging={{version:1,handlers:{{f:{{class:logging.FileHandler,"
            "filename:'{marker}'}}}},root:{{handlers:[f]}}}}"
        ),
        "hydra.job_logging",
    ),
    "logging group": (_hydra("hydra/job_logging=default"), "hydra/job_logging"),
    "search path and its experiment": (
        _both(_hydra("hydra.searchpath=[file://{dir}]"), _task("experiment=evil")),
        "hydra.searchpath",
    ),
    "launcher not the runner's": (_hydra("hydra/launcher=evil"), "hydra/launcher=evil"),
    "launcher shell setup": (
        _hydra("hydra/launcher=submitit_local", "+hydra.launcher.setup=['touch {marker}']"),
        "setup",
    ),
    "ray runtime_env": (
        _hydra("+hydra.launcher.ray.init.runtime_env={{pip:[evil]}}"),
        "runtime_env",
    ),
    "launcher _target_": (_hydra("hydra.launcher._target_=builtins.open"), "builtins.open"),
    "sampler _target_": (
        _hydra("hydra.sweeper.sampler._target_=subprocess.getoutput"),
        "subprocess.getoutput",
    ),
    "_target_ in a task key": (_task("+model.evil._target_=builtins.open"), "builtins.open"),
    "_target_ in a task node": (
        _task("+evil={{_target_:builtins.open,file:'{marker}',mode:w}}"),
        "_target_",
    ),
    "a key the runner has not": (_task("+evil=1"), "evil"),
    "config folder of its own": (_both(_config_dir, _task("experiment=evil")), "--config-dir"),
    "primary config of its own": (_config_name, "--config-name evil"),
}
# overrides of the runner's own that a sweep folder may carry and that must still replay
OWN = [
    "trainer.epochs=5",
    "model=dense3",
    "+data.noise=0.3",
    "experiment=spiral_l2",
    "hparams_search=spiral_optuna",
    "hydra/launcher=joblib",
    "hydra.launcher.n_jobs=2",
    "hydra/sweeper=optuna",
    "hydra/sweeper/sampler=random",
    "hydra/sweeper/pruner=asha",
    "hydra.sweeper.sampler._target_=optuna.samplers.RandomSampler",
    "hydra.sweeper.n_trials=3",
    "hydra.sweeper.storage=sqlite:///s.db",
    "hydra.launcher._target_=hydra_plugins.nnrunner.pool_launcher.PoolLauncher",
]


def _planted(received, tmp_path, payload):
    folder = tmp_path / "sweep"
    shutil.copytree(received, folder)
    marker = tmp_path / "MARKER"
    evil_dir = tmp_path / "evil"
    (evil_dir / "experiment").mkdir(parents=True)
    (evil_dir / "experiment" / "evil.yaml").write_text(EVIL_EXPERIMENT.format(marker=marker))
    (evil_dir / "evil.yaml").write_text(
        "defaults:\n  - config\n  - _self_\n"
        + EVIL_EXPERIMENT.format(marker=marker).split("\n", 1)[1]
    )
    saved = folder / "multirun.yaml"
    config = yaml.safe_load(saved.read_text())
    PAYLOADS[payload][0](config, marker, evil_dir)
    saved.write_text(yaml.safe_dump(config))
    return folder, marker


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_resume_refuses_each_payload_before_hydra_sees_it(received, tmp_path, payload):
    folder, _ = _planted(received, tmp_path, payload)
    with pytest.raises(resume.ResumeError) as refused:
        resume.rewrite(["--resume", str(folder)])
    message = str(refused.value)
    assert "\n" not in message and "refused" in message and "--trust-folder" in message
    assert PAYLOADS[payload][1] in message, message


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_trust_folder_replays_what_it_names(received, tmp_path, payload):
    folder, _ = _planted(received, tmp_path, payload)
    args = resume.rewrite(["--resume", str(folder)], trust=True)
    assert args[0] == "-m" and args[-1].startswith("hydra.sweep.dir=")


@pytest.mark.parametrize("override", OWN)
def test_the_runners_own_overrides_still_replay(override):
    assert replayable.why_refused(override, replayable.own_names()) is None


# payloads that would write the marker if they ran (on Hydra 1.3, which has no whitelist)
RUNNABLE = [
    "search path and its experiment",
    "callback builtins.open",
    "callback subprocess.getoutput",
    "callback as one node",
    "config folder of its own",
    "primary config of its own",
]


def _resumed(received, root, payload):
    """``--resume`` of a copy of the folder with ``payload`` planted, in a folder of its own ->
    (that folder, the planted folder, the marker, the folder's files before, the result)."""
    cwd = root / str(RUNNABLE.index(payload))
    cwd.mkdir()
    folder, marker = _planted(received, cwd, payload)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    return cwd, folder, marker, before, run_cli(cwd, "--resume", str(folder))


@pytest.fixture(scope="module")
def refused(received, tmp_path_factory, request):
    """Every selected payload of the test below resumed, a few at a time (cli_batch): each in
    its own folder, so they share nothing."""
    root = tmp_path_factory.mktemp("refused")
    cases = selected_cases(
        request, test_a_refused_payload_runs_nothing_and_writes_nothing, "payload"
    )
    return Batch(lambda case: _resumed(received, root, case[0]), cases)


@pytest.mark.slow
@pytest.mark.parametrize("payload", RUNNABLE)
def test_a_refused_payload_runs_nothing_and_writes_nothing(refused, payload):
    tmp_path, folder, marker, before, result = refused[(payload,)]

    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: --resume") and "refused" in line
    assert not marker.exists()
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_the_payload_is_real_it_runs_when_the_folder_is_trusted(received, tmp_path):
    """The refusal above is what stops it: trusted, the callback payload runs (Hydra 1.3), or
    Hydra's own whitelist refuses it (1.4)."""
    folder, marker = _planted(received, tmp_path, "callback builtins.open")
    result = run_cli(tmp_path, "--resume", str(folder), "--trust-folder")
    if stack.has_whitelist():
        assert result.returncode == 2 and not marker.exists()
    else:
        assert result.returncode == 0, result.stderr
        assert marker.exists()
