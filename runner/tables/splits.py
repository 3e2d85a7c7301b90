"""How a table's rows are cut: a test split, then validation or one fold of k.

The test split does not depend on the run's seed or fold: every run on the same file is tested
on the same rows, so test figures compare across a sweep.
"""

import math

import numpy as np

from runner.errors import ConfigError

SPLITS = ("stratified", "random")
TEST_SPLIT_SEED = 0  # fixed: the test rows of a file are the same for every run


def split_rows(n_rows, labels, test_fraction, val_fraction, folds, fold, stratified, rng, name):
    """Row indices (train, val, test): the test rows from a fixed seed, then validation from
    the rest with the run's ``rng`` (a fraction, or fold ``fold`` of ``folds``)."""
    rows = np.arange(n_rows)
    strata = labels if stratified else None
    test = np.array([], dtype=np.int64)
    if test_fraction:
        rows, test = _hold_out(rows, strata, test_fraction, np.random.default_rng(TEST_SPLIT_SEED))
        _not_empty("data.test_fraction", test_fraction, test, rows, n_rows, name, "test")
    if folds:
        if len(rows) < folds:
            raise ConfigError(
                "data.folds",
                folds,
                f"{name} has {len(rows)} rows left for training and validation, fewer than folds",
            )
        assigned = _fold_of(rows, strata, folds, rng)
        train, val = rows[assigned != fold], rows[assigned == fold]
        _not_empty("data.fold", fold, val, train, len(rows), name, "validation")
        return train, val, test
    train, val = _hold_out(rows, strata, val_fraction, rng)
    _not_empty("data.val_fraction", val_fraction, val, train, len(rows), name, "validation")
    return train, val, test


def _not_empty(key, value, held, kept, n_rows, name, what):
    if not len(held):
        raise ConfigError(key, value, f"leaves the {what} split empty ({n_rows} rows in {name})")
    if not len(kept):
        raise ConfigError(key, value, f"leaves no training rows ({n_rows} rows in {name})")


def _hold_out(rows, strata, fraction, rng):
    """(kept, held): ``fraction`` of ``rows`` held out, rounded up as scikit-learn's
    train_test_split does; with ``strata``, each class gives its share (largest remainders)."""
    n_held = min(len(rows), math.ceil(len(rows) * fraction))
    order = rng.permutation(rows)
    if strata is None:
        return order[n_held:], order[:n_held]
    labels, counts = np.unique(strata[rows], return_counts=True)
    exact = n_held * counts / len(rows)
    shares = np.floor(exact).astype(np.int64)
    by_remainder = np.argsort(-(exact - shares), kind="stable")
    shares[by_remainder[: n_held - shares.sum()]] += 1
    ordered_labels = strata[order]
    held = np.zeros(len(order), dtype=bool)
    for label, share in zip(labels, shares, strict=True):
        held[np.flatnonzero(ordered_labels == label)[:share]] = True
    return order[~held], order[held]  # each still in the shuffled order


def _fold_of(rows, strata, folds, rng):
    """Each row's fold, 0..folds-1: dealt out in turn after a shuffle, class by class when
    stratified (as StratifiedKFold balances classes), so fold sizes differ by at most one."""
    assigned = np.empty(len(rows), dtype=np.int64)
    groups = (
        [np.arange(len(rows))]
        if strata is None
        else [np.flatnonzero(strata[rows] == label) for label in np.unique(strata[rows])]
    )
    offset = 0
    for positions in groups:
        shuffled = rng.permutation(positions)
        assigned[shuffled] = (offset + np.arange(len(shuffled))) % folds
        offset += len(shuffled)
    return assigned
