"""The composition cache gives what Hydra's full composition gives, byte for byte, for every
form of override a user writes; what it cannot be sure of goes through Hydra itself."""

import shutil

import pytest
from conftest import CONF_DIR
from omegaconf import OmegaConf

from runner.sweeps.compose import ComposeCache

JOBS = [
    ["seed=3"],
    ["seed=3", "optimizer.learning_rate=0.01"],
    ["optimizer.learning_rate=0.01", "seed=3"],  # another order: other overrides.yaml, same keys
    ["model=dense3", "seed=1"],
    ["model=dense3", "seed=2", "model.width=8"],
    ["optimizer=sgd", "optimizer.learning_rate=0.5", "optimizer.momentum=0.9"],
    ["data=moons", "data.noise=0.3"],
    ["experiment=spiral_l2", "seed=4"],
    ["debug=fast", "seed=0"],
    ["+data@extra=moons", "seed=1"],  # group@package
    ["+note=hello"],
    ["++trainer.epochs=7"],
    ["++brand.new=1"],
    ["~trainer.shuffle"],
    ["model.width=${seed}", "seed=5"],  # interpolations
    ["+note=${model.width}"],
    ["+stamp=${now:%H-%M-%S-%f}"],  # a resolver: the time the sweep was composed, not the job's
    ["+note='two words'"],  # quoted strings
    ['+note="a,b"'],
    ["+tags=[a,b,c]"],  # lists
    ["model.layers=[{units:4,activation:tanh}]"],
    ["+cfg={a:1,b:2}"],  # a dict value: composed in full
    ["hydra.job.chdir=false", "seed=1"],  # hydra.* keys
    ["hydra.job.chdir=true", "seed=1"],
    ["hydra.sweep.subdir=job_${hydra.job.num}", "seed=1"],
    ["hydra.sweep.subdir=seed_${seed}", "seed=1"],  # from the hydra node into the user's config
    ["hydra/job_logging=default", "seed=2"],  # a hydra group
    ["+hydra.job.env_set.FOO=bar"],
    ["hydra.job.config.override_dirname.kv_sep=-", "seed=9"],
    ["seed=0", "trainer.epochs=0", "trainer.plots=false"],
]


COMPOSED_IN_FULL = (["+cfg={a:1,b:2}"], ["+hydra.job.env_set.FOO=bar"])


def _version_base():
    """1.3's ``version_base``; 1.4 deprecates the argument, and its default is its own."""
    from runner.sweeps.compat import hydra_series

    return {"version_base": "1.3"} if hydra_series() == "1.3" else {}


@pytest.fixture
def hydra_setup(tmp_path):
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    with initialize_config_dir(config_dir=str(CONF_DIR), **_version_base()):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration(
            "config",
            [f"hydra.sweep.dir={tmp_path / 'sweep'}", "hydra.mode=MULTIRUN"],
            RunMode.MULTIRUN,
        )
        str(master.hydra.run.dir)  # resolves ${now:...} once, as a launcher's sweep dir does
        yield loader, master, tmp_path


def _written(loader, config, tmp_path):
    """What Hydra's own run_job writes for this config: the .hydra files, byte for byte."""
    from hydra._internal.callbacks import Callbacks
    from hydra.core.utils import run_job
    from hydra.types import HydraContext
    from omegaconf import open_dict

    with open_dict(config):
        config.hydra.job.id, config.hydra.job.num = "0", 0
    run_job(
        hydra_context=HydraContext(config_loader=loader, callbacks=Callbacks()),
        task_function=lambda cfg: None,
        config=config,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
        configure_logging=False,
    )
    files = {p.name: p.read_bytes() for p in (tmp_path / "sweep").rglob(".hydra/*.yaml")}
    shutil.rmtree(tmp_path / "sweep")
    return files


@pytest.mark.parametrize("overrides", JOBS, ids=" ".join)
def test_fast_composition_equals_hydras(hydra_setup, overrides):
    loader, master, tmp_path = hydra_setup
    cache = ComposeCache(loader, master)
    cache.load(["seed=1"])  # the cache is warm, as in a sweep
    full = loader.load_sweep_config(master, list(overrides))
    fast = cache.load(overrides)
    assert cache.fast == (1 if overrides in COMPOSED_IN_FULL else 2)  # the fast path was taken
    assert OmegaConf.to_yaml(fast) == OmegaConf.to_yaml(full)
    task = {k: v for k, v in fast.items() if k != "hydra"}
    assert OmegaConf.to_container(OmegaConf.create(task), resolve=True) == OmegaConf.to_container(
        OmegaConf.create({k: v for k, v in full.items() if k != "hydra"}), resolve=True
    )
    assert _written(loader, fast, tmp_path) == _written(loader, full, tmp_path)


class _Recorder:
    """Callbacks that note what each hook saw."""

    def __init__(self):
        self.calls = []

    def on_job_start(self, config, task_function):
        self.calls.append(("start", OmegaConf.to_yaml(config)))

    def on_job_end(self, config, job_return):
        self.calls.append(("end", OmegaConf.to_yaml(config), job_return.status))


def _observed(run, config, tmp_path):
    """Everything a job and its callbacks can see, run through ``run``; files removed after."""
    import os

    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import JobRuntime
    from omegaconf import open_dict

    seen = {}

    def task(cfg):
        seen.update(
            yaml=OmegaConf.to_yaml(cfg),
            resolved=OmegaConf.to_container(cfg, resolve=True),
            struct=OmegaConf.is_struct(cfg),
            hydra=OmegaConf.to_yaml(HydraConfig.get()),
            subdir=HydraConfig.get().sweep.subdir,
            readonly=OmegaConf.is_readonly(HydraConfig.get()),
            cwd=os.getcwd(),
            foo=os.environ.get("FOO"),
        )
        return 0.5

    with open_dict(config):
        config.hydra.job.id, config.hydra.job.num = "0", 0
    JobRuntime.instance().set("name", "runner")
    callbacks = _Recorder()
    ret = run(task, config, callbacks)
    files = {p.name: p.read_bytes() for p in (tmp_path / "sweep").rglob(".hydra/*.yaml")}
    shutil.rmtree(tmp_path / "sweep")
    returned = (
        ret.status,
        ret.return_value,
        ret.overrides,
        ret.working_dir,
        ret.task_name,
        OmegaConf.to_yaml(ret.cfg),
        OmegaConf.to_yaml(ret.hydra_cfg),
    )
    return seen, files, callbacks.calls, returned, HydraConfig.instance().cfg, os.getcwd()


@pytest.mark.parametrize("overrides", JOBS, ids=" ".join)
def test_the_pool_runs_a_job_as_hydras_run_job_does(hydra_setup, overrides):
    from hydra.core.utils import run_job
    from hydra.types import HydraContext

    from runner.sweeps import hydra_job

    loader, master, tmp_path = hydra_setup

    def hydra_run(task, config, callbacks):
        context = HydraContext(config_loader=loader, callbacks=callbacks)
        return run_job(task, config, "hydra.sweep.dir", "hydra.sweep.subdir", context, False)

    expected = _observed(hydra_run, loader.load_sweep_config(master, list(overrides)), tmp_path)
    found = _observed(
        hydra_job.run_job, loader.load_sweep_config(master, list(overrides)), tmp_path
    )
    assert found == expected
    assert len(found[1]) == 3 and [c[0] for c in found[2]] == ["start", "end"]


def test_jobs_sharing_group_choices_compose_once(hydra_setup):
    loader, master, _ = hydra_setup
    cache = ComposeCache(loader, master)
    for model in ("dense2", "dense3"):
        for seed in range(5):
            for lr in (0.01, 0.1):
                cache.load([f"model={model}", f"seed={seed}", f"optimizer.learning_rate={lr}"])
    assert len(cache.bases) == 2 and cache.fast == 20 and cache.full == 0


def test_what_it_cannot_prove_goes_through_hydra(hydra_setup):
    loader, master, _ = hydra_setup
    cache = ComposeCache(loader, master)
    for overrides in (["+cfg={a:1}"], ["+hydra.job.env_set.FOO=bar"], ["hydra.runtime.cwd=/x"]):
        cache.load(overrides)
    assert cache.full == 3 and cache.fast == 0


@pytest.mark.parametrize("overrides", [["model.nope=1"], ["model=dense9"], ["seed=range(0,3)"]])
def test_mistakes_raise_what_hydra_raises(hydra_setup, overrides):
    loader, master, _ = hydra_setup
    with pytest.raises(Exception) as hydras:
        loader.load_sweep_config(master, overrides)
    with pytest.raises(type(hydras.value)) as ours:
        ComposeCache(loader, master).load(overrides)
    assert str(ours.value) == str(hydras.value)


def test_a_returned_config_is_the_callers_own(hydra_setup):
    loader, master, _ = hydra_setup
    cache = ComposeCache(loader, master)
    first = cache.load(["seed=1"])
    first.trainer.epochs = 123
    assert cache.load(["seed=1"]).trainer.epochs != 123


def test_simple_overrides_seen_before_are_split_as_the_parser_splits_them(hydra_setup):
    loader, master, _ = hydra_setup
    lines = [
        "seed=1",
        "model=dense3",
        "+note=a-b",
        "~trainer.shuffle",
        "optimizer.learning_rate=1e-3",
        "hydra.job.chdir=true",
        "hydra.runtime.cwd=/x",
        "+data@extra=moons",
        "seed=1,2",
        "seed=range(0,3)",
        "+note=[a,b]",
        "+note=${seed}",
    ]
    remembering = ComposeCache(loader, master)
    for _ in range(2):
        for line in lines + [line.replace("1", "7") for line in lines]:
            fresh = ComposeCache(loader, master)
            assert remembering._split([line, "seed=3"]) == fresh._split([line, "seed=3"]), line
    assert remembering._kinds  # the second round was split without the parser
