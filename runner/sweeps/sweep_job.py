"""One job of a sweep, as the runner's task runs it: the sweep's protocol around one run.

Around ``runner.train.run`` a sweep job: stops before it starts when the sweep was told to
stop (``runner.sweeps.stopping``) or its main process is gone; is not run again when the
sweep's snapshot of the ledger knows its run_key (``runner.sweeps.reuse``); moves an earlier
attempt's files aside; reports to a search's pruner; counts its failure towards
``runner.max_failures``; and returns a :class:`~runner.sweeps.result.JobResult`, the one value
every launcher and sweeper reads. What the launcher running it knows of it (a ledger of its
own on a Ray worker, a look-up it did already) comes as :class:`JobHints`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from runner import train
from runner.errors import ConfigError, check_resolvable
from runner.interrupts import MainProcessWatch, as_interrupted, raising, set_reason
from runner.job import SWEEP_PID, context_from_hydra, print_run, relative
from runner.progress import say
from runner.sweeps import claims, reuse, stopping
from runner.sweeps.result import JobResult


@dataclass(frozen=True)
class JobHints:
    """What the launcher that runs a job tells it, for that job only."""

    ledger: Path | None = None  # append here instead of the config's ledger (a Ray scratch)
    prechecked: tuple | None = None  # (run_key, resolved config): looked up, not done


_hints: ContextVar[JobHints | None] = ContextVar("nnrunner_job_hints", default=None)


@contextlib.contextmanager
def hinted(**hints: Any) -> Iterator[None]:
    """Jobs run inside get ``hints`` (fields of :class:`JobHints`)."""
    token = _hints.set(replace(_hints.get() or JobHints(), **hints))
    try:
        yield
    finally:
        _hints.reset(token)


def sweep_process() -> tuple[str, int]:
    """(host, pid) of the sweep's main process, from the environment it left for its workers;
    this process when there is none."""
    value = os.environ.get(SWEEP_PID, "")
    host, _, pid = value.rpartition(":")
    if not pid.isdigit():
        return socket.gethostname(), os.getpid()
    return host or socket.gethostname(), int(pid)


def in_worker() -> bool:
    """Whether this process is not the sweep's main one (a launcher's worker)."""
    host, sweep_pid = sweep_process()
    return host != socket.gethostname() or sweep_pid != os.getpid()


class SweepJob:
    """A job of a multirun, in the sweep's main process or in a launcher's worker process.

    In a worker, a stop signal ends this job only (recorded ``interrupted``); the sweep's main
    process decides whether the sweep goes on. In the main process it stops the sweep.
    """

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.hints = _hints.get() or JobHints()
        self.in_worker = in_worker()
        self.ctx, _ = context_from_hydra(cfg, ledger=self.hints.ledger, parallel=self.in_worker)

    def run(self) -> JobResult:
        cfg, ctx = self.cfg, self.ctx
        host, sweep_pid = sweep_process()
        # the main process can be watched only from its own machine
        here = host == socket.gethostname()
        watch = MainProcessWatch(sweep_pid) if self.in_worker and here else None
        try:
            explain = lambda signum: _explain_stop(ctx.sweep_dir, signum)  # noqa: E731
            with (
                raising(on_signal=explain),
                watch or contextlib.nullcontext(),
                stopping.running(ctx.sweep_dir, ctx.job),
            ):
                row = self._run_unless_stopped(watch)
        except KeyboardInterrupt as error:
            stop = as_interrupted(error)
            say(f"job {ctx.job}: {stop.reason}", file=sys.stderr)
            if not self.in_worker:
                raise stop from None
            row = {"status": "interrupted", "message": stop.reason}
        except train.RecordError as error:
            say(f"error: job {ctx.job}: {error}", file=sys.stderr)
            row = {"status": "failed", "message": str(error)}
        reused = "reused_from" in row
        if not reused and "run_dir" in row:
            print_run(row, ctx.ledger)
        if row["status"] == "failed" and not reused:
            stopping.count_failure(ctx.sweep_dir, ctx.job, max_failures(cfg))
        objective = (reuse.objective_of if reused else train.objective)(row, cfg.objective)
        return JobResult(row["status"], objective, row.get("message") or "", reused)

    def _run_unless_stopped(self, watch: MainProcessWatch | None) -> dict:
        cfg, ctx = self.cfg, self.ctx
        reason = stopping.stop_reason(ctx.sweep_dir)
        if reason is None and watch is not None and watch.gone():
            reason = f"its main process, pid {watch.pid}, is gone"
        if reason is None:
            return self._run_or_reuse()
        return train.record_without_training(
            cfg,
            ctx,
            "interrupted",
            f"interrupted: the sweep was stopped ({reason}) before this job started",
        )

    def _run_or_reuse(self) -> dict:
        """Train the job, unless the sweep's snapshot of the ledger knows its run_key (see
        ``runner.sweeps.reuse``): then its row points at the earlier run. A job that trains
        claims its key first (``runner.sweeps.claims``), so a sweep running at the same time
        waits for it and reuses its run instead of training it too."""
        cfg, ctx = self.cfg, self.ctx
        found = self.hints.prechecked  # looked up already: not done
        resolved = found[1] if found else _resolved_or_none(cfg)
        known = None if found else reuse.snapshot_of(ctx.sweep_dir)
        mode = OmegaConf.select(cfg, "runner.resume", default="auto")
        key = found[0] if found else None
        if resolved is not None and known is not None:
            key = reuse.key_of(resolved, ctx.base_dir)
            earlier = reuse.earlier_run(key, mode, ctx.ledger, known)
            if earlier is not None:
                return self._reused(key, earlier)
        if resolved is None or mode not in ("auto", "all"):
            return self._train(resolved)
        key = key or reuse.key_of(resolved, ctx.base_dir)
        waiting = lambda who: say(  # noqa: E731
            f"job {ctx.job}: run_key {key} is being run by {who}; waiting for it"
        )
        with claims.claimed(ctx.ledger, key, on_wait=waiting) as claim:
            if claim.contended:  # another process has had it since the snapshot
                fresh, _ = reuse.read_ledger(ctx.ledger)
                earlier = reuse.earlier_run(key, mode, ctx.ledger, fresh)
                if earlier is not None:
                    return self._reused(key, earlier)
            return self._train(resolved)

    def _reused(self, key: str, earlier: dict) -> dict:
        ctx = self.ctx
        row = reuse.reuse(earlier, ctx)
        where = "in this folder" if not row.get("reused_from") else relative(earlier["run_dir"])
        say(f"job {ctx.job}: run_key {key} is {earlier['status']} {where}; not run again")
        return {**row, "reused_from": row.get("reused_from") or ""}

    def _train(self, resolved: dict | None) -> dict:
        cfg, ctx = self.cfg, self.ctx
        moved = reuse.set_aside_earlier_attempt(ctx.run_dir, train.ATTEMPT_FILES)
        if moved is not None:
            say(f"job {ctx.job}: the earlier attempt's files moved to {relative(moved)}")
        if OmegaConf.select(cfg, "runner.trial", default=None) is not None:  # a search's trial
            try:
                ctx.on_log = _pruning_reporter(cfg, ctx)
            except ConfigError as error:
                return train.record_without_training(cfg, ctx, "failed", str(error))
        return train.run(cfg, ctx, resolved)


def max_failures(cfg: DictConfig) -> int | None:
    limit = OmegaConf.select(cfg, "runner.max_failures", default=None)
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None


def record_lost(config: DictConfig, message: str, status: str = "failed") -> None:
    """Record a sweep job whose process died before it could (the launcher calls this with
    the job's full config): ``status`` with ``message``, unless it had recorded itself."""
    from omegaconf import open_dict, read_write

    from runner.sweeps.compat import hydra_part
    from runner.sweeps.hydra_job import job_folder

    run_dir = job_folder(config)
    if (run_dir / "summary.csv").exists():
        return
    overrides = run_dir / ".hydra" / "overrides.yaml"
    if not overrides.exists():  # died before Hydra wrote it, or on a machine of its own
        from runner.sweeps.yaml_files import to_yaml

        overrides.parent.mkdir(parents=True, exist_ok=True)
        overrides.write_text(to_yaml(config.hydra.overrides.task))
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = str(run_dir.absolute())
    HydraConfig.instance().cfg = hydra_part(config)  # the job's hydra node, typed or not
    task_cfg = OmegaConf.masked_copy(config, [str(k) for k in config if k != "hydra"])
    ctx, _ = context_from_hydra(task_cfg)
    train.record_without_training(task_cfg, ctx, status, message)
    if status == "failed":
        stopping.count_failure(ctx.sweep_dir, ctx.job, max_failures(task_cfg))


def _pruning_reporter(cfg, ctx):
    from runner.sweeps.search.pruning import reporter

    return reporter(cfg, HydraConfig.get(), ctx.base_dir)


def _resolved_or_none(cfg):
    try:
        return check_resolvable(cfg)
    except ConfigError:  # train.run reports it as the job's failure
        return None


def _explain_stop(sweep_dir, signum):
    """A signal that comes from the sweep's main process stopping the sweep says so."""
    reason = stopping.stop_reason(sweep_dir)
    if reason is not None:
        set_reason(signum, f"interrupted: the sweep was stopped ({reason})")
