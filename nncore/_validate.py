"""Argument checks shared by nncore's constructors; each raises one clear ValueError."""

import math

import numpy as np


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def positive_int(name, value):
    """``value`` as an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def number_in(name, value, low=-math.inf, high=math.inf, low_open=False, high_open=True):
    """``value`` as a float in the given interval (by default ``[low, high)``)."""
    ok = _is_number(value) and not math.isnan(value)
    ok = ok and (value > low if low_open else value >= low)
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        parts = []
        if low > -math.inf:
            parts.append(f"{'>' if low_open else '>='} {low:g}")
        if high < math.inf:
            parts.append(f"{'<' if high_open else '<='} {high:g}")
        raise ValueError(f"{name} must be a number {' and '.join(parts)}, got {value!r}")
    return float(value)


def non_negative(name, value):
    return number_in(name, value, low=0)


def positive(name, value):
    return number_in(name, value, low=0, low_open=True)
