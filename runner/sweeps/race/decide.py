"""Which configurations of a race are worse than the best, from paired seeds.

The test is F-Race's (Birattari et al. 2002, as the ``irace`` package runs it): each seed is a
block in which the configurations still racing are ranked; Friedman's test asks whether any
differs, and only if it does, Conover's post-hoc test for Friedman compares each with the best
(the lowest rank sum). Ranks within a seed make it paired (a hard seed is hard for all) and
free of the metric's scale and outliers, and a failed or diverged run is simply ranked last.
With two configurations left, Friedman's test would be the sign test, which counts wins and
ignores by how much; there the race uses compare's own test of a pair, Wilcoxon's signed-rank
test of the paired differences (``runner.analysis.pvalues``, exact for small samples), so the
race and compare tell the same pair apart alike. A failed run's difference counts as larger
than any finite one.

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
    shown worse than the best; ``p_overall`` Friedman's test's p-value over all still racing
    (with two left, the Wilcoxon signed-rank test's)."""

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
        return _signed_rank(costs, best, alpha)
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


def _signed_rank(costs, best, alpha):
    from runner.analysis.pvalues import wilcoxon_p

    other = 1 - best
    finite = costs[np.isfinite(costs)]
    if finite.size == 0:
        return Verdict(best, {}, 1.0)
    failed = finite.max() + (finite.max() - finite.min()) + 1.0  # beyond any finite gap
    pairs = np.where(np.isfinite(costs), costs, failed)
    differences = pairs[:, other] - pairs[:, best]
    p = wilcoxon_p(differences)
    if not p < alpha or differences.sum() <= 0:  # nan (all equal) decides nothing
        return Verdict(best, {}, 1.0 if p != p else float(p))
    return Verdict(best, {other: float(p)}, float(p))
