r"""Losses and their gradients with respect to the prediction, averaged over the batch.

.. math::

    \mathrm{MSE} = \frac{1}{m} \sum_j (\hat y_j - y_j)^2, \qquad
    \mathrm{BCE} = -\frac{1}{N} \sum_n \big[y_n \log p_n + (1 - y_n) \log(1 - p_n)\big],

    \mathrm{CCE} = -\frac{1}{N} \sum_n \sum_k y_{nk} \log p_{nk}.

``m`` counts every entry of :math:`\hat y` (PyTorch's ``MSELoss``; Keras's ``MeanSquaredError``
agrees when there is one output per example). With ``from_logits=True`` the losses take the
scores before the sigmoid or softmax and are computed stably; their gradients are then the
famous :math:`(\sigma(z) - y)/N` and :math:`(\mathrm{softmax}(z) - y)/N`. Probabilities are
clipped to :math:`[\varepsilon, 1 - \varepsilon]`, :math:`\varepsilon = 10^{-7}`, as Keras does.
"""

from __future__ import annotations

import numpy as np

from ._shapes import ShapeError, as_float_array, check_ndim
from .activations import sigmoid, softmax

__all__ = ["mse", "mse_grad", "binary_cross_entropy", "binary_cross_entropy_grad",
           "categorical_cross_entropy", "categorical_cross_entropy_grad"]

EPSILON = 1e-7


def _pair(y_pred, y_true, name: str):
    y_pred, y_true = as_float_array(y_pred, "y_pred"), as_float_array(y_true, "y_true")
    if y_pred.shape != y_true.shape:
        raise ShapeError(f"{name}: y_pred has shape {y_pred.shape} but y_true has shape {y_true.shape}; "
                         "they must match (reshape one, e.g. y_true.reshape(-1, 1))")
    return y_pred, y_true


def mse(y_pred, y_true) -> float:
    """Mean squared error over every entry."""
    y_pred, y_true = _pair(y_pred, y_true, "mse")
    return float(np.mean((y_pred - y_true) ** 2))


def mse_grad(y_pred, y_true) -> np.ndarray:
    r""":math:`2(\hat y - y)/m`."""
    y_pred, y_true = _pair(y_pred, y_true, "mse")
    return 2.0 * (y_pred - y_true) / y_pred.size


def binary_cross_entropy(y_pred, y_true, *, from_logits: bool = False) -> float:
    """Binary cross-entropy of probabilities (or logits) ``y_pred`` against 0/1 targets, averaged."""
    y_pred, y = _pair(y_pred, y_true, "binary_cross_entropy")
    if from_logits:
        z = y_pred
        return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
    p = np.clip(y_pred, EPSILON, 1 - EPSILON)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def binary_cross_entropy_grad(y_pred, y_true, *, from_logits: bool = False) -> np.ndarray:
    r"""Gradient: :math:`(p - y) / (p(1-p) m)`, or :math:`(\sigma(z) - y)/m` from logits."""
    y_pred, y = _pair(y_pred, y_true, "binary_cross_entropy")
    if from_logits:
        return (sigmoid(y_pred) - y) / y_pred.size
    p = np.clip(y_pred, EPSILON, 1 - EPSILON)
    return (p - y) / (p * (1 - p)) / y_pred.size


def _targets(y_pred, y_true):
    y_pred = as_float_array(y_pred, "y_pred")
    check_ndim(y_pred, 2, "y_pred", "(batch, classes)")
    y_true = np.asarray(y_true)
    if y_true.ndim == 1:  # integer class labels
        if y_true.shape[0] != y_pred.shape[0]:
            raise ShapeError(f"categorical_cross_entropy: {y_true.shape[0]} labels for {y_pred.shape[0]} rows "
                             f"of y_pred (shape {y_pred.shape})")
        from .embedding import one_hot

        return y_pred, one_hot(y_true, y_pred.shape[1])
    y_true = as_float_array(y_true, "y_true")
    if y_true.shape != y_pred.shape:
        raise ShapeError(f"categorical_cross_entropy: y_true has shape {y_true.shape} but y_pred has shape "
                         f"{y_pred.shape}; pass one-hot rows of the same shape or a vector of integer labels")
    return y_pred, y_true


def categorical_cross_entropy(y_pred, y_true, *, from_logits: bool = False) -> float:
    """Cross-entropy of rows of probabilities (or logits) against one-hot rows or integer labels."""
    y_pred, y = _targets(y_pred, y_true)
    if from_logits:
        z = y_pred - y_pred.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    else:
        log_p = np.log(np.clip(y_pred, EPSILON, 1 - EPSILON))
    return float(-np.mean((y * log_p).sum(axis=1)))


def categorical_cross_entropy_grad(y_pred, y_true, *, from_logits: bool = False) -> np.ndarray:
    r"""Gradient: :math:`-y / (p N)`, or :math:`(\mathrm{softmax}(z) - y)/N` from logits."""
    y_pred, y = _targets(y_pred, y_true)
    n = y_pred.shape[0]
    if from_logits:
        return (softmax(y_pred) - y) / n
    inside = (y_pred > EPSILON) & (y_pred < 1 - EPSILON)
    return -y / np.clip(y_pred, EPSILON, 1 - EPSILON) * inside / n
