r"""Baselines every recommender must beat: the global mean, user and item biases, popularity.

The bias baseline (Koren 2010, "Factor in the Neighbors", section 2.1) predicts

.. math::  \hat r_{ui} = \mu + b_u + b_i

and learns :math:`b_u, b_i` by minimising
:math:`\sum_{(u,i)} (r_{ui} - \mu - b_u - b_i)^2 + \lambda_u \sum_u b_u^2 + \lambda_i \sum_i b_i^2`.
``BaselineOnly`` reproduces Surprise's ``BaselineOnly`` bit for bit: the same alternating
least squares (``method="als"``) or stochastic gradient descent (``method="sgd"``), the same
defaults and the same summation order.
"""

from __future__ import annotations

import numba
import numpy as np

from ..interactions import Interactions
from ..validation import check_finite_number, check_positive_int
from .base import Recommender

__all__ = ["BaselineOnly", "GlobalMean", "Popularity", "baseline_als", "baseline_sgd"]


class GlobalMean(Recommender):
    r"""Predict the mean training rating :math:`\mu` for everyone; rank items by it (i.e. not at all)."""

    def _fit(self, data: Interactions, validation=None) -> None:
        pass

    def _estimate(self, u, i):
        return np.full(len(u), self.global_mean_), np.zeros(len(u), dtype=bool)


def baseline_als(data: Interactions, n_epochs: int, reg_u: float, reg_i: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Biases by alternating least squares, as Surprise computes them.

    Each epoch solves for every item, then for every user, holding the other side fixed:

    .. math::
        b_i = \frac{\sum_{u \in U_i} (r_{ui} - \mu - b_u)}{\lambda_i + |U_i|}, \qquad
        b_u = \frac{\sum_{i \in I_u} (r_{ui} - \mu - b_i)}{\lambda_u + |I_u|}

    ``np.bincount`` adds the terms one by one in training order, which is Surprise's order,
    so the sums (and the biases) are identical to the last bit.
    """
    mu = data.global_mean
    b_u = np.zeros(data.n_users)
    b_i = np.zeros(data.n_items)
    n_u, n_i = data.user_counts(), data.item_counts()
    for _ in range(n_epochs):
        b_i = np.bincount(data.i, weights=data.r - mu - b_u[data.u], minlength=data.n_items) / (reg_i + n_i)
        b_u = np.bincount(data.u, weights=data.r - mu - b_i[data.i], minlength=data.n_users) / (reg_u + n_u)
    return b_u, b_i


@numba.njit(cache=True)
def _baseline_sgd_loop(u, i, r, mu, b_u, b_i, n_epochs, reg, lr):  # pragma: no cover - compiled
    for _ in range(n_epochs):
        for k in range(len(r)):
            err = r[k] - (mu + b_u[u[k]] + b_i[i[k]])
            b_u[u[k]] += lr * (err - reg * b_u[u[k]])
            b_i[i[k]] += lr * (err - reg * b_i[i[k]])


def baseline_sgd(data: Interactions, n_epochs: int, reg: float, lr: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Biases by stochastic gradient descent over the ratings in user-major order (Surprise's).

    .. math::
        e_{ui} = r_{ui} - (\mu + b_u + b_i), \quad
        b_u \leftarrow b_u + \gamma (e_{ui} - \lambda b_u), \quad
        b_i \leftarrow b_i + \gamma (e_{ui} - \lambda b_i)
    """
    order = data.user_major_order()
    b_u = np.zeros(data.n_users)
    b_i = np.zeros(data.n_items)
    _baseline_sgd_loop(data.u[order], data.i[order], data.r[order], data.global_mean, b_u, b_i, n_epochs, reg, lr)
    return b_u, b_i


class BaselineOnly(Recommender):
    r"""The bias baseline :math:`\hat r_{ui} = \mu + b_u + b_i`, identical to Surprise's ``BaselineOnly``.

    Parameters
    ----------
    method : ``"als"`` (default) or ``"sgd"``.
    n_epochs : passes over the data (Surprise's defaults: 10 for ALS, 20 for SGD; ``None`` picks them).
    reg_u, reg_i : ALS regularisation of user and item biases (15 and 10).
    reg, learning_rate : SGD regularisation and step size (0.02 and 0.005; Surprise's names).

    Attributes
    ----------
    b_u_ : user biases, shape ``(n_users,)``.  b_i_ : item biases, shape ``(n_items,)``.

    An unknown user (or item) simply contributes no bias, as in Surprise, so the prediction is
    never marked impossible.

    References
    ----------
    Y. Koren, "Factor in the Neighbors: Scalable and Accurate Collaborative Filtering", ACM TKDD 4(1), 2010.
    """

    def __init__(self, method: str = "als", n_epochs: int | None = None, reg_u: float = 15, reg_i: float = 10,
                 reg: float = 0.02, learning_rate: float = 0.005):
        self.method = method
        self.n_epochs = n_epochs
        self.reg_u = reg_u
        self.reg_i = reg_i
        self.reg = reg
        self.learning_rate = learning_rate

    def _fit(self, data: Interactions, validation=None) -> None:
        if self.method not in ("als", "sgd"):
            raise ValueError(f"method must be 'als' or 'sgd', got {self.method!r}")
        n_epochs = self.n_epochs if self.n_epochs is not None else (10 if self.method == "als" else 20)
        n_epochs = check_positive_int(n_epochs, "n_epochs")
        if self.method == "als":
            reg_u = check_finite_number(self.reg_u, "reg_u", minimum=0)
            reg_i = check_finite_number(self.reg_i, "reg_i", minimum=0)
            self.b_u_, self.b_i_ = baseline_als(data, n_epochs, reg_u, reg_i)
        else:
            reg = check_finite_number(self.reg, "reg", minimum=0)
            lr = check_finite_number(self.learning_rate, "learning_rate", minimum=0, strict=True)
            self.b_u_, self.b_i_ = baseline_sgd(data, n_epochs, reg, lr)

    def _estimate(self, u, i):
        u, i = np.asarray(u), np.asarray(i)
        est = self.global_mean_ + np.where(u >= 0, self.b_u_[u], 0.0)
        est = est + np.where(i >= 0, self.b_i_[i], 0.0)
        return est, np.zeros(len(u), dtype=bool)

    def _fallback_scores(self, user_ids):
        r"""An unknown user has no bias: every item is ranked by :math:`\mu + b_i`."""
        return np.broadcast_to(self.global_mean_ + self.b_i_, (len(user_ids), self.data_.n_items))


class Popularity(Recommender):
    r"""Most-popular recommender: rank items by how many users rated them in training.

    Every user gets the same list (minus what they have seen). As a rating predictor it returns
    the item's mean training rating (the global mean for unknown items).

    Attributes
    ----------
    counts_ : number of training ratings of each item, shape ``(n_items,)``.
    item_mean_ : mean training rating of each item, shape ``(n_items,)``.
    """

    def _fit(self, data: Interactions, validation=None) -> None:
        self.counts_ = data.item_counts()
        self.item_mean_ = np.bincount(data.i, weights=data.r, minlength=data.n_items) / self.counts_

    def _estimate(self, u, i):
        i = np.asarray(i)
        return np.where(i >= 0, self.item_mean_[i], self.global_mean_), i < 0

    def _scores(self, users):
        return np.broadcast_to(self.counts_.astype(float), (len(users), self.data_.n_items))

    def _fallback_scores(self, user_ids):
        return self._scores(np.zeros(len(user_ids), dtype=np.int64))
