r"""Numerical gradients by central differences, to check a hand-written backward pass.

.. math:: \frac{\partial L}{\partial \theta_j} \approx
          \frac{L(\theta + \epsilon e_j) - L(\theta - \epsilon e_j)}{2 \epsilon},

with error :math:`O(\epsilon^2)`. The check reports the relative error
:math:`|a - n| / \max(|a| + |n|, 10^{-12})` between analytic :math:`a` and numerical :math:`n`
gradients: below about :math:`10^{-6}` in float64 (with :math:`\epsilon = 10^{-6}`) means the
backward pass is right; a bug gives errors of order 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["numerical_gradient", "relative_error", "gradient_check"]


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of ``f()`` with respect to the array ``x``, perturbed in place."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError("x must be a float64 NumPy array that f reads (it is perturbed in place)")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + eps
        up = f()
        flat[j] = old - eps
        down = f()
        flat[j] = old
        gflat[j] = (up - down) / (2 * eps)
    return grad


def relative_error(a, n) -> float:
    """max |a - n| / max(|a| + |n|, 1e-12), entry by entry."""
    a, n = np.asarray(a, dtype=float), np.asarray(n, dtype=float)
    return float(np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-12)))


def gradient_check(model, x, y, loss: Callable, loss_grad: Callable, eps: float = 1e-6) -> list[float]:
    """Relative error of ``model.backward``'s gradients against numerical ones, one per parameter.

    ``model`` has ``forward``, ``backward``, ``params`` and ``grads`` (an :class:`~.dense.MLP`);
    ``loss(y_pred, y)`` and ``loss_grad(y_pred, y)`` are a pair from :mod:`.losses`.
    """
    y_pred = model.forward(x)
    model.backward(loss_grad(y_pred, y))
    analytic = [g.copy() for g in model.grads]
    errors = []
    for p, a in zip(model.params, analytic):
        n = numerical_gradient(lambda: loss(model.forward(x), y), p, eps)
        errors.append(relative_error(a, n))
    return errors
