"""One sweep context and one job result (issue 28): what a sweep's pieces share, and the one
value a job hands back to every launcher and sweeper."""

import math
import pickle
from types import SimpleNamespace

import pytest
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from runner.sweeps import context
from runner.sweeps.result import JobResult


class Workers:
    def __init__(self):
        self.closed = []

    def close(self, at_once=False):
        self.closed.append(at_once)


@pytest.fixture(autouse=True)
def no_sweep_left():
    context.finish()
    yield
    context.finish()


def test_the_pieces_of_one_sweep_share_one_context_and_a_new_config_is_a_new_sweep():
    config = OmegaConf.create({"hydra": {}})
    started = context.start(config, "/tmp/sweep")
    assert context.of(config) is started and context.current() is started
    assert str(started.sweep_dir) == "/tmp/sweep"
    workers = started.session = Workers()
    other = OmegaConf.create({"hydra": {}})  # equal content, another sweep (another object)
    assert context.of(other) is not started
    assert workers.closed == [True]  # the previous sweep's workers do not outlive it
    assert context.current().sweep_dir is None  # started by a launcher: nothing to summarise


def test_finishing_a_sweep_closes_its_workers_once_and_forgets_it():
    config = OmegaConf.create({})
    started = context.of(config)
    workers = started.session = Workers()
    assert context.finish() is started
    assert workers.closed == [False] and started.session is None
    assert context.current() is None and context.finish() is None
    started.close()
    assert workers.closed == [False]


def test_the_sweeper_and_the_launcher_of_a_sweep_share_one_composition_cache(monkeypatch):
    from runner.sweeps import compose

    made = []

    def cache(loader, config, whitelist):
        made.append(loader)
        return SimpleNamespace(loader=loader, master=config)

    monkeypatch.setattr(compose, "ComposeCache", cache)
    loader = object()
    hydra_context = SimpleNamespace(config_loader=loader)
    config = OmegaConf.create({})
    first = compose.cache_for(hydra_context, config)
    assert compose.cache_for(hydra_context, config) is first and len(made) == 1
    assert compose.cache_for(hydra_context, OmegaConf.create({})) is not first
    assert len(made) == 2


def test_a_result_reads_as_its_objective_only_when_the_job_ended_ok():
    assert float(JobResult("ok", 0.25)) == 0.25
    for result in (
        JobResult("failed", 0.25, "boom"),
        JobResult("pruned", 0.3),
        JobResult("ok", None),
        JobResult("ok", [0.1, 0.2]),  # several objectives: no single number
    ):
        assert math.isnan(float(result))
    assert JobResult("ok", 1.0).ok and not JobResult("diverged").ok


def test_a_task_that_raised_is_an_error_result_that_travels_between_processes():
    class Unpicklable(Exception):
        def __reduce__(self):
            raise TypeError("no")

    result = JobResult.error(Unpicklable("the data file is gone"))
    assert result.status == "error" and "the data file is gone" in result.message
    back = pickle.loads(pickle.dumps(result))
    assert isinstance(back.raised, RuntimeError) and "the data file is gone" in str(back.raised)
    kept = JobResult.error(ValueError("bad"))
    assert isinstance(pickle.loads(pickle.dumps(kept)).raised, ValueError)


def test_a_job_return_gives_back_the_result_the_job_returned():
    ok = JobReturn()
    ok.status, ok.return_value = JobStatus.COMPLETED, JobResult("pruned", 0.9, "pruned at 3")
    assert JobResult.of_return(ok) == JobResult("pruned", 0.9, "pruned at 3")
    foreign = JobReturn()
    foreign.status, foreign.return_value = JobStatus.COMPLETED, 42
    assert JobResult.of_return(foreign) == JobResult("ok", returned=42)
    failed = JobReturn()
    failed.status, failed.return_value = JobStatus.FAILED, KeyError("x")
    result = JobResult.of_return(failed)
    assert result.status == "error" and isinstance(result.raised, KeyError)


def test_the_grid_sweeper_is_recognised_by_its_class_not_a_piece_of_its_name():
    from hydra_plugins.nnrunner.grid_sweeper import GridSweeper
    from runner.sweeps.prepare import GRID_SWEEPER, is_grid

    assert f"{GridSweeper.__module__}.{GridSweeper.__qualname__}" == GRID_SWEEPER
    assert is_grid(OmegaConf.create({"hydra": {"sweeper": {"_target_": GRID_SWEEPER}}}))
    lookalike = "my_plugins.nnrunner.grid_sweeper.GridSweeperWithExtras"
    assert not is_grid(OmegaConf.create({"hydra": {"sweeper": {"_target_": lookalike}}}))
