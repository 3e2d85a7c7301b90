"""``data=csv``: the config checked before the file is read, then the file as a Dataset
(read through a sweep's cache, split, encoded by runner.tables.encoding)."""

import math

import numpy as np
from omegaconf import OmegaConf

from runner.dataset import (
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
    CATEGORICAL,
    MISSING_MODES,
    check_missing,
    column_kind,
    fit_encoding,
    infinite_cells,
)
from runner.tables.header import repeated_name, shown_columns
from runner.tables.separator import AUTO, CANDIDATES, NAMES, check_sep, resolve_sep, shown
from runner.tables.splits import SPLITS, split_rows

CSV_KEYS = (
    "name",
    "path",
    "target",
    "features",
    "task",
    "sep",
    "max_categories",
    "standardize",
    "missing",
    "split",
    "val_fraction",
    "test_fraction",
    "folds",
    "fold",
)
SCALE_HINT = 100  # unstandardised features beyond this magnitude earn a hint
CLASS_LIMIT = 20  # data.task=auto: a target of whole numbers with more values is a regression
MAX_CATEGORIES, MAX_CATEGORY_SHARE = 100, 0.5  # data.max_categories=auto: the smaller of these


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
    with problems.check():
        check_sep(cfg.get("sep", AUTO))
    with problems.check():
        _check_max_categories(cfg.get("max_categories", AUTO))
    problems.raise_any()
    return path


def _check_max_categories(value):
    if value is None or value == AUTO or (is_int(value) and value >= 1):
        return
    raise ConfigError(
        "data.max_categories",
        value,
        f"auto (the smaller of {MAX_CATEGORIES} and {MAX_CATEGORY_SHARE:.0%} of the rows), a "
        "positive integer, or null (keep every text column whatever its number of values)",
    )


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
    table, sep_note = _read(path, cfg, cache_dir)
    target = str(cfg.target)
    if target not in table.columns:
        raise ConfigError("data.target", target, _no_column(table, path))
    features = _features(cfg, table, target, path)
    kinds = {column: column_kind(table.columns[column], column, path.name) for column in features}
    try:
        infinite_cells(table, [*features, target])
    except ValueError as error:
        raise ConfigError("data.path", cfg.path, str(error)) from None
    missing = cfg.get("missing", "error")
    drop, dropped = check_missing(table, features, target, missing)
    if drop is not None:
        table = table.take(~drop)
        if not len(table):
            raise ConfigError("data.missing", missing, f"drops every row of {path.name}")
    kinds, too_many = _limit_categories(table, kinds, cfg.get("max_categories", AUTO), path)
    task, task_note = _task(cfg.get("task", "auto"), table.columns[target], target)
    y, classes = _target(table.columns[target], target, task)
    if task == CLASSIFICATION and len(classes) < 2:
        raise ConfigError(
            "data.target",
            target,
            f"has a single class ({classes[0]!r}) in {path.name}; a classifier needs at "
            "least 2 (for a numeric target, data.task=regression)",
        )
    lone = _single_row_classes(y, classes, target, len(table)) if task == CLASSIFICATION else ()
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
    notes = tuple(filter(None, [sep_note, dropped, *too_many, task_note, *lone]))
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
    encoding.source, encoding.sep = source, check_sep(cfg.get("sep", AUTO))
    if not standardize:
        notes += _scale_hint(X_train, encoding.inputs)
    if task == REGRESSION:
        _check_target_size(y, target, dtype, table)
        y = y.astype(dtype).reshape(-1, 1)
    _check_inputs_finite((X_train, X_val, X_test), encoding.inputs, path)
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
    """-> (the file as a Table, a note naming its separator unless a comma)."""
    import pandas as pd

    from runner.tables.cache import read_table

    setting = check_sep(cfg.get("sep", AUTO))
    sep = resolve_sep(setting, path)
    try:
        table = read_table(path, cache_dir, sep)
    except pd.errors.EmptyDataError:
        raise ConfigError("data.path", cfg.path, "is empty: no header, no rows") from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        why = " ".join(str(error).split())  # pandas' C errors end in a line break
        raise ConfigError("data.path", cfg.path, f"not a readable CSV file ({why})") from None
    if not len(table):
        raise ConfigError("data.path", cfg.path, "has a header but no rows")
    twice = repeated_name(table.columns, path, sep)
    if twice is not None:
        raise ConfigError(
            "data.path",
            cfg.path,
            f"the column name '{twice}' appears more than once in the header of {path.name}; "
            "give each column a name of its own",
        )
    if sep == ",":
        return table, None
    typed = AUTO if setting == AUTO else NAMES.get(sep, sep)
    return table, f"data.sep={typed}: read {path.name} as {shown(sep)}"


def _no_column(table, path):
    """The message for a target the file has no column of; a single column whose name holds
    a separator says the file was read with the wrong one."""
    message = f"no such column in {path.name}; {shown_columns(table.columns)}"
    if len(table.columns) == 1:
        name = next(iter(table.columns))
        inside = [shown(c) for c in CANDIDATES if c in name]
        if inside:
            message += f" (one column: is the file {inside[0]}? data.sep=auto detects it)"
    return message


def _features(cfg, table, target, path):
    features = cfg.get("features")
    if features is None:
        features = [c for c in table.columns if c != target]
    elif isinstance(features, str):  # data.features="a,b" from a command line: a list
        features = [part.strip() for part in features.split(",") if part.strip()]
    elif not isinstance(features, (list, tuple)) and not OmegaConf.is_list(features):
        raise ConfigError(
            "data.features",
            features,
            "must be a list of column names (data.features=[a,b]) or null (every other column)",
        )
    features = [str(f) for f in features]
    if not features:
        raise ConfigError("data.features", features, "no feature columns left besides the target")
    for column in features:
        if column not in table.columns:
            raise ConfigError(
                "data.features",
                column,
                f"no such column in {path.name}; {shown_columns(table.columns)}",
            )
    if target in features:
        raise ConfigError("data.features", target, "is the target; a feature cannot be the target")
    return features


def category_limit(setting, n_rows):
    """``data.max_categories`` -> the most values a text column may have, or None (no limit)."""
    if setting == AUTO:
        return min(MAX_CATEGORIES, max(1, int(n_rows * MAX_CATEGORY_SHARE)))
    return setting


def _limit_categories(table, kinds, setting, path):
    """Drop text columns with more distinct values than ``data.max_categories`` allows (a
    name or an id: one-hot, each would be hundreds of inputs that say nothing about new rows).
    Counted on the whole file, so every run on it (any seed or fold) has the same inputs.
    -> (the kinds kept, one note per dropped column)."""
    limit = category_limit(setting, len(table))
    if limit is None:
        return kinds, []
    kept, notes = dict(kinds), []
    for column, kind in kinds.items():
        if kind != CATEGORICAL:
            continue
        values = table.columns[column]
        count = len({str(v) for v in values[~table.missing(column)]})
        if count > limit:
            del kept[column]
            notes.append(
                f"dropped text column '{column}': {count} distinct values in {len(table)} rows, "
                f"more than data.max_categories={setting}"
                + (f" ({limit})" if setting == AUTO else "")
                + "; data.max_categories=null keeps it (one input per value)"
            )
    if not kept:
        raise ConfigError(
            "data.max_categories",
            setting,
            f"drops every feature of {path.name} ({', '.join(kinds)}); raise it, or null keeps "
            "them all",
        )
    return kept, notes


def _task(task, values, column):
    """``data.task`` -> (the task, a note saying why when it was inferred). Text and true/false
    targets are classes; numbers with a fraction are a regression; whole numbers are classes
    up to CLASS_LIMIT distinct values (labels 0..9, ratings 1..5), a regression beyond (ages,
    counts, prices in whole units)."""
    if task not in ("auto", CLASSIFICATION, REGRESSION):
        raise ConfigError("data.task", task, "choose one of: auto, classification, regression")
    if task != "auto":
        return task, None
    distinct = len(np.unique(values)) if values.dtype.kind in "fiub" else len(set(values))
    if values.dtype.kind not in "fiu":
        task, why = CLASSIFICATION, "text" if values.dtype.kind == "O" else "true/false"
    elif values.dtype.kind == "f" and not _whole(values):
        task, why = REGRESSION, "numbers with fractions"
    elif distinct > CLASS_LIMIT:
        task, why = REGRESSION, f"whole numbers, more than {CLASS_LIMIT} values"
    else:
        task, why = CLASSIFICATION, f"whole numbers, at most {CLASS_LIMIT} values"
    return task, (
        f"data.task=auto: target '{column}' has {distinct} distinct values ({why}): {task}; "
        "data.task=classification|regression overrides"
    )


def _whole(values):
    """Whole numbers an int64 label holds exactly (1e300 is whole, but no label)."""
    return bool(np.all(np.mod(values, 1) == 0) and np.all(np.abs(values) <= 2**53))


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
    if values.dtype.kind == "f" and _whole(values):  # 3.0 -> 3: labels as the file wrote them
        values = values.astype(np.int64)
    codes, uniques = pd.factorize(pd.Series(values), sort=True)
    classes = [value.item() if isinstance(value, np.generic) else value for value in uniques]
    return codes.astype(np.int64), classes


def _single_row_classes(y, classes, target, rows):
    """A warning when most classes have a single row (an id, or a number meant as a value):
    a class seen once cannot be learned, and accuracy stays at 0."""
    counts = np.bincount(y, minlength=len(classes))
    single = int((counts == 1).sum())
    if len(classes) <= 2 or single * 2 <= len(classes):
        return ()
    return (
        f"warning: target '{target}' has {len(classes)} classes in {rows} rows, {single} of "
        "them with a single row: a class seen once cannot be learned. For numbers meant as "
        "values use data.task=regression; for an id column choose another data.target",
    )


def _check_target_size(y, target, dtype, table):
    """A regression target the training's loss cannot square in ``dtype`` (its square
    overflows to inf and the run would end as diverged, blaming the learning rate)."""
    limit = math.sqrt(np.finfo(dtype).max) / 10
    with np.errstate(invalid="ignore"):
        big = np.abs(y) > limit
    if big.any():
        row = int(np.flatnonzero(big)[0])
        raise ConfigError(
            "data.target",
            target,
            f"reaches {y[row]:.3g} on line {table.line(row)} of {table.name}, too large to train "
            f"on in {np.dtype(dtype).name} (beyond {limit:.1g}); rescale the column (divide it "
            "by a power of ten)",
        )


def _check_inputs_finite(blocks, inputs, path):
    """Inputs that standardising made infinite or NaN (a column of numbers near 1e308)."""
    for X in blocks:
        if X is None or not X.size:
            continue
        bad = ~np.isfinite(X).all(axis=0)
        if bad.any():
            column = inputs[int(np.flatnonzero(bad)[0])]
            raise ConfigError(
                "data.path",
                path.name,
                f"column '{column}' holds numbers too large to standardise (they overflow); "
                "rescale the column (divide it by a power of ten)",
            )


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
