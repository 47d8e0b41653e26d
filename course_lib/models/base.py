r"""The contract every course model follows: ``fit`` / ``predict`` / ``test`` / ``recommend``.

It combines Surprise's vocabulary with scikit-learn's conventions:

* ``__init__`` only stores hyperparameters under their own names (so ``get_params``,
  ``set_params`` and ``sklearn.base.clone`` work); ``fit`` validates, resolves
  ``random_state`` and returns ``self``; learned state ends in ``_``; using a model before
  ``fit`` raises ``NotFittedError``.
* ``fit(ratings)`` takes a DataFrame with columns ``user_id, item_id, rating`` (a train split)
  or an :class:`~course_lib.interactions.Interactions`.
* ``predict(user_id, item_id)`` returns a :class:`Prediction` that records whether the
  estimate was a fallback and why (unknown user or item, too few neighbours ...).
* ``test(ratings)`` predicts every row of a DataFrame at once (vectorised).
* ``recommend(user_id, n)`` returns the top-``n`` unseen items with their scores.

A subclass writes ``_fit(data)`` and ``_estimate(u, i)`` (inner indices, vectorised); a
ranking model may also override ``_scores(users)`` to score every item at once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ..interactions import Interactions, UnknownIdError
from ..validation import check_positive_int, check_ratings

__all__ = ["NotFittedError", "Prediction", "Recommender", "UnknownIdError"]


class Prediction(NamedTuple):
    """One prediction, as in Surprise: the estimate and whether it was a fallback."""

    user_id: object
    item_id: object
    r_ui: float | None
    est: float
    was_impossible: bool
    reason: str = ""


class Recommender(BaseEstimator):
    """Base class of every course model (see the module docstring for the contract)."""

    #: clip predicted ratings to the training rating scale, as Surprise does
    clip: bool = True

    # -- fitting -------------------------------------------------------------------------
    def fit(self, ratings: pd.DataFrame | Interactions) -> "Recommender":
        """Learn from training ratings; returns ``self``."""
        data = ratings if isinstance(ratings, Interactions) else Interactions.from_ratings(ratings, name="training ratings")
        self.data_ = data
        self.global_mean_ = data.global_mean
        self._fit(data)
        return self

    def _fit(self, data: Interactions) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _estimate(self, u: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        """Estimates for inner indices ``u``, ``i`` (``-1`` = unknown).

        Returns ``(est, impossible)``: where ``impossible`` is True, ``est`` is ignored and the
        global mean is used instead.
        """
        raise NotImplementedError

    def _check_fitted(self) -> None:
        check_is_fitted(self, "data_", msg=(
            f"This {type(self).__name__} is not fitted yet: call .fit(train_ratings) before predicting "
            "or recommending."))

    # -- rating prediction ---------------------------------------------------------------
    def _finish(self, est: np.ndarray, impossible: np.ndarray) -> np.ndarray:
        est = np.where(impossible, self.global_mean_, est)
        if self.clip:
            low, high = self.data_.rating_scale
            est = np.clip(est, low, high)
        return est

    def _impossible_reason(self, u: int, i: int) -> str:
        if u < 0 and i < 0:
            return "user and item are unknown"
        if u < 0:
            return "user is unknown"
        if i < 0:
            return "item is unknown"
        return "not enough information"

    def predict(self, user_id, item_id, r_ui: float | None = None) -> Prediction:
        """Estimate the rating ``user_id`` would give ``item_id``.

        Unknown users or items are not an error: the estimate falls back to the global mean
        and ``was_impossible`` is True (as in Surprise), unless the model has a better rule.
        """
        self._check_fitted()
        u = self.data_.encode_users([user_id])
        i = self.data_.encode_items([item_id])
        est, impossible = self._estimate(u, i)
        value = float(self._finish(np.asarray(est, float), np.asarray(impossible, bool))[0])
        was_impossible = bool(np.asarray(impossible)[0])
        reason = self._impossible_reason(int(u[0]), int(i[0])) if was_impossible else ""
        return Prediction(user_id, item_id, r_ui, value, was_impossible, reason)

    def test(self, ratings: pd.DataFrame) -> pd.DataFrame:
        """Predict every row of ``ratings`` (user_id, item_id[, rating]) at once.

        Returns a copy with columns ``est`` (clipped estimate) and ``was_impossible`` added.
        """
        self._check_fitted()
        check_ratings(ratings, name="test ratings", columns=("user_id", "item_id"), allow_duplicates=True)
        u = self.data_.encode_users(ratings["user_id"].to_numpy())
        i = self.data_.encode_items(ratings["item_id"].to_numpy())
        est, impossible = self._estimate(u, i)
        impossible = np.asarray(impossible, dtype=bool)
        out = ratings.copy()
        out["est"] = self._finish(np.asarray(est, dtype=float), impossible)
        out["was_impossible"] = impossible
        return out

    # -- ranking -------------------------------------------------------------------------
    def _scores(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for inner users ``users``, shape ``(len(users), n_items)``.

        The default scores with ``_estimate`` (unclipped), which suits rating models.
        """
        n_items = self.data_.n_items
        u = np.repeat(users, n_items)
        i = np.tile(np.arange(n_items), len(users))
        est, impossible = self._estimate(u, i)
        est = np.where(np.asarray(impossible, bool), self.global_mean_, est)
        return np.asarray(est, dtype=float).reshape(len(users), n_items)

    def recommend_inner(self, users: np.ndarray, n: int = 10, exclude_seen: bool = True) -> np.ndarray:
        """Top-``n`` inner item indices for inner ``users``, shape ``(len(users), n)``, best first.

        Ties keep the lower inner index first. Rows are padded with ``-1`` when fewer than
        ``n`` items are left after removing the seen ones.
        """
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        scores = np.array(self._scores(users), dtype=float, copy=True)
        if exclude_seen:
            m = self.data_.matrix[users]
            rows = np.repeat(np.arange(len(users)), np.diff(m.indptr))
            scores[rows, m.indices] = -np.inf
        n_eff = min(n, scores.shape[1])
        top = np.argsort(-scores, axis=1, kind="stable")[:, :n_eff]  # stable: ties keep index order
        top_scores = np.take_along_axis(scores, top, axis=1)
        top = np.where(np.isneginf(top_scores), -1, top)
        if n_eff < n:
            top = np.hstack([top, -np.ones((len(users), n - n_eff), dtype=top.dtype)])
        return top

    def recommend(self, user_id, n: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """The ``n`` best items for a known user, best first: columns ``item_id``, ``score``.

        Items the user rated in training are left out unless ``exclude_seen=False``.
        """
        n = check_positive_int(n, "n")
        self._check_fitted()
        u = self.data_.user_index(user_id)
        top = self.recommend_inner(np.array([u]), n, exclude_seen)[0]
        top = top[top >= 0]
        scores = np.asarray(self._scores(np.array([u])), dtype=float)[0, top]
        return pd.DataFrame({"item_id": self.data_.item_ids[top], "score": scores})
