"""Honest statistics of a few seeds: intervals of the mean, who cannot be told from the best,
and how many seeds would tell the top two apart.

With 3-5 seeds a bootstrap interval undercovers badly (it cannot see spread it has not sampled),
so Student's t interval is the default; the BCa bootstrap (seeded; the interval
``scipy.stats.bootstrap`` gives, computed faster, see :func:`_bootstrap`) is for skewed metrics
at larger n. Whether a group is tied with the best is decided by a test
on the runs themselves: Wilcoxon's signed-rank test on the differences of the seeds both groups
ran (a paired test removes the seed-to-seed spread they share), Welch's t-test otherwise, their
p-values as scipy.stats gives them (:mod:`runner.analysis.pvalues` says why not from there).
"""

import math

import numpy as np

from runner.analysis import pvalues

METHODS = ("t", "bootstrap")
BOOTSTRAP_RESAMPLES = 2000
POWER = 0.8  # --seeds-needed: the chance of telling the top two apart, if the gap is real


def intervals(samples, level=0.95, method="t", seed=0):
    """Confidence intervals of the mean -> (low, high) arrays, one per sample in ``samples``
    (a list of 1-D arrays). A sample of one run has none (NaN); a constant one is a point."""
    low = np.full(len(samples), np.nan)
    high = np.full(len(samples), np.nan)
    by_size = {}
    for i, values in enumerate(samples):
        by_size.setdefault(len(values), []).append(i)
    for n, indices in by_size.items():
        if n < 2:
            continue
        block = np.array([samples[i] for i in indices], dtype=float)
        if method == "t":
            from scipy import special  # here: groups of one run (a 1-job sweep) never need it

            mean, sem = block.mean(axis=1), block.std(axis=1, ddof=1) / math.sqrt(n)
            half = special.stdtrit(n - 1, (1 + level) / 2) * sem
            low[indices], high[indices] = mean - half, mean + half
        else:
            low[indices], high[indices] = _bootstrap(block, level, seed)
    return low, high


def expanded_level(level, n):
    """The level a bootstrap of n runs is asked for so that its interval is as wide as it
    should be: a bootstrap's spread is the runs' plug-in spread (divided by n, not n - 1) and its
    quantiles are normal, not Student's, so at 95% it covers about 93% at n=20 and less below.
    Hesterberg's expansion (2015, "What teachers should know about the bootstrap", sec. 5.2)
    asks for the normal quantile sqrt(n / (n - 1)) * t(n - 1) instead."""
    from scipy import special

    t = special.stdtrit(n - 1, (1 + level) / 2) * math.sqrt(n / (n - 1))
    return float(2 * special.ndtr(t) - 1)


def _bootstrap(block, level, seed):
    """BCa intervals of the mean for each row of ``block`` (all rows one size), at the expanded
    level (see :func:`expanded_level`).

    The same interval ``scipy.stats.bootstrap(method="BCa")`` computes (bias from the share of
    resampled means below the mean, acceleration from the jackknife, percentiles of the
    resampled means), with the resampling done as one matrix product: a resample's mean is its
    counts-weighted mean, and every group of one size shares one seeded set of resamples. At
    100k runs scipy's per-element resampling takes 4 s where this takes a tenth of that;
    ``tests/test_stats.py`` checks that both give the same intervals.
    """
    from scipy import special

    n = block.shape[1]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))
    counts = np.zeros((BOOTSTRAP_RESAMPLES, n))
    np.add.at(counts, (np.repeat(np.arange(BOOTSTRAP_RESAMPLES), n), draws.ravel()), 1)
    means = np.sort(block @ counts.T / n, axis=1)  # (groups, resamples)
    mean = block.mean(axis=1)
    below = (means < mean[:, None]).sum(axis=1) + (means <= mean[:, None]).sum(axis=1)
    bias = special.ndtri(below / (2 * BOOTSTRAP_RESAMPLES))
    jackknife = (n * mean[:, None] - block) / (n - 1)
    spread = jackknife.mean(axis=1, keepdims=True) - jackknife
    with np.errstate(invalid="ignore", divide="ignore"):
        acceleration = (spread**3).sum(axis=1) / (6 * ((spread**2).sum(axis=1)) ** 1.5)
    expanded = expanded_level(level, n)
    ends = []
    for z in (special.ndtri((1 - expanded) / 2), special.ndtri((1 + expanded) / 2)):
        with np.errstate(invalid="ignore", divide="ignore"):
            share = special.ndtr(bias + (bias + z) / (1 - acceleration * (bias + z)))
        ends.append(_quantile_of_sorted(means, share))
    low, high = ends
    constant = np.ptp(block, axis=1) == 0
    low[constant] = high[constant] = mean[constant]
    return low, high


def _quantile_of_sorted(rows, share):
    """Each sorted row's quantile at its own ``share`` (linear, as numpy's default)."""
    position = np.clip(share, 0, 1) * (rows.shape[1] - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, rows.shape[1] - 1)
    picked = np.arange(len(rows))
    weight = position - below
    return rows[picked, below] * (1 - weight) + rows[picked, above] * weight


def difference_test(best, other, best_seeds=None, other_seeds=None):
    """p-value of "no difference" between two groups' runs -> (p, test name), or (nan, "") when
    there are too few runs. Paired (Wilcoxon) when both ran the same seeds, Welch's t else."""
    best, other = np.asarray(best, float), np.asarray(other, float)
    if best_seeds is not None and other_seeds is not None:
        pairs = _paired(best, other, best_seeds, other_seeds)
        if pairs is not None:
            differences = pairs[0] - pairs[1]
            if len(differences) < 2:
                return math.nan, ""
            if np.all(differences == 0):
                return 1.0, "wilcoxon"
            return pvalues.wilcoxon_p(differences), "wilcoxon"
    if len(best) < 2 or len(other) < 2:
        return math.nan, ""
    if np.ptp(best) == 0 and np.ptp(other) == 0:
        return (1.0 if best[0] == other[0] else 0.0), "welch"
    return pvalues.welch_p(best, other), "welch"


def _paired(best, other, best_seeds, other_seeds):
    """The two groups' values on the seeds both ran, in seed order, or None when the seed sets
    differ or a seed repeats (then the runs are not pairs)."""
    best_seeds, other_seeds = list(best_seeds), list(other_seeds)
    if len(set(best_seeds)) != len(best_seeds) or len(set(other_seeds)) != len(other_seeds):
        return None
    if set(best_seeds) != set(other_seeds):
        return None
    order_b = np.argsort(best_seeds, kind="stable")
    order_o = np.argsort(other_seeds, kind="stable")
    return best[order_b], other[order_o]


def seeds_needed(a, b, level=0.95, power=POWER, limit=10_000):
    """Seeds per group for a two-sided t-test at ``level`` to tell ``a`` from ``b`` with
    probability ``power``, if their means and spread are what the runs show -> int, or None
    when the runs show no gap (or too little to estimate the spread)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return None
    gap = abs(a.mean() - b.mean())
    spread = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    if gap == 0:
        return None
    if spread == 0:
        return 2
    effect = gap / spread
    alpha = 1 - level
    for n in range(2, limit + 1):
        df = 2 * n - 2
        critical = stats.t.ppf(1 - alpha / 2, df)
        noncentrality = effect * math.sqrt(n / 2)
        achieved = stats.nct.sf(critical, df, noncentrality) + stats.nct.cdf(
            -critical, df, noncentrality
        )
        if achieved >= power:
            return n
    return None
