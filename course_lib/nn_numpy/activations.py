r"""Activation functions and their derivatives, applied element-wise (softmax: along the last axis).

.. math::

    \mathrm{ReLU}(z) = \max(0, z), \quad
    \sigma(z) = \frac{1}{1 + e^{-z}}, \quad
    \tanh(z) = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}, \quad
    \mathrm{softmax}(z)_k = \frac{e^{z_k}}{\sum_j e^{z_j}}

Each ``*_backward(z, a, grad)`` takes the pre-activation ``z``, the activation ``a = f(z)`` and
the gradient of the loss with respect to ``a``, and returns the gradient with respect to ``z``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ACTIVATIONS", "linear", "relu", "sigmoid", "tanh", "softmax", "activation_backward"]


def linear(z):
    """The identity (no activation)."""
    return np.asarray(z, dtype=np.float64)


def relu(z):
    r"""ReLU: :math:`\max(0, z)`."""
    return np.maximum(np.asarray(z, dtype=np.float64), 0.0)


def sigmoid(z):
    r"""The logistic function :math:`1 / (1 + e^{-z})`, computed without overflow for large :math:`|z|`."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(z):
    r""":math:`\tanh(z) = 2\sigma(2z) - 1`."""
    return np.tanh(np.asarray(z, dtype=np.float64))


def softmax(z, axis: int = -1):
    r"""Softmax along ``axis`` (shifted by the maximum so that :math:`e^{z}` never overflows)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


#: Name -> function, the names the layers accept (the same names as Keras's ``activation=``).
ACTIVATIONS = {"linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax}


def activation_backward(name: str, z: np.ndarray, a: np.ndarray, grad: np.ndarray) -> np.ndarray:
    r"""Gradient with respect to ``z`` given the gradient ``grad`` with respect to ``a = f(z)``.

    ReLU: :math:`g \odot [z > 0]`; sigmoid: :math:`g \odot a(1-a)`; tanh: :math:`g \odot (1-a^2)`;
    softmax (a Jacobian-vector product): :math:`a \odot (g - \langle g, a \rangle)` row by row.
    """
    if name == "linear":
        return grad
    if name == "relu":
        return grad * (z > 0)
    if name == "sigmoid":
        return grad * a * (1.0 - a)
    if name == "tanh":
        return grad * (1.0 - a * a)
    if name == "softmax":
        return a * (grad - (grad * a).sum(axis=-1, keepdims=True))
    raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")


def get_activation(name: str):
    """The function called ``name`` (a clear error listing the choices otherwise)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]
