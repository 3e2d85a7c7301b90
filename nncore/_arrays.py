"""dtype, random-generator and scratch-buffer helpers used across nncore."""

import numpy as np

FLOAT_DTYPES = ("float32", "float64")


def float_dtype(dtype):
    """Normalise ``dtype`` to ``np.float32`` or ``np.float64``; anything else is an error."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in FLOAT_DTYPES:
        raise ValueError(f"unknown dtype '{dtype}'; choose one of: {', '.join(FLOAT_DTYPES)}")
    return resolved.type


def as_generator(seed):
    """An int, None or an existing Generator -> ``numpy.random.Generator`` (never global state)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an int, None or a numpy Generator, got {seed!r}")
    return np.random.default_rng(seed)


class Buffers:
    """Scratch arrays reused across calls with the same shape, so a training step allocates nothing.

    One array is kept per (name, shape, dtype); a new batch size adds one, it does not
    replace the others, so a short last batch does not force reallocation every epoch.
    """

    __slots__ = ("_arrays",)

    def __init__(self):
        self._arrays = {}

    def get(self, name, shape, dtype):
        key = (name, shape, dtype)
        array = self._arrays.get(key)
        if array is None:
            array = self._arrays[key] = np.empty(shape, dtype=dtype)
        return array

    def filled(self, name, shape, dtype, value):
        """Like ``get`` but filled with ``value`` once, for read-only constants (ones, zeros)."""
        key = (name, shape, dtype)
        array = self._arrays.get(key)
        if array is None:
            array = self._arrays[key] = np.full(shape, value, dtype=dtype)
        return array

    def clear(self):
        self._arrays.clear()
