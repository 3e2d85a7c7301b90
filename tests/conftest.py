"""Shared helpers: compose configs in-process, run the real CLI in a subprocess."""

import functools
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy  # noqa: F401 - loaded before the thread variables below are set (see there)
import pytest

# numpy was loaded above, so the in-process numerical tests run with whatever BLAS threads the
# environment gives (.ci/run repeats them with one thread and with another kernel); every CLI
# subprocess, often several at once, gets one BLAS thread.

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from runner.plugins import make_visible  # noqa: E402 - after the thread variables

make_visible()  # the pool launcher and grid sweeper, also under an editable install

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "conf"


def compose(*overrides):
    """The task config ``python -m runner`` would see with these overrides (no hydra node)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from runner.stack import version_base

    with initialize_config_dir(config_dir=str(CONF_DIR), **version_base()):
        return hydra_compose(config_name="config", overrides=list(overrides))


def run_cli(cwd, *args, module="runner", timeout=300, env=None):
    """``python -m <module> args...`` in ``cwd``; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def private_ray_env(tmp_path):
    """The environment for a Ray sweep: Ray writes its auth token under HOME and its sockets
    under RAY_TMPDIR, so both are private to the test."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        **os.environ,
        "HOME": str(home),
        "RAY_TMPDIR": tempfile.mkdtemp(prefix="ray", dir="/tmp"),
        "RAY_USAGE_STATS_ENABLED": "0",
    }


def start_cli(cwd, *args, module="runner", env=None):
    """``python -m <module> args...`` started in ``cwd`` in its own session (process group), as
    a terminal runs a command; returns the Popen with stdout and stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,
    )


def _no_server(reason):
    """Skip a test whose server cannot run here; fail it where CI promised every server
    (NNRUNNER_REQUIRE_SERVERS=1, set by .ci/run after installing them)."""
    if os.environ.get("NNRUNNER_REQUIRE_SERVERS") == "1":
        pytest.fail(f"NNRUNNER_REQUIRE_SERVERS=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm_cluster():
    """A real Slurm on this machine (tests/slurm_cluster.py), one for the whole session."""
    from slurm_cluster import SlurmCluster, missing

    reason = missing()
    if reason:
        _no_server(f"no Slurm: {reason}")
    cluster = SlurmCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL on this machine (tests/postgres_server.py), one for the whole session."""
    from postgres_server import PostgresServer, missing

    reason = missing()
    if reason:
        _no_server(f"no PostgreSQL: {reason}")
    server = PostgresServer().start()
    yield server
    server.remove()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working folder, also the current directory of the test."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# Under pytest-xdist (``-n auto`` in pyproject's addopts) tests run in worker processes. Some
# must share one: a real Slurm or PostgreSQL is started once per worker session on this host,
# Ray's processes are heavy, and a module-scoped fixture (one sweep several tests read; the
# cases tests/cli_batch.py runs at once) would be built again in every worker that gets one of
# its tests. So the scheduler below keeps together, as one unit of work: every test of the
# files that start a server, and every test named for Ray; each file with a module-scoped
# fixture. Every other test is a unit of its own. Not ``--dist loadgroup``: xdist 3.8 marks a
# group by rewriting ``item._nodeid``, which pytest 9.2 no longer reads, so its groups are lost.
# ``_split_scope`` is the one method of xdist's LoadScopeScheduling this overrides.
SERVER_FIXTURES = ("slurm_cluster", "postgres_server", "ray_processes", "hydra/launcher=ray")
RAY_TEST = re.compile(r"(?<![a-z])ray(?![a-z])")


@functools.cache
def _file_text(path):
    try:
        return (ROOT / path).read_text(encoding="utf-8")
    except OSError:
        return ""


def work_unit(nodeid):
    """The unit of work a test belongs to: "servers", its file, or itself."""
    path, _, name = nodeid.partition("::")
    text = _file_text(path)
    if any(f in text for f in SERVER_FIXTURES):
        return "servers"
    if 'scope="module"' in text:
        return path
    return "servers" if RAY_TEST.search(name) else nodeid


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class Units(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return work_unit(nodeid)

    return Units(config, log)


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker per core, at most four (each starts CLI subprocesses of its own)."""
    return max(1, min(4, len(os.sched_getaffinity(0))))
