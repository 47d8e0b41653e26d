r"""Slope One (Lemire and Maclachlan 2005): item-to-item average differences; **Surprise's ``SlopeOne``**.

The simplest item-based predictor that works: if users who rated both movies rated *Alien* on
average 0.4 stars above *Aliens*, predict a user's rating of *Alien* as their rating of *Aliens*
plus 0.4, and average that guess over every movie they rated. Surprise's variant anchors on the
user's mean rating instead of each rating:

.. math::
    \mathrm{dev}(i, j) = \frac{1}{|U_{ij}|} \sum_{u \in U_{ij}} (r_{ui} - r_{uj}), \qquad
    \hat r_{ui} = \mu_u + \frac{1}{|R_i(u)|} \sum_{j \in R_i(u)} \mathrm{dev}(i, j)

with :math:`U_{ij}` the users who rated both :math:`i` and :math:`j`, :math:`\mu_u` the user's mean
rating and :math:`R_i(u)` the items :math:`u` rated that share at least one user with :math:`i`
(:math:`|U_{ij}| > 0`). No parameters, nothing to tune.

The pairwise sums are two sparse products of the rating matrix :math:`R` and its pattern
:math:`X` (:math:`x_{ui} = 1` if rated): :math:`|U_{ij}| = (X^\top X)_{ij}` and
:math:`\sum_{u \in U_{ij}} (r_{ui} - r_{uj}) = (R^\top X - X^\top R)_{ij}`. With ratings on a grid of
half stars every partial sum is exact, so the order of summation does not matter and the
deviations are Surprise's to the last bit; predictions add the deviations one by one in the
user's training order, as Surprise does. Memory: two dense ``n_items x n_items`` tables.

Surprise's ``fit`` reads ratings into C ``int`` variables, so it truncates half stars
(3.5 -> 3) in the deviations, not in the user means; this class keeps the ratings as they are. On
integer ratings (MovieLens 100K, 1M) the two are identical (``tests/test_surprise_twins.py``).

References
----------
D. Lemire and A. Maclachlan, "Slope One Predictors for Online Rating-Based Collaborative
Filtering", SDM 2005. N. Hug, "Surprise: A Python library for recommender systems", JOSS 5(52), 2020.
"""

from __future__ import annotations

import numba
import numpy as np

from ..interactions import Interactions
from .base import Recommender

__all__ = ["SlopeOne", "per_user_means"]


def per_user_means(data: Interactions, order: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each user's mean rating as ``np.mean`` of their ratings in training order (Surprise's ``user_mean``)."""
    r = data.r[order]
    return np.array([np.mean(r[starts[u]:starts[u + 1]]) for u in range(data.n_users)])


@numba.njit(cache=True)
def _slope_one_estimates(u, i, starts, items, freq, dev, user_mean):  # pragma: no cover - compiled
    """Surprise's ``estimate`` for each known pair: the deviations added one by one in training order."""
    est = np.empty(len(u))
    for k in range(len(u)):
        uu, ii = u[k], i[k]
        total = 0.0
        n = 0
        for p in range(starts[uu], starts[uu + 1]):
            j = items[p]
            if freq[ii, j] > 0:
                total += dev[ii, j]
                n += 1
        est[k] = user_mean[uu] + total / n if n > 0 else user_mean[uu]
    return est


class SlopeOne(Recommender):
    r"""Slope One: the user's mean plus the average deviation of the target item from the items they rated.

    .. math::
        \hat r_{ui} = \mu_u + \frac{1}{|R_i(u)|} \sum_{j \in R_i(u)} \frac{1}{|U_{ij}|} \sum_{v \in U_{ij}} (r_{vi} - r_{vj})

    (symbols in the module docstring). Identical to Surprise's ``SlopeOne`` on integer ratings; an
    unknown user or item cannot be predicted (``was_impossible``, global mean), as in Surprise.

    Attributes
    ----------
    freq_ : :math:`|U_{ij}|`, the number of users who rated both items, ``(n_items, n_items)`` int.
    dev_ : :math:`\mathrm{dev}(i, j)`, ``(n_items, n_items)``, antisymmetric, 0 where ``freq_`` is 0.
    user_mean_ : :math:`\mu_u`, ``(n_users,)``.

    References
    ----------
    D. Lemire and A. Maclachlan, "Slope One Predictors for Online Rating-Based Collaborative Filtering", SDM 2005.
    """

    def __init__(self):
        pass

    def _fit(self, data: Interactions, validation=None) -> None:
        r = data.matrix
        x = r.copy()
        x.data = np.ones_like(x.data)
        freq = (x.T @ x).toarray()
        sums = (r.T @ x).toarray() - (x.T @ r).toarray()
        with np.errstate(invalid="ignore", divide="ignore"):
            self.dev_ = np.where(freq > 0, sums / np.maximum(freq, 1), 0.0)
        self.freq_ = freq.astype(np.int32)
        order = data.user_major_order()
        starts = np.concatenate([[0], np.cumsum(data.user_counts())]).astype(np.int64)
        self.user_mean_ = per_user_means(data, order, starts)

    def _user_items(self) -> tuple[np.ndarray, np.ndarray]:
        """Each user's items in training order (``items[starts[u]:starts[u + 1]]``)."""
        data = self.data_
        starts = np.concatenate([[0], np.cumsum(data.user_counts())]).astype(np.int64)
        return starts, data.i[data.user_major_order()].astype(np.int64)

    def _estimate(self, u, i):
        u, i = np.asarray(u, dtype=np.int64), np.asarray(i, dtype=np.int64)
        known = (u >= 0) & (i >= 0)
        est = np.zeros(len(u))
        if known.any():
            starts, items = self._user_items()
            est[known] = _slope_one_estimates(u[known], i[known], starts, items, self.freq_, self.dev_,
                                              self.user_mean_)
        return est, ~known

    def _scores(self, users):
        users = np.asarray(users)
        x = self.data_.matrix[users]
        x.data = np.ones_like(x.data)
        shared = self.freq_ > 0
        total = np.asarray(x @ (self.dev_ * shared).T)  # sum over the user's items j of dev(i, j), 0 if no shared user
        count = np.asarray(x @ shared.T.astype(float))
        return self.user_mean_[users][:, None] + np.divide(total, count, out=np.zeros_like(total), where=count > 0)
