"""Runs as the analysis commands read them: ledgers, sweep summaries and run folders -> one
DataFrame, and the one error type for a source or option a user got wrong."""

from pathlib import Path

import pandas as pd

from runner.errors import os_problem
from runner.records import UNRECORDED, DamagedFile, read_runs

DEFAULT_LEDGER = Path("outputs") / "runs.csv"
TEXT_COLUMNS = {
    "run_id": str,
    "run_key": str,
    "reused_from": str,
    "run_dir": str,
    "data_sha256": str,
}


class CompareError(Exception):
    """A problem with the sources or options; reported as one line."""


def load_runs(sources):
    """Ledger files, summary.csv files, sweep or run folders -> one DataFrame, one row per run."""
    frames = []
    for source in sources or [DEFAULT_LEDGER]:
        for path in _csv_files(Path(source)):
            try:
                frame = read_runs(path, dtype=TEXT_COLUMNS)  # a key of digits stays text
            except DamagedFile as error:
                raise CompareError(f"{error}; pass another ledger or summary") from None
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
                raise CompareError(f"{path} is not a readable CSV file ({error})") from None
            except OSError as error:
                raise CompareError(os_problem(error)) from None
            if "status" not in frame.columns:
                raise CompareError(
                    f"{path} has no 'status' column; pass a runs.csv ledger, a summary.csv or a run/sweep folder"
                )
            frames.append(frame)
    runs = pd.concat(frames, ignore_index=True, sort=False)
    if "run_id" in runs.columns:
        keep = runs["run_id"].isna() | ~runs["run_id"].duplicated()
        runs = runs[keep].reset_index(drop=True)
    return runs


def _csv_files(source):
    if source.is_file():
        return [source]
    if source.is_dir():
        if (source / "summary.csv").is_file():
            return [source / "summary.csv"]
        found = sorted(source.rglob("summary.csv"))
        if found:
            return found
        raise CompareError(
            f"{source} holds no summary.csv; pass a sweep folder, a run folder or a runs.csv ledger"
        )
    if source == DEFAULT_LEDGER:
        raise CompareError(
            f"no ledger at {source}; run `python -m runner` first, or pass sweep or run folders"
        )
    raise CompareError(f"no such file or folder: {source}")


UNRECORDED_NOTE = (
    "of these jobs left no record of their own (killed by SIGKILL or out of memory?): "
    "their rows come from the sweep summary, marked failed, and no ledger row exists"
)


def count_unrecorded(runs):
    """Rows the sweep summary wrote for jobs that could not record themselves."""
    if "message" not in runs:
        return 0
    return int(runs["message"].astype(str).str.startswith(UNRECORDED).sum())
