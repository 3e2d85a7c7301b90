"""The p-values of compare's tie tests, computed as ``scipy.stats.wilcoxon`` and
``scipy.stats.ttest_ind(equal_var=False)`` compute them, from ``scipy.special``'s distribution
functions.

Why not call scipy.stats: importing it (SciPy parses its docstrings at import, scipy issue
22510) costs most of a whole ``runner.compare`` of a large ledger (BENCHMARKS.md), and every
compare with two groups to tell apart would pay it. ``scipy.special`` is loaded for the
intervals anyway once a group has two runs (it is imported where it is used: a tenth of a
second that a sweep of one run per group never pays). ``tests/test_pvalues.py`` checks that
both functions give scipy.stats' p-values on samples with and without ties and zeros, from 2
to 60 pairs.
"""

import math

import numpy as np

EXACT_UP_TO = 50  # wilcoxon's method="auto": the exact null distribution up to 50 pairs
FLIPPED_UP_TO = 13  # with ties or zeros: every sign flip (2**13 < 9999 resamples), exactly


def welch_p(a, b):
    """Two-sided p-value of Welch's t-test of equal means (samples of 2 or more)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    spread = va + vb
    gap = a.mean() - b.mean()
    if spread == 0:
        return 1.0 if gap == 0 else 0.0
    df = spread**2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t = gap / math.sqrt(spread)
    from scipy import special

    return float(min(1.0, 2 * special.stdtr(df, -abs(t))))


def wilcoxon_p(differences):
    """Two-sided p-value of Wilcoxon's signed-rank test of paired differences, as scipy's
    ``wilcoxon(differences)`` gives it (zeros dropped, method="auto"): the exact distribution
    when no two |differences| tie and none is zero, every sign flip when there are ties or
    zeros among at most 13 pairs, else the normal approximation with the tie correction."""
    d = np.asarray(differences, float)
    kept = d[d != 0]
    count = len(kept)
    if count == 0:
        return math.nan
    ranks, tie_sizes = _ranks(np.abs(kept))
    r_plus = ranks[kept > 0].sum()
    has_ties = bool((tie_sizes > 1).any())
    if len(d) <= EXACT_UP_TO and not has_ties and count == len(d):
        return _exact(r_plus, count)
    if len(d) <= FLIPPED_UP_TO:
        return _every_flip(ranks, r_plus)
    mean = count * (count + 1) / 4
    variance = count * (count + 1) * (2 * count + 1) - (tie_sizes**3 - tie_sizes).sum() / 2
    z = (r_plus - mean) / math.sqrt(variance / 24)
    from scipy import special

    return float(min(1.0, 2 * special.ndtr(-abs(z))))


def _ranks(values):
    """Average ranks (1-based) of ``values`` and the size of each group of tied values."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, len(values)])
    average = starts + (sizes + 1) / 2
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(average, sizes)
    return ranks, sizes


def _exact(r_plus, count):
    """From the exact distribution of the sum of the positive ranks 1..count."""
    pmf = np.ones(1)
    for k in range(1, count + 1):
        grown = np.zeros(k * (k + 1) // 2 + 1)
        grown[: len(pmf)] = pmf * 0.5
        grown[-len(pmf) :] += pmf * 0.5
        pmf = grown
    r = int(r_plus)
    return float(min(1.0, 2 * min(pmf[r:].sum(), pmf[: r + 1].sum())))


def _every_flip(ranks, r_plus):
    """From all 2**count ways of giving the ranks signs, as a permutation test counts them
    (with its tolerance for sums that are equal in exact arithmetic)."""
    count = len(ranks)
    signs = (np.arange(2**count)[:, None] >> np.arange(count)) & 1
    null = signs @ ranks
    gamma = abs(np.finfo(float).eps * 100 * r_plus)
    less = np.count_nonzero(null <= r_plus + gamma) / len(null)
    greater = np.count_nonzero(null >= r_plus - gamma) / len(null)
    return float(min(1.0, 2 * min(less, greater)))
