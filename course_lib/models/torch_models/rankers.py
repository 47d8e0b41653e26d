r"""Rankers over (user, item, context) fields: logistic regression, FM, DeepFM and DCN-v2 (PyTorch).

The second stage of a two-stage recommender scores a few hundred retrieved candidates with a model
that *crosses* features. Every ranker here reads the same input, one row per (user, item, request
time) laid out by :class:`course_lib.ranking_data.FieldEncoder`: ``idx`` (B, L) global feature
indices and ``val`` (B, L) their values, i.e. the sparse vector :math:`x \in \mathbb{R}^n` with
:math:`x_{\mathrm{idx}_{b\ell}} = \mathrm{val}_{b\ell}`, and predicts the probability of a click,
:math:`p = \sigma(\hat y(x))`:

``LogisticRanker``  :math:`\hat y = w_0 + \sum_i w_i x_i` (no crossing: each feature on its own).
``FMRanker``        :math:`\hat y = w_0 + \sum_i w_i x_i + \sum_{i<j} \langle v_i, v_j\rangle x_i x_j`
                    (Rendle 2010), the pairwise term computed in :math:`O(kL)` as
                    :math:`\tfrac12 \sum_f [(\sum_\ell e_{\ell f})^2 - \sum_\ell e_{\ell f}^2]` with
                    :math:`e_\ell = v_{\mathrm{idx}_\ell}\,\mathrm{val}_\ell` (derivation:
                    :mod:`course_lib.nn_numpy.crossing`).
``DeepFMRanker``    the FM plus an MLP over the concatenated *field* embeddings, sharing them
                    (Guo et al. 2017): :math:`\hat y = \hat y_{FM} + \mathrm{MLP}([z_1; \dots; z_m])`.
``DCNRanker``       DCN-v2 (Wang et al. 2021): :math:`x_0 = [z_1; \dots; z_m] \in \mathbb{R}^{mk}`, cross
                    layers :math:`x_{l+1} = x_0 \odot (W_l x_l + b_l) + x_l` (full rank, or
                    :math:`W_l = U_l V_l^\top`), then an MLP ("stacked") or beside one ("parallel"),
                    and a final linear layer.

A field embedding :math:`z_f = \sum_{\ell \in f} v_{\mathrm{idx}_\ell}\,\mathrm{val}_\ell` is one
vector per field (the genres' mean). Code 0 of every field ("unknown") starts at zero, so an
unknown value adds nothing until training sees it.

**Training.** ``fit(ratings, users=ml.users, items=ml.movies)`` derives the label from the ratings:
:math:`y = \mathbb{1}[r \ge \tau]` (``positive_threshold`` :math:`\tau = 4`): positives are the
movies rated 4 or 5, negatives the movies rated but lower (shown, not clicked). With
``n_unseen_negatives = s > 0`` each epoch also draws :math:`s` movies the user never rated per
rating, label 0, at that rating's request time. The first choice learns
:math:`P(\text{like} \mid \text{watched})` and never sees unwatched movies (the selection bias of
ratings); the second also learns what a user would not watch at all, at the price of calling every
unwatched movie a negative (some are movies the user would have liked but never met). See
:mod:`course_lib.ranking_data`. The loss is the binary cross-entropy plus an L2 penalty on every
weight and embedding (not on biases):

.. math::  L = -\frac1B \sum_b \big[y_b \log p_b + (1 - y_b) \log(1 - p_b)\big] + \frac{\mathrm{reg}}{2} \lVert\theta\rVert^2,

the objective of scikit-learn's ``LogisticRegression(C = 1 / (reg * n))`` for ``LogisticRanker``.

**Request time.** The context fields (weekday, hour) come from a ``timestamp`` column when the
rows have one; otherwise from the user's most recent training rating (``request_time_``); for a
user without training ratings they are unknown (code 0).

**Unknown ids.** A user (item) without training ratings but with a row in the ``users``
(``items``) table given to ``fit`` or to the call is scored from its features, its id field
unknown. :meth:`predict_proba` and :meth:`rerank` refuse an id with neither (``UnknownIdError``,
with what to do); ``test`` marks such rows ``was_impossible`` with the training click rate
``global_mean_``; ``score_items`` / ``top_n`` rank a user with neither by the model with every user
field unknown (its item and context terms). An empty candidate set gives an empty ranking.

References: S. Rendle, "Factorization Machines", ICDM 2010; H. Guo et al., "DeepFM: A
Factorization-Machine based Neural Network for CTR Prediction", IJCAI 2017; R. Wang et al., "DCN V2:
Improved Deep & Cross Network and Practical Lessons for Web-scale Learning to Rank Systems", WWW 2021.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from ...interactions import HeldOut, Interactions, UnknownIdError
from ...nn_numpy import ShapeError
from ...ranking_data import CONTEXT_FIELDS, FIELDS, FieldEncoder, click_labels
from ...sampling import pair_keys, sample_unseen
from ...validation import check_finite_number, check_positive_int, check_random_state, check_rate, check_ratings
from ..base import Recommender
from ..training import check_early_stopping, holdout
from .training import train_model

__all__ = ["CrossNet", "DCNNet", "DCNRanker", "DeepFMNet", "DeepFMRanker", "FMNet", "FMRanker", "LogisticNet",
           "LogisticRanker"]

_BATCH = 65536  # rows scored at once


# -- networks ------------------------------------------------------------------------------------------
class _FieldNet(nn.Module):
    r"""First-order weights :math:`w` (n,), bias :math:`w_0`, and (if ``n_factors``) factors :math:`V` (n, k).

    ``slot_fields`` (L,) gives the field of each slot; ``unknown_rows`` the features "code 0" of each
    field, whose rows start at zero.
    """

    def __init__(self, n_features: int, slot_fields, unknown_rows, n_factors: int = 0, init_std_dev: float = 0.01):
        super().__init__()
        slot_fields = torch.as_tensor(np.asarray(slot_fields), dtype=torch.int64)
        self.n_features, self.n_slots = int(n_features), len(slot_fields)
        self.n_fields = int(slot_fields.max()) + 1 if len(slot_fields) else 0
        self.register_buffer("pool", F.one_hot(slot_fields, self.n_fields).float())   # (L, m): slot -> field
        self.w = nn.Embedding(n_features, 1)
        nn.init.zeros_(self.w.weight)
        self.bias = nn.Parameter(torch.zeros(()))
        self.n_factors = int(n_factors)
        if n_factors:
            self.V = nn.Embedding(n_features, n_factors)
            nn.init.normal_(self.V.weight, 0.0, init_std_dev)
            with torch.no_grad():
                self.V.weight[torch.as_tensor(np.asarray(unknown_rows), dtype=torch.int64)] = 0.0

    def linear(self, idx: torch.Tensor, val: torch.Tensor) -> torch.Tensor:
        """:math:`w_0 + \\sum_i w_i x_i`, shape (B,)."""
        return self.bias + (self.w(idx).squeeze(-1) * val).sum(1)

    def slot_embeddings(self, idx: torch.Tensor, val: torch.Tensor) -> torch.Tensor:
        """:math:`e_\\ell = v_{idx_\\ell} \\, val_\\ell`, shape (B, L, k)."""
        return self.V(idx) * val.unsqueeze(-1)

    def field_embeddings(self, idx: torch.Tensor, val: torch.Tensor) -> torch.Tensor:
        """:math:`z_f = \\sum_{\\ell \\in f} e_\\ell`, shape (B, m, k)."""
        return torch.einsum("blk,lm->bmk", self.slot_embeddings(idx, val), self.pool)

    def penalty(self) -> torch.Tensor:
        """:math:`\\lVert\\theta\\rVert^2` over every weight and embedding (biases excluded)."""
        return sum((p * p).sum() for name, p in self.named_parameters() if not name.endswith("bias"))


class LogisticNet(_FieldNet):
    r"""Logistic regression on the one-hot features: logit :math:`w_0 + \sum_i w_i x_i`, shape (B,)."""

    def __init__(self, n_features: int, slot_fields, unknown_rows):
        super().__init__(n_features, slot_fields, unknown_rows, 0)

    def forward(self, idx: torch.Tensor, val: torch.Tensor) -> torch.Tensor:
        return self.linear(idx, val)


def fm_interaction(e: torch.Tensor) -> torch.Tensor:
    r"""The FM pairwise term of embeddings ``e`` (B, L, k): :math:`\tfrac12\sum_f[(\sum_\ell e_{\ell f})^2 - \sum_\ell e_{\ell f}^2]`, (B,)."""
    s = e.sum(1)
    return 0.5 * (s * s - (e * e).sum(1)).sum(1)


class FMNet(_FieldNet):
    r"""The factorisation machine: logit :math:`w_0 + \sum_i w_i x_i + \sum_{i<j} \langle v_i, v_j\rangle x_i x_j`, (B,)."""

    def __init__(self, n_features: int, slot_fields, unknown_rows, n_factors: int = 16, init_std_dev: float = 0.01):
        super().__init__(n_features, slot_fields, unknown_rows, n_factors, init_std_dev)

    def forward(self, idx: torch.Tensor, val: torch.Tensor) -> torch.Tensor:
        return self.linear(idx, val) + fm_interaction(self.slot_embeddings(idx, val))


def _mlp(d_in: int, hidden, dropout: float) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(d_in, width), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
        d_in = width
    return nn.Sequential(*layers), d_in


class DeepFMNet(_FieldNet):
    r"""DeepFM: the FM logit plus :math:`\mathrm{MLP}([z_1; \dots; z_m])` (ReLU layers ``hidden``, then one unit)."""

    def __init__(self, n_features: int, slot_fields, unknown_rows, n_factors: int = 16, hidden=(64, 32),
                 dropout: float = 0.0, init_std_dev: float = 0.01):
        super().__init__(n_features, slot_fields, unknown_rows, n_factors, init_std_dev)
        body, width = _mlp(self.n_fields * n_factors, hidden, dropout)
        self.deep = nn.Sequential(body, nn.Linear(width, 1))

    def forward(self, idx: torch.Tensor, val: torch.Tensor) -> torch.Tensor:
        e = self.slot_embeddings(idx, val)
        z = torch.einsum("blk,lm->bmk", e, self.pool).flatten(1)
        return self.linear(idx, val) + fm_interaction(e) + self.deep(z).squeeze(1)


class CrossNet(nn.Module):
    r"""DCN-v2 cross layers: :math:`x_{l+1} = x_0 \odot (W_l x_l + b_l) + x_l`, input and output (B, d).

    ``rank=None``: full :math:`W_l` (d, d), an ``nn.Linear(d, d)`` (PyTorch layout, ``W x``); otherwise
    :math:`W_l = U_l V_l^\top` with ``down[l]`` = :math:`V_l^\top` (no bias) and ``up[l]`` = :math:`U_l`
    (bias :math:`b_l`). Glorot-uniform weights and zero biases, as keras-rs's ``FeatureCross``.
    """

    def __init__(self, d: int, n_layers: int = 2, rank: int | None = None):
        super().__init__()
        self.rank = rank
        if rank is None:
            self.up = nn.ModuleList(nn.Linear(d, d) for _ in range(n_layers))
            self.down = None
        else:
            self.down = nn.ModuleList(nn.Linear(d, rank, bias=False) for _ in range(n_layers))
            self.up = nn.ModuleList(nn.Linear(rank, d) for _ in range(n_layers))
            for m in self.down:
                nn.init.xavier_uniform_(m.weight)
        for m in self.up:
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = x0
        for k, up in enumerate(self.up):
            h = x if self.down is None else self.down[k](x)
            x = x0 * up(h) + x
        return x


class DCNNet(_FieldNet):
    r"""DCN-v2 over the field embeddings :math:`x_0 = [z_1; \dots; z_m]` (B, mk).

    ``structure="stacked"``: cross layers, then the MLP, then one unit; ``"parallel"``: the cross output
    and the MLP of :math:`x_0` side by side, concatenated, then one unit.
    """

    def __init__(self, n_features: int, slot_fields, unknown_rows, n_factors: int = 16, n_cross_layers: int = 2,
                 rank: int | None = None, hidden=(64, 32), structure: str = "stacked", dropout: float = 0.0,
                 init_std_dev: float = 0.01):
        super().__init__(n_features, slot_fields, unknown_rows, n_factors, init_std_dev)
        d = self.n_fields * n_factors
        self.structure = structure
        self.cross = CrossNet(d, n_cross_layers, rank)
        self.deep, width = _mlp(d, hidden, dropout)
        self.head = nn.Linear(width if structure == "stacked" else d + width, 1)

    def forward(self, idx: torch.Tensor, val: torch.Tensor) -> torch.Tensor:
        x0 = self.field_embeddings(idx, val).flatten(1)
        if self.structure == "stacked":
            h = self.deep(self.cross(x0))
        else:
            h = torch.cat([self.cross(x0), self.deep(x0)], dim=1)
        return self.head(h).squeeze(1)


# -- the estimators -------------------------------------------------------------------------------------
def _check_hidden(hidden) -> tuple[int, ...]:
    if isinstance(hidden, numbers.Integral) or any(
            isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1 for w in hidden):
        raise ValueError(f"hidden_units must be a sequence of positive integers such as (64, 32) (or () for "
                         f"none), got {hidden!r}")
    return tuple(int(w) for w in hidden)


class _Ranker(Recommender):
    """Shared fitting, scoring and re-ranking of the rankers (the module docstring is the specification).

    Common parameters
    -----------------
    features : the fields used, among :data:`course_lib.ranking_data.FIELDS` (``user_id, age, gender,
        occupation, item_id, genres, year, weekday, hour``).
    positive_threshold : :math:`\\tau`; a rating :math:`\\ge \\tau` is a click, a lower one a shown, unclicked movie.
    n_unseen_negatives : movies the user never rated drawn per rating each epoch as extra negatives (0: none).
    n_epochs, batch_size, lr : Adam's epochs (at most), mini-batch size and step size.
    reg : the L2 penalty :math:`\\tfrac{reg}{2}\\lVert\\theta\\rVert^2` on weights and embeddings (not biases).
    weight_decay : Adam's weight decay on every parameter (biases included); 0 by default, use ``reg``.
    early_stopping, validation_fraction, n_iter_no_change : stop after ``n_iter_no_change`` epochs
        without a lower validation log loss (on ``validation_fraction`` of the training ratings, or on
        ``fit(train, validation=val)``) and keep the best epoch's weights.
    progress : a progress bar.  random_state : seed of weights, shuffling, negatives, validation split.

    Learned: ``net_``, ``encoder_`` (the :class:`~course_lib.ranking_data.FieldEncoder`), ``history_``,
    ``n_epochs_``, ``best_epoch_``, ``global_mean_`` (the training click rate), ``request_time_`` (each
    training user's most recent rating time, the default request time; NaN without timestamps).
    """

    _predicts_ratings = False

    def _network(self, n_features: int, slot_fields, unknown_rows) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def build_network(self) -> nn.Module:
        """The (untrained) network for ``encoder_``; also how :func:`~course_lib.models.load_model` rebuilds it."""
        enc = self.encoder_
        unknown_rows = list(enc.offsets.values())
        return self._network(enc.n_features, enc.slot_fields, unknown_rows)

    def _check_common(self) -> None:
        check_finite_number(self.positive_threshold, "positive_threshold")
        check_positive_int(self.n_unseen_negatives, "n_unseen_negatives", minimum=0)
        check_positive_int(self.n_epochs, "n_epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_finite_number(self.lr, "lr", minimum=0, strict=True)
        check_finite_number(self.reg, "reg", minimum=0)
        check_finite_number(self.weight_decay, "weight_decay", minimum=0)
        if isinstance(self.features, str):
            raise ValueError(f"features must be a sequence of field names such as ('user_id', 'item_id'), "
                             f"got the string {self.features!r}")

    # -- fitting ------------------------------------------------------------------------------------
    def fit(self, ratings, *, validation: pd.DataFrame | None = None, users: pd.DataFrame | None = None,
            items: pd.DataFrame | None = None, item_vectors: pd.DataFrame | None = None) -> "_Ranker":
        """:meth:`Recommender.fit`; the ``timestamp`` column of ``validation`` (if any) gives its request times."""
        self._validation_times = None
        if isinstance(validation, pd.DataFrame) and "timestamp" in validation.columns:
            self._validation_times = validation["timestamp"].to_numpy()
        try:
            return super().fit(ratings, validation=validation, users=users, items=items, item_vectors=item_vectors)
        finally:
            del self._validation_times

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        self._check_common()
        patience = check_early_stopping(self)
        context = [f for f in self.features if f in CONTEXT_FIELDS]
        if context and data.t is None:
            raise ValueError(f"the context fields {context} need a 'timestamp' column in the training ratings "
                             "(the request time), or leave them out of features=")
        self.encoder_ = FieldEncoder(fields=tuple(self.features)).fit(data.user_ids, data.item_ids, data.users,
                                                                       data.items)
        y = click_labels(data.r, self.positive_threshold).astype(np.float32)
        if y.all() or not y.any():
            raise ValueError(f"every training rating is {'a click' if y.all() else 'a non-click'} at "
                             f"positive_threshold={self.positive_threshold}: a ranker needs both labels; choose a "
                             f"threshold between the lowest and highest rating {data.rating_scale}")
        self.global_mean_ = float(y.mean())
        t = None if data.t is None else data.t.astype(np.float64)
        last = np.full(data.n_users, np.nan)
        if t is not None:
            np.fmax.at(last, data.u, t)
        self.request_time_ = last
        n_neg = int(self.n_unseen_negatives)
        u_idx, u_val = self.encoder_.user_slots(data.user_ids, data.users)
        i_idx, i_val = self.encoder_.item_slots(data.item_ids, data.items)
        c_idx, c_val = self.encoder_.context_slots(t, data.n_ratings)
        seen = pair_keys(data.u, data.i, data.n_items)
        rng = check_random_state(self.random_state)

        def examples(uu, ii, labels, ctx_rows, gen) -> dict[str, np.ndarray]:
            """Rows to (user, item, context row, label) arrays, with ``n_neg`` unseen negatives per row."""
            out = {"u": uu, "i": ii, "c": ctx_rows, "y": labels}
            if n_neg:
                nu, ni = sample_unseen(uu, data.n_items, seen, n_neg, gen)
                out = {"u": np.concatenate([uu, nu]), "i": np.concatenate([ii, ni]),
                       "c": np.concatenate([ctx_rows, np.repeat(ctx_rows, n_neg)]),
                       "y": np.concatenate([labels, np.zeros(len(nu), np.float32)])}
            return out

        def tensors(ex: dict, sel) -> dict[str, torch.Tensor]:
            u, i, c = ex["u"][sel], ex["i"][sel], ex["c"][sel]
            idx = np.hstack([u_idx[u], i_idx[i], ex["cidx"][c]])
            val = np.hstack([u_val[u], i_val[i], ex["cval"][c]])
            return {"idx": torch.as_tensor(idx), "val": torch.as_tensor(val),
                    "y": torch.as_tensor(ex["y"][sel], dtype=torch.float32)}

        idx_rows = np.arange(data.n_ratings)
        val_ex = None
        if validation is not None:
            known = np.flatnonzero(validation.known)
            vt = self._validation_times
            vt = vt[known].astype(np.float64) if vt is not None else self.request_time_[validation.u[known]]
            vc_idx, vc_val = self.encoder_.context_slots(vt, len(known))
            val_ex = examples(validation.u[known].astype(np.int64), validation.i[known].astype(np.int64),
                              click_labels(validation.r[known], self.positive_threshold).astype(np.float32),
                              np.arange(len(known)), rng.spawn(1)[0])
            val_ex.update(cidx=vc_idx, cval=vc_val)
        elif patience is not None:
            idx_rows, val_rows = holdout(data.n_ratings, self.validation_fraction, rng)
            val_ex = examples(data.u[val_rows].astype(np.int64), data.i[val_rows].astype(np.int64),
                              y[val_rows], val_rows, rng.spawn(1)[0])
            val_ex.update(cidx=c_idx, cval=c_val)
        if val_ex is not None and len(val_ex["y"]) == 0:
            raise ValueError("the validation ratings share no user and item with the training ratings: "
                             "nothing to validate on")
        val_batch = None if val_ex is None else tensors(val_ex, slice(None))
        train_u, train_i = data.u[idx_rows].astype(np.int64), data.i[idx_rows].astype(np.int64)
        reg = float(self.reg)

        def epoch_batches():
            ex = examples(train_u, train_i, y[idx_rows], idx_rows, rng)
            ex.update(cidx=c_idx, cval=c_val)
            order = rng.permutation(len(ex["y"]))
            for start in range(0, len(order), self.batch_size):
                yield tensors(ex, order[start:start + self.batch_size])

        def loss(net, batch):
            bce = F.binary_cross_entropy_with_logits(net(batch["idx"], batch["val"]), batch["y"])
            return bce, (0.5 * reg * net.penalty() if reg else 0.0), len(batch["y"])

        def val_loss(net):
            return F.binary_cross_entropy_with_logits(net(val_batch["idx"], val_batch["val"]), val_batch["y"])

        train_model(self, rng, epoch_batches=epoch_batches, loss=loss, val_loss=None if val_ex is None else val_loss,
                    n_epochs=self.n_epochs, lr=self.lr, weight_decay=self.weight_decay, patience=patience,
                    progress=self.progress, desc=type(self).__name__)

    # -- scoring encoded rows --------------------------------------------------------------------------
    @torch.no_grad()
    def _logits(self, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        self.net_.eval()
        out = np.empty(len(idx))
        for s in range(0, len(idx), _BATCH):
            out[s:s + _BATCH] = self.net_(torch.as_tensor(idx[s:s + _BATCH]),
                                          torch.as_tensor(val[s:s + _BATCH])).double().numpy()
        return out

    def score_features(self, idx, val) -> np.ndarray:
        r"""Click probabilities :math:`\sigma(\hat y)` of encoded rows: ``idx`` (n, L) feature indices, ``val`` (n, L).

        ``L`` is ``encoder_.n_slots``; indices must lie in ``[0, encoder_.n_features)``. Build the rows
        with ``encoder_.encode(user_ids, item_ids, timestamps, users=..., items=...)``.
        """
        self._check_fitted()
        enc = self.encoder_
        idx, val = np.asarray(idx), np.asarray(val)
        layout = f"(n_rows, {enc.n_slots}): one column per slot of the fields {enc.fields}"
        if idx.ndim != 2 or idx.shape[1] != enc.n_slots:
            raise ShapeError(f"idx must have shape {layout}, got shape {idx.shape}; build it with encoder_.encode(...)")
        if val.shape != idx.shape:
            raise ShapeError(f"val must have the shape of idx {idx.shape} (one value per slot), got {val.shape}")
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"idx must hold integer feature indices, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= enc.n_features):
            raise ValueError(f"idx holds feature indices outside [0, {enc.n_features}) (min {idx.min()}, max "
                             f"{idx.max()}): rows encoded by another encoder? Use this model's encoder_")
        val = val.astype(np.float32)
        if not np.isfinite(val).all():
            raise ValueError("val holds NaN or infinite values")
        return 1.0 / (1.0 + np.exp(-self._logits(idx.astype(np.int64), val)))

    # -- scoring raw ids ----------------------------------------------------------------------------------
    def _tables(self, users: pd.DataFrame | None, items: pd.DataFrame | None):
        known_users, known_items = self.data_.users, self.data_.items
        users = known_users if users is None else users if known_users is None else pd.concat([users, known_users])
        items = known_items if items is None else items if known_items is None else pd.concat([items, known_items])
        return users, items

    def _described(self, raw, table, key: str, inner: np.ndarray) -> np.ndarray:
        has = inner >= 0
        if table is not None:
            has |= np.isin(raw, table[key].to_numpy())
        return has

    def _request_times(self, pairs: pd.DataFrame, inner_u: np.ndarray) -> np.ndarray:
        default = np.where(inner_u >= 0, self.request_time_[np.maximum(inner_u, 0)], np.nan)
        if "timestamp" in pairs.columns:
            given = pd.to_numeric(pairs["timestamp"], errors="coerce").to_numpy(dtype=float)
            return np.where(np.isnan(given), default, given)
        return default

    def _pairs(self, pairs: pd.DataFrame, users, items):
        """Probabilities of the rows of ``pairs`` and whether each user / item is described at all."""
        check_ratings(pairs, name="pairs", columns=("user_id", "item_id"), allow_duplicates=True)
        users, items = self._tables(users, items)
        ru, ri = pairs["user_id"].to_numpy(), pairs["item_id"].to_numpy()
        inner_u, inner_i = self.data_.encode_users(ru), self.data_.encode_items(ri)
        ok_u = self._described(ru, users, "user_id", inner_u)
        ok_i = self._described(ri, items, "item_id", inner_i)
        idx, val = self.encoder_.encode(ru, ri, self._request_times(pairs, inner_u), users=users, items=items)
        return 1.0 / (1.0 + np.exp(-self._logits(idx, val))), ok_u, ok_i

    def predict_proba(self, pairs: pd.DataFrame, *, users: pd.DataFrame | None = None,
                      items: pd.DataFrame | None = None) -> np.ndarray:
        """Click probability of each (user_id, item_id[, timestamp]) row of ``pairs``, shape ``(len(pairs),)``.

        ``users`` / ``items`` describe ids without training ratings (MovieLens's tables). An id with
        neither training ratings nor a row in those tables (or the ones given to ``fit``) raises
        ``UnknownIdError``. Without a ``timestamp`` column the request time is the user's last rating.
        """
        self._check_fitted()
        p, ok_u, ok_i = self._pairs(pairs, users, items)
        for ok, key, table in ((ok_u, "user_id", "users"), (ok_i, "item_id", "items")):
            if not ok.all():
                bad = pd.unique(pairs[key].to_numpy()[~ok])
                raise UnknownIdError(
                    f"{len(bad)} {key}(s) have no training ratings and no features, e.g. {bad[:5].tolist()}: pass "
                    f"their rows with {table}=DataFrame (MovieLens's {table} columns), or rank them with the "
                    "retrieval's own order (score_items / top_n fall back to the model without the user's fields)")
        return p

    def test(self, ratings: pd.DataFrame, *, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
             item_vectors: pd.DataFrame | None = None) -> pd.DataFrame:
        """Click probabilities of the rows of ``ratings`` (``est``); rows whose user or item has no training
        ratings and no features are ``was_impossible`` with the training click rate ``global_mean_``."""
        self._check_fitted()
        p, ok_u, ok_i = self._pairs(ratings, users, items)
        impossible = ~(ok_u & ok_i)
        out = ratings.copy()
        out["est"] = np.where(impossible, self.global_mean_, p)
        out["was_impossible"] = impossible
        return out

    def _estimate(self, u, i):
        u, i = np.asarray(u, dtype=np.int64), np.asarray(i, dtype=np.int64)
        pairs = pd.DataFrame({"user_id": self.data_.user_ids[np.maximum(u, 0)],
                              "item_id": self.data_.item_ids[np.maximum(i, 0)]})
        p, _, _ = self._pairs(pairs, None, None)
        return p, (u < 0) | (i < 0)

    def _score_users(self, raw_users, times) -> np.ndarray:
        """Probabilities of every training item for raw users at request ``times``, (n_users, n_items)."""
        n_items = self.data_.n_items
        u_idx, u_val = self.encoder_.user_slots(raw_users, self.data_.users)
        i_idx, i_val = self.encoder_.item_slots(self.data_.item_ids, self.data_.items)
        c_idx, c_val = self.encoder_.context_slots(times, len(raw_users))
        out = np.empty((len(raw_users), n_items))
        step = max(1, _BATCH // n_items)
        for s in range(0, len(raw_users), step):
            rows = np.arange(s, min(s + step, len(raw_users)))
            r = np.repeat(rows, n_items)
            j = np.tile(np.arange(n_items), len(rows))
            idx = np.hstack([u_idx[r], i_idx[j], c_idx[r]])
            val = np.hstack([u_val[r], i_val[j], c_val[r]])
            out[rows] = (1.0 / (1.0 + np.exp(-self._logits(idx, val)))).reshape(len(rows), n_items)
        return out

    def _scores(self, users):
        users = np.asarray(users, dtype=np.int64)
        return self._score_users(self.data_.user_ids[users], self.request_time_[users])

    def _fallback_scores(self, user_ids):
        """A user without training ratings: scored from the features the ``users`` table given to ``fit``
        holds (id unknown), or with every user field unknown; the request time is unknown."""
        return self._score_users(np.asarray(user_ids), None)

    def score_candidates(self, user_id, item_ids, timestamp=None, *, users: pd.DataFrame | None = None,
                         items: pd.DataFrame | None = None) -> np.ndarray:
        """Click probabilities of one user's candidate ``item_ids`` (raw ids), float64 ``(len(item_ids),)``.

        ``timestamp`` is the request time (Unix seconds; default: the user's last training rating). The
        interface :class:`course_lib.pipeline.TwoStagePipeline` calls. No candidates: an empty array.
        """
        self._check_fitted()
        item_ids = np.asarray(item_ids).reshape(-1)
        if len(item_ids) == 0:
            return np.zeros(0)
        pairs = pd.DataFrame({"user_id": [user_id] * len(item_ids), "item_id": item_ids})
        if timestamp is not None:
            pairs["timestamp"] = timestamp
        return self.predict_proba(pairs, users=users, items=items)

    def rerank(self, candidates: pd.DataFrame, n: int = 10, *, users: pd.DataFrame | None = None,
               items: pd.DataFrame | None = None) -> pd.DataFrame:
        """Each user's ``n`` best ``candidates`` (rows ``user_id, item_id[, timestamp]``) by click probability.

        Returns ``user_id, item_id, score, rank`` (rank 1 = best; ties keep the candidate order), users in
        the order they first appear. An empty ``candidates`` table gives an empty result; a (user, item)
        pair listed twice, or an id with neither training ratings nor features, is an error.
        """
        n = check_positive_int(n, "n")
        self._check_fitted()
        columns = ["user_id", "item_id", "score", "rank"]
        if not isinstance(candidates, pd.DataFrame):
            raise TypeError(f"candidates must be a DataFrame with user_id and item_id columns, "
                            f"got {type(candidates).__name__}")
        if len(candidates) == 0:
            return pd.DataFrame({c: pd.Series(dtype=float if c == "score" else np.int64) for c in columns})
        check_ratings(candidates, name="candidates", columns=("user_id", "item_id"), allow_duplicates=True)
        dup = candidates.duplicated(["user_id", "item_id"])
        if dup.any():
            first = candidates.loc[dup, ["user_id", "item_id"]].iloc[0].tolist()
            raise ValueError(f"candidates list {int(dup.sum())} (user, item) pair(s) twice, e.g. {first}: "
                             "drop_duplicates(['user_id', 'item_id']) first")
        scores = self.predict_proba(candidates, users=users, items=items)
        frame = candidates[["user_id", "item_id"]].assign(score=scores, _pos=np.arange(len(scores)))
        first = pd.Index(pd.unique(frame["user_id"].to_numpy()))
        frame["_user"] = first.get_indexer(frame["user_id"].to_numpy())
        frame = frame.sort_values(["_user", "score", "_pos"], ascending=[True, False, True], kind="stable")
        frame["rank"] = frame.groupby("_user").cumcount() + 1
        return frame[frame["rank"] <= n][columns].reset_index(drop=True)


_PARAMS_DOC = "(see :class:`_Ranker` for the training parameters)"


class LogisticRanker(_Ranker):
    r"""Logistic regression on one-hot (user, item, context) features: :math:`p = \sigma(w_0 + \sum_i w_i x_i)`.

    No crossing: a user's taste for drama and the time of day each add their own weight, whatever
    else is true. With ``reg`` :math:`=\lambda` it minimises scikit-learn's
    ``LogisticRegression(C=1/(lambda n))`` objective on ``encoder_.to_csr(...)`` of the same rows
    (the tests check the two). :math:`w` is ``weights_`` (named by ``encoder_.feature_names()``).
    (see :class:`_Ranker` for the training parameters)
    """

    def __init__(self, features=FIELDS, positive_threshold: float = 4.0, n_unseen_negatives: int = 0,
                 n_epochs: int = 20, batch_size: int = 1024, lr: float = 1e-2, reg: float = 1e-5,
                 weight_decay: float = 0.0, early_stopping: bool = True, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 2, progress: bool = False, random_state: int | None = 0):
        self.features = features
        self.positive_threshold = positive_threshold
        self.n_unseen_negatives = n_unseen_negatives
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.reg = reg
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _network(self, n_features, slot_fields, unknown_rows):
        return LogisticNet(n_features, slot_fields, unknown_rows)

    @property
    def weights_(self) -> np.ndarray:
        r""":math:`w`, shape ``(n_features,)`` (the intercept :math:`w_0` is ``net_.bias``)."""
        self._check_fitted()
        return self.net_.w.weight.detach().double().numpy()[:, 0].copy()


class FMRanker(_Ranker):
    r"""A factorisation machine on the (user, item, context) features (Rendle 2010):

    .. math::  \hat y = w_0 + \sum_i w_i x_i + \sum_{i<j} \langle v_i, v_j \rangle x_i x_j, \quad V \in \mathbb{R}^{n \times k}

    every pair of features crossed through :math:`k` = ``n_factors`` factors, computed in :math:`O(kL)`.
    ``init_std_dev``: the factors start from :math:`N(0, \sigma^2)`. (see :class:`_Ranker` for the
    training parameters)
    """

    def __init__(self, features=FIELDS, positive_threshold: float = 4.0, n_unseen_negatives: int = 0,
                 n_factors: int = 16, init_std_dev: float = 0.01, n_epochs: int = 20, batch_size: int = 1024,
                 lr: float = 1e-2, reg: float = 1e-5, weight_decay: float = 0.0, early_stopping: bool = True,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 2, progress: bool = False,
                 random_state: int | None = 0):
        self.features = features
        self.positive_threshold = positive_threshold
        self.n_unseen_negatives = n_unseen_negatives
        self.n_factors = n_factors
        self.init_std_dev = init_std_dev
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.reg = reg
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _network(self, n_features, slot_fields, unknown_rows):
        return FMNet(n_features, slot_fields, unknown_rows, check_positive_int(self.n_factors, "n_factors"),
                     check_finite_number(self.init_std_dev, "init_std_dev", minimum=0))


class DeepFMRanker(_Ranker):
    r"""DeepFM (Guo et al. 2017): the FM plus an MLP on the concatenated field embeddings, which it shares.

    .. math::  \hat y = w_0 + \sum_i w_i x_i + \sum_{i<j} \langle v_i, v_j \rangle x_i x_j
               + \mathrm{MLP}([z_1; \dots; z_m])

    ``hidden_units``: the MLP's ReLU layers (then one output unit); ``dropout`` after each.
    (see :class:`_Ranker` for the training parameters)
    """

    def __init__(self, features=FIELDS, positive_threshold: float = 4.0, n_unseen_negatives: int = 0,
                 n_factors: int = 16, hidden_units=(64, 32), dropout: float = 0.0, init_std_dev: float = 0.01,
                 n_epochs: int = 20, batch_size: int = 1024, lr: float = 3e-3, reg: float = 1e-5,
                 weight_decay: float = 0.0, early_stopping: bool = True, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 2, progress: bool = False, random_state: int | None = 0):
        self.features = features
        self.positive_threshold = positive_threshold
        self.n_unseen_negatives = n_unseen_negatives
        self.n_factors = n_factors
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.init_std_dev = init_std_dev
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.reg = reg
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _network(self, n_features, slot_fields, unknown_rows):
        p = check_rate(self.dropout, "dropout")
        return DeepFMNet(n_features, slot_fields, unknown_rows, check_positive_int(self.n_factors, "n_factors"),
                         _check_hidden(self.hidden_units), p,
                         check_finite_number(self.init_std_dev, "init_std_dev", minimum=0))


class DCNRanker(_Ranker):
    r"""DCN-v2 (Wang et al. 2021) over the field embeddings :math:`x_0 = [z_1; \dots; z_m] \in \mathbb{R}^{mk}`:

    .. math::  x_{l+1} = x_0 \odot (W_l x_l + b_l) + x_l, \qquad l = 0 \dots L-1,

    each layer raising the degree of the crosses by one (``n_cross_layers`` :math:`= L`; ``rank``
    :math:`r`: :math:`W_l = U_l V_l^\top`, :math:`U_l, V_l \in \mathbb{R}^{mk \times r}`; ``None``: full
    rank). ``structure="stacked"`` puts the MLP (``hidden_units``) after the cross layers, ``"parallel"``
    beside them; a linear unit gives the logit. (see :class:`_Ranker` for the training parameters)
    """

    def __init__(self, features=FIELDS, positive_threshold: float = 4.0, n_unseen_negatives: int = 0,
                 n_factors: int = 16, n_cross_layers: int = 2, rank: int | None = None, structure: str = "stacked",
                 hidden_units=(64, 32), dropout: float = 0.0, init_std_dev: float = 0.01, n_epochs: int = 20,
                 batch_size: int = 1024, lr: float = 3e-3, reg: float = 1e-5, weight_decay: float = 0.0,
                 early_stopping: bool = True, validation_fraction: float = 0.1, n_iter_no_change: int = 2,
                 progress: bool = False, random_state: int | None = 0):
        self.features = features
        self.positive_threshold = positive_threshold
        self.n_unseen_negatives = n_unseen_negatives
        self.n_factors = n_factors
        self.n_cross_layers = n_cross_layers
        self.rank = rank
        self.structure = structure
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.init_std_dev = init_std_dev
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.reg = reg
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _network(self, n_features, slot_fields, unknown_rows):
        if self.structure not in ("stacked", "parallel"):
            raise ValueError(f"structure must be 'stacked' or 'parallel', got {self.structure!r}")
        p = check_rate(self.dropout, "dropout")
        rank = None if self.rank is None else check_positive_int(self.rank, "rank")
        return DCNNet(n_features, slot_fields, unknown_rows, check_positive_int(self.n_factors, "n_factors"),
                      check_positive_int(self.n_cross_layers, "n_cross_layers"), rank,
                      _check_hidden(self.hidden_units), self.structure, p,
                      check_finite_number(self.init_std_dev, "init_std_dev", minimum=0))
