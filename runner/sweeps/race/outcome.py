"""What a race decided: ``race.csv`` in the sweep folder (one row per configuration),
``race_rounds.csv`` (one row per round: who raced, what the test said, the race's own time) and
the closing lines (the winner or the set still tied, each eliminated configuration with its round
and p-value, and the runs spent against a full grid)."""

from __future__ import annotations

import io
import math
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from runner.records import write_text_atomically
from runner.sweeps.labels import swept
from runner.sweeps.race.race import Race, Round

FILE = "race.csv"
ROUNDS_FILE = "race_rounds.csv"  # columns: the fields of runner.sweeps.race.race.Round
COLUMNS = [
    "configuration",  # the overrides that set it apart from the others
    "status",  # winner | tied | eliminated | stopped
    "seeds",  # seeds it ran
    "mean",  # the objective's mean over its seeds with a finite value
    "failed",  # its runs that failed or diverged (ranked last on their seed)
    "round",  # the round that eliminated it (empty: still racing at the end)
    "p_value",  # the test's p-value against the best when it was eliminated
]


def statuses(race: Race) -> list[str]:
    racing = race.racing
    if race.stopped:
        return ["stopped" if e.racing else "eliminated" for e in race.entries]
    alone = len(racing) == 1
    return ["eliminated" if not e.racing else "winner" if alone else "tied" for e in race.entries]


def table(race: Race) -> pd.DataFrame:
    rows = []
    names = swept([" ".join(e.overrides) for e in race.entries])
    for entry, status, name in zip(race.entries, statuses(race), names, strict=True):
        finite = [v for v in entry.values.values() if not math.isnan(v)]
        rows.append(
            {
                "configuration": name,
                "status": status,
                "seeds": len(entry.costs),
                "mean": sum(finite) / len(finite) if finite else math.nan,
                "failed": entry.failed,
                "round": entry.out_round,
                "p_value": entry.p_value,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS).astype({"round": "Int64"})


def write(race: Race, sweep_dir) -> Path:
    """``race.csv`` and ``race_rounds.csv`` -> the path of race.csv."""
    path = Path(sweep_dir) / FILE
    _write_csv(table(race), path)
    rounds = pd.DataFrame([asdict(r) for r in race.history], columns=list(Round.__annotations__))
    _write_csv(rounds, Path(sweep_dir) / ROUNDS_FILE)
    return path


def _write_csv(frame, path):
    text = io.StringIO()
    frame.to_csv(text, index=False, lineterminator="\n")
    write_text_atomically(path, text.getvalue())


def closing_lines(race: Race, objective: str) -> list[str]:
    frame = table(race)
    lines = []
    leading = frame[frame.status.isin(["winner", "tied", "stopped"])]
    order = leading["mean"].fillna(math.inf if race.settings.direction == "minimize" else -math.inf)
    leading = leading.loc[order.sort_values(ascending=race.settings.direction == "minimize").index]
    if race.stopped:
        lines.append(
            f"race: stopped in round {race.rounds} with {len(leading)} configurations racing; "
            "--resume goes on from there"
        )
    elif len(leading) == 1:
        lines.append(f"race: winner {_shown(leading.iloc[0], objective)}")
    else:
        why = (
            "the budget ran out"
            if race.settings.budget is not None and race.runs + len(leading) > race.settings.budget
            else f"at max_seeds={race.settings.max_seeds}"
        )
        lines.append(f"race: {len(leading)} still tied ({why}), best first:")
        lines.extend(f"  {_shown(row, objective)}" for _, row in leading.iterrows())
    for _, row in (
        frame[frame.status == "eliminated"].sort_values("round", kind="stable").iterrows()
    ):
        lines.append(
            f"  eliminated in round {row['round']} (p={row['p_value']:.2g}): "
            f"{_shown(row, objective)}"
        )
    share = race.runs / race.full_grid
    lines.append(
        f"race: {race.runs} runs in {race.rounds} rounds, against {race.full_grid} for a full "
        f"grid of {race.settings.max_seeds} seeds ({share:.0%}); per configuration in race.csv"
    )
    return lines


def _shown(row, objective):
    failed = f", {row['failed']} failed" if row["failed"] else ""
    return (
        f"{row['configuration'] or '(the config as given)'} "
        f"({objective} {row['mean']:.4g} over {row['seeds']} seeds{failed})"
    )
