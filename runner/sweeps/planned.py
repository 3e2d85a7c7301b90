"""The jobs a grid sweep means to run, so its summary counts those that never started.

A job leaves its folder only once its launcher starts it; a Slurm task cancelled while it
waited, or stopped before its later jobs, leaves none for them, and a summary read from the
job folders would not know they exist. The grid sweeper writes every job it will launch to
``.planned.csv`` in the sweep folder (its number and its overrides, as ``.hydra/overrides.yaml``
will hold them) before launching any; the summary gives each planned job without a folder a
``not_started`` row (no ledger row: ``--resume`` runs it).
"""

import csv
import io
from pathlib import Path

from runner.records import write_text_atomically

FILE = ".planned.csv"
NOT_STARTED = "not_started"


def write_planned(sweep_dir, batches):
    """Record the jobs of ``batches`` (lists of override lists), numbered from 0 in order."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["job", "overrides"])
    number = 0
    for batch in batches:
        for overrides in batch:
            writer.writerow([number, " ".join(overrides)])
            number += 1
    write_text_atomically(Path(sweep_dir) / FILE, text.getvalue())


def forget_planned(sweep_dir):
    """The sweep did not start after all (its launcher refused it): no job is waiting."""
    (Path(sweep_dir) / FILE).unlink(missing_ok=True)


def not_started(sweep_dir, started_overrides):
    """Rows for the planned jobs whose overrides no started job has: ``{status, message, job,
    overrides, sweep_dir}``; none when the sweep planned nothing (a search, an old sweep) or
    the file cannot be read."""
    path = Path(sweep_dir) / FILE
    try:
        with open(path, newline="", encoding="utf-8") as file:
            planned = list(csv.DictReader(file))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    started = set(started_overrides)
    return [
        {
            "status": NOT_STARTED,
            "message": "not started: the sweep ended before it (--resume runs it)",
            "overrides": row.get("overrides", ""),
            "sweep_dir": str(sweep_dir),
            "job": int(row["job"]) if str(row.get("job", "")).isdigit() else None,
        }
        for row in planned
        if row.get("overrides", "") not in started
    ]
