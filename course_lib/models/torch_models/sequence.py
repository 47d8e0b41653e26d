r"""Next-item prediction from a user's time-ordered history (lesson 09).

Items enter the networks **shifted by one** (``0`` = padding, see :mod:`course_lib.sequences`).
Every model ends with a softmax over *all* items, trained with cross-entropy on the true next
item (no negative sampling):

.. math::  \mathcal{L} = -\frac{1}{|\mathcal{T}|} \sum_{(h, i) \in \mathcal{T}} \log
   \frac{e^{z_i(h)}}{\sum_{j=1}^{|I|} e^{z_j(h)}}, \qquad z(h) = W\,\phi(h) + b \in \mathbb{R}^{|I|}

``GRU4Rec`` / ``LSTMRec`` (:math:`\phi` = the last hidden state of a GRU / LSTM over the item
embeddings; every position of a padded chunk predicts its next item, padding masked out of the
loss and, with ``mask_seen``, the items already read left out of the softmax) and ``Caser`` (:math:`\phi` = horizontal and vertical convolutions over the last ``L``
item embeddings, plus a user embedding).

``fit(ratings)`` needs a ``timestamp`` column (or an ``Interactions`` that carries timestamps).
With ``early_stopping``, the last training item of a share ``validation_fraction`` of the users
(those with at least three items) is held out as the validation target (its loss, not a ranking
metric); ``fit(train, validation=next_items)`` uses given next items instead. At prediction time the
model reads the user's whole training history, so the held-out item is used as input.
``recommend`` and :func:`course_lib.evaluate.evaluate_next_item` rank all items, the user's seen
items excluded.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...interactions import HeldOut, Interactions
from ...sequences import next_item_chunks, next_item_windows, pad_left, user_histories
from ...validation import check_finite_number, check_positive_int, check_random_state, check_rate
from ..base import Recommender, estimate_known_pairs, pairs_from_scores
from ..training import check_early_stopping
from .training import train_model

__all__ = ["Caser", "CaserNet", "GRU4Rec", "LSTMRec", "RNNNet", "hold_out_last_items", "seen_mask"]


def seen_mask(x: torch.Tensor, n_items: int, before: torch.Tensor | None = None) -> torch.Tensor:
    """``mask[b, t, j]`` is True when inner item ``j`` is among the inputs ``x[b, :t + 1]`` (shifted ids)
    or ``before[b, j]`` is True (items read before the chunk).

    Shape ``(batch, T, n_items)``, bool; padding (0) marks nothing. Each row of ``x`` must hold
    distinct items (a user rates an item once): the mask compares, for every item, the position
    where it first appears with ``t``.
    """
    batch, length = x.shape
    first = torch.full((batch, n_items + 1), length, dtype=torch.int64)
    first.scatter_(1, x, torch.arange(length).expand(batch, length))
    first = first[:, 1:]
    if before is not None:
        first = first.masked_fill(before, -1)
    return first.unsqueeze(1) <= torch.arange(length).view(1, length, 1)


def _items_before(histories, x: np.ndarray, users: np.ndarray, n_items: int) -> torch.Tensor:
    """``(n_examples, n_items)`` bool: the items of the user's history before each example's first input.

    Relies on a user rating an item once (the chunks of :func:`next_item_chunks` hold distinct items).
    """
    out = np.zeros((len(x), n_items), dtype=bool)
    position = {}
    for k in range(len(x)):
        first = x[k][x[k] > 0]
        if not len(first):
            continue
        u = int(users[k])
        if u not in position:
            position[u] = {int(item): t for t, item in enumerate(histories[u])}
        out[k, histories[u][:position[u][int(first[0]) - 1]]] = True
    return torch.as_tensor(out)


def hold_out_last_items(histories, validation: HeldOut | None, patience: int | None, fraction: float,
                        rng: np.random.Generator):
    """The validation rule of the next-item models: ``(training histories, validation users, targets)``.

    ``fit``'s ``validation`` when given (its known users and items; every history is trained on);
    otherwise, with early stopping on (``patience`` not ``None``), the last item of a random share
    ``fraction`` of the users with at least three items, removed from their histories; otherwise no
    validation (``None`` users).
    """
    if validation is not None:
        known = validation.known
        return histories, validation.u[known], validation.i[known]
    if patience is None:
        return histories, None, None
    share = check_finite_number(fraction, "validation_fraction", minimum=0, strict=True)
    if share > 1:
        raise ValueError(f"validation_fraction must be in (0, 1], got {share}")
    eligible = np.flatnonzero([len(h) >= 3 for h in histories])
    users = np.sort(rng.permutation(eligible)[:int(round(share * len(eligible)))])
    targets = np.array([histories[u][-1] for u in users], dtype=np.int64)
    held = set(users.tolist())
    return [h[:-1] if k in held else h for k, h in enumerate(histories)], users, targets


@contextmanager
def _without_onednn():
    """PyTorch's own kernels instead of oneDNN's inside the block (``torch.backends.mkldnn.flags`` would
    also reset oneDNN's TF32 setting, with a warning on CPU-only builds)."""
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = previous


class RNNNet(nn.Module):
    r"""Embedding → GRU or LSTM → linear layer to one logit per item.

    ``forward(x)`` takes shifted item ids ``(batch, T)`` (0 = padding, left-padded) and returns the
    logits after every position, ``(batch, T, n_items)``. ``last(x)`` returns those of the last
    position, ``(batch, n_items)``.
    """

    def __init__(self, n_items: int, n_factors: int = 64, hidden_size: int = 64, cell: str = "gru",
                 dropout: float = 0.0, tie_weights: bool = False):
        super().__init__()
        self.n_items, self.tie_weights = n_items, bool(tie_weights)
        embedding_dim = n_factors
        self.item_emb = nn.Embedding(n_items + 1, embedding_dim, padding_idx=0)
        nn.init.normal_(self.item_emb.weight[1:], 0.0, 0.05)
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(embedding_dim, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        if self.tie_weights:  # logits = e_j . (W h) + b_j: the input embeddings are also the output ones
            self.proj = nn.Linear(hidden_size, embedding_dim)
            self.out_bias = nn.Parameter(torch.zeros(n_items))
        else:
            self.out = nn.Linear(hidden_size, n_items)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        # PyTorch runs an LSTM on oneDNN's RNN kernels when it may, and their rounding depends on the
        # kernel oneDNN picks for the CPU (LSTMRec's weights after one epoch differed between oneDNN's
        # AVX2 and SSE4.1 kernels); its own implementation runs MKL's products, pinned by the numeric
        # profile (17% slower). The GRU never takes that path, so this changes nothing for GRU4Rec.
        with _without_onednn():
            h, _ = self.rnn(self.dropout(self.item_emb(x)))
        return self.dropout(h)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """One logit per item from hidden states ``(..., hidden_size)``: ``(..., n_items)``."""
        if self.tie_weights:
            return self.proj(h) @ self.item_emb.weight[1:].T + self.out_bias
        return self.out(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.hidden(x))

    def last(self, x: torch.Tensor, user: torch.Tensor | None = None) -> torch.Tensor:
        return self.logits(self.hidden(x)[:, -1])


class CaserNet(nn.Module):
    r"""Caser (Tang and Wang 2018): convolutions over the embedding "image" of the last ``L`` items.

    With :math:`E \in \mathbb{R}^{L \times d}` the stacked embeddings (oldest first):
    horizontal filters :math:`F^{h} \in \mathbb{R}^{h \times d}` (``n_h`` of each height
    :math:`h = 1..L`) slide down the rows, ReLU, max-pooled over positions → ``L * n_h`` numbers;
    vertical filters :math:`\tilde F \in \mathbb{R}^{L \times 1}` (``n_v`` of them) take weighted
    sums of the rows → ``n_v * d`` numbers. Both are concatenated, passed through a dense layer
    with ReLU to :math:`z \in \mathbb{R}^d`, joined with the user embedding :math:`p_u` and mapped to
    the logits :math:`W [z; p_u] + b`.

    The filters are ``nn.Conv2d`` weights, applied as the matrix products they are (a horizontal
    filter of height :math:`h` is a dot product with each window of :math:`h` consecutive rows,
    flattened to :math:`h d` numbers; the vertical filters are one :math:`n_v \times L` matrix times
    :math:`E`). ``nn.Conv2d`` itself would run oneDNN's convolution kernels, whose rounding depends
    on the kernel oneDNN picks for the CPU (lesson 09 executed with ``COURSE_NUMERIC_PROFILE=native``
    and only oneDNN's kernel changed, AVX2 to SSE4.1: Caser's HR@10 0.186 became 0.191, 2026-12-07).
    The matrix products run MKL under the numeric profile, the same bits on every CPU, and are faster
    (a training step of 1024 windows: 39 ms instead of 63 ms on one thread; the lesson's whole fit,
    mostly the softmax layer: 21.9 s instead of 24.3 s).
    ``tests/test_sequences.py`` checks the products and their gradients against ``nn.Conv2d``.
    """

    def __init__(self, n_users: int, n_items: int, length: int = 5, n_factors: int = 64, n_h: int = 16,
                 n_v: int = 4, dropout: float = 0.5):
        super().__init__()
        embedding_dim = n_factors
        self.n_items, self.length = n_items, length
        self.item_emb = nn.Embedding(n_items + 1, embedding_dim, padding_idx=0)
        nn.init.normal_(self.item_emb.weight[1:], 0.0, 0.05)
        self.user_emb = nn.Embedding(n_users, embedding_dim)
        nn.init.normal_(self.user_emb.weight, 0.0, 0.05)
        self.conv_h = nn.ModuleList([nn.Conv2d(1, n_h, (h, embedding_dim)) for h in range(1, length + 1)])
        self.conv_v = nn.Conv2d(1, n_v, (length, 1))
        self.fc = nn.Linear(n_h * length + n_v * embedding_dim, embedding_dim)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * embedding_dim, n_items)

    def forward(self, x: torch.Tensor, user: torch.Tensor) -> torch.Tensor:
        e = self.item_emb(x)                                   # E: (batch, L, d)
        w_v = self.conv_v.weight.flatten(1)                    # (n_v, L)
        v = F.linear(e.transpose(1, 2), w_v, self.conv_v.bias).transpose(1, 2).flatten(1)  # (batch, n_v * d)
        h = []
        for height, conv in enumerate(self.conv_h, start=1):
            windows = e.unfold(1, height, 1).transpose(2, 3).flatten(2)  # (batch, L - h + 1, h * d)
            scores = F.linear(windows, conv.weight.flatten(1), conv.bias)  # (batch, L - h + 1, n_h)
            h.append(F.relu(scores).amax(dim=1))                         # (batch, n_h)
        z = F.relu(self.fc(self.dropout(torch.cat([v] + h, dim=1))))
        return self.out(torch.cat([z, self.user_emb(user)], dim=1))

    def last(self, x: torch.Tensor, user: torch.Tensor) -> torch.Tensor:
        return self(x, user)


class NextItemModel(Recommender):
    """What every next-item model shares (here GRU4Rec, LSTMRec and Caser; SASRec and BERT4Rec in
    :mod:`.attention`): the validation rule (:func:`hold_out_last_items`) and the scoring. A user's
    scores over all items are the logits ``net_.last(inputs_[u], u)`` after their training history
    (``recommend`` leaves the items already seen out); ``item_factors_`` reads the item embeddings.
    """

    _predicts_ratings = False

    def _validation_split(self, histories, validation: HeldOut | None, patience: int | None, rng):
        """``(training histories, validation users, validation targets)``: :func:`hold_out_last_items`."""
        return hold_out_last_items(histories, validation, patience, self.validation_fraction, rng)

    @torch.no_grad()
    def _scores(self, users):
        self.net_.eval()
        users = np.asarray(users, dtype=np.int64)
        out = [self.net_.last(torch.as_tensor(self.inputs_[users[s:s + 512]]),
                              torch.as_tensor(users[s:s + 512])).double().numpy()
               for s in range(0, len(users), 512)]
        return np.vstack(out) if out else np.zeros((0, self.data_.n_items))

    def _estimate(self, u, i):
        return estimate_known_pairs(u, i, pairs_from_scores(self._scores))

    @property
    def item_factors_(self) -> np.ndarray:
        """The learned item embeddings, shape ``(n_items, n_factors)`` (row = inner item index; the rows of
        the padding and of BERT4Rec's ``[mask]`` left out)."""
        self._check_fitted()
        return self.net_.item_emb.weight.detach().double().numpy()[1:self.data_.n_items + 1].copy()


class _SequenceRecommender(NextItemModel):
    """Shared fitting (softmax over all items, early stopping) of the sequence models (scoring: :class:`NextItemModel`).

    Common parameters
    -----------------
    max_len : the most recent items the model reads (RNN chunk length; Caser's ``L``).
    n_factors : item embedding size.  n_epochs : the most epochs.  batch_size : sequences per step.
    lr : Adam's step size.  weight_decay : Adam's L2 penalty.  dropout : dropout rate.
    early_stopping, validation_fraction, n_iter_no_change : hold out the last training item of a share
        ``validation_fraction`` of the users (1.0: every user with at least three items) and stop after
        ``n_iter_no_change`` epochs without a lower validation loss, keeping the best weights.
    progress : show a tqdm progress bar.  random_state : seed of the weights, the shuffling and the
        validation users.

    Attributes
    ----------
    net_ : the trained network.  history_, n_epochs_, best_epoch_ : ``train_loss`` and ``val_loss`` per epoch.
    inputs_ ``(n_users, max_len)`` : each user's last training items (shifted, left-padded).
    item_factors_ ``(n_items, n_factors)`` : the learned input item embeddings.
    """

    # -- hooks --------------------------------------------------------------------------
    def _network(self, n_users: int, n_items: int) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def _examples(self, histories, length):  # pragma: no cover - abstract
        raise NotImplementedError

    def build_network(self) -> nn.Module:
        """The (untrained) network for ``data_`` (also used by ``load_model``)."""
        return self._network(self.data_.n_users, self.data_.n_items)

    def _loss(self, net, x, y, user, before=None) -> torch.Tensor:
        logits = net(x) if y.dim() == 2 else net(x, user)
        if before is not None:  # mask_seen: the items read so far, in this chunk or before it
            logits = logits.masked_fill(seen_mask(x, logits.shape[-1], before), -1e9)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-1)

    # -- fitting ------------------------------------------------------------------------
    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        length = check_positive_int(self.max_len, "max_len")
        n_epochs = check_positive_int(self.n_epochs, "n_epochs")
        batch_size = check_positive_int(self.batch_size, "batch_size")
        lr = check_finite_number(self.lr, "lr", minimum=0, strict=True)
        wd = check_finite_number(self.weight_decay, "weight_decay", minimum=0)
        check_rate(self.dropout, "dropout")
        schedule = getattr(self, "lr_schedule", "constant")
        if schedule not in ("constant", "linear"):
            raise ValueError(f"lr_schedule must be 'constant' or 'linear', got {schedule!r}")
        patience = check_early_stopping(self)
        rng = check_random_state(self.random_state)
        histories = user_histories(data)
        self.inputs_ = pad_left(histories, length)
        histories, val_users, val_targets = self._validation_split(histories, validation, patience, rng)
        x, y, users = (torch.as_tensor(a) for a in self._examples(histories, length))
        mask_seen = bool(getattr(self, "mask_seen", False)) and y.dim() == 2
        before = _items_before(histories, x.numpy(), users.numpy(), data.n_items) if mask_seen else None
        val = None
        if val_users is not None and len(val_users):
            val = [torch.as_tensor(pad_left([histories[u] for u in val_users], length)),
                   torch.as_tensor(val_targets), torch.as_tensor(val_users)]
            if mask_seen:  # the validation item is scored against every unseen item
                seen = np.zeros((len(val_users), data.n_items), dtype=bool)
                for row, u in enumerate(val_users):
                    seen[row, histories[u]] = True
                val.append(torch.as_tensor(seen))
        total_steps = n_epochs * -(-len(x) // batch_size)

        def epoch_batches():
            order = torch.as_tensor(rng.permutation(len(x)))
            for start in range(0, len(order), batch_size):
                b = order[start:start + batch_size]
                yield {"x": x[b], "y": y[b], "user": users[b], "before": None if before is None else before[b]}

        def loss(net, batch):
            return self._loss(net, **batch), 0.0, int((batch["y"] >= 0).sum())

        def val_loss(net):
            logits = net.last(val[0], val[2])
            if len(val) == 4:
                logits = logits.masked_fill(val[3], -1e9)
            return F.cross_entropy(logits, val[1])

        train_model(self, rng, epoch_batches=epoch_batches, loss=loss, val_loss=None if val is None else val_loss,
                    n_epochs=n_epochs, lr=lr, weight_decay=wd, patience=patience if val is not None else None,
                    progress=self.progress, desc=type(self).__name__,
                    schedule=(lambda step: 1.0 - step / total_steps) if schedule == "linear" else None)


class GRU4Rec(_SequenceRecommender):
    r"""GRU over the item embeddings, softmax over all items (Hidasi et al. 2016, trained SASRec-style).

    .. math::  h_t = \mathrm{GRU}(e_{i_t}, h_{t-1}), \qquad P(i_{t+1} = j \mid i_{1..t}) = \mathrm{softmax}(W h_t + b)_j

    Each user's history is cut into chunks of ``max_len + 1`` items; every position of a chunk
    predicts its next item (padding masked). See :class:`_SequenceRecommender` for the parameters;
    ``hidden_size`` is the size of :math:`h_t`.

    ``mask_seen`` (default ``True``): the softmax of each training position leaves out the items the
    user has already rated up to that position (in the chunk or before it), and so does the
    validation loss. Evaluation ranks only unseen items anyway; without the mask the model spends
    capacity learning that a user does not rate a film twice. ``tie_weights``: the output layer
    reuses the input embeddings, :math:`z_j = e_j^\top W h_t + b_j`. ``lr_schedule``:
    ``"constant"`` or ``"linear"`` (the step size decays linearly to 0 over ``n_epochs``).
    The defaults were chosen on validation (each user's last *training* item), see
    ``benchmarks/bench_features_sequences.py``: masking helped, tied weights, a larger batch with a
    decaying step size, longer chunks (50) and wider layers (128) did not.

    References
    ----------
    B. Hidasi, A. Karatzoglou, L. Baltrunas and D. Tikk, "Session-based Recommendations with Recurrent
    Neural Networks", ICLR 2016.
    """

    _cell = "gru"

    def __init__(self, max_len: int = 20, n_factors: int = 64, hidden_size: int = 64, n_epochs: int = 6,
                 batch_size: int = 128, lr: float = 5e-3, weight_decay: float = 0.0, dropout: float = 0.2,
                 tie_weights: bool = False, mask_seen: bool = True, lr_schedule: str = "constant",
                 early_stopping: bool = True, validation_fraction: float = 1.0, n_iter_no_change: int = 2,
                 progress: bool = False, random_state: int | None = 0):
        self.max_len = max_len
        self.n_factors = n_factors
        self.hidden_size = hidden_size
        self.tie_weights = tie_weights
        self.mask_seen = mask_seen
        self.lr_schedule = lr_schedule
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _network(self, n_users, n_items):
        return RNNNet(n_items, check_positive_int(self.n_factors, "n_factors"),
                      check_positive_int(self.hidden_size, "hidden_size"), self._cell, self.dropout,
                      getattr(self, "tie_weights", False))

    def _examples(self, histories, length):
        return next_item_chunks(histories, length)


class LSTMRec(GRU4Rec):
    r"""The same model with an LSTM cell: :math:`(h_t, c_t) = \mathrm{LSTM}(e_{i_t}, h_{t-1}, c_{t-1})`,
    softmax over all items on :math:`h_t` (the seed's Embedding → LSTM → softmax, done correctly)."""

    _cell = "lstm"


class Caser(_SequenceRecommender):
    r"""Convolutional sequence embedding (Caser): the last ``max_len`` items predict the next one.

    See :class:`CaserNet` for the layers and :class:`_SequenceRecommender` for the training
    parameters; ``n_h`` horizontal filters per height, ``n_v`` vertical filters.

    References
    ----------
    J. Tang and K. Wang, "Personalized Top-N Sequential Recommendation via Convolutional Sequence
    Embedding", WSDM 2018.
    """

    def __init__(self, max_len: int = 5, n_factors: int = 64, n_h: int = 16, n_v: int = 4, n_epochs: int = 3,
                 batch_size: int = 1024, lr: float = 1e-2, weight_decay: float = 0.0, dropout: float = 0.5,
                 early_stopping: bool = True, validation_fraction: float = 1.0, n_iter_no_change: int = 2,
                 progress: bool = False, random_state: int | None = 0):
        self.max_len = max_len
        self.n_factors = n_factors
        self.n_h = n_h
        self.n_v = n_v
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _network(self, n_users, n_items):
        return CaserNet(n_users, n_items, self.max_len, check_positive_int(self.n_factors, "n_factors"),
                        check_positive_int(self.n_h, "n_h"), check_positive_int(self.n_v, "n_v"), self.dropout)

    def _examples(self, histories, length):
        return next_item_windows(histories, length)
