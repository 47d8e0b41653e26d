r"""Two-tower retrieval in PyTorch: user and item towers over IDs and side features, trained with the
in-batch sampled softmax and the logQ correction (the formulas: :mod:`course_lib.retrieval`).

Each tower embeds its inputs (ID with a shared "unknown" row 0, categorical codes, the genre
multi-hot through a linear map), each to :math:`d` numbers, concatenates them and maps them with
``Linear -> ReLU -> Linear`` to the tower's vector:

.. math::

    p_u = W_2\,\mathrm{ReLU}\big(W_1 [e^{id}_u; e^{age}_u; e^{gender}_u; e^{occ}_u] + c_1\big) + c_2
    \in \mathbb{R}^{d}, \qquad q_i = \text{the same with the item's inputs}, \qquad
    s(u, i) = p_u^\top q_i .

Shapes for a batch of :math:`B` training pairs: user inputs ``(B,)`` each → :math:`P` ``(B, d)``;
item inputs → :math:`Q` ``(B, d)``; logits :math:`P Q^\top` ``(B, B)``, corrected by
:math:`-\log Q(i_c)` per column, accidental hits masked; cross-entropy with the diagonal as labels.

References: X. Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large Corpus Item
Recommendations", RecSys 2019; P. Covington, J. Adams and E. Sargin, "Deep Neural Networks for
YouTube Recommendations", RecSys 2016; TensorFlow Recommenders' retrieval task.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...interactions import HeldOut, Interactions
from ...retrieval import sampling_probability, tower_cardinalities, tower_inputs
from ..towers import TwoTowerModel
from .features import ConcatFusion, FeatureTables
from .training import train_model

__all__ = ["Tower", "TwoTower", "TwoTowerNet", "in_batch_softmax_loss"]


def in_batch_softmax_loss(p: torch.Tensor, q: torch.Tensor, item_ids: torch.Tensor, log_q: torch.Tensor | None = None,
                          *, remove_accidental_hits: bool = True, temperature: float = 1.0) -> torch.Tensor:
    r"""The in-batch sampled softmax loss with the logQ correction, in PyTorch (differentiable).

    ``p``, ``q``: ``(B, d)`` user and item vectors of ``B`` positive pairs; ``item_ids``: ``(B,)``;
    ``log_q``: :math:`\log Q(i_c)` of each column ``(B,)`` or ``None``. The logits
    :math:`P Q^\top / \tau - \log Q` ``(B, B)``, accidental hits set to ``-inf``, then
    ``F.cross_entropy`` with labels ``0..B-1``. Equal to :func:`course_lib.retrieval.in_batch_softmax_loss`.
    """
    logits = p @ q.T / temperature
    if log_q is not None:
        logits = logits - log_q[None, :]
    if remove_accidental_hits:
        hit = (item_ids[:, None] == item_ids[None, :]) & ~torch.eye(len(item_ids), dtype=torch.bool)
        logits = logits.masked_fill(hit, float("-inf"))
    return F.cross_entropy(logits, torch.arange(len(item_ids)))


class Tower(nn.Module):
    """One tower: an embedding (or a linear map, for ``genres``) per input, concatenated, then an MLP.

    ``forward(batch)`` takes ``{feature: tensor}`` (codes ``(B,)``; genres ``(B, n_genres)``) and
    returns ``(B, n_factors)``.
    """

    def __init__(self, features, cards: dict[str, int], n_factors: int, hidden: int):
        super().__init__()
        self.features = tuple(features)
        self.parts = nn.ModuleDict()
        for f in self.features:
            if f == "genres":
                self.parts[f] = nn.Linear(cards[f], n_factors, bias=False)
            else:
                self.parts[f] = nn.Embedding(cards[f], n_factors)
                nn.init.normal_(self.parts[f].weight, std=0.1)
        self.fusion = ConcatFusion(len(self.features), n_factors, n_factors, hidden)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.fusion(torch.stack([self.parts[f](batch[f]) for f in self.features], dim=1))


class TwoTowerNet(FeatureTables):
    """The two towers, with the training users' and items' inputs kept as buffers (row = inner index).

    ``user_vectors(rows)`` / ``item_vectors(rows)``: ``(len(rows), d)``; ``forward(u, i)``: scores
    ``(B,)``; ``score_all(users)``: ``(len(users), n_items)``. In training mode an ID is replaced by
    the unknown row 0 with probability ``id_dropout`` (so the unknown row learns to serve new ids).
    """

    def __init__(self, user_table: dict, item_table: dict, user_features, item_features, cards: dict, *,
                 n_factors: int = 32, hidden: int = 64, id_dropout: float = 0.1):
        super().__init__()
        self._register_tables(user_table, item_table, id_dropout)
        self.n_items = len(next(iter(item_table.values())))
        self.user_tower = Tower(user_features, cards, n_factors, hidden)
        self.item_tower = Tower(item_features, cards, n_factors, hidden)

    def user_vectors(self, rows: torch.Tensor) -> torch.Tensor:
        return self.user_tower(self._rows("u", rows))

    def item_vectors(self, rows: torch.Tensor) -> torch.Tensor:
        return self.item_tower(self._rows("i", rows))

    def forward(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        return (self.user_vectors(u) * self.item_vectors(i)).sum(1)

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        return self.user_vectors(users) @ self.item_vectors(torch.arange(self.n_items)).T


class TwoTower(TwoTowerModel):
    r"""Two-tower retrieval model with side features, in-batch sampled softmax and the logQ correction.

    ``fit(ratings, users=ml.users, items=ml.movies)``: every training pair is a positive (implicit
    feedback; the rating value is ignored). Each step takes ``batch_size`` shuffled pairs and
    minimises the in-batch softmax of :mod:`course_lib.retrieval` with the correction
    :math:`-\log Q(j)`, :math:`Q(j) = n_j / N`, when ``logq_correction`` (the training share of item
    :math:`j`: how often it fills a batch slot). Scores are :math:`s(u, i) = p_u^\top q_i`, never
    corrected: :meth:`item_vectors` go into an ANN index (:mod:`course_lib.ann`), :meth:`user_vectors`
    are the queries.

    Early stopping watches the **full** softmax cross-entropy of the held-out pairs over all
    items, :math:`-\frac{1}{|V|}\sum_{(u,i) \in V} \log\big(e^{s_{ui}} / \sum_j e^{s_{uj}}\big)`: the
    loss the sampled one stands in for, comparable with and without the correction.

    Unknown users: a user in the ``users`` table (given to ``fit``, or to :meth:`user_vectors`) is
    scored from their features and the "unknown" ID row; a user with neither training pairs nor
    features gets the popularity ranking in ``score_items`` / ``top_n`` (the contract's fallback), and
    :meth:`user_vectors` raises :class:`~course_lib.interactions.UnknownIdError` for them.

    Parameters
    ----------
    features : inputs of the towers, among ``USER_FEATURES`` (``user_id, age, gender, occupation``) and
        ``ITEM_FEATURES`` (``item_id, genres, year``) of :mod:`course_lib.retrieval`; ``("user_id",
        "item_id")`` is the ID-only two-tower model.
    n_factors : :math:`d`, the output size of both towers (and of each input's embedding).
    hidden : width of each tower's hidden layer.
    logq_correction : subtract :math:`\log Q(j)` from the training logits.
    remove_accidental_hits : mask in-batch columns holding the row's own positive item.
    temperature : :math:`\tau` dividing the logits (training only).
    id_dropout : probability of replacing an ID by the unknown row during training.
    n_epochs, batch_size, lr, weight_decay, early_stopping, validation_fraction, n_iter_no_change,
    progress, random_state : as in :class:`~course_lib.models.torch_models.DotProduct`
    (``batch_size`` is also the number of in-batch candidates per row).

    Attributes
    ----------
    net_ : the trained :class:`TwoTowerNet`.  encoder_ : the :class:`~course_lib.features.FeatureEncoder`.
    user_features_, item_features_ : the inputs of each tower.
    sampling_probability_ : :math:`Q(j)` of each training item, shape ``(n_items,)``.
    history_, n_epochs_, best_epoch_ : losses per epoch (``train_loss`` sampled, ``val_loss`` full softmax).
    """

    # -- fitting ---------------------------------------------------------------------------
    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        patience, rng = self._start_fit(data)
        u, i, val = self._training_pairs(data, validation, patience, rng)
        self.sampling_probability_ = sampling_probability(i, data.n_items)
        log_q = torch.as_tensor(np.log(np.maximum(self.sampling_probability_, 1e-12)), dtype=torch.float32)
        batch_size, tau = int(self.batch_size), float(self.temperature)
        correct, mask = bool(self.logq_correction), bool(self.remove_accidental_hits)

        def epoch_batches():
            order = rng.permutation(len(u))
            for start in range(0, len(order) - 1, batch_size):  # a lone last pair has no negative
                rows = order[start:start + batch_size]
                if len(rows) > 1:
                    yield {"u": torch.as_tensor(u[rows]), "i": torch.as_tensor(i[rows])}

        def loss(net, batch):
            p, q = net.user_vectors(batch["u"]), net.item_vectors(batch["i"])
            value = in_batch_softmax_loss(p, q, batch["i"], log_q[batch["i"]] if correct else None,
                                          remove_accidental_hits=mask, temperature=tau)
            return value, 0.0, len(batch["u"])

        val_loss = None
        if val is not None and len(val[0]):
            vu, vi = (torch.as_tensor(a) for a in val)

            def val_loss(net):
                Q = net.item_vectors(torch.arange(data.n_items))
                total = 0.0
                for s in range(0, len(vu), 4096):
                    logits = net.user_vectors(vu[s:s + 4096]) @ Q.T
                    total += float(F.cross_entropy(logits, vi[s:s + 4096], reduction="sum"))
                return total / len(vu)
        elif patience is not None:
            raise ValueError("early stopping needs validation pairs: the validation set holds no known user and item")

        train_model(self, rng, epoch_batches=epoch_batches, loss=loss, val_loss=val_loss, n_epochs=self.n_epochs,
                    lr=self.lr, weight_decay=self.weight_decay, patience=patience, progress=self.progress,
                    desc=type(self).__name__)

    def build_network(self) -> TwoTowerNet:
        """The (untrained) network for ``data_`` and ``encoder_`` (also how ``load_model`` rebuilds it)."""
        data = self.data_
        user_table = tower_inputs("user", data.user_ids, data, self.encoder_, self.user_features_)
        item_table = tower_inputs("item", data.item_ids, data, self.encoder_, self.item_features_)
        return TwoTowerNet(user_table, item_table, self.user_features_, self.item_features_,
                           tower_cardinalities(data, self.encoder_), n_factors=int(self.n_factors),
                           hidden=int(self.hidden), id_dropout=float(self.id_dropout))

    # -- vectors -----------------------------------------------------------------------------
    @torch.no_grad()
    def _tower(self, side: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
        self.net_.eval()
        tower = self.net_.user_tower if side == "user" else self.net_.item_tower
        n = len(next(iter(inputs.values())))
        out = np.empty((n, int(self.n_factors)), dtype=np.float32)
        for s in range(0, n, 65536):
            out[s:s + 65536] = tower({k: torch.as_tensor(v[s:s + 65536]) for k, v in inputs.items()}).numpy()
        return out
