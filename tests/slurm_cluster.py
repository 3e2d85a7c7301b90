"""A real single-machine Slurm for the tests: ``munged``, ``slurmctld`` and ``slurmd`` from
Debian's ``munge`` and ``slurm-wlm``, started for this host from a generated ``slurm.conf``
whose state, spool, logs and munge socket live in one temporary folder, on ports nothing else
uses, and stopped at the end. Clients find it through ``SLURM_CONF`` (``cluster.env``).

Run as root (slurmd starts jobs as their user, and munged and the daemons need no set-up
beyond this folder then). ``python tests/slurm_cluster.py`` starts one and waits, printing the
``export SLURM_CONF=...`` line, for trying things by hand.
"""

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sinfo", "sbatch", "squeue", "scancel", "scontrol")
PARTITION = "cpu"
URGENT = "urgent"  # its jobs preempt PARTITION's


def missing():
    """Why a real Slurm cannot be started here, or None."""
    absent = [name for name in DAEMONS + CLIENTS if not shutil.which(name)]
    if absent:
        return f"{', '.join(absent)} not installed (apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "starting slurmd needs root"
    return None


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _memory_mb():
    with open("/proc/meminfo") as meminfo:
        total_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    return total_kb // 1024 * 3 // 4  # slurmd refuses a node that claims more than it has


class SlurmCluster:
    """One controller and one node (this host, all its CPUs) in partition ``cpu``."""

    def __init__(self, folder=None, kill_wait_s=2):
        self.folder = Path(folder or tempfile.mkdtemp(prefix="slurm-"))
        self.kill_wait_s = kill_wait_s
        self.node = socket.gethostname().split(".")[0]
        self.conf = self.folder / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self, timeout_s=60):
        for sub in ("munge", "state", "spool", "log"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self._start_munge()
        self.conf.write_text(self._config())
        for daemon in ("slurmctld", "slurmd"):
            self._run([daemon, "-f", str(self.conf)])
        self._wait_idle(timeout_s)
        return self

    def stop(self):
        """Cancel every job, stop the daemons, remove the folder."""
        subprocess.run(["scancel", "--full", "--user", "root"], env=self.env, capture_output=True)
        subprocess.run(["scontrol", "shutdown"], env=self.env, capture_output=True, timeout=30)
        for pid_file in ("slurmctld.pid", "slurmd.pid", "munge/munged.pid"):
            self._stop_pid(self.folder / pid_file)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def jobs(self):
        """Slurm's job ids in the queue (pending or running)."""
        out = subprocess.run(
            ["squeue", "--noheader", "--format=%i"], env=self.env, capture_output=True, text=True
        ).stdout
        return out.split()

    def preempt(self, seconds=5):
        """Take every CPU of the node for ``seconds`` with a job in URGENT: Slurm preempts the
        tasks running in PARTITION (SIGTERM, then SIGKILL after KillWait) and requeues them."""
        subprocess.run(
            [
                "sbatch",
                f"--partition={URGENT}",
                "--exclusive",
                "--output=/dev/null",
                f"--wrap=sleep {seconds}",
            ],
            env=self.env,
            check=True,
            capture_output=True,
        )

    def log(self, daemon="slurmctld"):
        path = self.folder / "log" / f"{daemon}.log"
        return path.read_text() if path.is_file() else ""

    def _start_munge(self):
        munge = self.folder / "munge"
        munge.chmod(0o755)  # clients need to reach the socket
        key = munge / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        self._run(
            [
                "munged",
                "--force",
                f"--key-file={key}",
                f"--socket={munge / 'socket'}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--seed-file={munge / 'seed'}",
                f"--log-file={self.folder / 'log' / 'munged.log'}",
            ]
        )

    def _config(self):
        at = self.folder
        return "\n".join(
            [
                "ClusterName=nnrunner-tests",
                f"SlurmctldHost={self.node}(127.0.0.1)",
                f"SlurmctldPort={_free_port()}",
                f"SlurmdPort={_free_port()}",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                # cred_expire: also how long a requeued job waits before it may start again
                f"AuthInfo=socket={at / 'munge' / 'socket'},cred_expire=10",
                "SlurmUser=root",
                "SlurmdUser=root",
                f"StateSaveLocation={at / 'state'}",
                f"SlurmdSpoolDir={at / 'spool'}",
                f"SlurmctldPidFile={at / 'slurmctld.pid'}",
                f"SlurmdPidFile={at / 'slurmd.pid'}",
                f"SlurmctldLogFile={at / 'log' / 'slurmctld.log'}",
                f"SlurmdLogFile={at / 'log' / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "MpiDefault=none",
                f"KillWait={self.kill_wait_s}",
                "ReturnToService=2",
                "SchedulerType=sched/backfill",
                "SchedulerParameters=sched_interval=1",
                "MinJobAge=2",
                f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} "
                f"RealMemory={_memory_mb()} State=UNKNOWN",
                # a job in URGENT preempts the tasks of PARTITION, which Slurm requeues
                "PreemptType=preempt/partition_prio",
                "PreemptMode=REQUEUE",
                f"PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP "
                "PriorityTier=1",
                f"PartitionName={URGENT} Nodes=ALL MaxTime=INFINITE State=UP PriorityTier=10",
                "",
            ]
        )

    def _run(self, command):
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} did not start: {done.stderr.strip()}")

    def _wait_idle(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        state = ""
        while time.monotonic() < deadline:
            state = subprocess.run(
                ["sinfo", "--noheader", "--format=%T"], env=self.env, capture_output=True, text=True
            ).stdout.strip()
            if state == "idle":
                return
            time.sleep(0.3)
        raise RuntimeError(f"the Slurm node is {state or 'not up'} after {timeout_s} s")

    @staticmethod
    def _stop_pid(path, timeout_s=10):
        try:
            pid = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    reason = missing()
    if reason:
        raise SystemExit(f"no Slurm here: {reason}")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill: stop it too
    with SlurmCluster() as cluster:
        print(f"export SLURM_CONF={cluster.conf}  # Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
