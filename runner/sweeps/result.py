"""How one job of a sweep ended: the one value a job hands back, whatever runs it.

The runner's task returns a :class:`JobResult` for each sweep job; Hydra carries it in the
job's ``JobReturn.return_value`` through every launcher (the pool, joblib, the Slurm packing,
Ray, Hydra's basic launcher), and the launchers' progress lines and the Optuna loop read it.
A job whose process died before it could return one gets one from its launcher
(:meth:`JobResult.lost`); a task that raised, from where it ran (:meth:`JobResult.error`).
"""

from __future__ import annotations

import math
import pickle
import traceback
from dataclasses import dataclass
from typing import Any

Objective = float | list[float]

# Statuses of a job's run (runner.records.STATUSES), plus "error": the task raised.
ERROR = "error"


@dataclass(frozen=True)
class JobResult:
    """``status`` is the run's (ok, diverged, failed, pruned, interrupted), ``not_started`` for a
    job its launcher's task ended before (runner.sweeps.packing), or ``error`` when the task raised; ``objective`` the config's objective (a list for a multi-objective search,
    NaN where the run has none); ``reused``: found done in the ledger and not run again."""

    status: str
    objective: Objective | None = None
    message: str = ""
    reused: bool = False
    raised: BaseException | None = None  # the task's exception, picklable (status "error")
    returned: Any = None  # what a task that is not the runner's returned (runner.sweeps.hydra_task)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def __float__(self) -> float:
        """The objective as a number, for a sweeper that is not the runner's (it reads
        ``float(return_value)``): NaN when the job did not end ok or has no single objective,
        which such a sweeper counts as a failed trial."""
        value = self.objective
        if not self.ok or not isinstance(value, (int, float)) or isinstance(value, bool):
            return math.nan
        return float(value)

    @classmethod
    def lost(cls, message: str, status: str = "failed") -> JobResult:
        """A job whose process died under it (a signal, the OOM killer, a lost node)."""
        return cls(status, message=message)

    @classmethod
    def error(cls, error: BaseException) -> JobResult:
        """A task that raised: its exception, made picklable, goes back to the launcher."""
        return cls(ERROR, message=f"{type(error).__name__}: {error}", raised=_picklable(error))

    @classmethod
    def of_return(cls, job_return: Any) -> JobResult:
        """The JobResult of the job Hydra's JobReturn ``job_return`` reports."""
        from hydra.core.utils import JobStatus

        from runner.sweeps.compat import failure_of

        if job_return.status == JobStatus.FAILED:
            return cls.error(failure_of(job_return))
        return cls.of_value(job_return.return_value)

    @classmethod
    def of_value(cls, value: Any) -> JobResult:
        """What a task returned -> its JobResult: the runner's own, or a foreign task's value."""
        return value if isinstance(value, JobResult) else cls("ok", returned=value)


def _picklable(error: BaseException) -> BaseException:
    try:
        pickle.dumps(error)
    except Exception:  # noqa: BLE001 - anything the launching process can still be told
        return RuntimeError("".join(traceback.format_exception_only(type(error), error)).strip())
    return error
