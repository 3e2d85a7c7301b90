"""The race loop: rounds of seeds for the configurations still racing, a decision after each.

Round 1 gives every configuration ``min_seeds`` seeds. After each round the configurations
still racing are compared on the seeds all of them ran (``runner.sweeps.race.decide``); those
shown worse than the best leave the race. The survivors then get the next seeds, as many each
as fill the launcher's workers, until one is left, they reach ``max_seeds``, or ``budget`` runs
are spent. Every run is an ordinary sweep job (its folder, ledger row and run key), so a run
done before, by this race or by a grid, is reused and not trained again, and a stopped race
resumed with ``--resume`` replays its decisions on the same values and goes on.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from runner.progress import say
from runner.sweeps.race.decide import decide
from runner.sweeps.race.settings import RaceSettings
from runner.sweeps.result import JobResult

STOPPED = ("interrupted", "not_started")  # the sweep was stopped: the race stops with it


@dataclass
class Entry:
    """One configuration of the race."""

    overrides: list[str]
    costs: dict[int, float] = field(default_factory=dict)  # seed -> cost (lower is better)
    values: dict[int, float] = field(default_factory=dict)  # seed -> the objective as run
    failed: int = 0  # runs that failed or diverged (ranked last on their seed)
    out_round: int | None = None  # the round that eliminated it
    p_value: float | None = None

    @property
    def racing(self) -> bool:
        return self.out_round is None


@dataclass(frozen=True)
class Round:
    """One round as it went (``race_rounds.csv``)."""

    round: int  # its number, from 1
    racing: int  # configurations that ran in it
    seeds_each: int  # seeds each of them had run by its end
    runs: int  # jobs it launched
    eliminated: int  # configurations it eliminated
    p_value: float  # its test's: Friedman's over all racing, Wilcoxon's signed-rank if two
    launch_seconds: float  # the launcher's time: the jobs themselves
    sweeper_ms: float  # the race's own time: building the jobs, the test, the bookkeeping


class Race:
    """One race: its configurations, the seeds they get, and the jobs that ran them."""

    def __init__(self, configurations, seeds, settings: RaceSettings, width, launch):
        """``configurations``: override lists; ``seeds``: the seeds in the order they are
        given; ``width``: the launcher's workers; ``launch(overrides_list) -> JobResults``."""
        self.entries = [Entry(list(c)) for c in configurations]
        self.seeds = list(seeds)
        self.settings = settings
        self.width = max(1, int(width))
        self.launch = launch
        self.rounds = 0
        self.runs = 0
        self.stopped = False
        self.first_problem = ""  # the first message of a run that did not end ok
        self.history: list[Round] = []

    @property
    def full_grid(self) -> int:
        return len(self.entries) * self.settings.max_seeds

    @property
    def racing(self) -> list[Entry]:
        return [e for e in self.entries if e.racing]

    def run(self) -> None:
        given = self.settings.min_seeds
        while not self.stopped:
            clock = time.perf_counter()
            racing = self.racing
            done = len(racing[0].costs)
            self.rounds += 1
            runs_before = self.runs
            launched = self._run_seeds(racing, self.seeds[done : done + given])
            if self.stopped or not self.recorded():  # nothing to rank: the sweep says why
                return
            verdict = self._eliminate(racing)
            given = self._next_seeds()
            spent = time.perf_counter() - clock
            self.history.append(
                Round(
                    self.rounds,
                    len(racing),
                    len(racing[0].costs),
                    self.runs - runs_before,
                    len(verdict.worse),
                    verdict.p_overall,
                    launched,
                    1000 * (spent - launched),
                )
            )
            if given == 0:
                return

    def _next_seeds(self) -> int:
        """Seeds each survivor gets next: enough to fill the workers, within max_seeds and
        the budget; 0 when the race is over."""
        racing = self.racing
        if len(racing) < 2:
            return 0
        left = self.settings.max_seeds - len(racing[0].costs)
        if self.settings.budget is not None:
            left = min(left, (self.settings.budget - self.runs) // len(racing))
        return max(0, min(left, max(1, self.width // len(racing))))

    def _run_seeds(self, racing, seeds):
        """Run ``seeds`` of every configuration in ``racing`` -> the launcher's seconds."""
        jobs = [(entry, seed) for seed in seeds for entry in racing]
        overrides = [entry.overrides + [f"seed={seed}"] for entry, seed in jobs]
        clock = time.perf_counter()
        results = self.launch(overrides)
        launched = time.perf_counter() - clock
        self.runs += len(jobs)
        for (entry, seed), result in zip(jobs, results, strict=True):
            if result.status in STOPPED:
                self.stopped = True
                continue
            value = _number(result.objective) if result.ok else None
            if not result.ok and not self.first_problem:
                self.first_problem = result.message or result.status
            entry.values[seed] = math.nan if value is None else value
            if value is None:
                entry.failed += 1
                entry.costs[seed] = math.inf
            else:
                entry.costs[seed] = value if self.settings.direction == "minimize" else -value
        return launched

    def _eliminate(self, racing):
        seeds = sorted(set.intersection(*(set(e.costs) for e in racing)))
        costs = np.array([[e.costs[s] for e in racing] for s in seeds])
        verdict = decide(costs, self.settings.level)
        for column, p in verdict.worse.items():
            racing[column].out_round, racing[column].p_value = self.rounds, p
        left = len(racing) - len(verdict.worse)
        gone = f"; {len(verdict.worse)} eliminated" if verdict.worse else ""
        say(
            f"race round {self.rounds}: {len(seeds)} seeds each, {left} of {len(self.entries)} racing{gone}"
        )
        return verdict

    def recorded(self) -> bool:
        """Whether any run recorded the objective (a name the runs do not log never is)."""
        return any(not math.isnan(v) for e in self.entries for v in e.values.values())


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def results_of(job_returns) -> list[JobResult]:
    return [JobResult.of_return(ret) for ret in job_returns]
