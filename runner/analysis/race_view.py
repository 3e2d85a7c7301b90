"""A race as the report shows it: ``race.csv`` and ``race_rounds.csv`` of a sweep folder (written
by ``hydra/sweeper=race``) read back, checked and put in standing order.

Read with pandas and checked here, not imported from the sweep engine: the analysis reads what
any race wrote, also one copied from another machine or damaged on the way, and a file it cannot
read becomes one line (``RaceFileError``), never a traceback.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from runner.errors import os_problem

FILE = "race.csv"
ROUNDS_FILE = "race_rounds.csv"
COLUMNS = ("configuration", "status", "seeds", "mean", "failed", "round", "p_value")
NUMBERS = ("seeds", "mean", "failed", "round", "p_value")
ROUND_COLUMNS = ("round", "racing", "seeds_each", "runs", "eliminated", "p_value")
STATUSES = ("winner", "tied", "stopped", "eliminated")  # the standing order


class RaceFileError(Exception):
    """race.csv or race_rounds.csv cannot be read or does not hold what a race writes."""


@dataclass
class Race:
    """One sweep folder's race: its configurations in standing order and its rounds (None when
    race_rounds.csv is missing or unreadable: ``rounds_problem`` says why)."""

    folder: Path
    configurations: pd.DataFrame
    rounds: pd.DataFrame | None
    rounds_problem: str | None = None


def folders(sources) -> list[Path]:
    """The sources that are a race's sweep folder (or its summary.csv), each once, in order."""
    found: list[Path] = []
    for source in sources or []:
        path = Path(source).expanduser()
        folder = path.parent if path.is_file() and path.name == "summary.csv" else path
        if (folder / FILE).exists() and folder.resolve() not in [f.resolve() for f in found]:
            found.append(folder)
    return found


def read(folder, higher_is_better: bool = False) -> Race:
    """The race of ``folder``, its configurations ordered winner first, then the tied (and those
    still racing when it stopped) best mean first, then the eliminated, the last eliminated
    first. Raises RaceFileError (one line) when race.csv is unusable; a damaged
    race_rounds.csv only loses the rounds."""
    folder = Path(folder)
    table = _csv(folder / FILE, COLUMNS)
    if table.empty:
        raise RaceFileError(f"{folder / FILE} lists no configurations")
    table["configuration"] = table["configuration"].fillna("").astype(str)
    table["status"] = table["status"].astype(str).str.strip()
    unknown = sorted(set(table["status"]) - set(STATUSES))
    if unknown:
        raise RaceFileError(
            f"{folder / FILE}: column 'status' holds {', '.join(map(repr, unknown))}; "
            f"a race writes {', '.join(STATUSES)}"
        )
    _numbers(table, NUMBERS, folder / FILE)
    rounds, problem = None, None
    if (folder / ROUNDS_FILE).exists():
        try:
            rounds = _csv(folder / ROUNDS_FILE, ROUND_COLUMNS)
            _numbers(rounds, ROUND_COLUMNS, folder / ROUNDS_FILE)
        except RaceFileError as error:
            rounds, problem = None, str(error)
    return Race(folder, standing(table, higher_is_better), rounds, problem)


def standing(table: pd.DataFrame, higher_is_better: bool = False) -> pd.DataFrame:
    """Winner, then tied and stopped (best mean first), then eliminated (latest round first,
    then best mean)."""
    mean = table["mean"] if higher_is_better else -table["mean"]
    keys = pd.DataFrame(
        {
            "status": table["status"].map(
                lambda s: 0 if s == "winner" else 2 if s == "eliminated" else 1
            ),
            "round": -table["round"].fillna(0),
            "mean": -mean.fillna(-float("inf")),
        }
    )
    order = keys.sort_values(["status", "round", "mean"], kind="stable").index
    return table.loc[order].reset_index(drop=True)


def round_lines(rounds: pd.DataFrame) -> list[str]:
    """One line per round: who raced, to how many seeds each, the runs it launched, and what
    the test eliminated."""
    lines = []
    for row in rounds.sort_values("round").itertuples(index=False):
        out = int(row.eliminated) if row.eliminated == row.eliminated else 0
        test = f" (test p={row.p_value:.2g})" if row.p_value == row.p_value else ""
        lines.append(
            f"round {_int(row.round)}: {_int(row.racing)} racing, {_int(row.seeds_each)} seeds "
            f"each ({_int(row.runs)} runs); {out or 'none'} eliminated{test}"
        )
    return lines


def _int(value):
    return "-" if value != value else str(int(value))


def _csv(path, columns):
    try:
        frame = pd.read_csv(path)
    except OSError as error:
        raise RaceFileError(os_problem(error)) from None
    except pd.errors.EmptyDataError:
        raise RaceFileError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RaceFileError(f"{path} is not a readable CSV file ({first})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RaceFileError(
            f"{path} has no column {', '.join(map(repr, missing))}; a race writes "
            f"{', '.join(columns)}"
        )
    return frame


def _numbers(frame, columns, path):
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column][values.isna() & frame[column].notna()]
        if len(bad):
            raise RaceFileError(
                f"{path}: column {column!r} holds {str(bad.iloc[0])!r}, not a number"
            )
        frame[column] = values


def leaders(race: Race) -> pd.DataFrame:
    """The configurations the race did not eliminate: its winner, or those still tied (or still
    racing when it was stopped), best first."""
    return race.configurations[race.configurations["status"] != "eliminated"]


def runs_of(configurations, runs: pd.DataFrame) -> pd.Series:
    """Which runs belong to one of ``configurations`` (race.csv's texts): a run's overrides hold
    every override of the configuration's. An empty configuration (the config as given, a race
    of one) matches no run, so a caller falls back to every run."""
    wanted = [set(str(c).split()) for c in configurations if str(c).strip()]
    if "overrides" not in runs or not wanted:
        return pd.Series(False, index=runs.index)
    tokens = runs["overrides"].fillna("").astype(str).str.split().map(set)
    return tokens.map(lambda have: any(w <= have for w in wanted))
