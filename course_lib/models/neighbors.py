r"""Neighbourhood (k-NN) collaborative filtering, identical to Surprise's k-NN algorithms.

User-based: to predict :math:`r_{ui}`, find the :math:`k` users most similar to :math:`u`
among those who rated :math:`i` (the set :math:`N^k_i(u)`) and average their ratings,
weighted by similarity. Item-based is the mirror image: the :math:`k` items most similar to
:math:`i` among those :math:`u` rated (:math:`N^k_u(i)`). Three prediction rules:

.. math::
    \text{basic:}\quad \hat r_{ui} = \frac{\sum_{v \in N^k_i(u)} s_{uv}\, r_{vi}}{\sum_{v \in N^k_i(u)} s_{uv}}
    \qquad
    \text{means:}\quad \hat r_{ui} = \bar r_u + \frac{\sum_{v} s_{uv}\,(r_{vi} - \bar r_v)}{\sum_{v} s_{uv}}
    \qquad
    \text{baseline:}\quad \hat r_{ui} = b_{ui} + \frac{\sum_{v} s_{uv}\,(r_{vi} - b_{vi})}{\sum_{v} s_{uv}}

with :math:`b_{ui} = \mu + b_u + b_i` the ALS bias baseline. Exactly as in Surprise (the
textbook divides by :math:`\sum |s_{uv}|` and keeps negative neighbours instead):

1. the candidates are all users who rated :math:`i`, in training order;
2. the :math:`k` most similar are kept **including** similarities :math:`\le 0`; ties keep the
   earlier candidate (a stable top-k that admits a newcomer only if strictly greater than the
   current :math:`k`-th);
3. only those with :math:`s_{uv} > 0` enter the sums; their number is ``actual_k``;
4. if ``actual_k < min_k``: *basic* cannot predict (fallback: the global mean :math:`\mu`,
   flagged ``was_impossible``); *means* and *baseline* predict :math:`\bar r_u` or :math:`b_{ui}`
   (not flagged, as in Surprise);
5. predictions are clipped to the rating scale.

Unknown users or items: the prediction is flagged ``was_impossible`` and falls back to
:math:`\mu` (basic, means) or to the baseline :math:`\mu + b_u + b_i` with the unknown side's
bias left out (baseline). Surprise returns the same numbers; for *baseline* it does not flag them.

References
----------
Y. Koren, "Factor in the Neighbors: Scalable and Accurate Collaborative Filtering", ACM TKDD 4(1), 2010.
N. Hug, "Surprise: A Python library for recommender systems", JOSS 5(52), 2020.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from ..interactions import Interactions
from ..similarities import SIMILARITIES, similarity_matrix
from ..validation import check_finite_number, check_positive_int
from .base import Recommender
from .baselines import baseline_als

__all__ = ["KNN", "KNNBaseline", "KNNBasic", "KNNWithMeans", "RULES"]

#: prediction rules: weighted average, mean-centred, baseline-centred
RULES = ("basic", "means", "baseline")
_RULE_CODE = {"basic": 0, "means": 1, "baseline": 2}


@numba.njit(cache=True)
def _top_k(sims, k, order, top_sims):  # pragma: no cover - compiled
    """Stable top-``k`` of ``sims`` (descending; ties keep the earlier index). Returns the count.

    Writes the chosen positions into ``order`` and their similarities into ``top_sims``; a
    newcomer enters only if strictly greater than the current k-th, as ``heapq.nlargest`` does.
    """
    count = 0
    for c in range(len(sims)):
        s = sims[c]
        if count < k:
            pos = count
            count += 1
        elif s > top_sims[k - 1]:
            pos = k - 1
        else:
            continue
        while pos > 0 and top_sims[pos - 1] < s:  # shift smaller ones down; equal ones stay ahead
            top_sims[pos] = top_sims[pos - 1]
            order[pos] = order[pos - 1]
            pos -= 1
        top_sims[pos] = s
        order[pos] = c
    return count


@numba.njit(cache=True)
def _knn_predict(xs, ys, sim, y_ptr, y_x, y_r, k, min_k, rule, x_centre, mu, b_x, b_y):  # pragma: no cover
    """Predict each pair (x, y) of known inner indices (x = the side we find neighbours of).

    For each pair: the candidates are the x' that rated y (``y_x[y_ptr[y]:y_ptr[y+1]]``, training
    order), the top ``k`` by ``sim[x, x']``, then the sums over those with positive similarity:

    .. math:: \\hat r = c_x + \\frac{\\sum_{x'} s_{xx'} (r_{x'y} - c_{x'y})}{\\sum_{x'} s_{xx'}}

    where the centre :math:`c` is 0 (basic), the mean of x' (means) or the baseline (baseline).
    Returns ``(est, actual_k, impossible)``; for the baseline rule ``est`` excludes :math:`b_{xy}`'s
    own part, which the caller adds in Surprise's order.
    """
    n = len(xs)
    est = np.zeros(n)
    actual = np.zeros(n, dtype=np.int64)
    impossible = np.zeros(n, dtype=np.bool_)
    order = np.empty(k, dtype=np.int64)
    top_sims = np.empty(k)
    for q in range(n):
        x, y = xs[q], ys[q]
        lo, hi = y_ptr[y], y_ptr[y + 1]
        cand = y_x[lo:hi]
        sims = np.empty(hi - lo)
        for c in range(hi - lo):
            sims[c] = sim[x, cand[c]]
        count = _top_k(sims, k, order, top_sims)
        sum_sim = 0.0
        sum_r = 0.0
        a_k = 0
        for t in range(count):
            s = top_sims[t]
            if s > 0:
                nb = cand[order[t]]
                r = y_r[lo + order[t]]
                if rule == 0:
                    sum_r += s * r
                elif rule == 1:
                    sum_r += s * (r - x_centre[nb])
                else:
                    sum_r += s * (r - (mu + b_x[nb] + b_y[y]))
                sum_sim += s
                a_k += 1
        actual[q] = a_k
        if rule == 0:
            if a_k < min_k:
                impossible[q] = True
            else:
                est[q] = sum_r / sum_sim
        elif a_k >= min_k and a_k > 0:
            est[q] = sum_r / sum_sim
    return est, actual, impossible


class KNN(Recommender):
    r"""k-nearest-neighbour collaborative filtering with a choice of prediction ``rule``.

    ``KNN(rule="basic")``, ``KNN(rule="means")`` and ``KNN(rule="baseline")`` reproduce
    Surprise's ``KNNBasic``, ``KNNWithMeans`` and ``KNNBaseline`` (also available under those
    names, without the ``rule`` parameter). See the module docstring for the formulas and the
    exact neighbour-selection rules.

    Parameters
    ----------
    rule : ``"basic"`` (weighted average), ``"means"`` (mean-centred, default) or ``"baseline"``.
    k : maximum number of neighbours (40).
    min_k : minimum number of neighbours with positive similarity (1), at most ``k``.
    sim : one of ``"msd"`` (default), ``"cosine"``, ``"pearson"``, ``"pearson_baseline"``,
        ``"adjusted_cosine"`` (see :mod:`course_lib.similarities`).
    user_based : neighbours are users (True, default) or items (False).
    min_support : pairs with fewer co-ratings get similarity 0 (1).
    shrinkage : shrinkage of ``pearson_baseline`` (100).
    n_epochs, reg_u, reg_i : the ALS bias baseline used by ``rule="baseline"`` and
        ``"pearson_baseline"`` (Surprise's defaults 10, 15, 10).

    The rating scale (for clipping) is the training data's: fit an
    ``Interactions.from_ratings(train, rating_scale=(1, 5))`` to set it, as Surprise's ``Reader`` does.

    Attributes
    ----------
    similarity_ : similarities, shape ``(n_x, n_x)`` (``n_x`` = number of users if user-based, else
        items); Surprise's ``sim``.
    x_mean_ : mean training rating of each user (user-based) or item, shape ``(n_x,)``.
    b_u_, b_i_ : ALS biases, shapes ``(n_users,)``, ``(n_items,)`` (rule ``"baseline"`` or
        sim ``"pearson_baseline"``; else ``None``).
    """

    def __init__(self, rule: str = "means", k: int = 40, min_k: int = 1, sim: str = "msd", user_based: bool = True,
                 min_support: int = 1, shrinkage: float = 100, n_epochs: int = 10, reg_u: float = 15,
                 reg_i: float = 10):
        self.rule = rule
        self.k = k
        self.min_k = min_k
        self.sim = sim
        self.user_based = user_based
        self.min_support = min_support
        self.shrinkage = shrinkage
        self.n_epochs = n_epochs
        self.reg_u = reg_u
        self.reg_i = reg_i

    # -- fitting -------------------------------------------------------------------------
    def _rule(self) -> str:
        return self.rule

    def _check_params(self) -> None:
        rule = self._rule()
        if rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(map(repr, RULES))}, got {rule!r}")
        if self.sim not in SIMILARITIES:
            raise ValueError(f"sim must be one of {', '.join(map(repr, SIMILARITIES))}, got {self.sim!r} "
                             "(Surprise's sim_options={'name': ...} becomes sim=...)")
        k = check_positive_int(self.k, "k (the number of neighbours)")
        min_k = check_positive_int(self.min_k, "min_k (the minimum number of neighbours)")
        if min_k > k:
            raise ValueError(f"min_k ({min_k}) must not exceed k ({k}): no prediction could use enough neighbours")
        if not isinstance(self.user_based, (bool, np.bool_)):
            raise TypeError(f"user_based must be True (neighbours are users) or False (items), got {self.user_based!r}")
        check_positive_int(self.min_support, "min_support")
        check_finite_number(self.shrinkage, "shrinkage", minimum=0)
        check_positive_int(self.n_epochs, "n_epochs")
        check_finite_number(self.reg_u, "reg_u", minimum=0)
        check_finite_number(self.reg_i, "reg_i", minimum=0)

    def _fit(self, data: Interactions, validation=None) -> None:
        self._check_params()
        rule = self._rule()
        ub = bool(self.user_based)
        mu = data.global_mean
        if rule == "baseline" or self.sim == "pearson_baseline":
            self.b_u_, self.b_i_ = baseline_als(data, self.n_epochs, self.reg_u, self.reg_i)
        else:
            self.b_u_ = self.b_i_ = None
        # x: the side whose neighbours we look for; y: the other side
        x_of, y_of = (data.u, data.i) if ub else (data.i, data.u)
        n_x, n_y = (data.n_users, data.n_items) if ub else (data.n_items, data.n_users)
        R = data.matrix if ub else data.matrix.T
        baseline = None
        if self.sim == "pearson_baseline":
            baseline = (mu, *((self.b_u_, self.b_i_) if ub else (self.b_i_, self.b_u_)))
        self.similarity_ = similarity_matrix(R, self.sim, min_support=self.min_support, shrinkage=self.shrinkage,
                                             baseline=baseline)
        counts = np.bincount(x_of, minlength=n_x)
        self.x_mean_ = np.bincount(x_of, weights=data.r, minlength=n_x) / counts
        # for each y, the x that rated it, in training order (Surprise's ir / ur)
        order = data.item_major_order() if ub else data.user_major_order()
        self._y_ptr_ = np.concatenate([[0], np.cumsum(np.bincount(y_of, minlength=n_y))]).astype(np.int64)
        self._y_x_ = x_of[order].astype(np.int64)
        self._y_r_ = data.r[order]

    # -- prediction ----------------------------------------------------------------------
    def _k_eff(self) -> int:
        """``k``, capped at the number of possible neighbours (the size of the top-k buffer)."""
        return int(max(1, min(self.k, self.similarity_.shape[0])))

    def _neighbour_estimates(self, u: np.ndarray, i: np.ndarray):
        """Run the k-NN kernel on known pairs; returns ``(part, actual_k, impossible)``."""
        ub = bool(self.user_based)
        xs, ys = (u, i) if ub else (i, u)
        rule = self._rule()
        if rule == "baseline":
            b_x, b_y = (self.b_u_, self.b_i_) if ub else (self.b_i_, self.b_u_)
        else:
            b_x = b_y = np.zeros(1)
        return _knn_predict(np.asarray(xs, np.int64), np.asarray(ys, np.int64), self.similarity_, self._y_ptr_, self._y_x_,
                            self._y_r_, self._k_eff(), int(self.min_k), _RULE_CODE[rule], self.x_mean_,
                            self.global_mean_, b_x, b_y)

    def _estimate(self, u, i):
        u, i = np.asarray(u, np.int64), np.asarray(i, np.int64)
        rule = self._rule()
        known = (u >= 0) & (i >= 0)
        est = np.full(len(u), self.global_mean_)
        if rule == "baseline":  # mu + b_u + b_i, an unknown side contributing nothing (Surprise's order)
            est = est + np.where(u >= 0, self.b_u_[np.maximum(u, 0)], 0.0)
            est = est + np.where(i >= 0, self.b_i_[np.maximum(i, 0)], 0.0)
        impossible = ~known
        part, _, too_few = self._neighbour_estimates(u[known], i[known])
        if rule == "basic":
            est[known] = np.where(too_few, self.global_mean_, part)
            impossible[known] = too_few
        else:
            x = u[known] if self.user_based else i[known]
            centre = self.x_mean_[x] if rule == "means" else est[known]
            est[known] = centre + part
        return est, impossible

    def _finish(self, est, impossible):
        # _estimate already wrote each fallback (global mean or baseline) into est: only clip
        return super()._finish(est, np.zeros_like(impossible))

    def _impossible_reason(self, u: int, i: int) -> str:
        if u >= 0 and i >= 0:
            return f"fewer than min_k={self.min_k} neighbours with a positive similarity"
        return super()._impossible_reason(u, i)

    # -- explanations --------------------------------------------------------------------
    def neighbours(self, user_id, item_id) -> pd.DataFrame:
        """The neighbours behind one prediction, in the order the model ranks them.

        User-based: the (at most ``k``) most similar users who rated ``item_id``; item-based:
        the most similar items ``user_id`` rated ("because you rated X"). Columns:
        ``neighbour`` (raw id), ``similarity``, ``rating`` (the neighbour's rating),
        ``weight`` (share of the total positive similarity, 0 if unused), ``used``
        (similarity > 0). Raises :class:`UnknownIdError` for unknown ids.
        """
        self._check_fitted()
        u, i = self.data_.user_index(user_id), self.data_.item_index(item_id)
        x, y = (u, i) if self.user_based else (i, u)
        lo, hi = self._y_ptr_[y], self._y_ptr_[y + 1]
        cand = self._y_x_[lo:hi]
        sims = self.similarity_[x, cand]
        k = self._k_eff()
        order = np.empty(k, np.int64)
        top = np.empty(k)
        count = _top_k(sims, k, order, top)
        order = order[:count]
        s = sims[order]
        used = s > 0
        total = s[used].sum()
        ids = self.data_.user_ids if self.user_based else self.data_.item_ids
        return pd.DataFrame({
            "neighbour": ids[cand[order]],
            "similarity": s,
            "rating": self._y_r_[lo + order],
            "weight": np.where(used, s / total if total > 0 else 0.0, 0.0),
            "used": used,
        })

    def recommend_explained(self, user_id, n: int = 10, n_reasons: int = 3) -> pd.DataFrame:
        """:meth:`recommend` plus, for each item, the ``n_reasons`` neighbours that weigh most.

        Adds a column ``because``: a list of raw ids (items the user rated, for item-based
        models; similar users who rated the item, for user-based ones), largest weight first.
        """
        n_reasons = check_positive_int(n_reasons, "n_reasons")
        recs = self.recommend(user_id, n)
        because = []
        for item in recs["item_id"]:
            nb = self.neighbours(user_id, item)
            nb = nb[nb["used"]].sort_values("weight", ascending=False, kind="stable")
            because.append(list(nb["neighbour"].iloc[:n_reasons]))
        return recs.assign(because=because)

    def nearest(self, raw_id, k: int = 10) -> pd.DataFrame:
        """The ``k`` users (user-based) or items most similar to ``raw_id``: columns ``neighbour``, ``similarity``.

        Ties keep the lower inner index first, as Surprise's ``get_neighbors``.
        """
        self._check_fitted()
        k = check_positive_int(k, "k")
        x = self.data_.user_index(raw_id) if self.user_based else self.data_.item_index(raw_id)
        s = self.similarity_[x].copy()
        s[x] = -np.inf
        top = np.argsort(-s, kind="stable")[:min(k, len(s) - 1)]
        ids = self.data_.user_ids if self.user_based else self.data_.item_ids
        return pd.DataFrame({"neighbour": ids[top], "similarity": s[top]})


class KNNBasic(KNN):
    r"""Weighted average of the neighbours' ratings (Surprise's ``KNNBasic``).

    .. math:: \hat r_{ui} = \frac{\sum_{v \in N^k_i(u)} s_{uv}\, r_{vi}}{\sum_{v \in N^k_i(u)} s_{uv}}

    Parameters as :class:`KNN` (without ``rule``).
    """

    def __init__(self, k: int = 40, min_k: int = 1, sim: str = "msd", user_based: bool = True, min_support: int = 1,
                 shrinkage: float = 100, n_epochs: int = 10, reg_u: float = 15, reg_i: float = 10):
        self.k, self.min_k, self.sim, self.user_based = k, min_k, sim, user_based
        self.min_support, self.shrinkage, self.n_epochs = min_support, shrinkage, n_epochs
        self.reg_u, self.reg_i = reg_u, reg_i

    def _rule(self) -> str:
        return "basic"


class KNNWithMeans(KNN):
    r"""Mean-centred k-NN (Surprise's ``KNNWithMeans``).

    .. math:: \hat r_{ui} = \bar r_u + \frac{\sum_{v \in N^k_i(u)} s_{uv}\,(r_{vi} - \bar r_v)}
                                        {\sum_{v \in N^k_i(u)} s_{uv}}

    Parameters as :class:`KNN` (without ``rule``).
    """

    __init__ = KNNBasic.__init__

    def _rule(self) -> str:
        return "means"


class KNNBaseline(KNN):
    r"""Baseline-centred k-NN (Surprise's ``KNNBaseline``; Koren 2010, eq. 3).

    .. math:: \hat r_{ui} = b_{ui} + \frac{\sum_{v \in N^k_i(u)} s_{uv}\,(r_{vi} - b_{vi})}
                                   {\sum_{v \in N^k_i(u)} s_{uv}}, \qquad b_{ui} = \mu + b_u + b_i

    Works best with ``sim="pearson_baseline"``. Parameters as :class:`KNN` (without ``rule``).
    """

    __init__ = KNNBasic.__init__

    def _rule(self) -> str:
        return "baseline"
