r"""What the two-tower retrievers share, whatever the framework: hyperparameters, vectors, scoring.

A two-tower model scores a (user, item) pair by a dot product of two networks' outputs,
:math:`s(u, i) = \langle p_u, q_i \rangle / \tau` with :math:`p_u = f_\theta(x_u)` and
:math:`q_i = g_\phi(x_i)` (:mod:`course_lib.retrieval` derives the loss). The PyTorch model
(:class:`course_lib.models.torch_models.TwoTower`) and its Keras twin
(:class:`course_lib.models.keras_models.TwoTower`) differ only in how the towers are built, trained
and called: they subclass :class:`TwoTowerModel` and define ``build_network``, ``_fit`` and ``_tower``.

Reference: X. Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large Corpus Item
Recommendations", RecSys 2019.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import pandas as pd

from ..features import FeatureEncoder
from ..interactions import UnknownIdError
from ..retrieval import split_features, tower_inputs
from ..validation import check_finite_number, check_positive_int, check_random_state, check_rate
from .base import Recommender, estimate_known_pairs
from .training import check_early_stopping, split_validation

__all__ = ["TwoTowerModel"]


class TwoTowerModel(Recommender):
    """Base of the two-tower retrievers: the parameters below, ``user_vectors`` / ``item_vectors``
    and the contract's scoring. Subclasses build, train and call the towers (``_tower``).

    Parameters
    ----------
    features : the fields of the towers (user side: ``user_id, age, gender, occupation``; item side:
        ``item_id, genres, year``). n_factors : output width :math:`d`. hidden : hidden layer width.
    logq_correction : subtract :math:`\\log Q(j)` from the in-batch logits (Yi et al. 2019).
    remove_accidental_hits : mask other rows of the batch that hold the same item.
    temperature : :math:`\\tau`. id_dropout : probability of replacing an ID by "unknown" in training.
    n_epochs, batch_size (>= 2: the other pairs are the negatives), lr, weight_decay,
    early_stopping, validation_fraction, n_iter_no_change, progress, random_state : as every model.
    """

    _predicts_ratings = False

    def __init__(self, features=("user_id", "age", "gender", "occupation", "item_id", "genres", "year"),
                 n_factors: int = 32, hidden: int = 64, logq_correction: bool = True,
                 remove_accidental_hits: bool = True, temperature: float = 1.0, id_dropout: float = 0.1,
                 n_epochs: int = 20, batch_size: int = 512, lr: float = 3e-3, weight_decay: float = 0.0,
                 early_stopping: bool = True, validation_fraction: float = 0.1, n_iter_no_change: int = 2,
                 progress: bool = False, random_state: int | None = 0):
        self.features = features
        self.n_factors = n_factors
        self.hidden = hidden
        self.logq_correction = logq_correction
        self.remove_accidental_hits = remove_accidental_hits
        self.temperature = temperature
        self.id_dropout = id_dropout
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _check_params(self) -> None:
        check_positive_int(self.n_factors, "n_factors")
        check_positive_int(self.hidden, "hidden")
        check_positive_int(self.n_epochs, "n_epochs")
        if check_positive_int(self.batch_size, "batch_size") < 2:
            raise ValueError("batch_size must be at least 2: the other pairs of a batch are the negatives")
        check_finite_number(self.lr, "lr", minimum=0, strict=True)
        check_finite_number(self.weight_decay, "weight_decay", minimum=0)
        check_finite_number(self.temperature, "temperature", minimum=0, strict=True)
        check_rate(self.id_dropout, "id_dropout")
        for name in ("logq_correction", "remove_accidental_hits"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def _start_fit(self, data):
        """Check the parameters, split the features between the towers, fit the encoder: ``(patience, rng)``."""
        self._check_params()
        self.user_features_, self.item_features_ = split_features(self.features)
        patience = check_early_stopping(self)
        self.encoder_ = FeatureEncoder().fit(data.users, data.items)
        return patience, check_random_state(self.random_state)

    def _training_pairs(self, data, validation, patience, rng):
        """Training pairs ``(u, i)`` and the validation pairs whose ids training knows, or ``None``
        (:func:`~course_lib.models.training.split_validation`: ``fit``'s validation or a held-out share)."""
        idx, held = split_validation(data, validation, patience, self.validation_fraction, rng)
        val = None
        if held is not None:
            vu, vi, _ = held.known_triples()
            val = (vu.astype(np.int64), vi.astype(np.int64))
        return data.u[idx].astype(np.int64), data.i[idx].astype(np.int64), val

    # -- vectors -----------------------------------------------------------------------------
    @abstractmethod
    def _tower(self, side: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The ``side`` ("user" or "item") tower's outputs for encoded ``inputs``, ``(n, n_factors)`` float32."""

    def _described_users(self, raw: np.ndarray, users: pd.DataFrame | None) -> np.ndarray:
        known = self.data_.encode_users(raw) >= 0
        for table in (users, self.data_.users):
            if table is not None and set(self.user_features_) - {"user_id"}:
                known |= np.isin(raw, table["user_id"].to_numpy())
        return known

    def user_vectors(self, user_ids, users: pd.DataFrame | None = None) -> np.ndarray:
        r"""The query vectors :math:`p_u` of ``user_ids`` (raw ids), shape ``(len(user_ids), n_factors)``, float32.

        Users known in training use their trained ID row and features. A new user is encoded from
        the features in ``users`` (a table like MovieLens's ``users``) or, failing that, in the
        table given to ``fit``, with the "unknown" ID row. A new user found in neither raises
        :class:`~course_lib.interactions.UnknownIdError`: pass their features with ``users=``, or
        rank them by popularity (``top_n`` / ``score_items`` do).
        """
        self._check_fitted()
        raw = np.asarray(user_ids).ravel()
        missing = raw[~self._described_users(raw, users)]
        if missing.size:
            raise UnknownIdError(
                f"{missing.size} user(s) have no training pairs and no features (first: {missing[0]!r}): pass their "
                f"{', '.join(f for f in self.user_features_ if f != 'user_id') or 'features'} with "
                "user_vectors(ids, users=table), or use the popularity fallback of top_n / score_items")
        table = self.data_.users
        if users is not None:
            table = users if table is None else pd.concat([users, table[~table["user_id"].isin(users["user_id"])]])
        return self._tower("user", tower_inputs("user", raw, self.data_, self.encoder_, self.user_features_, table))

    def item_vectors(self, item_ids=None, items: pd.DataFrame | None = None) -> np.ndarray:
        r"""The item vectors :math:`q_i`, shape ``(n, n_factors)``, float32: every training item in
        ``data_.item_ids`` order by default (row = inner index: what an ANN index holds), or
        ``item_ids`` (new items from their features in ``items`` or the table given to ``fit``)."""
        self._check_fitted()
        raw = self.data_.item_ids if item_ids is None else np.asarray(item_ids).ravel()
        table = self.data_.items
        if items is not None:
            table = items if table is None else pd.concat([items, table[~table["item_id"].isin(items["item_id"])]])
        return self._tower("item", tower_inputs("item", raw, self.data_, self.encoder_, self.item_features_, table))

    # -- the contract's scoring -----------------------------------------------------------------
    def _estimate(self, u, i):
        def score_pairs(u, i):
            P = self.user_vectors(self.data_.user_ids[u])
            Q = self.item_vectors(self.data_.item_ids[i])
            return np.einsum("nd,nd->n", P.astype(np.float64), Q.astype(np.float64))
        return estimate_known_pairs(u, i, score_pairs)

    def _scores(self, users):
        P = self.user_vectors(self.data_.user_ids[np.asarray(users, dtype=np.int64)])
        return P.astype(np.float64) @ self.item_vectors().astype(np.float64).T

    def _fallback_scores(self, user_ids):
        """Users in the ``users`` table given to ``fit``: scored from their features; others: popularity."""
        raw = np.asarray(user_ids).ravel()
        out = np.tile(self.data_.item_counts().astype(float), (len(raw), 1))  # the contract's popularity
        described = self._described_users(raw, None)
        if described.any():
            out[described] = self.user_vectors(raw[described]).astype(np.float64) @ self.item_vectors().astype(np.float64).T
        return out
