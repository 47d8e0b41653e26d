r"""Feature-aware recommenders: ID embeddings plus user and item side features (PyTorch).

Each side is a *tower* that turns its parts into one vector. A part is an embedding of the
ID (row 0 = the shared "unknown" row), of a categorical code (age bucket, gender,
occupation, release-year bucket), a linear map of the genre multi-hot vector, a text encoder
of the title tokens (``"bag"`` = mean of token embeddings, ``"cnn"`` = 1-D convolution and max
pooling, ``"gru"`` = the last hidden state of a GRU) or a linear map of a precomputed image
vector. The parts are fused by concatenation and a small MLP, or by attention:

.. math::  a = \mathrm{softmax}_m\big(w^\top \tanh(W e_m)\big), \qquad z = \textstyle\sum_m a_m e_m

Two heads combine the towers: ``"two_tower"`` scores :math:`p_u^\top q_i + b_u + b_i + b`
(the biases are one more output of each tower, so they also come from the features) and
``"mlp"`` scores :math:`\mathrm{MLP}([p_u; q_i])`. Ratings are fitted with MSE through a
bounded sigmoid; ``objective="bce"`` is implicit feedback (observed pairs = 1, sampled
unobserved items = 0), never ratings.

During training the ID of each example is replaced by the unknown row with probability
``id_dropout``: the unknown row learns what to predict for a new user or item, and the towers
learn to lean on the features when the ID says nothing. That is what makes the model useful in
cold start (new users, new items), where the ID-only model can only predict averages.

References: P. Covington, J. Adams and E. Sargin, "Deep Neural Networks for YouTube
Recommendations", RecSys 2016; X. Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large
Corpus Item Recommendations" (two towers), RecSys 2019; M. Volkovs, G. Yu and T. Poutanen,
"DropoutNet: Addressing Cold Start in Recommender Systems", NeurIPS 2017.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from ...features import FeatureEncoder
from ...interactions import HeldOut, Interactions
from ...sampling import pair_keys
from ...validation import check_finite_number, check_positive_int, check_random_state, check_rate, check_ratings
from ..base import Recommender
from ..training import check_early_stopping, start_fit
from .training import fit_pairs, score_all_batched, train_model

__all__ = ["USER_FEATURES", "ITEM_FEATURES", "AttentionFusion", "ConcatFusion", "FeatureAware",
           "FeatureAwareNet", "TextEncoder"]

USER_FEATURES = ("user_id", "age", "gender", "occupation")
ITEM_FEATURES = ("item_id", "genres", "year", "title", "image")
_CATEGORICAL = ("age", "gender", "occupation", "year")


class TextEncoder(nn.Module):
    r"""Title tokens ``(batch, length)`` (0 = padding) to a vector ``(batch, dim)``.

    ``kind="bag"``: mean of the token embeddings; ``"cnn"``: a width-3 convolution, ReLU and max
    pooling over the positions; ``"gru"``: the GRU's hidden state after the last token. An empty
    title gives the zero vector.

    The convolution keeps its parameters in an ``nn.Conv1d`` (``conv.weight``: ``(d, d, 3)``) but is
    computed as windows times a matrix, :math:`h_t = W\,[x_{t-1}; x_t; x_{t+1}] + b` with
    ``Tensor.unfold`` and ``F.linear`` (zero padding at both ends, as ``padding=1``), the way lesson
    09's Caser computes its convolutions: ``nn.Conv1d`` itself runs oneDNN's kernels, whose rounding
    depends on the CPU beyond what the course's numeric profile pins. ``tests/test_features.py``
    checks the result against ``F.conv1d``.
    """

    def __init__(self, vocab_size: int, dim: int, kind: str = "bag"):
        super().__init__()
        if kind not in ("bag", "cnn", "gru"):
            raise ValueError(f"text_encoder must be 'bag', 'cnn' or 'gru', got {kind!r}")
        self.kind = kind
        self.emb = nn.Embedding(vocab_size, dim, padding_idx=0)
        nn.init.normal_(self.emb.weight, std=0.1)
        with torch.no_grad():
            self.emb.weight[0].zero_()
        if kind == "cnn":
            self.conv = nn.Conv1d(dim, dim, kernel_size=3, padding=1)
        elif kind == "gru":
            self.gru = nn.GRU(dim, dim, batch_first=True)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        uniq, inv = torch.unique(tokens, dim=0, return_inverse=True)  # encode each distinct title once
        return self._encode(uniq)[inv]

    def _encode(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = (tokens > 0).unsqueeze(-1).float()             # (B, L, 1)
        x = self.emb(tokens)                                   # (B, L, d)
        n = mask.sum(1)                                        # (B, 1)
        if self.kind == "bag":
            return (x * mask).sum(1) / n.clamp(min=1)
        if self.kind == "cnn":
            windows = nn.functional.pad(x, (0, 0, 1, 1)).unfold(1, 3, 1).flatten(2)  # (B, L, d * 3)
            h = torch.relu(nn.functional.linear(windows, self.conv.weight.flatten(1), self.conv.bias))  # (B, L, d)
            return (h * mask).max(1).values                    # padding contributes 0 (ReLU >= 0)
        out, _ = self.gru(x)                                   # (B, L, d); padding is at the end
        last = (n.long().squeeze(1) - 1).clamp(min=0)
        return out[torch.arange(len(tokens)), last] * (n > 0).float()


class ConcatFusion(nn.Module):
    """Concatenate the parts ``(batch, n_parts, dim)`` and map them with ``Linear -> ReLU -> Linear``."""

    def __init__(self, n_parts: int, dim: int, out_dim: int, hidden: int = 64):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(n_parts * dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        self.weights_ = None

    def forward(self, parts: torch.Tensor) -> torch.Tensor:
        return self.mlp(parts.flatten(1))


class AttentionFusion(nn.Module):
    r"""Attention over the parts: :math:`a = \mathrm{softmax}(w^\top\tanh(W e_m))`, then :math:`\sum_m a_m e_m`.

    The last weights are kept in ``weights_`` (``(batch, n_parts)``) to inspect what the model attends to.
    """

    def __init__(self, n_parts: int, dim: int, out_dim: int, hidden: int = 64):
        super().__init__()
        self.key = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False))
        self.out = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        self.weights_ = None

    def forward(self, parts: torch.Tensor) -> torch.Tensor:
        a = torch.softmax(self.key(parts).squeeze(-1), dim=1)   # (B, M)
        self.weights_ = a.detach()
        return self.out((a.unsqueeze(-1) * parts).sum(1))


class _Tower(nn.Module):
    def __init__(self, features, cards: dict, dim: int, out_dim: int, fusion: str, text: str, image_dim: int):
        super().__init__()
        self.features = tuple(features)
        self.parts = nn.ModuleDict()
        for f in self.features:
            if f in ("user_id", "item_id") or f in _CATEGORICAL:
                self.parts[f] = nn.Embedding(cards[f], dim)
                nn.init.normal_(self.parts[f].weight, std=0.1)
            elif f == "genres":
                self.parts[f] = nn.Linear(cards[f], dim)
            elif f == "title":
                self.parts[f] = TextEncoder(cards[f], dim, text)
            elif f == "image":
                self.parts[f] = nn.Linear(image_dim, dim)
        fuse = {"concat": ConcatFusion, "attention": AttentionFusion}.get(fusion)
        if fuse is None:
            raise ValueError(f"fusion must be 'concat' or 'attention', got {fusion!r}")
        self.fusion = fuse(len(self.features), dim, out_dim)

    def forward(self, batch: dict) -> torch.Tensor:
        return self.fusion(torch.stack([self.parts[f](batch[f]) for f in self.features], dim=1))


class FeatureTables(nn.Module):
    """A network that keeps its user and item feature tables as buffers ``u_<feature>`` / ``i_<feature>``
    (:class:`FeatureAwareNet`, :class:`~course_lib.models.torch_models.two_tower.TwoTowerNet`).

    ``_rows(side, rows)`` reads rows of a table (``side`` ``"u"`` or ``"i"``) as a dictionary of features; in
    training mode each row's ID is replaced by the unknown row 0 with probability ``id_dropout``.
    """

    def _register_tables(self, user_table: dict, item_table: dict, id_dropout: float) -> None:
        self.user_keys, self.item_keys, self.id_dropout = tuple(user_table), tuple(item_table), id_dropout
        for k, v in user_table.items():
            self.register_buffer(f"u_{k}", torch.as_tensor(np.array(v)))
        for k, v in item_table.items():
            self.register_buffer(f"i_{k}", torch.as_tensor(np.array(v)))

    def _rows(self, side: str, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        keys = self.user_keys if side == "u" else self.item_keys
        batch = {k: getattr(self, f"{side}_{k}")[rows] for k in keys}
        key = "user_id" if side == "u" else "item_id"
        if self.training and self.id_dropout > 0 and key in batch:
            drop = torch.rand(len(rows)) < self.id_dropout
            batch[key] = torch.where(drop, torch.zeros_like(batch[key]), batch[key])
        return batch


class FeatureAwareNet(FeatureTables):
    """Two towers over feature tables kept as buffers; ``forward(u, i)`` takes *row* indices of the tables.

    ``score(user_batch, item_batch)`` scores feature dictionaries directly (new users and items).
    """

    def __init__(self, user_table: dict, item_table: dict, user_features, item_features, cards: dict, *,
                 n_factors: int = 32, architecture: str = "two_tower", fusion: str = "concat",
                 text_encoder: str = "bag", image_dim: int = 0, hidden: int = 64, id_dropout: float = 0.1,
                 y_range=None, n_items: int | None = None):
        super().__init__()
        if architecture not in ("two_tower", "mlp"):
            raise ValueError(f"architecture must be 'two_tower' or 'mlp', got {architecture!r}")
        self.architecture, self.y_range = architecture, y_range
        self.n_items = n_items
        self._register_tables(user_table, item_table, id_dropout)
        out = n_factors + 1 if architecture == "two_tower" else n_factors
        self.user_tower = _Tower(user_features, cards, n_factors, out, fusion, text_encoder, image_dim)
        self.item_tower = _Tower(item_features, cards, n_factors, out, fusion, text_encoder, image_dim)
        if architecture == "two_tower":
            self.bias = nn.Parameter(torch.zeros(()))
        else:
            self.head = nn.Sequential(nn.Linear(2 * n_factors, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def score(self, user_batch: dict, item_batch: dict) -> torch.Tensor:
        p, q = self.user_tower(user_batch), self.item_tower(item_batch)
        if self.architecture == "two_tower":
            x = (p[:, :-1] * q[:, :-1]).sum(1) + p[:, -1] + q[:, -1] + self.bias
        else:
            x = self.head(torch.cat([p, q], dim=1)).squeeze(1)
        if self.y_range is None:
            return x
        low, high = self.y_range
        return torch.sigmoid(x) * (high - low) + low

    def forward(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        return self.score(self._rows("u", u), self._rows("i", i))

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        items = torch.arange(self.n_items)
        u = users.repeat_interleave(self.n_items)
        return self.forward(u, items.repeat(len(users))).reshape(len(users), self.n_items)


class FeatureAware(Recommender):
    r"""ID embeddings plus side features, two-tower or concatenation-MLP (see the module docstring).

    ``fit(ratings, users=ml.users, items=ml.movies, item_vectors=None)`` (the contract's side
    inputs, attached to ``data_``): the tables may hold users and items that have no training
    ratings (their features are known, their ratings are not); ``test(ratings, users=..., items=...)``
    predicts for ids unseen in training from their features (and the shared "unknown" ID row),
    whether they were in the tables at ``fit`` or are given now; ``score_items`` ranks for a new
    user from the features of the ``users`` table given to ``fit``.

    Parameters
    ----------
    features : the parts to use, among ``USER_FEATURES`` (``user_id, age, gender, occupation``)
        and ``ITEM_FEATURES`` (``item_id, genres, year, title, image``). ``("user_id", "item_id")``
        is the ID-only model. ``"image"`` needs ``item_vectors``.
    architecture : ``"two_tower"`` or ``"mlp"``.  fusion : ``"concat"`` or ``"attention"``.
    text_encoder : ``"bag"``, ``"cnn"`` or ``"gru"``.  n_factors : tower output dimension.
    id_dropout : probability of hiding an ID during training (trains the unknown row).
    objective : ``"mse"`` (ratings) or ``"bce"`` (implicit: positives and sampled negatives).
    n_epochs, batch_size, lr, weight_decay, n_negatives, early_stopping, validation_fraction,
    n_iter_no_change, progress, random_state : as in :class:`~course_lib.models.torch_models.DotProduct`.

    Attributes
    ----------
    net_ : the trained :class:`FeatureAwareNet`.  encoder_ : the :class:`~course_lib.features.FeatureEncoder`.
    history_, n_epochs_, best_epoch_ : losses per epoch.  user_rows_, item_rows_ : raw ids of the table
    rows (training ids first).  user_features_, item_features_ : the parts of each tower.
    """

    def __init__(self, features=("user_id", "age", "gender", "occupation", "item_id", "genres", "year", "title"),
                 architecture: str = "two_tower", fusion: str = "concat", text_encoder: str = "bag",
                 n_factors: int = 32, id_dropout: float = 0.1, objective: str = "mse", n_epochs: int = 20,
                 batch_size: int = 1024, lr: float = 3e-3, weight_decay: float = 0.0, n_negatives: int = 4,
                 early_stopping: bool = True, validation_fraction: float = 0.1, n_iter_no_change: int = 2,
                 progress: bool = False, random_state: int | None = 0):
        self.features = features
        self.architecture = architecture
        self.fusion = fusion
        self.text_encoder = text_encoder
        self.n_factors = n_factors
        self.id_dropout = id_dropout
        self.objective = objective
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.n_negatives = n_negatives
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    @property
    def predicts_ratings(self) -> bool:
        return self.objective == "mse"

    # -- encoding ------------------------------------------------------------------------
    def _side_arrays(self, side: str, raw_ids, table: pd.DataFrame | None, vectors: pd.DataFrame | None,
                     n_known: int) -> dict:
        """Feature arrays of ``raw_ids`` (id code = inner index + 1 for the first ``n_known`` rows)."""
        raw_ids = np.asarray(raw_ids)
        feats = self.user_features_ if side == "user" else self.item_features_
        out = {}
        key = f"{side}_id"
        if key in feats:
            inner = self.data_.encode_users(raw_ids) if side == "user" else self.data_.encode_items(raw_ids)
            out[key] = (inner + 1).astype(np.int64)
        wanted = [f for f in feats if f not in (key, "image")]
        if wanted:
            if table is None:
                raise ValueError(f"the features {wanted} need the {side} table (fit(..., {side}s=...))")
            id_col = f"{side}_id"
            t = table.drop_duplicates(id_col).set_index(id_col).reindex(raw_ids)
            known = t.index.isin(table[id_col]) if len(t) else np.zeros(0, bool)
            enc = (self.encoder_.encode_users if side == "user" else self.encoder_.encode_items)(t.reset_index())
            for f in wanted:
                v = enc[f]
                v = v * known.reshape((-1,) + (1,) * (v.ndim - 1)).astype(v.dtype)  # absent rows -> unknown
                out[f] = v
        if "image" in feats:
            if vectors is None:
                raise ValueError("the 'image' feature needs item_vectors (a DataFrame of vectors indexed by item_id)")
            out["image"] = np.array(vectors.reindex(raw_ids).fillna(0.0).to_numpy(dtype=np.float32))
        return out

    # -- fitting ---------------------------------------------------------------------------
    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        feats = tuple(self.features)
        unknown = set(feats) - set(USER_FEATURES) - set(ITEM_FEATURES)
        if unknown or not any(f in USER_FEATURES for f in feats) or not any(f in ITEM_FEATURES for f in feats):
            raise ValueError(f"features must name at least one user and one item feature among {USER_FEATURES} "
                             f"and {ITEM_FEATURES}, got {feats!r}")
        if self.objective not in ("mse", "bce"):
            raise ValueError(f"objective must be 'mse' (ratings) or 'bce' (implicit 0/1), got {self.objective!r}")
        check_positive_int(self.n_factors, "n_factors")
        check_positive_int(self.n_epochs, "n_epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_finite_number(self.lr, "lr", minimum=0, strict=True)
        check_rate(self.id_dropout, "id_dropout")
        check_early_stopping(self)  # before the tables are read: start_fit below returns the patience
        self.user_features_ = tuple(f for f in USER_FEATURES if f in feats)
        self.item_features_ = tuple(f for f in ITEM_FEATURES if f in feats)
        for side, wanted, table in (("user", self.user_features_, data.users), ("item", self.item_features_, data.items)):
            needs = [f for f in wanted if f not in (f"{side}_id", "image")]
            if needs and table is None:
                raise ValueError(f"the features {needs} need the {side} table: fit(train, {side}s=...) "
                                 f"(MovieLens's {'users' if side == 'user' else 'movies'} table)")
        if "image" in self.item_features_ and data.item_vectors is None:
            raise ValueError("the 'image' feature needs item vectors: fit(train, item_vectors=...) with a DataFrame "
                             "of vectors indexed by item_id")
        self.encoder_ = FeatureEncoder().fit(data.users, data.items)
        # table rows: training ids first (row = inner index), then ids that only have features
        extra_u = [] if data.users is None else np.setdiff1d(data.users["user_id"].unique(), data.user_ids)
        extra_i = [] if data.items is None else np.setdiff1d(data.items["item_id"].unique(), data.item_ids)
        self.user_rows_ = np.concatenate([data.user_ids, np.asarray(extra_u, dtype=data.user_ids.dtype)])
        self.item_rows_ = np.concatenate([data.item_ids, np.asarray(extra_i, dtype=data.item_ids.dtype)])
        patience, rng, idx, val = start_fit(self, data, validation)
        train_model(self, rng, fit_pairs, objective=self.objective, u=data.u[idx].astype(np.int64),
                    i=data.i[idx].astype(np.int64), y=data.r[idx], n_items=data.n_items,
                    seen_keys=pair_keys(data.u, data.i, data.n_items), validation=val, n_epochs=self.n_epochs,
                    batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                    n_negatives=check_positive_int(self.n_negatives, "n_negatives"), patience=patience,
                    progress=self.progress, rng=rng, desc=type(self).__name__)

    def build_network(self) -> "FeatureAwareNet":
        """The (untrained) network, from ``data_``, ``encoder_`` and the table rows (also used by ``load_model``)."""
        data = self.data_
        user_table = self._side_arrays("user", self.user_rows_, data.users, None, data.n_users)
        item_table = self._side_arrays("item", self.item_rows_, data.items, data.item_vectors, data.n_items)
        cards = dict(self.encoder_.cardinalities, user_id=data.n_users + 1, item_id=data.n_items + 1)
        image_dim = 0 if data.item_vectors is None else data.item_vectors.shape[1]
        low, high = data.rating_scale
        return FeatureAwareNet(
            user_table, item_table, self.user_features_, self.item_features_, cards, n_factors=self.n_factors,
            architecture=self.architecture, fusion=self.fusion, text_encoder=self.text_encoder,
            image_dim=image_dim, id_dropout=float(self.id_dropout), n_items=data.n_items,
            y_range=(low - 0.5, high + 0.5) if self.objective == "mse" else None)

    # -- prediction ------------------------------------------------------------------------
    def _batches(self, ratings: pd.DataFrame, users, items, item_vectors) -> tuple[dict, dict, np.ndarray]:
        known_users, known_items, known_vectors = self.data_.users, self.data_.items, self.data_.item_vectors
        users = known_users if users is None else pd.concat([users, known_users]) if known_users is not None else users
        items = known_items if items is None else pd.concat([items, known_items]) if known_items is not None else items
        vectors = known_vectors if item_vectors is None else item_vectors if known_vectors is None \
            else pd.concat([item_vectors, known_vectors[~known_vectors.index.isin(item_vectors.index)]])
        ru, ri = ratings["user_id"].to_numpy(), ratings["item_id"].to_numpy()
        ub = self._side_arrays("user", ru, users, None, self.data_.n_users)
        ib = self._side_arrays("item", ri, items, vectors, self.data_.n_items)

        def described(raw, table, col, inner):
            has = inner >= 0
            if table is not None:
                has |= np.isin(raw, table[col].to_numpy())
            return has
        impossible = ~(described(ru, users, "user_id", self.data_.encode_users(ru))
                       & described(ri, items, "item_id", self.data_.encode_items(ri)))
        return ub, ib, impossible

    @torch.no_grad()
    def _score_batches(self, ub: dict, ib: dict) -> np.ndarray:
        self.net_.eval()
        n = len(next(iter(ub.values())))
        out = np.zeros(n)
        for s in range(0, n, 65536):
            sl = slice(s, s + 65536)
            out[sl] = self.net_.score({k: torch.as_tensor(v[sl]) for k, v in ub.items()},
                                      {k: torch.as_tensor(v[sl]) for k, v in ib.items()}).double().numpy()
        return out

    def test(self, ratings: pd.DataFrame, *, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
             item_vectors: pd.DataFrame | None = None) -> pd.DataFrame:
        """Predict every row of ``ratings``; new ids are scored from their features.

        ``users`` / ``items`` / ``item_vectors`` add feature rows for ids unknown at ``fit``.
        ``was_impossible`` is True where a user or item has neither a training ID nor features:
        the estimate then comes from the learned "unknown" rows alone (it is not replaced).
        """
        self._check_fitted()
        check_ratings(ratings, name="test ratings", columns=("user_id", "item_id"), allow_duplicates=True)
        ub, ib, impossible = self._batches(ratings, users, items, item_vectors)
        est = self._apply_folded(ratings, ib, self._score_batches(ub, ib))
        if self.predicts_ratings:
            est = np.clip(est, *self.data_.rating_scale)
        out = ratings.copy()
        out["est"] = est
        out["was_impossible"] = impossible
        return out

    # -- folding in new users -------------------------------------------------------------
    @torch.no_grad()
    def _tower_outputs(self, side: str, raw_ids, table=None, vectors=None) -> np.ndarray:
        self.net_.eval()
        n = self.data_.n_users if side == "user" else self.data_.n_items
        arrays = self._side_arrays(side, raw_ids, table, vectors, n)
        tower = self.net_.user_tower if side == "user" else self.net_.item_tower
        return tower({k: torch.as_tensor(v) for k, v in arrays.items()}).double().numpy()

    def fold_in(self, ratings: pd.DataFrame, users: pd.DataFrame | None = None, reg: float = 10.0) -> "FeatureAware":
        r"""A copy of this two-tower model that also knows the users of ``ratings`` from those ratings.

        For each user of ``ratings`` whose ID was not trained, the user vector (factors and bias,
        :math:`\tilde p = [p; b_u]`) is the ridge solution shrunk towards the vector the tower gives
        from the features alone, :math:`\tilde p_0` (demographics and the "unknown" ID row):

        .. math::  \tilde p = \arg\min_{p} \sum_{i} \big(t_{ui} - [q_i; 1]^\top p\big)^2
           + \lambda \lVert p - \tilde p_0 \rVert^2
           = (\tilde Q^\top \tilde Q + \lambda I)^{-1} (\tilde Q^\top t + \lambda \tilde p_0)

        where :math:`t_{ui} = \mathrm{logit}\big((r_{ui} - \ell) / (h - \ell)\big) - b_i - b` is the rating
        moved back through the model's bounded sigmoid (:math:`\ell, h` its range) minus the item and global
        biases, and the rows of :math:`\tilde Q` are :math:`[q_i; 1]` for the user's rated (training) items.
        The networks are not retrained: it costs one small linear solve per user. ``reg`` is
        :math:`\lambda` (large: stay with the features; 0: plain least squares). The copy's ``test``
        uses :math:`\tilde p` for those users; everything else is unchanged. Needs
        ``architecture="two_tower"`` and ``objective="mse"``.
        """
        import copy

        self._check_fitted()
        if self.architecture != "two_tower" or self.objective != "mse":
            raise ValueError("fold_in needs architecture='two_tower' and objective='mse'")
        lam = check_finite_number(reg, "reg", minimum=0)
        check_ratings(ratings, name="fold-in ratings", allow_duplicates=True)
        ratings = ratings[self.data_.encode_users(ratings["user_id"].to_numpy()) < 0]
        ratings = ratings[self.data_.encode_items(ratings["item_id"].to_numpy()) >= 0]
        out = copy.deepcopy(self)
        folded = dict(getattr(self, "folded_", {}))
        if len(ratings):
            known_users = self.data_.users
            table = known_users if users is None else users if known_users is None else pd.concat([users, known_users])
            new_users = np.unique(ratings["user_id"].to_numpy())
            p0 = self._tower_outputs("user", new_users, table)
            items = np.unique(ratings["item_id"].to_numpy())
            q = self._tower_outputs("item", items, self.data_.items, self.data_.item_vectors)
            low, high = self.net_.y_range
            share = np.clip((ratings["rating"].to_numpy(dtype=float) - low) / (high - low), 1e-4, 1 - 1e-4)
            col = pd.Index(items).get_indexer(ratings["item_id"].to_numpy())
            target = np.log(share / (1 - share)) - q[col, -1] - float(self.net_.bias.detach())
            q_tilde = np.hstack([q[:, :-1], np.ones((len(items), 1))])
            user_col = pd.Index(new_users).get_indexer(ratings["user_id"].to_numpy())
            eye = np.eye(q_tilde.shape[1])
            for k, u in enumerate(new_users):
                rows = user_col == k
                qa, t = q_tilde[col[rows]], target[rows]
                folded[u] = np.linalg.solve(qa.T @ qa + lam * eye, qa.T @ t + lam * p0[k])
        out.folded_ = folded
        return out

    def _apply_folded(self, ratings: pd.DataFrame, ib: dict, est: np.ndarray) -> np.ndarray:
        folded = getattr(self, "folded_", None)
        if not folded:
            return est
        ru = ratings["user_id"].to_numpy()
        mask = pd.Index(list(folded)).get_indexer(ru) >= 0
        if not mask.any():
            return est
        with torch.no_grad():
            self.net_.eval()
            q = self.net_.item_tower({k: torch.as_tensor(v[mask]) for k, v in ib.items()}).double().numpy()
        p = np.stack([folded[u] for u in ru[mask]])
        x = (p[:, :-1] * q[:, :-1]).sum(1) + p[:, -1] + q[:, -1] + float(self.net_.bias.detach())
        low, high = self.net_.y_range
        est = est.copy()
        est[mask] = low + (high - low) / (1 + np.exp(-x))
        return est

    def _estimate(self, u, i):
        u, i = np.asarray(u, dtype=np.int64), np.asarray(i, dtype=np.int64)
        raw = pd.DataFrame({"user_id": self.data_.user_ids[np.maximum(u, 0)],
                            "item_id": self.data_.item_ids[np.maximum(i, 0)]})
        ub, ib, _ = self._batches(raw, None, None, None)
        return self._score_batches(ub, ib), (u < 0) | (i < 0)

    def _scores(self, users):
        return score_all_batched(self.net_, users, self.data_.n_items)

    def _fallback_scores(self, user_ids):
        """A new user is scored from the features the ``users`` table given to ``fit`` holds for them
        (and the "unknown" ID row); a user absent from it too gets the unknown rows alone."""
        pairs = pd.DataFrame({"user_id": np.repeat(np.asarray(user_ids), self.data_.n_items),
                              "item_id": np.tile(self.data_.item_ids, len(user_ids))})
        return self.test(pairs)["est"].to_numpy(dtype=float).reshape(len(user_ids), self.data_.n_items)

    # -- what the model learned ------------------------------------------------------------
    def permutation_importance(self, ratings: pd.DataFrame, users=None, items=None, item_vectors=None,
                               random_state: int = 0) -> pd.Series:
        """RMSE increase when one feature is shuffled across the rows of ``ratings`` (one value per feature).

        A large increase means the predictions rely on that feature; about zero means it is ignored.
        """
        self._check_fitted()
        ub, ib, _ = self._batches(ratings, users, items, item_vectors)
        y = ratings["rating"].to_numpy(dtype=float)
        lo, hi = self.data_.rating_scale

        def rmse(u_, i_):
            return float(np.sqrt(np.mean((np.clip(self._score_batches(u_, i_), lo, hi) - y) ** 2)))
        base = rmse(ub, ib)
        perm = check_random_state(random_state).permutation(len(ratings))
        out = {}
        for f in self.user_features_ + self.item_features_:
            u2, i2 = dict(ub), dict(ib)
            side = u2 if f in ub else i2
            side[f] = side[f][perm]
            out[f] = rmse(u2, i2) - base
        return pd.Series(out, name="rmse_increase")

    def attention_weights(self, side: str = "item") -> pd.Series:
        """Mean attention weight of each part over the training rows of ``side`` (``fusion="attention"``)."""
        self._check_fitted()
        if self.fusion != "attention":
            raise ValueError("attention_weights needs fusion='attention'")
        n = self.data_.n_items if side == "item" else self.data_.n_users
        tower = self.net_.item_tower if side == "item" else self.net_.user_tower
        self.net_.eval()
        with torch.no_grad():
            tower(self.net_._rows(side[0], torch.arange(n)))
        names = self.item_features_ if side == "item" else self.user_features_
        return pd.Series(tower.fusion.weights_.mean(0).double().numpy(), index=list(names), name="attention")
