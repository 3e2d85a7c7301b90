"""``data=csv``: the config checked before the file is read, then the file as a Dataset
(read through a sweep's cache, split, encoded by runner.tables.encoding)."""

import numpy as np
from omegaconf import OmegaConf

from runner.data import (
    CLASSIFICATION,
    REGRESSION,
    Dataset,
    check_test_fraction,
    csv_path,
    is_fraction,
    is_int,
)
from runner.errors import ConfigError, Problems
from runner.tables import float_splits
from runner.tables.encoding import (
    MISSING_MODES,
    SPLITS,
    check_missing,
    column_kind,
    fit_encoding,
    split_rows,
)

CSV_KEYS = (
    "name",
    "path",
    "target",
    "features",
    "task",
    "standardize",
    "missing",
    "split",
    "val_fraction",
    "test_fraction",
    "folds",
    "fold",
)
SCALE_HINT = 100  # unstandardised features beyond this magnitude earn a hint


def check_csv_config(cfg, base_dir):
    """Static checks of data=csv, the file first -> the file's resolved path."""
    problems = Problems()
    path = None
    with problems.check():
        path = csv_path(cfg, base_dir)
    if OmegaConf.is_missing(cfg, "target") or cfg.get("target") in (None, ""):
        with problems.check():
            raise ConfigError(
                "data.target",
                "???",
                "required for data=csv: the column to predict (e.g. data.target=species)",
            )
    for key in sorted(set(cfg) - set(CSV_KEYS)):
        with problems.check():
            raise ConfigError(
                f"data.{key}", cfg[key], f"not a csv option; choose from: {', '.join(CSV_KEYS[1:])}"
            )
    val_fraction = cfg.get("val_fraction", 0.2)
    if not is_fraction(val_fraction):
        with problems.check():
            raise ConfigError(
                "data.val_fraction", val_fraction, "must be a number between 0 and 1 (exclusive)"
            )
    check_test_fraction(cfg.get("test_fraction", 0.2), problems)
    for key, allowed in (("missing", MISSING_MODES), ("split", SPLITS)):
        value = cfg.get(key, allowed[0])
        if value not in allowed:
            with problems.check():
                raise ConfigError(f"data.{key}", value, f"choose one of: {', '.join(allowed)}")
    with problems.check():
        _check_folds(cfg.get("folds"), cfg.get("fold", 0))
    if not isinstance(cfg.get("standardize", True), bool):
        with problems.check():
            raise ConfigError("data.standardize", cfg.get("standardize"), "must be true or false")
    problems.raise_any()
    return path


def _check_folds(folds, fold):
    if folds is None:
        return
    if not (is_int(folds) and folds >= 2):
        raise ConfigError("data.folds", folds, "must be an integer >= 2 (k of k-fold) or null")
    if not (is_int(fold) and 0 <= fold < folds):
        raise ConfigError(
            "data.fold",
            fold,
            f"must be one of 0..{folds - 1} (the validation fold of data.folds={folds}); "
            f"sweep them with data.fold=range(0,{folds})",
        )


def csv_dataset(cfg, rng, dtype, path, cache_dir=None):
    """The CSV at ``path`` as a Dataset: split with ``rng`` (the test rows with a fixed seed),
    encoded from the training rows; ``cache_dir`` holds a sweep's parsed files."""
    table = _read(path, cfg, cache_dir)
    target = str(cfg.target)
    if target not in table.columns:
        raise ConfigError(
            "data.target",
            target,
            f"no such column in {path.name}; columns: {', '.join(table.columns)}",
        )
    features = _features(cfg, table, target, path)
    kinds = {column: column_kind(table.columns[column], column, path.name) for column in features}
    missing = cfg.get("missing", "error")
    drop, dropped = check_missing(table, features, target, missing)
    if drop is not None:
        table = table.take(~drop)
        if not len(table):
            raise ConfigError("data.missing", missing, f"drops every row of {path.name}")
    task = _task(cfg.get("task", "auto"), table.columns[target])
    y, classes = _target(table.columns[target], target, task)
    if task == CLASSIFICATION and len(classes) < 2:
        raise ConfigError(
            "data.target",
            target,
            f"has a single class ({classes[0]!r}) in {path.name}; a classifier needs at "
            "least 2 (for a numeric target, data.task=regression)",
        )
    stratified = task == CLASSIFICATION and cfg.get("split", "stratified") == "stratified"
    train, val, test = split_rows(
        len(table),
        y if task == CLASSIFICATION else None,
        cfg.get("test_fraction", 0.2),
        cfg.get("val_fraction", 0.2),
        cfg.get("folds"),
        cfg.get("fold", 0),
        stratified,
        rng,
        path.name,
    )
    standardize = cfg.get("standardize", True)
    source = {"file": path.name, "rows": {"train": len(train), "val": len(val), "test": len(test)}}
    notes = tuple(filter(None, [dropped]))
    if drop is None and float_splits.applies(table, kinds):  # whole table: its moments hold
        encoding = fit_encoding(table, kinds, target, task, classes, missing)
        X_train, X_val, X_test = float_splits.encode_splits(
            table, encoding.features, (train, val, test), standardize, missing, dtype
        )
    else:
        encoding, (X_train, X_val, X_test) = _encode_splits(
            table,
            kinds,
            (train, val, test),
            (target, task, classes, missing),
            standardize,
            dtype,
            cfg,
        )
    encoding.source = source
    if not standardize:
        notes += _scale_hint(X_train, encoding.inputs)
    if task == REGRESSION:
        y = y.astype(dtype).reshape(-1, 1)
    return Dataset(
        X_train,
        y[train],
        X_val,
        y[val],
        task,
        len(classes),
        encoding.class_names,
        notes,
        X_test if len(test) else None,
        y[test] if len(test) else None,
        encoding,
    )


def _encode_splits(table, kinds, splits, about, standardize, dtype, cfg):
    """The general path: each split's rows taken and encoded (numbers, 0/1, one-hot), the
    scaling fitted on the training block -> (encoding, (X_train, X_val, X_test) in dtype)."""
    target, task, classes, missing = about
    train_rows, val_rows, test_rows = (table.take(rows) for rows in splits)
    encoding = fit_encoding(train_rows, kinds, target, task, classes, missing)
    try:  # a category only val/test rows have: all zeros
        X_train = encoding.encode(train_rows, unknown="ignore", scale=False, consume=True)
        encoding.fit_scaling(X_train, standardize, missing)
        X_val, X_test = (
            encoding.encode(part, unknown="ignore", consume=True) for part in (val_rows, test_rows)
        )
    except ValueError as error:
        raise ConfigError("data.path", cfg.path, str(error)) from None
    arrays = (np.ascontiguousarray(X, dtype=dtype) for X in (X_train, X_val, X_test))
    return encoding, tuple(arrays)


def _read(path, cfg, cache_dir):
    import pandas as pd

    from runner.tables.cache import read_table

    try:
        table = read_table(path, cache_dir)
    except pd.errors.EmptyDataError:
        raise ConfigError("data.path", cfg.path, "is empty: no header, no rows") from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise ConfigError("data.path", cfg.path, f"not a readable CSV file ({error})") from None
    if not len(table):
        raise ConfigError("data.path", cfg.path, "has a header but no rows")
    return table


def _features(cfg, table, target, path):
    features = cfg.get("features")
    if features is None:
        features = [c for c in table.columns if c != target]
    elif isinstance(features, str):
        features = [features]
    features = [str(f) for f in features]
    if not features:
        raise ConfigError("data.features", features, "no feature columns left besides the target")
    for column in features:
        if column not in table.columns:
            raise ConfigError(
                "data.features",
                column,
                f"no such column in {path.name}; columns: {', '.join(table.columns)}",
            )
    if target in features:
        raise ConfigError("data.features", target, "is the target; a feature cannot be the target")
    return features


def _task(task, values):
    if task == "auto":
        return REGRESSION if values.dtype.kind == "f" else CLASSIFICATION
    if task not in (CLASSIFICATION, REGRESSION):
        raise ConfigError("data.task", task, "choose one of: auto, classification, regression")
    return task


def _target(values, column, task):
    """Labels 0..k-1 and the classes as the file has them, or float targets and ()."""
    import pandas as pd

    if task == REGRESSION:
        if values.dtype.kind not in "fiub":
            raise ConfigError(
                "data.task",
                task,
                f"target column '{column}' is not numeric; use data.task=classification",
            )
        return values.astype(np.float64), []
    codes, uniques = pd.factorize(pd.Series(values), sort=True)
    classes = [value.item() if isinstance(value, np.generic) else value for value in uniques]
    return codes.astype(np.int64), classes


def _scale_hint(X, inputs):
    """A hint when unscaled features are large: such inputs saturate a small network."""
    if not X.size:
        return ()
    peaks = np.abs(X).max(axis=0)
    worst = int(np.argmax(peaks))
    if peaks[worst] <= SCALE_HINT:
        return ()
    return (
        f"data.standardize=false: feature '{inputs[worst]}' reaches {peaks[worst]:.4g}; "
        "features this large often keep a network at chance; set data.standardize=true",
    )
