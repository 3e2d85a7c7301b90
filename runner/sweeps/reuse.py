"""Jobs that were run before: recognised by ``run_key`` and pointed at instead of run again.

When a sweep starts, its main process reads the ledger once (``runner.known_runs``) and leaves
a snapshot of it in the sweep folder (``.known_runs.npz``: every key with the byte offsets of
its latest ok row and latest row). Each job, wherever a launcher runs it, computes its key from
its resolved config and looks it up there before it trains; so skipping works under every
launcher and sweeper, costs a lookup, and two jobs of one sweep never race to reuse each other
(the snapshot is the ledger as it was when the sweep started). The pool launcher looks a job up
before Hydra's job bookkeeping (:func:`before_job`), so a job found done there costs about a
fifth of a forward-only job; the key and resolved config it computed are kept for the job if
it does run, so a job that runs resolves its config once either way.

A reused job writes only ``summary.csv`` in its folder (and ``.hydra/``, by which the sweep
summary finds a job folder): the earlier run's row, with
``reused_from`` (and ``run_dir``) naming the earlier run's folder and this sweep's ``sweep_dir``,
``job`` and ``overrides``. It appends nothing to the ledger, so the ledger keeps one row per run
made. A job whose earlier ok run is the one in its own folder (a sweep resumed in place) writes
nothing at all. A job rerun in a folder that holds an earlier attempt (failed, interrupted)
first moves that attempt's files to ``attempts/<n>/`` in the folder.
"""

import contextlib
import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from runner import known_runs
from runner.progress import say
from runner.records import flatten, ledger_at, write_summary
from runner.run_key import data_fingerprint, run_key
from runner.train import RUN_FILES

SNAPSHOT = ".known_runs.npz"
ATTEMPTS = "attempts"
_snapshots: dict = {}  # path -> (mtime_ns, Known): a worker process reads the snapshot once


def take_snapshot(sweep_dir, ledger, mode):
    """In the sweep's main process, before any job: -> (Known, a note to print or None).

    The snapshot is written only when the ledger knows some run; a stale one (a resumed sweep's)
    is removed first, so a job never reads the ledger as it was before."""
    path = Path(sweep_dir) / SNAPSHOT
    _remove_snapshot(path)
    if mode == "never":
        return None, None
    known, note = read_ledger(ledger)
    if len(known.keys):
        Path(sweep_dir).mkdir(parents=True, exist_ok=True)
        known.save(path)
    return known, note


def _remove_snapshot(path):
    """Remove a stale snapshot; something else in its place (a folder) is moved aside to
    ``.known_runs.npz.damaged``, said once, since the sweep needs the name."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        aside = path.with_name(path.name + ".damaged")
        path.rename(aside)
        say(
            f"warning: {path} was not a snapshot of the ledger; moved aside to {aside.name}",
            file=sys.stderr,
        )


def read_ledger(ledger, dry_run=False):
    """The Known of ``ledger``, an earlier version's ledger upgraded first -> (Known, note).
    A dry run writes nothing: no index is kept, and an earlier version's ledger is left as it
    is (none of its runs is recognised until a real sweep upgrades it)."""
    note = None
    try:
        return known_runs.known(ledger, keep_index=not dry_run), None
    except known_runs.LayoutError:
        if dry_run:
            note = (
                f"{ledger} is an earlier version's ledger, without run keys: the first sweep "
                "that is not a dry run fills them in; until then no run of it is recognised"
            )
            return summarise_nothing(), note
        counts = known_runs.upgrade(ledger, Path.cwd())  # relative data paths start here
        if counts is not None:
            note = known_runs.upgrade_note(ledger, counts)
    return known_runs.known(ledger), note


def summarise_nothing():
    return known_runs.summarise(known_runs.scan_of_nothing())


def key_of(resolved, base_dir):
    """A job's run_key from its resolved config (plain containers)."""
    scalars = flatten(resolved)
    return run_key(scalars, data_fingerprint(scalars, base_dir))


def earlier_run(key, mode, ledger, known):
    """The ledger row of the run a job with ``key`` reuses, or None: run the job.

    The row must carry ``key`` (a ledger rewritten since the snapshot is read again) and its
    folder must still hold the run (a deleted run is run again rather than pointed at; so is
    one whose folder this job's launcher has just made again, empty, for the same job)."""
    offset = known.offset(key, mode) if known is not None else None
    if offset is None:
        return None
    row = _row(ledger, offset)
    if row.get("run_key") != key:
        fresh, _ = read_ledger(ledger)
        offset = fresh.offset(key, mode)
        row = _row(ledger, offset) if offset is not None else {}
        if row.get("run_key") != key:
            return None
    run_dir = row.get("run_dir")
    return row if run_dir and _holds_a_run(Path(run_dir)) else None


def _holds_a_run(run_dir):
    """Does ``run_dir`` still hold a run's record (any of metrics.csv, summary.csv, params.npz:
    a damaged or missing summary.csv alone is restored from the ledger)?"""
    return any((run_dir / name).exists() for name in RUN_FILES)


def _row(ledger, offset):
    try:
        return known_runs.row_at(ledger, offset)
    except (OSError, StopIteration, UnicodeDecodeError):
        return {}


def snapshot_of(sweep_dir):
    """The sweep's snapshot as this process last read it, or None if the sweep has none."""
    path = Path(sweep_dir) / SNAPSHOT
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    cached = _snapshots.get(path)
    if cached is None or cached[0] != mtime:
        try:
            cached = _snapshots[path] = (mtime, known_runs.Known.load(path))
        except (OSError, ValueError, KeyError):
            return None
    return cached[1]


def reuse(earlier, ctx):
    """Point this job at the earlier run -> the row the job reports (earlier row, this job's
    place in this sweep)."""
    if _same_folder(earlier["run_dir"], ctx.run_dir):
        return dict(earlier)
    row = {
        **earlier,
        "reused_from": earlier["run_dir"],
        "sweep_dir": ctx.sweep_dir,
        "job": ctx.job,
        "trial": _trial_of(ctx.overrides),
        "overrides": ctx.overrides,
    }
    write_summary(ctx.run_dir, row)
    return row


def _trial_of(overrides):
    """This job's search trial (the sweeper's ``runner.trial=N`` override), or None."""
    for word in str(overrides or "").split():
        if word.startswith("runner.trial="):
            return int(word.split("=", 1)[1])
    return None


def _same_folder(a, b):
    with contextlib.suppress(OSError):
        return Path(a).resolve() == Path(b).resolve()
    return False


def set_aside_earlier_attempt(run_dir, names):
    """Move an earlier attempt's files (``names`` present in ``run_dir``) to
    ``run_dir/attempts/<n>/`` -> that folder, or None if there was none."""
    run_dir = Path(run_dir)
    present = [run_dir / name for name in names if (run_dir / name).exists()]
    if not present:
        return None
    attempts = run_dir / ATTEMPTS
    number = 1 + max((int(p.name) for p in attempts.glob("*") if p.name.isdigit()), default=0)
    target = attempts / str(number)
    target.mkdir(parents=True)
    for path in present:
        shutil.move(str(path), target / path.name)
    return target


def reused_result(row, config):
    """The JobResult of a job found done: the earlier run's status, message and objective."""
    from omegaconf import OmegaConf

    from runner.sweeps.result import JobResult

    objective = objective_of(row, OmegaConf.select(config, "objective", default="val_loss"))
    return JobResult(row["status"], objective, row.get("message") or "", reused=True)


def objective_of(row, name):
    """The objective a reused job returns to its sweeper, from the earlier row's text."""
    if not isinstance(name, str):
        return [objective_of(row, one) for one in name]
    try:
        value = float(row.get(name) or "nan")
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def before_job(config, folder):
    """The pool's look-up, before Hydra's job bookkeeping (``.hydra/`` files, callbacks, the
    task): a job found done costs its key and one summary row, nothing else. -> (the reused
    row, None), or (None, (key, resolved config)) for a job to run (the launcher hands those
    to it: ``runner.sweeps.sweep_job.JobHints``), or (None, None) when it could not tell."""
    from omegaconf import OmegaConf, open_dict, read_write

    sweep_dir = Path(str(config.hydra.sweep.dir))
    known = snapshot_of(sweep_dir)
    if known is None:  # a fresh ledger or runner.resume=never: a stat, nothing else
        return None, None
    mode = OmegaConf.select(config, "runner.resume", default="auto")
    if mode not in ("auto", "all"):
        return None, None
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = str(Path(folder).absolute())  # as run_job sets it
    resolved = resolved_task(config)
    if resolved is None:
        return None, None
    base_dir = Path(str(config.hydra.runtime.cwd))
    key = key_of(resolved, base_dir)
    ledger = ledger_at(resolved["paths"]["ledger"], base_dir)
    earlier = earlier_run(key, mode, ledger, known)
    if earlier is None:
        return None, (key, resolved)
    overrides = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    place = _Place(
        folder, str(sweep_dir.absolute()), int(config.hydra.job.num), " ".join(overrides)
    )
    Path(folder).mkdir(parents=True, exist_ok=True)
    row = reuse(earlier, place)
    if not _same_folder(earlier["run_dir"], folder):
        from runner.sweeps.yaml_files import to_yaml

        hydra_dir = Path(folder) / ".hydra"  # what the sweep summary finds a job folder by
        hydra_dir.mkdir(parents=True, exist_ok=True)
        (hydra_dir / "overrides.yaml").write_text(to_yaml(config.hydra.overrides.task))
    return row, None


@dataclass
class _Place:
    run_dir: object
    sweep_dir: str
    job: int
    overrides: str


def key_of_job(config, idx=None):
    """The run_key of a job (job number ``idx``; None: a single run) from its full config,
    resolved as the job itself resolves it (the hydra config set to the job's own), or None
    if it cannot be resolved here."""
    from omegaconf import open_dict

    if idx is not None:
        with open_dict(config):
            config.hydra.job.id, config.hydra.job.num = str(idx), idx
    resolved = resolved_task(config)
    return None if resolved is None else key_of(resolved, Path(str(config.hydra.runtime.cwd)))


def resolved_task(config):
    """The task's part of a job's full config, resolved with the hydra config set to the job's
    own (as the job resolves it), or None if it cannot be resolved here."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from runner.sweeps import compat

    hydra_config = HydraConfig.instance()
    previous = hydra_config.cfg
    try:
        hydra_config.cfg = compat.hydra_part(config)
        return OmegaConf.to_container(compat.task_part(config), resolve=True)
    except Exception:  # noqa: BLE001 - unresolvable before the job runs: it runs
        return None
    finally:
        hydra_config.cfg = previous
