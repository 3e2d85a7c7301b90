"""The statistics compare reports, checked against what they promise: intervals that cover
the true mean as often as their level says, tests that separate a real gap with enough seeds
and not with three, and the textbook sample sizes of a two-sample t-test."""

import numpy as np
import pytest

from runner.analysis import stats

pytestmark = pytest.mark.numerical


def _coverage(n, method, simulations, seed):
    rng = np.random.default_rng(seed)
    samples = [rng.normal(0.78, 0.03, n) for _ in range(simulations)]
    low, high = stats.intervals(samples, level=0.95, method=method, seed=seed)
    return np.mean((low <= 0.78) & (high >= 0.78))


@pytest.mark.parametrize("n", [3, 5, 20])
def test_the_t_interval_covers_the_mean_as_often_as_it_says(n):
    assert 0.93 <= _coverage(n, "t", 4000, seed=n) <= 0.97


def test_the_bootstrap_interval_covers_the_mean_at_twenty_seeds():
    assert 0.93 <= _coverage(20, "bootstrap", 1500, seed=11) <= 0.97


def test_a_level_is_honoured_and_one_run_has_no_interval():
    rng = np.random.default_rng(0)
    samples = [rng.normal(0, 1, 5) for _ in range(3000)]
    low, high = stats.intervals(samples, level=0.9)
    assert 0.88 <= np.mean((low <= 0) & (high >= 0)) <= 0.92
    low, high = stats.intervals([np.array([0.7]), np.array([0.5, 0.5])])
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert low[1] == high[1] == 0.5


def test_t_interval_matches_the_textbook():
    values = np.array([0.74, 0.78, 0.80])
    low, high = stats.intervals([values])
    half = 4.302652729911275 * values.std(ddof=1) / np.sqrt(3)  # t(0.975, 2)
    assert low[0] == pytest.approx(values.mean() - half)
    assert high[0] == pytest.approx(values.mean() + half)


def test_a_real_gap_is_found_at_twenty_seeds_and_not_at_three():
    rng = np.random.default_rng(3)
    seeds = np.arange(20)
    shared = rng.normal(0, 0.03, 20)  # what a seed does to both configurations
    best = 0.80 + shared + rng.normal(0, 0.01, 20)
    other = 0.77 + shared + rng.normal(0, 0.01, 20)
    p, test = stats.difference_test(best, other, seeds, seeds)
    assert test == "wilcoxon" and p < 0.01
    p, test = stats.difference_test(best[:3], other[:3], seeds[:3], seeds[:3])
    assert test == "wilcoxon" and p > 0.05  # three pairs can never reach 5%
    p, test = stats.difference_test(best, other[:12], seeds, seeds[:12] + 100)
    assert test == "welch" and 0 <= p <= 1


@pytest.mark.parametrize("effect, expected", [(1.0, 17), (0.5, 64), (2.0, 6)])
def test_seeds_needed_is_the_two_sample_t_test_size(effect, expected):
    z = np.array([-1.0, 0.0, 1.0])  # mean 0, sd 1
    n = stats.seeds_needed(0.5 + effect * 0.1 + 0.1 * z, 0.5 + 0.1 * z)
    assert n == expected  # 80% power at 5%, Cohen's tables


def test_no_gap_needs_no_seeds():
    assert stats.seeds_needed([0.5, 0.6], [0.6, 0.5]) is None
    assert stats.seeds_needed([0.5], [0.6, 0.5]) is None


@pytest.mark.parametrize("n", [10, 20, 50])  # at 5 the expanded level reaches 99.8%: tails of 2000
def test_the_bootstrap_is_scipys_bca(n):
    """The matrix-product resampling gives scipy.stats.bootstrap's BCa interval, to within the
    Monte-Carlo error of 2000 resamples (scipy's reference: 20000)."""
    from scipy.stats import bootstrap

    rng = np.random.default_rng(n)
    for _ in range(5):
        values = rng.lognormal(0, 0.5, n)  # skewed, where BCa corrects
        low, high = stats.intervals([values], method="bootstrap", seed=n)
        reference = bootstrap(
            (values,),
            np.mean,
            method="BCa",
            confidence_level=stats.expanded_level(0.95, n),
            n_resamples=20000,
            rng=np.random.default_rng(0),
        ).confidence_interval
        width = reference.high - reference.low
        assert abs(low[0] - reference.low) < 0.1 * width
        assert abs(high[0] - reference.high) < 0.1 * width
