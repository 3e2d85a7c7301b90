"""A sweep's summary.csv, built from the files its jobs wrote.

Launchers run jobs in other processes (joblib, Ray, Slurm) and Hydra skips
``on_multirun_end`` when a job raises, so nothing here trusts in-memory state: the
callback (``runner.sweeps.callback``) only remembers where the sweep writes, and the summary
is read back from the job folders.
"""

import csv
import io
import math
import sys
from pathlib import Path

from runner.errors import EXIT_FAILED, EXIT_OK, EXIT_UNFINISHED, os_problem
from runner.job import relative
from runner.progress import say
from runner.records import (
    STATUSES,
    UNRECORDED,
    append_to_ledger,
    csv_text,
    damaged_lines,
    keep_damaged,
    ordered_row,
    read_runs,
    write_csv_atomically,
    write_summary,
)
from runner.sweeps import planned, stopping
from runner.text import clip, counted, terminal_width


def collect_jobs(sweep_dir):
    """One row per job folder of the sweep: its summary.csv, or a 'failed' row if it left none.

    The rows are read as text and parsed once, together (a thousand small pandas reads would
    cost more than the jobs of a forward-only sweep); values pass through unchanged.
    """
    import pandas as pd  # here: a single run and a sweep's jobs never need it

    sweep_dir = Path(sweep_dir)
    rows, in_ledger = [], None
    for job_dir in sorted(_job_dirs(sweep_dir), key=_job_order):
        recorded = _own_summary(job_dir / "summary.csv")
        if recorded is None:
            in_ledger = _ledger_rows(sweep_dir) if in_ledger is None else in_ledger
            recorded = _restored(job_dir, in_ledger)
        rows.append(
            recorded
            if recorded is not None
            else ordered_row(
                {
                    "status": "failed",
                    "message": UNRECORDED,
                    "run_dir": str(job_dir),
                    "overrides": _overrides(job_dir),
                    "sweep_dir": str(sweep_dir),
                    "job": _job_number(job_dir),
                }
            )
        )
    started = {row.get("overrides", "") for row in rows}
    rows += [ordered_row(row) for row in planned.not_started(sweep_dir, started)]
    if not rows:
        return pd.DataFrame()
    columns = list(dict.fromkeys(column for row in rows for column in row))
    text = csv_text(columns, ([row.get(column) for column in columns] for row in rows))
    data = text.encode("utf-8", "surrogateescape")  # bytes not UTF-8 (a damaged ledger's): U+FFFD
    return pd.read_csv(io.BytesIO(data), encoding_errors="replace")


def _ledger_rows(sweep_dir):
    """{job folder: its latest ledger row, as text} of the sweep's ledger, or {} if it has none
    or it cannot be read (the jobs are then what their own folders say)."""
    from omegaconf import OmegaConf

    from runner.sweeps.prepare import ledger_path

    try:
        ledger = ledger_path(OmegaConf.load(Path(sweep_dir) / "multirun.yaml"))
        if not ledger.is_file():
            return {}
        runs = read_runs(ledger, dtype=str, keep_default_na=False)
    except Exception:  # noqa: BLE001 - a ledger that cannot be read restores nothing
        return {}
    if "run_dir" not in runs:
        return {}
    return {_folder(row["run_dir"]): row for row in runs.to_dict("records") if row["run_dir"]}


def _folder(path):
    try:
        return Path(path).resolve()
    except OSError:
        return Path(path)


def _restored(job_dir, in_ledger):
    """A job whose summary.csv is damaged (or missing) but whose run the ledger recorded: its
    ledger row, written again as its summary.csv (the damaged file kept in summary.csv.damaged)
    -> the row, or None if the ledger has no row of this folder."""
    row = in_ledger.get(_folder(job_dir))
    if row is None:
        return None
    path = job_dir / "summary.csv"
    try:
        kept = ""
        if path.is_file():
            kept = (
                f"; the damaged file is kept in {relative(keep_damaged(path, path.read_bytes()))}"
            )
            path.unlink()
        if not path.exists():
            write_summary(job_dir, row)
    except OSError as error:
        kept = f"; not written again: {os_problem(error)}"
    say(
        f"warning: {relative(path)} was damaged or missing; the job's row is restored from the "
        f"ledger{kept}",
        file=sys.stderr,
    )
    return row


def _own_summary(path):
    """The row a job wrote for itself, as text, or None if it wrote none (or a damaged one)."""
    try:
        with open(path, newline="", encoding="utf-8", errors="surrogateescape") as file:
            lines = list(csv.reader(file))  # bytes that are not UTF-8 pass through as they are
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if len(lines) != 2 or len(lines[0]) != len(lines[1]):
        return None
    row = dict(zip(lines[0], lines[1], strict=True))
    return row if row.get("status") in STATUSES else None


def record_cut_off(sweep_dir, reason):
    """Record, as ``interrupted``, the jobs of a stopped sweep that started but left no row.

    A launcher that kills its workers once the running jobs have recorded themselves (joblib
    does) can catch a worker that had just taken the next job: Hydra had written the job's
    ``.hydra/`` but the job had not yet seen ``.stop`` and recorded itself. Its row (summary
    and ledger) is written here from those files, so ``--resume`` runs it again. A job cut off
    between its summary.csv and its ledger row gets that row from its summary.csv.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from runner.sweeps.sweep_job import record_lost

    hydra_config = HydraConfig.instance()
    own = hydra_config.cfg  # record_lost sets each job's; this process's comes back after
    recorded = []
    for job_dir in _job_dirs(Path(sweep_dir)):
        saved = [job_dir / ".hydra" / name for name in ("config.yaml", "hydra.yaml")]
        row = _own_summary(job_dir / "summary.csv")
        if row is not None:
            recorded.append(row)
            continue
        if not all(map(Path.is_file, saved)):
            continue
        if stopping.may_still_run(sweep_dir, job_dir.name):  # it will record itself
            continue
        try:
            config = OmegaConf.merge(*map(OmegaConf.load, saved))
            config.hydra.mode = RunMode.MULTIRUN  # as Hydra typed it: the yaml holds its name
            record_lost(
                config,
                f"interrupted: the sweep was stopped ({reason}) as this job started",
                status="interrupted",
            )
        except Exception as error:  # noqa: BLE001 - its 'failed' row below still says it
            say(f"warning: {relative(job_dir)}: could not record it: {error}", file=sys.stderr)
    hydra_config.cfg = own
    _into_ledger(sweep_dir, recorded)


def _into_ledger(sweep_dir, rows):
    """Append to the sweep's ledger the rows of ``rows`` whose run_id it does not hold."""
    from omegaconf import OmegaConf

    from runner.sweeps.prepare import ledger_path

    if not rows:
        return
    try:
        ledger = ledger_path(OmegaConf.load(Path(sweep_dir) / "multirun.yaml"))
        known = (
            set(read_runs(ledger, usecols=["run_id"], dtype=str)["run_id"])
            if ledger.exists()
            else set()
        )
        for row in rows:  # a reused job's row is an earlier run's, in the ledger already
            if row.get("run_id") and row["run_id"] not in known and not row.get("reused_from"):
                append_to_ledger(ledger, row)
    except Exception as error:  # noqa: BLE001 - the rows are still in the job folders
        say(f"warning: the stopped sweep's ledger rows were not checked: {error}", file=sys.stderr)


def write_sweep_summary(sweep_dir):
    """Write ``summary.csv`` in the sweep folder -> (path, DataFrame of the jobs).

    The summary is built again from the job folders; one that was damaged (not as this
    function writes it) is first kept, byte for byte, in ``summary.csv.damaged``. A summary
    that cannot be written (a full disk, a folder in its place) is a warning: the job folders
    still hold every row, and the sweep's exit follows its jobs."""
    jobs = collect_jobs(sweep_dir)
    path = Path(sweep_dir) / "summary.csv"
    try:
        _keep_if_damaged(path)
        write_csv_atomically(jobs, path)
    except OSError as error:
        say(f"warning: the sweep summary was not written: {os_problem(error)}", file=sys.stderr)
    return path, jobs


def _keep_if_damaged(path):
    """A sweep summary that does not read as one: its bytes to ``summary.csv.damaged``."""
    if not path.is_file() or not path.stat().st_size:
        return
    data = path.read_bytes()
    if damaged_lines(data, extra_statuses=("not_started",)) == 0:
        return
    target = keep_damaged(path, data)
    say(
        f"warning: {relative(path)} was damaged; kept byte for byte in {relative(target)} "
        "and written again from the job folders",
        file=sys.stderr,
    )


def _job_dirs(sweep_dir):
    # Hydra writes .hydra/ into every job folder before the job starts
    return [p.parent.parent for p in sweep_dir.glob("*/.hydra/overrides.yaml")]


def _job_number(job_dir):
    """The job's number when its folder is named by it (Hydra's default subdir), else None."""
    return int(job_dir.name) if job_dir.name.isdigit() else None


def _job_order(job_dir):
    number = _job_number(job_dir)
    return (math.inf if number is None else number, job_dir.name)


def _overrides(job_dir):
    from omegaconf import OmegaConf

    try:
        return " ".join(OmegaConf.load(job_dir / ".hydra" / "overrides.yaml"))
    except Exception:
        return ""


def finish(sweep_dir, top=10):
    """Write the sweep summary, print the best groups and the jobs that did not finish ok
    -> the sweep's exit code (``exit_code``)."""
    from runner.sweeps import closing  # pandas: at a sweep's end, never in a single run

    if not Path(sweep_dir).is_dir():
        return EXIT_OK
    reason = stopping.stop_reason(sweep_dir)
    if reason is not None:
        record_cut_off(sweep_dir, reason)
    path, jobs = write_sweep_summary(sweep_dir)
    if jobs.empty:
        return EXIT_OK
    say(_headline(jobs, relative(path)))
    if (jobs["status"] == "ok").any():
        _best(jobs, path, top)
    pruned = int((jobs["status"] == "pruned").sum())
    if pruned:
        say(
            clip(
                f"({counted(pruned, 'job')} pruned: the search's pruner stopped them early; "
                "their metrics up to then are in their folders)",
                terminal_width(),
            )
        )
    failed = jobs[~jobs["status"].isin(["ok", "pruned"])]
    if len(failed):
        say(f"\njobs that did not finish ok:\n{closing.not_ok(failed, jobs)}", file=sys.stderr)
    code = exit_code(jobs)
    if code == EXIT_UNFINISHED:
        say(f"to finish it: python -m runner --resume {relative(Path(sweep_dir))}", file=sys.stderr)
    return code


def exit_code(jobs):
    """3 when jobs were interrupted or never started (``--resume`` finishes the sweep), else 1
    when a job failed or diverged, else 0."""
    statuses = set(jobs["status"])
    if statuses & {"interrupted", "not_started"}:
        return EXIT_UNFINISHED
    return EXIT_FAILED if statuses & {"failed", "diverged"} else EXIT_OK


def _headline(jobs, path):
    """``sweep: 6 jobs (5 ok, 1 failed); summary: PATH``, the path on a line of its own when the
    line would be wider than the terminal."""
    counts = ", ".join(f"{n} {s}" for s, n in jobs["status"].value_counts().items())
    reused = int(jobs["reused_from"].notna().sum()) if "reused_from" in jobs else 0
    if reused:
        counts += f"; {reused} of them done before and not run again"
    line = f"\nsweep: {counted(len(jobs), 'job')} ({counts}); summary: {path}"
    return line if len(line) <= terminal_width() + 1 else line.replace("; summary: ", "\nsummary: ")


def _best(jobs, path, top):
    """The closing table of the best groups. A reused job's row with a damaged number (its
    ledger row garbled) is warned about and left out of that cell; the table never decides
    the sweep's exit, the jobs do."""
    from runner.analysis.ranking import compare, default_by, default_metric
    from runner.analysis.runs import CompareError
    from runner.sweeps import closing

    jobs = closing.numbers_only(jobs, path)
    try:
        by, metric = default_by(jobs), default_metric(jobs)
        table, _ = compare(jobs, by, metric, ties=False)  # runner.compare tests for ties
    except CompareError as error:
        say(f"warning: no table of the best groups: {error}", file=sys.stderr)
        return
    task = closing.task_of_jobs(jobs)
    say(closing.best_groups(table.head(top), by, metric, task=task, jobs=jobs))
    if len(table) > top:
        more = counted(len(table) - top, "more group")
        say(clip(f"({more}: python -m runner.compare {relative(path)})", terminal_width()))
