"""Which configurations of a race are worse than the best, from paired seeds.

The test is F-Race's (Birattari et al. 2002, as the ``irace`` package runs it): each seed is a
block in which the configurations still racing are ranked; Friedman's test asks whether any
differs, and only if it does, Conover's post-hoc test for Friedman compares each with the best
(the lowest rank sum). Ranks within a seed make it paired (a hard seed is hard for all) and
free of the metric's scale and outliers, and a failed or diverged run is simply ranked last.
With two configurations left, Friedman's test is the sign test, computed exactly (scipy's
``binomtest``), since Conover's statistic has no spread to work with there.

The Friedman gate keeps the chance of eliminating anything, when all are equal, at ``1 -
level`` per round; ``tests/test_race_decide.py`` measures it by simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Verdict:
    """One round's decision: ``best`` a column index; ``worse`` {column: p-value} of those
    shown worse than the best; ``p_overall`` the Friedman (or sign) test's p-value."""

    best: int
    worse: dict[int, float]
    p_overall: float


def decide(costs: np.ndarray, level: float) -> Verdict:
    """``costs``: seeds x configurations, lower is better (a failed run is ``inf``), every
    configuration run on every seed. -> the Verdict at confidence ``level``."""
    costs = np.asarray(costs, dtype=float)
    n_seeds, k = costs.shape
    ranks = stats.rankdata(np.nan_to_num(costs, nan=np.inf), axis=1)
    sums = ranks.sum(axis=0)
    best = int(np.argmin(sums))
    alpha = 1.0 - level
    if k < 2 or n_seeds < 2:
        return Verdict(best, {}, 1.0)
    if k == 2:
        return _sign_test(costs, best, alpha)
    p_overall = _friedman(ranks)
    if not p_overall < alpha:
        return Verdict(best, {}, p_overall)
    p_values = _conover_against(ranks, best)
    worse = {j: p for j, p in p_values.items() if p < alpha}
    return Verdict(best, worse, p_overall)


def _friedman(ranks):
    """Friedman's statistic with the correction for ties, as in Conover (1999), -> p-value."""
    n, k = ranks.shape
    sums = ranks.sum(axis=0)
    a = float((ranks**2).sum())
    c = n * k * (k + 1) ** 2 / 4.0
    if a <= c:  # every seed ranks all configurations equal
        return 1.0
    t = (k - 1) * (float((sums**2).sum()) - n * c) / (a - c)
    return float(stats.chi2.sf(t, k - 1))


def _conover_against(ranks, best):
    """Conover's post-hoc comparison of every configuration with ``best`` -> {column: p}."""
    n, k = ranks.shape
    sums = ranks.sum(axis=0)
    a = float((ranks**2).sum())
    spread = 2.0 * (n * a - float((sums**2).sum())) / ((n - 1) * (k - 1))
    found = {}
    for j in range(k):
        if j == best:
            continue
        gap = abs(sums[j] - sums[best])
        if spread <= 0:  # every seed ranks them the same: as far apart as ranks can say
            found[j] = 0.0 if gap > 0 else 1.0
            continue
        found[j] = float(2.0 * stats.t.sf(gap / np.sqrt(spread), (n - 1) * (k - 1)))
    return found


def _sign_test(costs, best, alpha):
    other = 1 - best
    wins = int(np.sum(costs[:, best] < costs[:, other]))
    losses = int(np.sum(costs[:, best] > costs[:, other]))
    if wins + losses == 0:
        return Verdict(best, {}, 1.0)
    p = float(stats.binomtest(wins, wins + losses, 0.5).pvalue)
    return Verdict(best, {other: p} if p < alpha and wins > losses else {}, p)
