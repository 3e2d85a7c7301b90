"""The race's test (runner.sweeps.race.decide): its error rate when every configuration is
equal, measured by simulation; its power on a clear difference; its agreement with scipy's
Friedman test; failed runs ranked last; two configurations by compare's signed-rank test."""

import numpy as np
import pytest
from scipy import stats

from runner.sweeps.race.decide import decide

pytestmark = pytest.mark.numerical


@pytest.mark.parametrize("k", [2, 3, 6, 12])
@pytest.mark.parametrize("seeds", [3, 5, 10])
def test_when_all_are_equal_a_round_eliminates_something_at_most_at_the_stated_rate(k, seeds):
    """The family-wise error of one round: P(any elimination | all equal) <= 1 - level. With
    2000 simulated rounds, the binomial standard error at 0.05 is 0.005: 0.065 is 3 of them."""
    rng = np.random.default_rng(1000 * k + seeds)
    rounds = 2000
    wrong = sum(bool(decide(rng.normal(size=(seeds, k)), 0.95).worse) for _ in range(rounds))
    assert wrong / rounds <= 0.065


def test_the_stated_rate_follows_the_level():
    rng = np.random.default_rng(7)
    rounds = 2000
    rates = {}
    for level in (0.8, 0.95):
        wrong = sum(bool(decide(rng.normal(size=(8, 6)), level).worse) for _ in range(rounds))
        rates[level] = wrong / rounds
    assert rates[0.95] <= 0.065 and 0.1 <= rates[0.8] <= 0.24


def test_a_clearly_worse_configuration_is_eliminated_after_five_seeds():
    """Six configurations, one worse by three standard deviations on every seed's scale. (Ranks
    of three seeds cannot yet tell one of six apart reliably: about 15% of rounds do.)"""
    rng = np.random.default_rng(3)
    rounds = 500
    caught = 0
    for _ in range(rounds):
        costs = rng.normal(size=(5, 6)) + rng.normal(size=(5, 1))  # a seed's shared difficulty
        costs[:, 4] += 3.0
        verdict = decide(costs, 0.95)
        caught += 4 in verdict.worse
        assert verdict.best != 4
    assert caught / rounds >= 0.75


def test_the_friedman_gate_agrees_with_scipy_without_ties():
    rng = np.random.default_rng(11)
    for _ in range(50):
        costs = rng.normal(size=(6, 4))
        ours = decide(costs, 0.95).p_overall
        theirs = stats.friedmanchisquare(*costs.T).pvalue
        assert ours == pytest.approx(theirs, rel=1e-9)


def test_a_failed_run_is_ranked_last_on_its_seed():
    costs = np.array(
        [[1.0, 2.0, np.inf, 3.0], [1.1, 2.1, np.inf, 3.1], [0.9, 1.9, np.inf, 2.9]] * 2
    )
    verdict = decide(costs, 0.95)
    assert verdict.best == 0
    assert 2 in verdict.worse and 3 in verdict.worse  # the failed one and the worst finite one


def test_two_configurations_go_by_compares_paired_signed_rank_test():
    better = np.array([[0.1, 0.5]] * 6) + np.arange(6)[:, None] * 0.01  # won on all six seeds
    verdict = decide(better, 0.95)
    assert verdict.best == 0
    theirs = stats.wilcoxon(better[:, 1] - better[:, 0]).pvalue
    assert verdict.worse == {1: pytest.approx(theirs)}
    assert decide(better[:5], 0.95).worse == {}  # 5 of 5: p = 0.0625, not yet
    assert decide(np.array([[1.0, 1.0]] * 8), 0.95).worse == {}  # ties decide nothing


def test_with_two_the_size_of_the_differences_counts_not_only_who_won():
    """Eight wins of ten by a wide margin and two small losses: the sign test (p = 0.11) would
    not tell them apart; the signed-rank test does."""
    costs = np.zeros((10, 2))
    costs[:, 1] = [1.0, 1.1, 0.9, 1.2, 1.0, 0.8, 1.3, 1.05, -0.01, -0.02]
    assert stats.binomtest(8, 10, 0.5).pvalue > 0.05
    verdict = decide(costs, 0.95)
    assert verdict.best == 0 and 1 in verdict.worse


def test_with_two_a_failed_run_is_the_largest_difference():
    costs = np.array([[0.1, 0.2], [0.1, 0.2], [0.1, 0.2], [0.1, 0.2], [0.1, 0.2], [0.1, np.inf]])
    costs[:, 1] += np.arange(6) * 0.001
    verdict = decide(costs, 0.95)
    assert verdict.best == 0 and 1 in verdict.worse


def test_the_best_is_never_eliminated_and_everything_else_is_another_column():
    rng = np.random.default_rng(5)
    for _ in range(200):
        k = int(rng.integers(2, 8))
        costs = rng.normal(size=(int(rng.integers(2, 12)), k)) + np.arange(k) * 0.7
        verdict = decide(costs, 0.9)
        assert verdict.best not in verdict.worse
        assert all(0 <= j < k and 0 <= p < 0.1 for j, p in verdict.worse.items())
