"""Central finite differences, the independent check for every backward pass."""

import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """d f / d x by central differences; f() reads x, which is perturbed in place and restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        upper = float(f())
        x[index] = saved - eps
        lower = float(f())
        x[index] = saved
        grad[index] = (upper - lower) / (2 * eps)
    return grad


def assert_gradients_close(analytic, numeric, rtol=1e-5, atol=1e-7):
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)
