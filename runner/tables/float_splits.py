"""The splits of an all-numeric CSV encoded in one pass over its rows.

The general path (runner.tables.encoding) takes each split's rows, encodes them, fits the scaling on
the training block and casts to the run's dtype: four passes over fresh arrays the size of
the data. For a 1M-row file the time goes into touching that memory, not into arithmetic.
Here each row is read once, in chunks, and written once, already scaled, into the run's dtype.

That needs the training rows' mean and variance before the training rows are written. They
come from the whole file's moments (kept with the table, and in a sweep's cache) minus those
of the held-out rows (Chan et al.'s pairwise update run backwards), and the held-out rows are
gathered first. Everything is computed in float64 on values centred on the file's mean, so a
column with a large offset (a timestamp) loses nothing before the final cast.
"""

import numpy as np

CHUNK_ROWS = 32_768  # rows gathered at a time: a float64 buffer of a few MB, reused


def moments(matrix):
    """Column means and sums of squared deviations of ``matrix``, in float64. numpy sums a
    row-major matrix down its columns one row at a time, which loses digits on a column with a
    large offset, so the mean is refined by a second pass over the deviations."""
    if not len(matrix):
        return np.zeros(matrix.shape[1]), np.zeros(matrix.shape[1])
    with np.errstate(invalid="ignore", over="ignore"):  # inf cells: refused later, by column
        return _moments(matrix)


def _moments(matrix):
    mean = matrix.mean(axis=0)
    residual, m2 = np.zeros(matrix.shape[1]), np.zeros(matrix.shape[1])
    for start in range(0, len(matrix), CHUNK_ROWS):
        deviation = matrix[start : start + CHUNK_ROWS] - mean
        residual += deviation.sum(axis=0)
        m2 += np.einsum("ij,ij->j", deviation, deviation)
    correction = residual / len(matrix)
    return mean + correction, m2 - len(matrix) * correction**2


def applies(table, kinds):
    """Whether the features (``kinds``: column -> kind) can take this path: every one numeric,
    a float column of ``table.floats`` with no missing cell, and the table's moments known."""
    names = set(kinds)
    return (
        table.float_moments is not None
        and all(kind == "numeric" for kind in kinds.values())
        and names <= set(table.float_names)
        and names <= table.complete
    )


def encode_splits(table, features, splits, standardize, missing, dtype):
    """(train, val, test) row indices -> their inputs in ``dtype``, row-major. Sets each
    feature's mean and std (``standardize``) and fill (``missing == "mean"``) from the
    training rows, as Encoding.fit_scaling does on the general path."""
    index = np.array([table.float_names.index(feature.name) for feature in features])
    whole = np.array_equal(index, np.arange(len(table.float_names)))
    floats = table.floats
    mean_all, m2_all = (values[index] for values in table.float_moments)
    train, *held_out = splits

    def blocks(rows):
        for start in range(0, len(rows), CHUNK_ROWS):
            block = floats[rows[start : start + CHUNK_ROWS]]
            yield start, block if whole else block[:, index]

    held, n_held = [], 0
    mean_held, m2_held = np.zeros(len(index)), np.zeros(len(index))
    for rows in held_out:  # written centred (or as they are), their moments merged per chunk
        out = np.empty((len(rows), len(index)), dtype=dtype)
        for start, block in blocks(rows):
            if not standardize:
                out[start : start + len(block)] = block
            block -= mean_all
            if standardize:
                out[start : start + len(block)] = block
            n_chunk, mean_chunk = len(block), block.mean(axis=0)
            deviation = block - mean_chunk
            total = n_held + n_chunk
            delta = mean_chunk - mean_held
            m2_held += np.einsum("ij,ij->j", deviation, deviation)
            m2_held += delta**2 * n_held * n_chunk / total
            mean_held += delta * n_chunk / total
            n_held = total
        held.append(out)
    n_all, n_train = len(table), len(train)
    if n_train + n_held != n_all:
        raise ValueError("the splits do not cover the table's rows")
    # the training rows' moments: the whole file's less the held-out rows' (centred frame,
    # where the whole file's mean is 0)
    offset = -n_held * mean_held / n_train
    delta = mean_held - offset
    m2_train = m2_all - m2_held - delta**2 * n_held * n_train / n_all
    mean_train = mean_all + offset
    std = np.sqrt(np.maximum(m2_train, 0) / n_train)
    std[std == 0] = 1.0
    X_train = np.empty((n_train, len(index)), dtype=dtype)
    for start, block in blocks(train):
        if standardize:
            block -= mean_train
            block /= std
        X_train[start : start + len(block)] = block
    if standardize:
        for out in held:
            out -= offset.astype(dtype)
            out /= std.astype(dtype)
    for feature, mean, sd in zip(features, mean_train, std, strict=True):
        if missing == "mean":
            feature.fill = float(mean)
        if standardize:
            feature.mean, feature.std = float(mean), float(sd)
    return (X_train, *held)
