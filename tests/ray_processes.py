"""A Ray cluster of separate ``ray start`` processes on this machine, for the tests: a head and a
second node, each with its own temporary folder (``--temp-dir``), its own HOME holding a copy of
the cluster's auth token, and its own scratch folder for the runner's jobs
(``NNRUNNER_RAY_SCRATCH``), as two machines sharing no disk would have them.

Each node is one ``ray start --block`` process in a session of its own: its daemons (raylet,
agents, log monitor; the head's GCS) are its descendants and Ray's workers are the raylet's
children. ``stop_node`` stops one node the way ``ray stop`` stops a machine's (SIGTERM to the
raylet first, then to the node's other processes, SIGKILL after a grace period), but only that
node's processes: ``ray stop`` itself would stop every Ray process on the machine, the other
node's and other test runs' included. ``python tests/ray_processes.py`` starts one and waits.
"""

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

STARTED = "Ray runtime started"  # what ``ray start`` prints once its node has joined


def missing():
    """Why ``ray start`` cannot run here, or None."""
    try:
        import ray  # noqa: F401 - installed is all that is asked
    except ImportError:
        return "Ray is not installed (pip install -e '.[ray]')"
    if not _ray_command().is_file():
        return f"Ray is installed but its `ray` command is not beside {sys.executable}"
    return None


def no_ray(reason):
    """Skip a test that needs Ray where it is not installed; fail it where CI promised every
    server (NNRUNNER_REQUIRE_SERVERS=1), as ``conftest._no_server`` does."""
    if os.environ.get("NNRUNNER_REQUIRE_SERVERS") == "1":
        pytest.fail(f"NNRUNNER_REQUIRE_SERVERS=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def ray_processes(tmp_path):
    """A started head and second node (``RayProcesses``), every process stopped at the end."""
    reason = missing()
    if reason:
        no_ray(reason)
    cluster = RayProcesses(tmp_path / "ray")
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def _ray_command():
    return Path(sys.executable).with_name("ray")


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Node:
    """One ``ray start --block`` process and the folders that are its own."""

    name: str
    home: Path  # its HOME: ~/.ray/auth_token
    scratch: Path  # NNRUNNER_RAY_SCRATCH of its workers
    temp_dir: Path  # --temp-dir: Ray's session folder, sockets and logs
    log: Path  # what ``ray start`` printed
    process: subprocess.Popen | None = None
    pids: dict = field(default_factory=dict)  # pid -> start time: every process of it seen

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None


class RayProcesses:
    """A head (``--num-cpus=1``) and a node (``--num-cpus=1``) joined to it by address."""

    def __init__(self, folder, cpus_per_node=1):
        self.folder = Path(folder)
        self.cpus = cpus_per_node
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.token = secrets.token_hex(32)
        self.nodes = {name: self._node(name) for name in ("head", "node")}

    @property
    def head(self):
        return self.nodes["head"]

    @property
    def node(self):
        return self.nodes["node"]

    def _node(self, name):
        home, scratch = self.folder / name / "home", self.folder / name / "scratch"
        # Ray's sockets live under --temp-dir: a short path, or they exceed AF_UNIX's 107 bytes
        return Node(
            name,
            home,
            scratch,
            Path(tempfile.mkdtemp(prefix=f"ray-{name}-", dir="/tmp")),
            self.folder / name / "ray-start.log",
        )

    def env(self, node=None):
        """The environment of a process on ``node`` (default the head): a driver run with it
        joins as a user on the head's machine would."""
        node = node or self.head
        return {
            **os.environ,
            "HOME": str(node.home),
            "RAY_TMPDIR": str(node.temp_dir),
            "RAY_USAGE_STATS_ENABLED": "0",
            # `ray start --head` turns token authentication on when ~/.ray/auth_token exists; a
            # node joining by address sends its token only when told to
            "RAY_AUTH_MODE": "token",
            "NNRUNNER_RAY_SCRATCH": str(node.scratch),
        }

    def start(self, timeout_s=90):
        """The head, then the node; returns once both have joined."""
        for node in self.nodes.values():
            (node.home / ".ray").mkdir(parents=True, exist_ok=True)
            (node.home / ".ray" / "auth_token").write_text(self.token)
            node.scratch.mkdir(parents=True, exist_ok=True)
        self._start(self.head, "--head", f"--port={self.port}", "--include-dashboard=false")
        self._wait(self.head, timeout_s)
        self._start(self.node, f"--address={self.address}")
        self._wait(self.node, timeout_s)
        return self

    def _start(self, node, *args):
        command = [
            str(_ray_command()),
            "start",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.cpus}",
            "--disable-usage-stats",
            f"--temp-dir={node.temp_dir}",
            *args,
        ]
        with node.log.open("w") as log:
            node.process = subprocess.Popen(
                command,
                env=self.env(node),
                cwd=node.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait(self, node, timeout_s):
        deadline = time.monotonic() + timeout_s
        while STARTED not in node.log.read_text(errors="replace"):
            if not node.running or time.monotonic() > deadline:
                tail = node.log.read_text(errors="replace")[-3000:]
                self.stop()
                raise RuntimeError(f"`ray start` of the {node.name} did not start:\n{tail}")
            time.sleep(0.2)
        node.pids.update(self.processes(node))

    def node_id(self, node):
        """Ray's ID of ``node`` (hex), as its raylet logged it when it started."""
        for log in sorted(node.temp_dir.glob("session_*/logs/raylet.out")):
            found = re.search(r"node_id=([0-9a-f]{16,})", log.read_text(errors="replace"))
            if found:
                return found.group(1)
        raise RuntimeError(f"no node ID in the raylet log of the {node.name} ({node.temp_dir})")

    def processes(self, node):
        """``node``'s processes now (pid -> start time): its ``ray start``, every descendant
        (Ray's workers included) and any process naming its temporary folder (one left behind)."""
        table = _process_table()
        found = {node.process.pid} if node.running else set()
        grew = True
        while grew:
            more = {pid for pid, (ppid, _, _) in table.items() if ppid in found} - found
            grew = bool(more)
            found |= more
        found |= {pid for pid, (_, _, cmd) in table.items() if str(node.temp_dir) in cmd}
        return {pid: table[pid][1] for pid in found if pid in table}

    def raylet(self, node):
        """``node``'s raylet ({pid: start time}; its command line names the node's folder)."""
        table = _process_table()
        return {
            pid: started
            for pid, started in self.processes(node).items()
            if table.get(pid, (0, 0, ""))[2].split(" ", 1)[0].endswith("/raylet")
        }

    def stop_node(self, node, grace_s=5.0):
        """``ray stop`` for ``node`` alone: SIGTERM its raylet, then its other processes, each
        step waiting up to ``grace_s`` before the next; SIGKILL what is left."""
        node.pids.update(self.processes(node))
        raylet = self.raylet(node)
        _signal(raylet, signal.SIGTERM)
        _wait_gone(raylet, grace_s)
        node.pids.update(self.processes(node))
        rest = dict(node.pids)
        _signal(rest, signal.SIGTERM)
        _signal(_wait_gone(rest, grace_s), signal.SIGKILL)
        if node.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(timeout=grace_s)

    def stop(self):
        """Every process of both nodes stopped (the node first, then the head), the folders
        removed; safe to call more than once and after a failed start."""
        for node in (self.node, self.head):
            if node.process is None:
                continue
            node.pids.update(self.processes(node))
            _signal(node.pids, signal.SIGTERM)
        for node in (self.node, self.head):
            _signal(_wait_gone(node.pids, 3.0), signal.SIGKILL)
            _wait_gone(node.pids, 5.0)
            if node.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node.process.wait(timeout=5)
            shutil.rmtree(node.temp_dir, ignore_errors=True)


def _stat(pid):
    """(state, parent pid, start time) of a process from /proc, or None once it has gone. The
    start time tells a process from a later one given the same pid."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (OSError, ValueError):
        return None
    return fields[0], int(fields[1]), int(fields[19])


def _process_table():
    """pid -> (parent pid, start time, command line) of every process now, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(entry.name)
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended meanwhile
            continue
        if stat is not None:
            table[int(entry.name)] = (stat[1], stat[2], cmd.strip())
    return table


def _alive(pid, started):
    """Whether the process ``pid`` that started at ``started`` still runs (a zombie has ended)."""
    stat = _stat(pid)
    return stat is not None and stat[2] == started and stat[0] != "Z"


def _signal(processes, number):
    """Send ``number`` to each of ``processes`` ({pid: start time}) still running as itself."""
    for pid, started in processes.items():
        if _alive(pid, started):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, number)


def _wait_gone(processes, timeout_s):
    """Wait until none of ``processes`` runs, at most ``timeout_s`` -> those still running."""
    deadline = time.monotonic() + timeout_s
    alive = {pid: t for pid, t in processes.items() if _alive(pid, t)}
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = {pid: t for pid, t in alive.items() if _alive(pid, t)}
    return alive


if __name__ == "__main__":
    cluster = RayProcesses(tempfile.mkdtemp(prefix="ray-processes-"))
    try:
        cluster.start()
        print(
            f"a head and a node at {cluster.address}; join with\n"
            f"  HOME={cluster.head.home} RAY_AUTH_MODE=token python -m runner -m "
            f"hydra/launcher=ray_cluster hydra.launcher.ray.init.address={cluster.address} ...\n"
            "Ctrl-C stops both",
            flush=True,
        )
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
        shutil.rmtree(cluster.folder, ignore_errors=True)
