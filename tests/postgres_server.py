"""A real PostgreSQL for the tests: Debian's ``postgresql`` server, a new cluster made with
``initdb`` in a temporary folder and started with ``pg_ctl``, listening on 127.0.0.1 at a
port nothing else uses and on a Unix socket in that folder, stopped and removed at the end.

PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` user the
package creates. ``python tests/postgres_server.py`` starts one and prints its URL.
"""

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

DATABASE = "nnrunner"


def _bin_dir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def missing():
    """Why a PostgreSQL server cannot be started here, or None."""
    if _bin_dir() is None:
        return "the PostgreSQL server is not installed (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "no postgres user to run the server as"
    return None


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One cluster, one database (``nnrunner``), trust authentication on 127.0.0.1 only."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="postgres-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.bin = _bin_dir()

    def url(self, driver="", database=DATABASE):
        """SQLAlchemy's URL of the database (``driver``: ``+psycopg2``, ``+psycopg``, ...)."""
        return f"postgresql{driver}://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self):
        self.folder.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._as_owner(
            [self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", self.user, "-E", "UTF8"]
        )
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_owner(
            [self.bin / "pg_ctl", "-D", self.data, "-o", options, "-l", self.folder / "log", "-w"]
            + ["start"]
        )
        self._as_owner(
            [self.bin / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]
            + [DATABASE]
        )
        return self

    def stop(self, mode="fast"):
        """Stop the server (``immediate``: as if it crashed); the data stay for ``start``."""
        self._as_owner(
            [self.bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"], check=False
        )

    def restart(self):
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_owner(
            [self.bin / "pg_ctl", "-D", self.data, "-o", options, "-l", self.folder / "log", "-w"]
            + ["start"]
        )

    def remove(self):
        self.stop("immediate")
        pid_file = self.data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, ProcessLookupError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.remove()

    def _as_owner(self, command, check=True):
        command = [str(part) for part in command]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd="/")
        if check and done.returncode != 0:
            raise RuntimeError(f"{Path(command[-1]).name}: {done.stderr.strip() or done.stdout}")
        return done


if __name__ == "__main__":
    reason = missing()
    if reason:
        raise SystemExit(f"no PostgreSQL here: {reason}")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill: stop it too
    with PostgresServer() as server:
        print(server.url("+psycopg2"), "# Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
