"""compare's tie tests give scipy.stats' p-values without importing scipy.stats."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from runner.analysis.pvalues import welch_p, wilcoxon_p

pytestmark = pytest.mark.numerical


def _differences(rng, n, kind):
    if kind == "continuous":  # no ties, no zeros: the exact distribution
        return rng.normal(0, 1, n)
    if kind == "accuracy steps":  # val_accuracy of 300 points: many ties and zeros
        return rng.integers(-5, 6, n) / 300
    return np.round(rng.normal(0.01, 0.02, n), 2)  # a shift, ties, a few zeros


@pytest.mark.parametrize("kind", ["continuous", "accuracy steps", "rounded shift"])
def test_wilcoxon_is_scipys_from_two_to_sixty_pairs(kind):
    from scipy import stats

    rng = np.random.default_rng(len(kind))
    checked = 0
    for n in list(range(2, 61)) * 4:
        d = _differences(rng, n, kind)
        if np.all(d == 0):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns on few pairs and on ties
            expected = stats.wilcoxon(d).pvalue
        assert wilcoxon_p(d) == pytest.approx(expected, rel=1e-12, abs=1e-15), (n, d)
        checked += 1
    assert checked > 200


def test_wilcoxon_of_a_clear_shift_is_small_and_of_no_shift_is_large():
    rng = np.random.default_rng(1)
    assert wilcoxon_p(rng.normal(0.03, 0.01, 20)) < 1e-4
    assert wilcoxon_p([0.01, -0.01, 0.02, -0.02, 0.005, -0.005]) == 1.0


@pytest.mark.parametrize("rounded", [False, True])
def test_welch_is_scipys(rounded):
    from scipy import stats

    rng = np.random.default_rng(2)
    for _ in range(300):
        a = rng.normal(0.78, 0.02, rng.integers(2, 30))
        b = rng.normal(0.77, 0.04, rng.integers(2, 30))
        if rounded:
            a, b = np.round(a, 2), np.round(b, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns when a rounded sample is constant
            expected = stats.ttest_ind(a, b, equal_var=False).pvalue
        assert welch_p(a, b) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_a_compare_with_tie_tests_does_not_import_scipy_stats():
    code = (
        "import sys; import numpy as np; from runner.analysis import stats; "
        "p, name = stats.difference_test(np.r_[0.8, 0.81, 0.79], np.r_[0.78, 0.8, 0.79], "
        "[0, 1, 2], [0, 1, 2]); "
        "assert name == 'wilcoxon' and 0 < p <= 1, p; "
        "assert 'scipy.stats' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
