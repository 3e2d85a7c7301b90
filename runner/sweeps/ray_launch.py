"""The driver side of ``hydra/launcher=ray``: jobs sent to Ray in chunks, results as they come.

Ray is used through its public API only: ``ray.init``, one remote function with ``num_cpus``,
streamed back (``num_returns="streaming"``) so that each job's result arrives when the job
ends, not when its chunk does. A chunk is sized so that a task runs for about
``hydra.launcher.chunk_s`` seconds (the first tasks run one job each, to time them), or
``hydra.launcher.jobs_per_task`` jobs; chunks shrink as the jobs run out (guided
self-scheduling: at most the remaining jobs over twice the slots), so no slot sits idle at the
end while another works through a long chunk, and one task more than there are slots is kept
queued so that no slot waits for the driver.

Without a shared file system the driver does everything that touches the sweep folder and
the ledger: it looks each job up in the ledger before sending it (``runner.resume``), writes
the files each job sends back into its folder and appends the job's ledger row. A worker
that dies takes the job of its chunk that was running with it: it is recorded ``failed`` with
the reason, and the sweep goes on. A node that dies (stopped, preempted) takes its chunks'
running jobs too: they are recorded ``interrupted``, naming the node. The jobs of a chunk that
had not begun are ``not_started`` (no folder, no ledger row), as are those a stop (Ctrl-C)
keeps from starting; ``--resume`` runs every job not ``ok``.
"""

import math
import os
import re
import signal
import socket
import time
import uuid
from pathlib import Path

from runner.errors import ConfigError
from runner.sweeps import context
from runner.sweeps.compose import cache_for
from runner.sweeps.launch import _job, _job_return, _setup, kept_session
from runner.sweeps.progress import SweepProgress

CONNECT_TIMEOUT_S = 5.0
STOP_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
)  # how long the address may take to accept a connection


class RaySession:
    """Ray, the sweep's shared setup in Ray's object store, and timing of the jobs so far."""

    def __init__(self, launcher, cache):
        self.cache = cache
        self.launcher = launcher
        self.setup = _setup(launcher, cache)
        self.setup_id = uuid.uuid4().hex
        self.progress = SweepProgress(expected=None)
        self.job_seconds = []  # wall times of finished jobs, to size chunks
        self.started_ray = False
        self.remote = None
        self.stopped = None  # why the sweep was stopped, once it was

    def open(self):
        if self.remote is not None:
            return
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "hydra/launcher",
                "ray",
                "needs Ray, which is not installed: pip install -e '.[ray]'",
            ) from None
        settings = self.launcher.ray
        init = dict(settings.get("init") or {})
        address = init.get("address")
        if address:
            check_reachable(address)
        init.setdefault("include_dashboard", False)
        init.setdefault("log_to_driver", False)
        if not ray.is_initialized():
            # ray.init installs its own SIGINT/SIGTERM handlers; the runner's (a first Ctrl-C
            # lets running jobs record themselves) are put back
            saved = {number: signal.getsignal(number) for number in STOP_SIGNALS}
            try:
                ray.init(**{k: v for k, v in init.items() if v is not None or k == "address"})
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise ConfigError(
                    "hydra.launcher.ray.init.address", address, f"Ray did not start: {error}"
                ) from None
            finally:
                for number, handler in saved.items():
                    if handler is not None:
                        signal.signal(number, handler)
            self.started_ray = True
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from runner.sweeps.ray_tasks import StopFlag, run_chunk

        options = _plain(settings.get("remote"))  # ray.remote's own: num_cpus, resources, ...
        num_cpus = options.setdefault("num_cpus", 1)
        try:
            self.remote = ray.remote(max_retries=0, **options)(run_chunk)
        except (TypeError, ValueError) as error:
            raise ConfigError(
                "hydra.launcher.ray.remote", options, f"ray.remote refused it: {error}"
            ) from None
        # the stop flag lives on the driver's node: a worker node lost mid-sweep must not take
        # it along, or every task would stop its job as if the driver had gone. Hard affinity:
        # Ray places a soft one with no resources on any node (seen on Ray 2.60)
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.flag = ray.remote(num_cpus=0, scheduling_strategy=here)(StopFlag).remote()
        self.slots = max(1, int(ray.cluster_resources().get("CPU", 1) // num_cpus))
        self.setup_ref = ray.put(self.setup)

    def run(self, jobs, outcomes, shared_fs, places, folders=None, counted=False):
        """Run ``jobs`` to their outcomes; ``counted``: the progress has them already."""
        from runner.sweeps import stopping

        self.open()  # first: it says so in one line when Ray is not installed
        import ray

        if not counted:
            self.progress.add(len(jobs))
        pending = list(jobs)
        running = {}  # generator -> [jobs of the chunk not yet returned]
        back = None if shared_fs else (folders, places)
        try:
            while pending or running:
                while pending and len(running) < self.slots + 1:  # one queued: no slot waits
                    generator, chunk = self._submit(pending, places, shared_fs)
                    running[generator] = chunk
                ready, _ = ray.wait(list(running), num_returns=1, timeout=0.25)
                for generator in ready:
                    self._take(generator, running, outcomes, back)
        except KeyboardInterrupt:  # Ctrl-C: the running jobs stop and record, then the sweep
            self.stopped = stopping.stop_reason(places[0]) or "stopped"
            self._drain(running, outcomes, back)
            for job in pending:
                self._record_stopped(job, outcomes, started=False)
            raise

    def _drain(self, running, outcomes, back):
        """Tell every task to stop its job and wait (at most stopping.WAIT_SECONDS; a second
        Ctrl-C cuts it short) for the jobs to send what they recorded; jobs that never sent
        anything are recorded interrupted here."""
        import ray

        from runner.sweeps.stopping import WAIT_SECONDS

        self.flag.set.remote(self.stopped)
        deadline = time.monotonic() + WAIT_SECONDS
        try:
            while running and time.monotonic() < deadline:
                ready, _ = ray.wait(list(running), num_returns=1, timeout=0.25)
                for generator in ready:
                    self._take(generator, running, outcomes, back)
        except KeyboardInterrupt:
            pass
        for chunk in running.values():
            for position, job in enumerate(chunk):  # a task runs its chunk's jobs in order
                self._record_stopped(job, outcomes, started=position == 0)
        running.clear()

    def _record_stopped(self, job, outcomes, started):
        """A job the stop cut off: ``interrupted`` (its folder and ledger row written here) if
        it ran, else ``not_started``, with no folder and no ledger row (``--resume`` runs it)."""
        if started:
            message = f"interrupted: the sweep was stopped ({self.stopped}) while it ran"
            outcomes[job.idx] = self._lost(job, message, "interrupted")
            self._finished(job, outcomes[job.idx])
        else:
            self._not_started(job, outcomes, f"the sweep was stopped ({self.stopped}) before it")

    def _not_started(self, job, outcomes, why):
        from runner.sweeps.result import JobResult

        outcomes[job.idx] = JobResult(
            "not_started", message=f"not started: {why} (--resume runs it)"
        )
        self._finished(job, outcomes[job.idx])

    def _submit(self, pending, places, shared_fs):
        chunk = pending[: self._chunk_size(len(pending))]
        del pending[: len(chunk)]
        bases = {j.recipe.base for j in chunk if j.recipe is not None}
        sent = [(j.idx, j.recipe, j.config_bytes) for j in chunk]
        generator = self.remote.options(num_returns="streaming").remote(
            self.setup_id,
            self.setup_ref,
            {key: self.cache.bases[key] for key in bases},
            sent,
            None if shared_fs else places,
            self.flag,
        )
        return generator, chunk

    def _take(self, generator, running, outcomes, back):
        import ray

        chunk = running[generator]
        try:
            shipped = ray.get(next(generator))
        except StopIteration:  # the task ended; after a stop, without starting these
            for job in running.pop(generator):
                self._record_stopped(job, outcomes, started=False)
            return
        except Exception as error:  # noqa: BLE001 - the worker or its node is gone
            del running[generator]
            status, reason = _reason(error)
            first, *rest = chunk  # the task runs its chunk in order: the first one was running
            outcomes[first.idx] = self._lost(first, reason, status)
            self._finished(first, outcomes[first.idx])
            for job in rest:
                self._not_started(job, outcomes, f"{reason} before it")
            return
        job = next(j for j in chunk if j.idx == shipped.idx)
        chunk.remove(job)
        if back is not None:  # no shared file system: the driver writes the job's files
            from runner.interrupts import deferred

            folders, (_, ledger) = back
            with deferred() as held:  # a job's files and row are written whole
                write_back(folders[job.idx], shipped, ledger)
            if held.pending:  # delivered again, now that the job is written: the runner's
                os.kill(os.getpid(), held.pending)  # handler marks the sweep stopped
        self.job_seconds.append(shipped.seconds)
        outcomes[job.idx] = shipped.result
        self._finished(job, shipped.result)

    def _chunk_size(self, remaining):
        fixed = self.launcher.jobs_per_task
        if fixed:
            return fixed
        if not self.job_seconds:
            return 1  # time the first jobs before sending more
        per_job = max(sum(self.job_seconds) / len(self.job_seconds), 1e-3)
        wanted = max(1, round(self.launcher.chunk_s / per_job))
        # guided self-scheduling: chunks shrink as the jobs run out, so the slots finish together
        return max(1, min(wanted, math.ceil(remaining / (2 * self.slots))))

    def _lost(self, job, reason, status="failed"):
        from runner.sweeps.launch import _lost

        return _lost(job, self.cache, self.setup, reason, status)

    def _finished(self, job, result):
        self.progress.finished(job.idx, result.status, result.message)

    def close(self, at_once=False):
        self.progress.close()
        if self.started_ray:
            import ray

            ray.shutdown()
            self.started_ray = False
        self.remote = None


def launch(launcher, job_overrides, initial_job_idx):
    """Run the batch through Ray -> one JobReturn per job, in the batch's order."""
    from hydra.core.utils import setup_globals

    setup_globals()
    config = launcher.config
    check_settings(launcher)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    cache = cache_for(launcher.hydra_context, config)
    session = kept_session(launcher, cache, RaySession)
    jobs = [_job(cache, initial_job_idx + i, list(o)) for i, o in enumerate(job_overrides)]
    outcomes, folders = {}, {}
    shared_fs = bool(launcher.shared_fs)
    from runner.sweeps.prepare import ledger_path

    places = (str(sweep_dir.absolute()), str(ledger_path(config)))
    try:
        session.open()  # first: it says so in one line when Ray is not installed
        if not shared_fs:  # the driver alone reads the ledger snapshot and the sweep folder
            jobs = _not_done(jobs, session, outcomes, folders)
        session.run(jobs, outcomes, shared_fs, places, folders, counted=not shared_fs)
    except BaseException:
        context.of(config).close(at_once=True)
        raise
    every = [_job(cache, initial_job_idx + i, list(o)) for i, o in enumerate(job_overrides)]
    return [_job_return(job, outcomes[job.idx]) for job in every]


def check_settings(launcher):
    """``hydra.launcher.chunk_s`` and ``jobs_per_task`` checked, before Ray starts."""
    value = launcher.chunk_s
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError("hydra.launcher.chunk_s", value, "must be a number of seconds > 0")
    fixed = launcher.jobs_per_task
    if fixed is not None and (isinstance(fixed, bool) or not isinstance(fixed, int) or fixed < 1):
        raise ConfigError(
            "hydra.launcher.jobs_per_task",
            fixed,
            "must be a positive integer, or null (sized by hydra.launcher.chunk_s)",
        )


def _not_done(jobs, session, outcomes, folders):
    """Jobs whose run_key is done are answered here, as the pool's workers would -> the
    others; ``folders`` gets every job's folder in the driver's sweep, and the sweep's progress
    counts the whole batch."""
    from runner.sweeps import reuse
    from runner.sweeps.hydra_job import job_folder
    from runner.sweeps.worker import JobRunner

    sweep = session.launcher.config.hydra.sweep
    if reuse.snapshot_of(Path(str(sweep.dir))) is None and _numbered_folders(sweep):
        # nothing to look up and Hydra's default folders: no job composed before the tasks go
        folders.update((job.idx, Path(str(sweep.dir)) / str(job.idx)) for job in jobs)
        session.progress.add(len(jobs))
        return list(jobs)
    session.progress.add(len(jobs))  # the whole batch: the count reads "jobs 1/6", not "1/1"
    runner = JobRunner(session.setup)
    for key, data in session.cache.bases.items():
        runner.add_base(key, data)
    left = []
    for job in jobs:
        config = runner.config(job.idx, job.recipe, job.config_bytes)
        folders[job.idx] = job_folder(config)
        reused, _ = reuse.before_job(config, folders[job.idx])
        if reused is None:
            left.append(job)
            continue
        outcomes[job.idx] = reuse.reused_result(reused, config)
        session.progress.finished(job.idx, "reused", "")
    return left


def _numbered_folders(sweep):
    """Whether each job's folder is ``hydra.sweep.dir/<job number>``, Hydra's default subdir."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(sweep, resolve=False).get("subdir") == "${hydra.job.num}"


def write_back(folder, shipped, ledger):
    """A job's files into its folder of the driver's sweep, then its row into the ledger."""
    import csv
    import io

    from runner.records import append_to_ledger

    for name, data in shipped.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    if shipped.ledger_rows.strip():
        text = io.StringIO(shipped.ledger_header + "\n" + shipped.ledger_rows)
        for row in csv.DictReader(text):
            append_to_ledger(ledger, {k: (v if v != "" else None) for k, v in row.items()})


def check_reachable(address):
    """An address that takes no connection fails here, in seconds, with one line; Ray itself
    would keep retrying for a minute or more."""
    if address in ("auto", "local") or address.startswith("ray://"):
        target = address[len("ray://") :] if address.startswith("ray://") else None
        if target is None:
            return
    else:
        target = address
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), CONNECT_TIMEOUT_S):
            pass
    except (OSError, ValueError) as error:
        raise ConfigError(
            "hydra.launcher.ray.init.address",
            address,
            f"no Ray cluster answers there ({error}); start one with `ray start --head`, or "
            "leave the address null for a local instance",
        ) from None


_NODE = re.compile(r"Node IP: (?P<ip>[^,\s]+), node ID: (?P<id>[0-9a-f]+)")


def _reason(error):
    """Why a task's jobs were lost -> (their status, one line). A node that died (Ray names it in
    a ``NodeDiedError``: a machine stopped, preempted or cut off) interrupts its jobs, as a
    stopped sweep does, and ``--resume`` runs them; the line gives the node's IP and Ray's node
    ID. A worker that died on a node still there (killed, out of memory, a crash in the job) fails
    them, with the first sentence of Ray's message."""
    name = type(error).__name__
    text = str(error).strip()
    node = _NODE.search(text)
    if node:
        return "interrupted", f"its Ray node was lost (node {node['ip']}, ID {node['id']}; {name})"
    lines = text.splitlines()
    sentence = (lines[0] if lines else name).split(". ", 1)[0].rstrip(".")
    return "failed", f"its Ray worker was lost ({name}: {sentence[:200]})"


def _plain(section):
    """A config section as the plain dict Ray's keyword arguments need (nested ones too)."""
    from omegaconf import DictConfig, OmegaConf

    if isinstance(section, DictConfig):
        return OmegaConf.to_container(section, resolve=True)
    return dict(section or {})


def prepare(config):
    """``hydra.launcher.ray`` set up in the launching process, before any job (the launcher's
    ``setup``). ``hydra/launcher=ray_cluster`` joins a cluster, so it needs its address (its
    yaml cannot say so with ``???``: merged over the ``ray`` option's null, it stays null). Ray
    refuses ``object_store_memory`` when joining a running cluster: said in one line before Ray
    starts, rather than as Ray's traceback. Nothing is written into ``hydra.launcher``: Hydra 1.4
    refuses a job whose launcher config differs from the sweep's."""
    from omegaconf import OmegaConf

    init = config.hydra.launcher.ray.init
    address = init.get("address")
    choice = OmegaConf.select(config, "hydra.runtime.choices", default={}).get("hydra/launcher")
    if not address and choice == "ray_cluster":
        raise ConfigError(
            "hydra.launcher.ray.init.address",
            address,
            "is the head node of the cluster to join (host:port, e.g. 10.0.0.5:6379); "
            "hydra/launcher=ray starts a Ray instance on this machine instead",
        )
    if not address:
        return
    memory = init.get("object_store_memory")
    if memory is not None:
        raise ConfigError(
            "hydra.launcher.ray.init.object_store_memory",
            memory,
            f"cannot be set when joining a running cluster (hydra.launcher.ray.init.address={address}); "
            "the cluster's own setting applies, leave it null",
        )
    _use_auth_token_if_available()


def _use_auth_token_if_available():
    """A driver joining by address sends Ray's auth token only with RAY_AUTH_MODE=token, while a
    head started with ``ray start`` enables token auth whenever ~/.ray/auth_token exists."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    token_file = Path(os.environ.get("RAY_AUTH_TOKEN_PATH", Path.home() / ".ray" / "auth_token"))
    if "RAY_AUTH_TOKEN" in os.environ or token_file.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"
