"""A CSV file as a model's arrays, and the record of how, so new rows can be encoded alike.

The rows are split first (``splits``: a test split, then validation or one fold of k), and
every statistic is fitted on the training rows alone, the way scikit-learn's ColumnTransformer is fitted on the
training split: one-hot vocabularies of text columns, the mean and std that standardise numeric
columns, the fill values of ``data.missing=mean``. All of it goes into :class:`Encoding`, which
is saved beside the parameters (``preprocessing.json``) and is what ``runner.predict`` applies.
"""

import json
import math
from dataclasses import dataclass, field

import numpy as np

from runner.errors import ConfigError

NUMERIC, BOOLEAN, CATEGORICAL = "numeric", "boolean", "categorical"
CLASSIFICATION, REGRESSION = "classification", "regression"
MISSING_MODES = ("error", "drop", "mean")
TRUE_TEXT, FALSE_TEXT = {"true", "yes"}, {"false", "no"}
FORMAT = 1  # of preprocessing.json
PREPROCESSING_FILE = "preprocessing.json"  # beside params.npz: what runner.predict applies


@dataclass
class Table:
    """The columns of a CSV as numpy arrays: float (NaN missing), int, bool, or object (text,
    None missing). Built from pandas once, or from a sweep's cache (runner.tables.cache).

    The float columns may live in one row-major matrix ``floats`` (their ``columns`` entries
    are views of it): taking rows is then one gather of whole rows, and an all-numeric file
    is encoded with a few vectorised passes instead of one strided pass per column.
    """

    columns: dict
    name: str = "data.csv"  # the file's name, for messages
    offset: int = 0  # rows of the file before these (a chunk of a large file), for line numbers
    complete: frozenset = frozenset()  # columns known to have no missing cell (skips the check)
    floats: np.ndarray | None = None  # (n, k) float64, row-major: the columns float_names
    float_names: tuple = ()
    float_moments: tuple | None = None  # (means, sums of squared deviations) of ``floats``

    def line(self, index):
        """The file line of row ``index`` (the header is line 1)."""
        return int(index) + 2 + self.offset

    def __len__(self):
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def missing(self, column):
        values = self.columns[column]
        if column in self.complete:
            return np.zeros(len(values), dtype=bool)
        if values.dtype.kind == "f":
            return np.isnan(values)
        if values.dtype.kind == "O":
            return np.array([_is_missing(v) for v in values], dtype=bool)
        return np.zeros(len(values), dtype=bool)

    def take(self, rows):
        floats = None if self.floats is None else self.floats[rows]
        columns = {k: v[rows] for k, v in self.columns.items() if k not in self.float_names}
        taken = with_floats(
            columns, floats, self.float_names, self.name, self.offset, self.complete
        )
        taken.columns = {column: taken.columns[column] for column in self.columns}
        return taken

    def float_block(self, names, consume=False):
        """The columns ``names`` as one row-major float64 array, if all are in ``floats``;
        ``consume``: the table is not used again, so its own matrix may be handed out."""
        if self.floats is None or not set(names) <= set(self.float_names):
            return None
        index = [self.float_names.index(name) for name in names]
        if index == list(range(len(self.float_names))):
            return self.floats if consume else self.floats.copy()
        return self.floats[:, index]


def with_floats(others, floats, float_names, name, offset=0, complete=frozenset()):
    """A Table of the columns ``others`` plus the float matrix ``floats`` (its columns named
    ``float_names``); callers put ``columns`` back in the file's order."""
    columns = dict(others)
    if floats is not None:
        columns.update({column: floats[:, j] for j, column in enumerate(float_names)})
    return Table(columns, name, offset, frozenset(complete), floats, tuple(float_names))


def table_from_frame(frame, name):
    columns, complete, float_names = {}, set(), []
    for column in frame.columns:
        values = frame[column].to_numpy()
        if values.dtype.kind in "fiub":
            gaps = values.dtype.kind == "f" and np.isnan(values).any()
            if values.dtype == np.float64:
                float_names.append(str(column))
        else:
            missing = frame[column].isna().to_numpy()
            values = values.astype(object)
            values[missing] = None
            gaps = missing.any()
        columns[str(column)] = values
        if not gaps:
            complete.add(str(column))
    floats = None
    if float_names:
        floats = np.ascontiguousarray(frame[float_names].to_numpy(dtype=np.float64))
    others = {k: v for k, v in columns.items() if k not in float_names}
    table = with_floats(others, floats, float_names, name, complete=complete)
    table.columns = {column: table.columns[column] for column in columns}
    if floats is not None:
        from runner.tables.float_splits import moments

        table.float_moments = moments(floats)
    return table


def _is_missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass
class Feature:
    """One input column and how it becomes model inputs."""

    name: str
    kind: str  # NUMERIC | BOOLEAN | CATEGORICAL
    dtype: str  # as the CSV was read (float64, int64, bool, object)
    mean: float = 0.0  # NUMERIC: subtracted (0 without standardisation)
    std: float = 1.0  # NUMERIC: divided by
    categories: list = field(default_factory=list)  # CATEGORICAL: the one-hot vocabulary
    fill: object = None  # data.missing=mean: the value of a missing cell

    @property
    def inputs(self):
        if self.kind == CATEGORICAL:
            return [f"{self.name}={category}" for category in self.categories]
        return [self.name]


@dataclass
class Tally:
    """What encoding new rows took, summed over the chunks of a file."""

    unknown: dict = field(default_factory=dict)  # column -> rows with a category never seen
    filled_rows: int = 0  # rows with at least one missing cell filled (data.missing=mean)


@dataclass
class Encoding:
    """How rows of a CSV become inputs (and targets): everything fitted on the training rows."""

    features: list
    target: str
    task: str
    classes: list = field(default_factory=list)  # classification: labels as in the file
    missing: str = "error"
    source: dict = field(default_factory=dict)  # file name, rows per split
    sep: str = "auto"  # data.sep as the run had it: predict reads new files alike

    @property
    def inputs(self):
        return [name for feature in self.features for name in feature.inputs]

    @property
    def class_names(self):
        return tuple(str(label) for label in self.classes)

    def to_json(self):
        return {
            "format": FORMAT,
            "task": self.task,
            "target": self.target,
            "classes": self.classes,
            "missing": self.missing,
            "features": [_without_defaults(feature) for feature in self.features],
            "inputs": self.inputs,
            "source": self.source,
            **({} if self.sep == "auto" else {"sep": self.sep}),
        }

    @classmethod
    def from_json(cls, data):
        features = [Feature(**feature) for feature in data["features"]]
        return cls(
            features,
            data["target"],
            data["task"],
            data.get("classes", []),
            data.get("missing", "error"),
            data.get("source", {}),
            data.get("sep", "auto"),
        )

    def save(self, path):
        from runner.records import write_text_atomically

        write_text_atomically(path, json.dumps(self.to_json(), indent=2, default=_plain) + "\n")

    def encode(self, table, unknown="error", where="", scale=True, consume=False, tally=None):
        """Table -> inputs (n, len(self.inputs)) float64; a cell the encoding cannot take is a
        ValueError naming the column and the row (``unknown="ignore"``: an unseen category
        becomes all zeros, as with scikit-learn's OneHotEncoder(handle_unknown="ignore")).
        ``tally`` (a :class:`Tally`) counts the rows that had an unseen category or a filled cell.
        ``scale=False`` leaves numeric columns unstandardised (training fits mean and std on
        them). The array is column-major (each column written in one contiguous pass), or
        row-major when every input is a float column of ``table.floats`` (with ``consume``,
        that matrix itself: the caller does not use ``table`` again)."""
        if all(f.kind == NUMERIC for f in self.features):
            names = [feature.name for feature in self.features]
            block = table.float_block(names, consume)
            if block is not None and all(not table.missing(n).any() for n in names):
                infinite = np.isinf(block)
                if infinite.any():
                    at = int(np.flatnonzero(infinite.any(axis=0))[0])
                    raise_infinite(table, names[at], infinite[:, at], where)
                if scale:
                    block -= np.array([f.mean for f in self.features])
                    block /= np.array([f.std for f in self.features])
                return block
        out = np.empty((len(table), len(self.inputs)), order="F")
        filled = np.zeros(len(table), dtype=bool)
        at = 0
        for feature in self.features:
            if feature.name not in table.columns:
                raise ValueError(
                    f"{where}no column '{feature.name}', which the model takes as input; "
                    f"it needs: {', '.join(f.name for f in self.features)}"
                )
            values = self._filled(feature, table, where, filled)
            if feature.kind == NUMERIC:
                column = out[:, at]
                column[...] = _numbers(values, feature.name, where, table.offset)
                if np.isinf(column).any():
                    raise_infinite(table, feature.name, np.isinf(column), where)
                if scale and (feature.mean != 0 or feature.std != 1):
                    column -= feature.mean
                    column /= feature.std
                at += 1
            elif feature.kind == BOOLEAN:
                out[:, at] = _booleans(values, feature.name, where, table.offset)
                at += 1
            else:
                width = len(feature.categories)
                out[:, at : at + width] = _one_hot(
                    values, feature, unknown, where, table.offset, tally
                )
                at += width
        if tally is not None:
            tally.filled_rows += int(filled.sum())
        return out

    def numeric_inputs(self):
        """(input column, feature) of every numeric feature."""
        at, found = 0, []
        for feature in self.features:
            if feature.kind == NUMERIC:
                found.append((at, feature))
            at += len(feature.inputs)
        return found

    def fit_scaling(self, X_train, standardize, missing):
        """Fit each numeric input's mean and std on the training rows ``X_train`` (encoded
        with ``scale=False``, column-major) and standardise them in place; also the fill of
        ``data.missing=mean``: the training mean (after any filling, as a SimpleImputer
        followed by a StandardScaler sees it)."""
        found = self.numeric_inputs()
        if not found or not len(X_train):
            return
        index = [at for at, _ in found]
        whole = index == list(range(X_train.shape[1]))
        block = X_train if whole else X_train[:, index]
        means, stds = block.mean(axis=0), block.std(axis=0)
        stds[stds == 0] = 1.0
        for (_, feature), mean, std in zip(found, means, stds, strict=True):
            if missing == "mean" and feature.fill is None:
                feature.fill = float(mean)
            if standardize:
                feature.mean, feature.std = float(mean), float(std)
        if not standardize:
            return
        if whole:
            X_train -= means
            X_train /= stds
        else:
            X_train[:, index] = (block - means) / stds

    def _filled(self, feature, table, where, filled):
        """The column's values with missing cells filled (``filled`` marks their rows)."""
        values = table.columns[feature.name]
        gaps = table.missing(feature.name)
        if not gaps.any():
            return values
        if feature.fill is None:
            lines = ", ".join(str(table.line(i)) for i in np.flatnonzero(gaps)[:3])
            raise ValueError(
                f"{where}column '{feature.name}' has {int(gaps.sum())} missing cells (first on "
                f"line {lines}); the run was trained with data.missing={self.missing}, which "
                "fills none"
            )
        values = values.astype(object) if values.dtype.kind != "f" else values.copy()
        values[gaps] = feature.fill
        filled |= gaps
        return values

    def labels(self, codes):
        """Class codes 0..k-1 -> the labels as the training file had them."""
        return np.asarray(self.classes, dtype=object)[codes]


def _without_defaults(feature):
    data = {"name": feature.name, "kind": feature.kind, "dtype": feature.dtype}
    if feature.kind == NUMERIC:
        data.update(mean=feature.mean, std=feature.std)
    if feature.kind == CATEGORICAL:
        data["categories"] = feature.categories
    if feature.fill is not None:
        data["fill"] = feature.fill
    return data


def _plain(value):
    """numpy scalars -> Python ones for JSON."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {value!r}")


def _numbers(values, column, where="", offset=0):
    if values.dtype.kind in "fiub":
        return values
    import pandas as pd

    numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(numbers) & ~np.array([_is_missing(v) for v in values])
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where}column '{column}' is numeric but line {first + 2 + offset} holds "
            f"{values[first]!r}"
            + (f" ({int(bad.sum()) - 1} more such cells)" if bad.sum() > 1 else "")
        )
    return numbers


def _booleans(values, column, where="", offset=0):
    if values.dtype.kind == "b":
        return values.astype(np.float64)
    out = np.empty(len(values))
    for i, value in enumerate(values):
        text = str(value).strip().lower()
        if value is True or value == 1 or text in TRUE_TEXT:
            out[i] = 1.0
        elif value is False or value == 0 or text in FALSE_TEXT:
            out[i] = 0.0
        else:
            raise ValueError(
                f"{where}column '{column}' is true/false but line {i + 2 + offset} holds {value!r}"
            )
    return out


def _one_hot(values, feature, unknown, where="", offset=0, tally=None):
    index = {category: i for i, category in enumerate(feature.categories)}
    codes = np.array([index.get(str(value), -1) for value in values], dtype=np.int64)
    unseen = codes < 0
    if tally is not None and unseen.any():
        tally.unknown[feature.name] = tally.unknown.get(feature.name, 0) + int(unseen.sum())
    if unseen.any() and unknown != "ignore":
        first = int(np.flatnonzero(unseen)[0])
        raise ValueError(
            f"{where}column '{feature.name}' has the category {str(values[first])!r} on line "
            f"{first + 2 + offset}, which the training rows did not have (known: "
            f"{', '.join(feature.categories[:10])}{', ...' if len(feature.categories) > 10 else ''}"
            "); without --unknown error such cells are encoded as unknown (all zeros)"
        )
    out = np.zeros((len(values), len(feature.categories)))
    seen = np.flatnonzero(~unseen)
    out[seen, codes[seen]] = 1.0
    return out


# ---------------------------------------------------------------------------------- training


def encoding_of(dataset):
    """The dataset's encoding; generated data gets one too (inputs x0, x1, ... as they are,
    target y, classes 0..k-1), so a CSV of such points can be predicted."""
    if dataset.encoding is not None:
        return dataset.encoding
    features = [Feature(f"x{i}", NUMERIC, "float64") for i in range(dataset.n_inputs)]
    classes = list(range(dataset.n_classes)) if dataset.task == CLASSIFICATION else []
    return Encoding(features, "y", dataset.task, classes, source={"generated": True})


def column_kind(values, column, name):
    """How a feature column is encoded, from its values: a column of numbers with a stray word
    in it is a mistake worth naming (it would otherwise become hundreds of one-hot inputs)."""
    kind = values.dtype.kind
    if kind == "b":
        return BOOLEAN
    if kind in "fiu":
        return NUMERIC
    present = [v for v in values if not _is_missing(v)]
    if present and all(
        isinstance(v, bool) or str(v).strip().lower() in TRUE_TEXT | FALSE_TEXT for v in present
    ):
        return BOOLEAN
    import pandas as pd

    numbers = pd.to_numeric(pd.Series(present, dtype=object), errors="coerce")
    parsed = int(numbers.notna().sum())
    if present and parsed == len(present):  # numbers pandas kept as text (beyond int64)
        return NUMERIC
    if present and parsed >= len(present) / 2:
        first = next(i for i, v in enumerate(values) if not _is_missing(v) and _not_a_number(v))
        raise ConfigError(
            "data.features",
            column,
            f"column is numeric but line {first + 2} of {name} holds {values[first]!r} "
            f"({len(present) - parsed} such cells); fix them, or drop the column from data.features",
        )
    return CATEGORICAL


def _not_a_number(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return True
    return False


def infinite_cells(table, columns, where=""):
    """A ValueError naming the first column of ``columns`` holding inf or -inf, its first line
    and its count; a number must be finite (read as a number, inf would train to NaN and
    predict empty probabilities)."""
    for column in columns:
        values = table.columns[column]
        if values.dtype.kind != "f":
            continue
        bad = np.isinf(values)
        if bad.any():
            raise_infinite(table, column, bad, where)


def raise_infinite(table, column, bad, where=""):
    rows = np.flatnonzero(bad)
    lines = ", ".join(str(table.line(i)) for i in rows[:3])
    where_in = (
        f"on line {lines}" if len(rows) == 1 else f"in {len(rows)} rows, first on lines {lines}"
    )
    raise ValueError(
        f"{where}column '{column}' holds an infinite number (inf) {where_in}; numbers must be "
        "finite: fix those cells or leave them empty (missing)"
    )


def check_missing(table, features, target, mode):
    """data.missing=error: name the columns with gaps and their first lines; otherwise -> the
    rows to drop (every gap for ``drop``; a missing target for ``mean``, which fills features
    only) and the note saying so."""
    gaps = {column: table.missing(column) for column in [*features, target]}
    holed = {column: mask for column, mask in gaps.items() if mask.any()}
    if not holed:
        return None, None
    if mode == "error":
        counts = ", ".join(f"'{c}' ({int(m.sum())})" for c, m in holed.items())
        rows = np.flatnonzero(np.logical_or.reduce(list(holed.values())))
        lines = ", ".join(str(r + 2) for r in rows[:3])
        raise ConfigError(
            "data.missing",
            "error",
            f"{table.name} has missing cells in {counts}, first on lines {lines}; choose "
            "data.missing=drop (drop those rows) or mean (fill from the training rows)",
        )
    drop = np.logical_or.reduce(list(holed.values())) if mode == "drop" else gaps[target]
    if not drop.any():
        return None, None
    what = "a missing cell" if mode == "drop" else f"no '{target}' (a target is never filled)"
    return drop, f"data.missing={mode}: dropped {int(drop.sum())} of {len(table)} rows with {what}"


def fit_encoding(train_table, kinds, target, task, classes, missing):
    """The encoding of the features (``kinds``: column -> its kind), fitted on the training
    rows; the numeric columns' scaling follows on the encoded rows (Encoding.fit_scaling)."""
    fitted = []
    for column, kind in kinds.items():
        train = train_table.columns[column]
        gaps = train_table.missing(column)
        if kind == NUMERIC and not (missing == "mean" and gaps.any()):
            fitted.append(Feature(column, kind, str(train.dtype)))
            continue
        feature = Feature(column, kind, str(train.dtype))
        if kind == NUMERIC:  # mean and std: Encoding.fit_scaling, on the encoded training rows
            if missing == "mean" and gaps.any():
                numbers = _numbers(train[~gaps], column)
                feature.fill = float(numbers.mean()) if len(numbers) else 0.0
        else:
            present = train[~gaps]
            if kind == CATEGORICAL:
                feature.categories = sorted({str(v) for v in present})
            if missing == "mean":
                feature.fill = _most_frequent(present, kind)
        fitted.append(feature)
    return Encoding(fitted, target, task, list(classes), missing)


def _most_frequent(values, kind):
    texts = [
        str(v) if kind == CATEGORICAL else bool(_booleans(np.array([v], dtype=object), "")[0])
        for v in values
    ]
    if not texts:
        return None
    unique, counts = np.unique(np.array(texts, dtype=object), return_counts=True)
    value = unique[int(np.argmax(counts))]
    return value.item() if isinstance(value, np.generic) else value
