r"""Self-attention for next-item prediction (lesson 10): SASRec and BERT4Rec.

Both read a user's time-ordered history as item ids **shifted by one** (``0`` = padding, see
:mod:`course_lib.sequences`), left-padded to ``max_len`` positions, and build on the layers of
:mod:`course_lib.nn_numpy` (attention, layer norm, learned positions, the transformer block),
here as ``torch.nn.TransformerEncoderLayer``. With :math:`E \in \mathbb{R}^{(|I|+1) \times d}`
the item embeddings (row 0 = padding) and :math:`P \in \mathbb{R}^{T \times d}` the learned
positions, a sequence :math:`i_1, \dots, i_T` enters as

.. math::  H^{(0)}_t = E_{i_t} \sqrt{d} + P_t \quad\text{(SASRec)}, \qquad
           H^{(0)}_t = \mathrm{LN}(E_{i_t} + P_t) \quad\text{(BERT4Rec)},

goes through ``n_blocks`` transformer blocks whose attention is

.. math::  \mathrm{softmax}\Big(\frac{Q K^\top}{\sqrt{d_k}} + M\Big) V, \qquad
           M_{ts} = \begin{cases} 0 & \text{query } t \text{ may attend key } s \\ -\infty & \text{otherwise} \end{cases}

and scores every item :math:`j` at position :math:`t` by a dot product with the **same** item
embeddings (shared input and output embeddings): :math:`z_{tj} = F_t^\top E_j` (SASRec) or
:math:`z_{tj} = F_t^\top E_j + b_j` (BERT4Rec), :math:`F_t` the position's final vector.

**SASRec** (Kang and McAuley 2018) is *causal*: query :math:`t` sees keys :math:`s \le t`, so every
position predicts the *next* item from the past only, and the last position scores the item to
recommend. Blocks are pre-LN (:math:`x + g(\mathrm{LN}(x))`, LayerNorm :math:`\varepsilon = 10^{-8}`,
feed-forward width :math:`d`), padded positions are zeroed after every block, and a final LayerNorm
gives :math:`F`. Trained here with the softmax cross-entropy over all items of lesson 09 (the paper
uses one sampled negative per position and a binary loss; the full softmax is cheap for 1,682 items
and markedly stronger, Klenitskiy and Vasilev 2023).

**BERT4Rec** (Sun et al. 2019) is *bidirectional*: every position sees every real position. It is
trained as a cloze task: each epoch, a share ``mask_prob`` of the items of every training sequence is
replaced by a ``[mask]`` token (id :math:`|I| + 1`) and predicted from both sides; to recommend, a
``[mask]`` is appended after the history and its scores are read. Blocks are post-LN
(:math:`\mathrm{LN}(x + g(x))`) with GELU and feed-forward width :math:`4d`; the output head is
:math:`F_t = \mathrm{LN}(\mathrm{GELU}(W H_t + c))`.

Masks use the course's convention, ``True`` = may attend (:func:`attention_mask`); PyTorch's modules
take the opposite, which :meth:`SASRecNet.torch_mask` builds. A padded query attends to itself only,
so no row of the attention is empty (PyTorch would return NaN there) and no real position ever sees
a padded one.

References
----------
W.-C. Kang and J. McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018.
F. Sun et al., "BERT4Rec: Sequential Recommendation with Bidirectional Encoder Representations from
Transformer", CIKM 2019.
A. Klenitskiy and A. Vasilev, "Turning Dross Into Gold Loss: is BERT4Rec really better than SASRec?",
RecSys 2023.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...interactions import HeldOut, Interactions
from ...sequences import next_item_chunks, pad_left, user_histories
from ...validation import check_finite_number, check_positive_int, check_random_state, check_rate
from ..training import check_early_stopping
from .sequence import NextItemModel
from .training import train_model

__all__ = ["BERT4Rec", "BERT4RecNet", "SASRec", "SASRecNet", "attention_mask", "cloze_mask"]


def attention_mask(x: torch.Tensor, causal: bool) -> torch.Tensor:
    r"""Boolean ``(batch, T, T)``: ``True`` where query :math:`t` may attend key :math:`s`.

    ``x`` holds shifted item ids ``(batch, T)`` (0 = padding). A real query attends the real keys
    (:math:`s \le t` when ``causal``); a padded query attends itself only, so every row allows at
    least one key. The convention of :mod:`course_lib.nn_numpy` and Keras, the opposite of
    ``torch.nn.MultiheadAttention``'s ``attn_mask``.
    """
    if x.dim() != 2:
        raise ValueError(f"x must hold shifted item ids of shape (batch, T), got shape {tuple(x.shape)}")
    T = x.shape[1]
    allowed = (x > 0).unsqueeze(1) | torch.eye(T, dtype=torch.bool)
    if causal:
        allowed = allowed & torch.ones(T, T, dtype=torch.bool).tril()
    return allowed


def _check_width(n_factors: int, n_heads: int) -> tuple[int, int]:
    d = check_positive_int(n_factors, "n_factors")
    h = check_positive_int(n_heads, "n_heads")
    if d % h:
        raise ValueError(f"n_factors = {d} must be divisible by n_heads = {h}: each head gets d / h dimensions "
                         "(choose e.g. n_heads=1 or 2 with n_factors=64)")
    return d, h


class _AttentionNet(nn.Module):
    """Shared parts: item and position embeddings, the block stack, masks and attention weights."""

    causal: bool = True

    def embed(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """The input of the first block, ``(batch, T, n_factors)``."""
        raise NotImplementedError

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] > self.max_len:
            raise ValueError(f"x must hold shifted item ids of shape (batch, T) with T <= max_len = {self.max_len}, "
                             f"got shape {tuple(x.shape)}: keep the last max_len items (course_lib.sequences.pad_left)")

    def torch_mask(self, x: torch.Tensor) -> torch.Tensor:
        """PyTorch's ``attn_mask`` for ``x``: ``~attention_mask`` repeated per head, ``(batch * n_heads, T, T)``."""
        return (~attention_mask(x, self.causal)).repeat_interleave(self.n_heads, dim=0)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The final vector :math:`F_t` of every position, ``(batch, T, n_factors)``."""
        self._check_input(x)
        valid = (x > 0).unsqueeze(-1)
        mask = self.torch_mask(x)
        h = self.embed(x)
        for block in self.blocks:
            h = block(h, src_mask=mask)
            if self.causal:
                h = h * valid
        return self._finish(h)

    def _finish(self, h: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every item at every position, ``(batch, T, n_items)``."""
        return self.logits(self.hidden(x))

    def last(self, x: torch.Tensor, user: torch.Tensor | None = None) -> torch.Tensor:
        """Logits at the last position, ``(batch, n_items)`` (``user`` is ignored: the sequence is the user)."""
        return self.logits(self.hidden(x)[:, -1])

    @torch.no_grad()
    def attention_weights(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The attention weights of every block, each ``(batch, n_heads, T, T)`` (eval mode, no dropout).

        Row :math:`t` of block :math:`b` says how much position :math:`t` takes from each position
        :math:`s`; rows sum to 1, masked keys get 0.
        """
        was_training = self.training
        self.eval()
        try:
            self._check_input(x)
            valid = (x > 0).unsqueeze(-1)
            mask = self.torch_mask(x)
            h, out = self.embed(x), []
            for block in self.blocks:
                z = block.norm1(h) if block.norm_first else h
                _, weights = block.self_attn(z, z, z, attn_mask=mask, need_weights=True, average_attn_weights=False)
                out.append(weights)
                h = block(h, src_mask=mask)
                if self.causal:
                    h = h * valid
            return out
        finally:
            self.train(was_training)


class SASRecNet(_AttentionNet):
    r"""SASRec: causal self-attention over the last ``max_len`` items (module docstring).

    Parts: ``item_emb`` :math:`E` ``(n_items + 1, d)`` (row 0 = padding, also the output layer),
    ``pos_emb`` :math:`P` ``(max_len, d)``, ``blocks`` (``n_blocks`` pre-LN
    ``nn.TransformerEncoderLayer`` with ReLU, width :math:`d`, LayerNorm :math:`\varepsilon = 10^{-8}`),
    ``last_norm``. ``forward(x)`` returns the logits after every position ``(batch, T, n_items)``:
    position :math:`t` scores the item that follows :math:`i_t`.
    """

    causal = True

    def __init__(self, n_items: int, max_len: int = 50, n_factors: int = 64, n_blocks: int = 2, n_heads: int = 1,
                 dropout: float = 0.2):
        super().__init__()
        d, h = _check_width(n_factors, n_heads)
        self.n_items, self.max_len, self.n_heads = n_items, check_positive_int(max_len, "max_len"), h
        self.item_emb = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.pos_emb = nn.Embedding(self.max_len, d)
        nn.init.normal_(self.item_emb.weight[1:], 0.0, 1.0 / math.sqrt(d))
        nn.init.normal_(self.pos_emb.weight, 0.0, 1.0 / math.sqrt(d))
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(d, h, dim_feedforward=d, dropout=dropout, activation="relu",
                                       layer_norm_eps=1e-8, batch_first=True, norm_first=True)
            for _ in range(check_positive_int(n_blocks, "n_blocks")))
        self.last_norm = nn.LayerNorm(d, eps=1e-8)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`H^{(0)} = E_{x} \sqrt{d} + P` (dropout in training), zero at padded positions: ``(batch, T, d)``."""
        d = self.item_emb.embedding_dim
        h = self.item_emb(x) * math.sqrt(d) + self.pos_emb.weight[: x.shape[1]]
        return self.dropout(h) * (x > 0).unsqueeze(-1)

    def _finish(self, h: torch.Tensor) -> torch.Tensor:
        return self.last_norm(h)

    def logits(self, f: torch.Tensor) -> torch.Tensor:
        """:math:`z = F E_{1:}^\\top`: one logit per item from final vectors ``(..., d)``, ``(..., n_items)``."""
        return f @ self.item_emb.weight[1:].T


class BERT4RecNet(_AttentionNet):
    r"""BERT4Rec: bidirectional self-attention, a ``[mask]`` token, a GELU + LayerNorm output head.

    Parts: ``item_emb`` ``(n_items + 2, d)`` (row 0 = padding, rows 1..n_items the items, row
    ``n_items + 1`` = ``[mask]``; rows 1..n_items are also the output layer), ``pos_emb`` ``(max_len, d)``,
    ``emb_norm``, ``blocks`` (post-LN ``nn.TransformerEncoderLayer`` with GELU, width :math:`4d`),
    ``head`` and ``head_norm`` (:math:`F = \mathrm{LN}(\mathrm{GELU}(W H + c))`), ``out_bias`` :math:`b`.
    """

    causal = False

    def __init__(self, n_items: int, max_len: int = 100, n_factors: int = 64, n_blocks: int = 2, n_heads: int = 2,
                 dropout: float = 0.2):
        super().__init__()
        d, h = _check_width(n_factors, n_heads)
        self.n_items, self.max_len, self.n_heads = n_items, check_positive_int(max_len, "max_len"), h
        self.mask_id = n_items + 1
        self.item_emb = nn.Embedding(n_items + 2, d, padding_idx=0)
        self.pos_emb = nn.Embedding(self.max_len, d)
        self.emb_norm = nn.LayerNorm(d, eps=1e-12)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(d, h, dim_feedforward=4 * d, dropout=dropout, activation="gelu",
                                       layer_norm_eps=1e-12, batch_first=True, norm_first=False)
            for _ in range(check_positive_int(n_blocks, "n_blocks")))
        self.head = nn.Linear(d, d)
        self.head_norm = nn.LayerNorm(d, eps=1e-12)
        self.out_bias = nn.Parameter(torch.zeros(n_items))
        for p in self.parameters():  # BERT's initialisation: truncated normal (std 0.02) weights, zero biases
            if p.dim() > 1:
                nn.init.trunc_normal_(p, std=0.02, a=-0.04, b=0.04)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`H^{(0)} = \mathrm{LN}(E_{x} + P)` (dropout in training): ``(batch, T, d)``."""
        return self.dropout(self.emb_norm(self.item_emb(x) + self.pos_emb.weight[: x.shape[1]]))

    def _finish(self, h: torch.Tensor) -> torch.Tensor:
        return self.head_norm(F.gelu(self.head(h)))

    def logits(self, f: torch.Tensor) -> torch.Tensor:
        """:math:`z = F E_{1:|I|}^\\top + b`, ``(..., n_items)``."""
        return f @ self.item_emb.weight[1:self.n_items + 1].T + self.out_bias


def cloze_mask(x: np.ndarray, mask_prob: float, mask_id: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""BERT4Rec's training inputs: hide :math:`\max(1, \mathrm{round}(\rho\, n))` of the :math:`n` items of each row.

    ``x`` holds shifted ids ``(batch, T)`` (0 = padding); the hidden positions are drawn uniformly
    among the real ones. Returns ``(x_masked, y)``: ``x`` with the hidden items replaced by
    ``mask_id``, and the targets ``y`` (inner item indices at hidden positions, ``-1`` elsewhere),
    as in the reference code (``gen_data_fin.py``, ``mask_prob=1.0``: always the ``[mask]`` token).
    """
    x = np.asarray(x, dtype=np.int64)
    if x.ndim != 2:
        raise ValueError(f"x must hold shifted item ids of shape (batch, T), got shape {x.shape}")
    if isinstance(mask_prob, bool) or not 0 < mask_prob <= 1:
        raise ValueError(f"mask_prob is the share of each sequence's items hidden, in (0, 1]; got {mask_prob!r}")
    real = x > 0
    n_hide = np.maximum(1, np.round(mask_prob * real.sum(axis=1))).astype(np.int64)
    keys = np.where(real, rng.random(x.shape), np.inf)
    rank = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
    hide = (rank < n_hide[:, None]) & real
    return np.where(hide, mask_id, x), np.where(hide, x - 1, -1)


class _AttentionRecommender(NextItemModel):
    """Fitting and scoring shared by SASRec and BERT4Rec (the recipe of lesson 09's sequence models).

    Validation: with ``early_stopping``, the last training item of a share ``validation_fraction`` of
    the users (those with at least three items) is held out, and its cross-entropy (the items of the
    user's remaining history left out of the softmax when ``mask_seen``) is the validation loss;
    ``fit(train, validation=next_items)`` uses given next items instead. The model then reads the
    user's whole training history to recommend, held-out item included.
    """

    # -- hooks --------------------------------------------------------------------------
    def _network(self, n_items: int) -> _AttentionNet:  # pragma: no cover - abstract
        raise NotImplementedError

    def _queries(self, histories, length: int) -> np.ndarray:  # pragma: no cover - abstract
        """What the network reads to score the next item of each history, ``(len(histories), length)``."""
        raise NotImplementedError

    def _examples(self, histories, length: int):  # pragma: no cover - abstract
        """The training sequences, prepared once."""
        raise NotImplementedError

    def _epoch(self, examples, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One epoch's ``(x, y, user)``: inputs, targets (``-1`` = no loss) and each row's user."""
        raise NotImplementedError  # pragma: no cover - abstract

    def build_network(self) -> _AttentionNet:
        """The (untrained) network for ``data_`` (also used by ``load_model``)."""
        return self._network(self.data_.n_items)

    # -- fitting ------------------------------------------------------------------------
    def _check_training(self) -> dict:
        length = check_positive_int(self.max_len, "max_len", minimum=self._min_len)
        check_rate(self.dropout, "dropout")
        if not isinstance(self.mask_seen, (bool, np.bool_)):
            raise TypeError(f"mask_seen must be True or False, got {self.mask_seen!r}")
        _check_width(self.n_factors, self.n_heads)
        check_positive_int(self.n_blocks, "n_blocks")
        return {"length": length, "n_epochs": check_positive_int(self.n_epochs, "n_epochs"),
                "batch_size": check_positive_int(self.batch_size, "batch_size"),
                "lr": check_finite_number(self.lr, "lr", minimum=0, strict=True),
                "weight_decay": check_finite_number(self.weight_decay, "weight_decay", minimum=0),
                "patience": check_early_stopping(self)}

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        p = self._check_training()
        length, n_items = p["length"], data.n_items
        rng = check_random_state(self.random_state)
        histories = user_histories(data)
        self.inputs_ = self._queries(histories, length)
        histories, val_users, val_targets = self._validation_split(histories, validation, p["patience"], rng)
        mask_seen = bool(self.mask_seen)
        # order[u, j]: the position of item j in user u's training history (n = not rated): item j is
        # "already seen" at a position that reads history item k when order[u, j] <= k
        order = np.full((data.n_users, n_items), np.iinfo(np.int64).max, dtype=np.int64)
        for u, h in enumerate(histories):
            order[u, h] = np.arange(len(h))
        order = torch.as_tensor(order)
        val = None
        if val_users is not None and len(val_users):
            seen = np.zeros((len(val_users), n_items), dtype=bool)  # the validation item is never among them
            for row, u in enumerate(val_users):
                seen[row, histories[u]] = True
            val = (torch.as_tensor(self._queries([histories[u] for u in val_users], length)),
                   torch.as_tensor(val_targets), torch.as_tensor(seen) if mask_seen else None)

        examples = self._examples(histories, length)

        def epoch_batches():
            x, y, users = (torch.as_tensor(a) for a in self._epoch(examples, rng))
            shuffled = torch.as_tensor(rng.permutation(len(x)))
            for start in range(0, len(shuffled), p["batch_size"]):
                b = shuffled[start:start + p["batch_size"]]
                yield {"x": x[b], "y": y[b], "user": users[b]}

        def loss(net, batch):
            x, y, users = batch["x"], batch["y"], batch["user"]
            keep = y >= 0  # the output layer only where there is a target
            logits = net.logits(net.hidden(x)[keep])
            if mask_seen:
                logits = logits.masked_fill(self._seen(x, users, order, keep), -1e9)
            return F.cross_entropy(logits, y[keep]), 0.0, int(keep.sum())

        def val_loss(net):
            logits = net.last(val[0])
            if val[2] is not None:
                logits = logits.masked_fill(val[2], -1e9)
            return F.cross_entropy(logits, val[1])

        train_model(self, rng, epoch_batches=epoch_batches, loss=loss, val_loss=None if val is None else val_loss,
                    n_epochs=p["n_epochs"], lr=p["lr"], weight_decay=p["weight_decay"],
                    patience=p["patience"] if val is not None else None, progress=self.progress,
                    desc=type(self).__name__)

    def _seen(self, x: torch.Tensor, users: torch.Tensor, order: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``(n_kept, n_items)`` bool: the items left out of the softmax at each kept position."""
        raise NotImplementedError  # pragma: no cover - abstract


class SASRec(_AttentionRecommender):
    r"""SASRec: causal self-attention, learned positions, shared item embeddings, softmax over all items.

    .. math::  P(i_{t+1} = j \mid i_{1..t}) = \mathrm{softmax}_j\big(F_t^\top E_j\big), \qquad
               F = \mathrm{LN}\big(\mathrm{Block}^{(L)} \circ \dots \circ \mathrm{Block}^{(1)}(E_{i} \sqrt{d} + P)\big)

    with causal attention (position :math:`t` sees :math:`1..t`); see :class:`SASRecNet` and the
    module docstring. Each history is cut from its end into chunks of ``max_len + 1`` items
    (:func:`course_lib.sequences.next_item_chunks`), and every position of a chunk predicts its next
    item, as GRU4Rec does in lesson 09; the loss is the cross-entropy over all items, with
    ``mask_seen`` leaving out of each position's softmax the items the user rated up to that
    position. To recommend, the model reads the user's last ``max_len`` items and scores every item
    at the last position.

    Parameters
    ----------
    max_len : :math:`T`, the most recent items read (and the rows of the position table).
    n_factors : :math:`d`, the width of the embeddings and of every block.
    n_blocks : the number of transformer blocks.  n_heads : attention heads (``n_factors`` divisible by it).
    n_epochs : the most epochs.  batch_size : chunks per step.  lr : Adam's step size.
    weight_decay : Adam's L2 penalty.  dropout : on the embeddings, the attention weights and in the blocks.
    mask_seen : leave the items already rated out of the training softmax and of the validation loss.
    early_stopping, validation_fraction, n_iter_no_change : see :class:`_AttentionRecommender`.
    progress : a progress bar.  random_state : seed of the weights, the shuffling, dropout and validation users.

    Attributes
    ----------
    net_ : the trained :class:`SASRecNet`.  history_, n_epochs_, best_epoch_ : losses per epoch.
    inputs_ ``(n_users, max_len)`` : each user's last training items (shifted, left-padded).
    item_factors_ ``(n_items, n_factors)`` : the item embeddings (input and output).

    References
    ----------
    W.-C. Kang and J. McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018.
    """

    _min_len = 1

    def __init__(self, max_len: int = 50, n_factors: int = 64, n_blocks: int = 2, n_heads: int = 1,
                 n_epochs: int = 10, batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 0.0,
                 dropout: float = 0.2, mask_seen: bool = True, early_stopping: bool = True,
                 validation_fraction: float = 1.0, n_iter_no_change: int = 2, progress: bool = False,
                 random_state: int | None = 0):
        self.max_len = max_len
        self.n_factors = n_factors
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.mask_seen = mask_seen
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _network(self, n_items: int) -> SASRecNet:
        return SASRecNet(n_items, self.max_len, self.n_factors, self.n_blocks, self.n_heads, self.dropout)

    def _queries(self, histories, length: int) -> np.ndarray:
        return pad_left(histories, length)

    def _examples(self, histories, length):
        return next_item_chunks(histories, length)

    def _epoch(self, examples, rng):
        return examples  # the same chunks every epoch (shuffled by the caller)

    def _seen(self, x, users, order, keep):
        # the items read up to each kept position: those whose place in the history is <= the input's
        place = order[users.unsqueeze(1), (x - 1).clamp(min=0)]            # (batch, T)
        rows = users.unsqueeze(1).expand_as(x)[keep]
        return order[rows] <= place[keep].unsqueeze(1)


class BERT4Rec(_AttentionRecommender):
    r"""BERT4Rec: bidirectional self-attention trained to fill in masked items (a cloze task).

    .. math::  \mathcal{L} = -\frac{1}{|\mathcal{M}|} \sum_{t \in \mathcal{M}} \log
               \frac{e^{z_{t, i_t}}}{\sum_{j} e^{z_{t j}}}, \qquad z_{tj} = F_t^\top E_j + b_j,

    where :math:`\mathcal{M}` are the positions replaced by ``[mask]`` (a share ``mask_prob`` of each
    sequence, redrawn every epoch, :func:`cloze_mask`) and :math:`F_t` sees the whole sequence, before
    and after :math:`t`. Each history is cut from its end into windows of ``max_len`` items. To
    recommend, ``[mask]`` is appended to the user's last ``max_len - 1`` items and its scores are read:
    the only position where the model does what it was trained for *and* sees no future.

    Parameters
    ----------
    max_len, n_factors, n_blocks, n_heads, dropout : as :class:`SASRec` (the feed-forward width is ``4 n_factors``).
    mask_prob : :math:`\rho`, the share of each sequence's items hidden per epoch (the paper: 0.2 on ML-1M).
    mask_seen : leave the items visible in the input out of the softmax at the hidden positions (the
        hidden item cannot be one of them: a user rates an item once).
    n_epochs, batch_size, lr, weight_decay, early_stopping, validation_fraction, n_iter_no_change, progress,
    random_state : as :class:`SASRec`.

    Attributes
    ----------
    net_ : the trained :class:`BERT4RecNet`.  history_, n_epochs_, best_epoch_ : losses per epoch.
    inputs_ ``(n_users, max_len)`` : each user's last ``max_len - 1`` training items and ``[mask]``.
    item_factors_ ``(n_items, n_factors)`` : the item embeddings.

    References
    ----------
    F. Sun, J. Liu, J. Wu, C. Pei, X. Lin, W. Ou and P. Jiang, "BERT4Rec: Sequential Recommendation with
    Bidirectional Encoder Representations from Transformer", CIKM 2019.
    """

    _min_len = 2

    def __init__(self, max_len: int = 100, n_factors: int = 64, n_blocks: int = 2, n_heads: int = 2,
                 n_epochs: int = 30, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 0.0,
                 dropout: float = 0.2, mask_prob: float = 0.2, mask_seen: bool = True, early_stopping: bool = True,
                 validation_fraction: float = 1.0, n_iter_no_change: int = 3, progress: bool = False,
                 random_state: int | None = 0):
        self.max_len = max_len
        self.n_factors = n_factors
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.mask_prob = mask_prob
        self.mask_seen = mask_seen
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _check_training(self) -> dict:
        rho = check_finite_number(self.mask_prob, "mask_prob", minimum=0, strict=True)
        if rho > 1:
            raise ValueError(f"mask_prob is the share of each sequence's items hidden per epoch, in (0, 1]; got {rho}")
        return super()._check_training()

    def _network(self, n_items: int) -> BERT4RecNet:
        return BERT4RecNet(n_items, self.max_len, self.n_factors, self.n_blocks, self.n_heads, self.dropout)

    def _queries(self, histories, length: int) -> np.ndarray:
        mask_item = self.data_.n_items  # shifted by pad_left to n_items + 1, the [mask] id
        return pad_left([np.append(np.asarray(h, dtype=np.int64)[len(h) - min(len(h), length - 1):], mask_item)
                         for h in histories], length)

    def _examples(self, histories, length):
        pieces, users = [], []
        for u, h in enumerate(histories):  # windows of max_len items, cut from the end of each history
            for end in range(len(h), 0, -length):
                pieces.append(np.asarray(h[max(0, end - length):end], dtype=np.int64))
                users.append(u)
        return pad_left(pieces, length), np.asarray(users, dtype=np.int64)

    def _epoch(self, examples, rng):
        windows, users = examples
        x, y = cloze_mask(windows, self.mask_prob, self.data_.n_items + 1, rng)  # new hidden items every epoch
        return x, y, users

    def _seen(self, x, users, order, keep):
        n_items = order.shape[1]
        visible = torch.zeros(x.shape[0], n_items + 2, dtype=torch.bool)
        visible.scatter_(1, x, True)
        rows = torch.arange(len(x)).unsqueeze(1).expand_as(x)[keep]
        return visible[:, 1:n_items + 1][rows]
