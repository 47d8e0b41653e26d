r"""The contract every course model follows. Read it before writing a model.

Every model is a :class:`Recommender`: scikit-learn's estimator conventions with Surprise's
vocabulary. A learner who has used one model can use every other one the same way.

Construction
    ``__init__`` only stores its keyword arguments, under their own names, unchanged (so
    ``get_params``, ``set_params`` and ``sklearn.base.clone`` work). No logic, no mutable defaults.
    The same idea has the same name everywhere: ``n_factors``, ``n_epochs``, ``lr``, ``reg``,
    ``weight_decay``, ``init_std_dev``, ``shrinkage``, ``k``, ``random_state``, ``progress``.
    Surprise's twins keep Surprise's names where they differ (``lr_all``, ``reg_all``,
    ``learning_rate`` of ``BaselineOnly``).

Fitting: one signature
    ``fit(ratings, *, validation=None, users=None, items=None, item_vectors=None) -> self``.
    ``ratings`` is a DataFrame (``user_id, item_id, rating``, and ``timestamp`` where the model
    reads order) or an :class:`~course_lib.interactions.Interactions`. Side inputs arrive by
    one mechanism, keyword arguments of ``fit`` that every model accepts: the user and item
    tables and precomputed item vectors are attached to the training ``Interactions``
    (``data_.users``, ``data_.items``, ``data_.item_vectors``); a model that needs one and does
    not get it says so. Models that do not read side inputs ignore them, so one call fits any
    model (``compare_models`` relies on it).

Validation and early stopping: one vocabulary (scikit-learn's)
    Iterative models take ``n_epochs`` (the most passes), ``early_stopping`` (bool),
    ``validation_fraction`` (the share of the training ratings held out when no validation
    set is given) and ``n_iter_no_change`` (epochs without improvement before stopping; the
    best epoch's parameters are restored). ``fit(train, validation=val)`` uses held-out ratings
    you chose instead of a random share. Either way ``history_`` is a DataFrame indexed by
    ``epoch`` (from 1) with ``train_loss`` and, when there is validation data, ``val_loss``
    (rating models also ``train_rmse`` / ``val_rmse``); ``n_epochs_`` is the number of epochs
    run and ``best_epoch_`` the epoch kept. Closed-form models (EASE, k-NN ...) ignore ``validation``.

Randomness
    ``random_state`` is an int (reproducible), a NumPy ``Generator`` / ``RandomState``, or
    ``None`` (a fresh, unpredictable start: two fits differ). It is resolved once, in ``fit``,
    by :func:`course_lib.validation.check_random_state`; every random draw of the model
    (initial weights, shuffling, negatives, validation split, dropout) derives from it, and
    fitting never changes the global state of NumPy, PyTorch or TensorFlow. Every course model
    defaults to ``random_state=0``.

Learned state
    Everything ``fit`` learns ends in ``_``; the names are shared: ``data_`` (the training
    ``Interactions``), ``global_mean_``, ``b_u_`` / ``b_i_`` (biases), ``user_factors_`` /
    ``item_factors_`` (shape ``(n_users, k)`` / ``(n_items, k)``), ``similarity_``, ``net_``
    (the PyTorch or Keras network), ``history_``, ``n_epochs_``, ``best_epoch_``. Fitting never
    changes a hyperparameter. Using a model before ``fit`` raises ``NotFittedError``.

Predicting and ranking (raw ids in, raw ids out)
    ``predict(user_id, item_id)`` returns a :class:`Prediction` that says whether the estimate
    was a fallback and why (unknown user or item, too few neighbours ...), as in Surprise;
    ``test(ratings)`` predicts every row at once. ``score_items(user_ids)`` scores every
    training item for each user, shape ``(len(user_ids), n_items)``, columns in ``data_.item_ids``
    order; ``top_n(user_ids, n)`` gives each user's ``n`` best unseen items;
    ``recommend(user_id, n)`` one user's top ``n`` as a table of ``item_id, score``.
    Unknown users: ``predict`` and ``test`` fall back (global mean, or the model's rule);
    ``score_items`` and ``top_n`` use the model's **fallback ranking** (by default the training
    popularity of the items; models with a better rule, such as feature-aware ones, override it);
    ``recommend`` raises :class:`UnknownIdError`, since a typo should not look like an answer.
    ``predicts_ratings`` is True for models whose estimates are ratings (they are clipped to the
    training scale); ranking models' estimates are scores.

Writing a model
    Subclass :class:`Recommender`; ``__init__`` stores the hyperparameters; write
    ``_fit(data, validation)`` (``data`` the training ``Interactions``, ``validation`` the
    held-out ``Interactions`` or ``None``) and ``_estimate(u, i) -> (est, impossible)`` on inner
    indices (vectorised, ``-1`` = unknown). A ranking model also writes ``_scores(users)``
    (inner users -> ``(len(users), n_items)``). CONTRIBUTING.md shows a whole model in under
    60 lines; ``tests/test_contract.py`` checks every model against this contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted as _sklearn_check_is_fitted

from ..interactions import Interactions, UnknownIdError
from ..validation import check_positive_int, check_ratings

__all__ = ["NotFittedError", "Prediction", "Recommender", "UnknownIdError", "check_is_fitted", "estimate_known_pairs",
           "pairs_from_scores"]


class Prediction(NamedTuple):
    """One prediction, as in Surprise: the estimate and whether it was a fallback."""

    user_id: object
    item_id: object
    r_ui: float | None
    est: float
    was_impossible: bool
    reason: str = ""


def check_is_fitted(model: "Recommender") -> None:
    """Raise ``NotFittedError`` (with what to do) if ``model`` has not been fitted."""
    _sklearn_check_is_fitted(model, "data_", msg=(
        f"This {type(model).__name__} is not fitted yet: call .fit(train_ratings) before predicting "
        "or recommending."))


def estimate_known_pairs(u, i, score_pairs, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``_estimate`` for a model that scores (user, item) index pairs: a pair with an unknown id (index
    -1) is impossible (estimate 0: ``predict`` then applies the model's fallback); the others get
    ``score_pairs(u, i)``, called on batches of ``batch_size`` pairs if given (bounded memory)."""
    u, i = np.asarray(u, dtype=np.int64), np.asarray(i, dtype=np.int64)
    impossible = (u < 0) | (i < 0)
    est = np.zeros(len(u))
    ok = np.flatnonzero(~impossible)
    step = max(1, len(ok) if batch_size is None else batch_size)
    for start in range(0, len(ok), step):
        rows = ok[start:start + step]
        est[rows] = score_pairs(u[rows], i[rows])
    return est, impossible


def pairs_from_scores(scores):
    """A ``score_pairs`` for :func:`estimate_known_pairs` from a model's ``scores(users) -> (n_users, n_items)``:
    each distinct user's row is computed once and read at the pairs' items."""
    def score_pairs(u, i):
        users, inverse = np.unique(u, return_inverse=True)
        return scores(users)[inverse, i]
    return score_pairs


class Recommender(BaseEstimator, ABC):
    """Base class of every course model (the module docstring is the contract)."""

    #: estimates are ratings on the training scale (clipped); ranking models set False
    _predicts_ratings: bool = True

    @property
    def predicts_ratings(self) -> bool:
        """True if the model's estimates are ratings (clipped to the training scale), False for scores."""
        return self._predicts_ratings

    # -- fitting -------------------------------------------------------------------------
    def fit(self, ratings: pd.DataFrame | Interactions, *, validation: pd.DataFrame | None = None,
            users: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
            item_vectors: pd.DataFrame | None = None) -> "Recommender":
        """Learn from training ratings; returns ``self``.

        Parameters
        ----------
        ratings : DataFrame ``user_id, item_id, rating[, timestamp]``, or an ``Interactions``.
        validation : held-out ratings (a DataFrame with the same columns) that iterative models
            use for ``history_`` and early stopping instead of a random ``validation_fraction``.
        users, items, item_vectors : side tables (MovieLens's ``users``, ``movies``, and item
            vectors indexed by ``item_id``), attached to ``data_`` for models that read them.
        """
        data = Interactions.coerce(ratings, name="training ratings")
        if users is not None or items is not None or item_vectors is not None:
            data = data.with_side(users=users, items=items, item_vectors=item_vectors)
        held_out = None
        if validation is not None:
            held_out = data.encode(validation, name="validation ratings")
        self.data_ = data
        self.global_mean_ = data.global_mean
        self._fit(data, held_out)
        return self

    @abstractmethod
    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        """Learn from ``data``; ``validation`` holds the held-out ratings given to ``fit`` (or None)."""

    @abstractmethod
    def _estimate(self, u: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estimates for inner indices ``u``, ``i`` (``-1`` = unknown).

        Returns ``(est, impossible)``: where ``impossible`` is True, ``est`` is ignored and the
        global mean is used instead.
        """

    def _check_fitted(self) -> None:
        check_is_fitted(self)

    # -- rating prediction ---------------------------------------------------------------
    def _finish(self, est: np.ndarray, impossible: np.ndarray) -> np.ndarray:
        est = np.where(impossible, self.global_mean_, est)
        if self.predicts_ratings:
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

    def predict(self, user_id, item_id, r_ui: float | None = None, *, users: pd.DataFrame | None = None,
                items: pd.DataFrame | None = None, item_vectors: pd.DataFrame | None = None) -> Prediction:
        """Estimate the rating ``user_id`` would give ``item_id``.

        Unknown users or items are not an error: the estimate falls back to the global mean
        and ``was_impossible`` is True (as in Surprise), unless the model has a better rule.
        ``users`` / ``items`` / ``item_vectors`` describe new ids to models that read features.
        """
        self._check_fitted()
        if users is not None or items is not None or item_vectors is not None:
            row = self.test(pd.DataFrame({"user_id": [user_id], "item_id": [item_id]}), users=users, items=items,
                            item_vectors=item_vectors)
            impossible = bool(row["was_impossible"].iloc[0])
            reason = "no training data and no features for this user or item" if impossible else ""
            return Prediction(user_id, item_id, r_ui, float(row["est"].iloc[0]), impossible, reason)
        u = self.data_.encode_users([user_id])
        i = self.data_.encode_items([item_id])
        est, impossible = self._estimate(u, i)
        value = float(self._finish(np.asarray(est, float), np.asarray(impossible, bool))[0])
        was_impossible = bool(np.asarray(impossible)[0])
        reason = self._impossible_reason(int(u[0]), int(i[0])) if was_impossible else ""
        return Prediction(user_id, item_id, r_ui, value, was_impossible, reason)

    def test(self, ratings: pd.DataFrame, *, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
             item_vectors: pd.DataFrame | None = None) -> pd.DataFrame:
        """Predict every row of ``ratings`` (user_id, item_id[, rating]) at once.

        Returns a copy with columns ``est`` (the estimate, clipped for rating models) and
        ``was_impossible`` added. ``users`` / ``items`` / ``item_vectors`` describe ids unknown at
        ``fit`` to models that read features (the others ignore them).
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
        """Scores of every item for inner users ``users`` (all known), shape ``(len(users), n_items)``.

        The default scores with ``_estimate`` (unclipped), which suits rating models.
        """
        n_items = self.data_.n_items
        u = np.repeat(users, n_items)
        i = np.tile(np.arange(n_items), len(users))
        est, impossible = self._estimate(u, i)
        est = np.where(np.asarray(impossible, bool), self.global_mean_, est)
        return np.asarray(est, dtype=float).reshape(len(users), n_items)

    def _fallback_scores(self, user_ids: np.ndarray) -> np.ndarray:
        """Scores for users the model does not know (raw ids), ``(len(user_ids), n_items)``: item popularity
        by default; a model with a better rule (side features, biases) overrides it."""
        counts = self.data_.item_counts().astype(float)
        return np.broadcast_to(counts, (len(user_ids), self.data_.n_items))

    def score_items(self, user_ids) -> np.ndarray:
        """Scores of every training item for each of ``user_ids``, shape ``(len(user_ids), n_items)``.

        Columns follow ``data_.item_ids``. Users unknown to the model get the fallback ranking
        (training popularity unless the model has a better rule).
        """
        self._check_fitted()
        raw = np.asarray(user_ids).ravel()
        inner = self.data_.encode_users(raw)
        out = np.empty((len(inner), self.data_.n_items))
        known = inner >= 0
        if known.any():
            out[known] = self._scores(inner[known])
        if (~known).any():
            out[~known] = self._fallback_scores(raw[~known])
        return out

    def _top_inner(self, inner: np.ndarray, scores: np.ndarray, n: int, exclude_seen: bool) -> np.ndarray:
        """Top-``n`` inner items per row of ``scores`` (best first, ties: lower index), ``-1`` padded."""
        scores = np.array(scores, dtype=float, copy=True)
        if exclude_seen:
            known = np.flatnonzero(inner >= 0)
            m = self.data_.matrix[inner[known]]
            rows = known[np.repeat(np.arange(len(known)), np.diff(m.indptr))]
            scores[rows, m.indices] = -np.inf
        n_eff = min(n, scores.shape[1])
        top = np.argsort(-scores, axis=1, kind="stable")[:, :n_eff]
        top = np.where(np.isneginf(np.take_along_axis(scores, top, axis=1)), -1, top)
        if n_eff < n:
            top = np.hstack([top, -np.ones((len(scores), n - n_eff), dtype=top.dtype)])
        return top

    def top_n(self, user_ids, n: int = 10, exclude_seen: bool = True, batch_size: int = 512) -> list[np.ndarray]:
        """The ``n`` best items (raw ids, best first) for each of ``user_ids``; seen items left out.

        Ties keep the lower inner index first. A user with fewer than ``n`` unseen items gets a
        shorter array. Unknown users get the fallback ranking (see :meth:`score_items`).
        """
        n = check_positive_int(n, "n")
        self._check_fitted()
        user_ids = list(user_ids)
        out = []
        for start in range(0, len(user_ids), batch_size):
            chunk = user_ids[start:start + batch_size]
            inner = self.data_.encode_users(chunk)
            top = self._top_inner(inner, self.score_items(chunk), n, exclude_seen)
            out.extend(self.data_.item_ids[row[row >= 0]] for row in top)
        return out

    def recommend(self, user_id, n: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """The ``n`` best items for a known user, best first: columns ``item_id``, ``score``.

        Items the user rated in training are left out unless ``exclude_seen=False``. An unknown
        user raises :class:`UnknownIdError` (use :meth:`top_n` for the fallback ranking).
        """
        n = check_positive_int(n, "n")
        self._check_fitted()
        u = self.data_.user_index(user_id)
        scores = self._scores(np.array([u]))
        top = self._top_inner(np.array([u]), scores, n, exclude_seen)[0]
        top = top[top >= 0]
        return pd.DataFrame({"item_id": self.data_.item_ids[top], "score": np.asarray(scores, float)[0, top]})
