r"""Time-ordered histories for next-item prediction (lesson 09), without PyTorch.

A user's history is the list of items they rated, oldest first (ties in time: later rows count
as later, the rule of :func:`course_lib.split.leave_last_out`). Sequence models read inner item
indices **shifted by one**, so that ``0`` can mean "padding" (no item):

* :func:`user_histories` – ``{inner user: inner items, oldest first}`` for a fitted model's data;
* :func:`pad_left` – the last ``length`` items of each history, left-padded with ``0`` (shifted ids);
* :func:`next_item_chunks` – training examples "every position predicts the next item" (RNNs);
* :func:`next_item_windows` – training examples "the last ``L`` items predict the next one" (CNNs);
* :func:`evaluate_next_item` – HR@k and NDCG@k over *all* items, seen items excluded, on the
  held-out last items of :func:`~course_lib.split.leave_last_out` (one relevant item per user,
  so :math:`HR@k = [\text{rank} < k]` and :math:`NDCG@k = [\text{rank} < k] / \log_2(\text{rank} + 2)`);
* :func:`shuffle_histories` – the same ratings with each user's order destroyed (does order matter?);
* :class:`LastItemKNN` – the "items similar to the last one" baseline (cosine between item columns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .evaluate import evaluate_full_ranking
from .interactions import Interactions
from .models.base import Recommender
from .validation import check_positive_int, check_ratings

__all__ = ["LastItemKNN", "evaluate_next_item", "next_item_chunks", "next_item_windows", "pad_left",
           "shuffle_histories", "time_ordered", "user_histories"]


def time_ordered(ratings: pd.DataFrame) -> pd.DataFrame:
    """``ratings`` sorted by user, then time (stable: ties keep the row order)."""
    check_ratings(ratings, columns=("user_id", "item_id", "timestamp"), allow_duplicates=True)
    return ratings.sort_values(["user_id", "timestamp"], kind="stable")


def user_histories(ratings: pd.DataFrame, data: Interactions) -> list[np.ndarray]:
    """Each inner user's inner item indices, oldest first: a list of length ``data.n_users``.

    Rows whose user or item ``data`` does not know are dropped.
    """
    order = time_ordered(ratings)
    u = data.encode_users(order["user_id"].to_numpy())
    i = data.encode_items(order["item_id"].to_numpy())
    keep = (u >= 0) & (i >= 0)
    u, i = u[keep], i[keep]
    rank = np.argsort(u, kind="stable")  # group by inner user, keeping time order
    u, i = u[rank], i[rank].astype(np.int64)
    bounds = np.searchsorted(u, np.arange(data.n_users + 1))
    return [i[bounds[k]:bounds[k + 1]] for k in range(data.n_users)]


def pad_left(histories, length: int) -> np.ndarray:
    """The last ``length`` items of each history, **shifted by one**, left-padded with ``0``.

    Shape ``(len(histories), length)``, dtype int64; ``0`` is padding, ``i + 1`` is inner item ``i``.
    """
    length = check_positive_int(length, "length")
    out = np.zeros((len(histories), length), dtype=np.int64)
    for row, h in enumerate(histories):
        h = np.asarray(h, dtype=np.int64)[-length:]
        if len(h):
            out[row, length - len(h):] = h + 1
    return out


def next_item_chunks(histories, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training examples where every position predicts the next item (GRU4Rec / SASRec style).

    Each history is cut, from its end, into pieces of ``length + 1`` items (overlapping by one,
    so every transition is used once). A piece gives the input ``x`` (its items but the last,
    shifted by one, left-padded with 0) and the target ``y`` (its items but the first, inner
    indices, ``-1`` under padding). Returns ``(x, y, user)`` with shapes ``(n, length)``,
    ``(n, length)``, ``(n,)``.
    """
    length = check_positive_int(length, "length")
    xs, ys, users = [], [], []
    for u, h in enumerate(histories):
        h = np.asarray(h, dtype=np.int64)
        end = len(h)
        while end >= 2:
            piece = h[max(0, end - length - 1):end]
            x = np.zeros(length, dtype=np.int64)
            y = -np.ones(length, dtype=np.int64)
            x[length - len(piece) + 1:] = piece[:-1] + 1
            y[length - len(piece) + 1:] = piece[1:]
            xs.append(x), ys.append(y), users.append(u)
            end -= length
    if not xs:
        return np.zeros((0, length), np.int64), np.zeros((0, length), np.int64), np.zeros(0, np.int64)
    return np.stack(xs), np.stack(ys), np.asarray(users, dtype=np.int64)


def next_item_windows(histories, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One example per transition: the previous ``length`` items (shifted, left-padded) and the next.

    Returns ``(x, y, user)`` with shapes ``(n, length)``, ``(n,)``, ``(n,)`` where ``n`` is the
    number of transitions (each history of ``m`` items gives ``m - 1``).
    """
    length = check_positive_int(length, "length")
    xs, ys, users = [], [], []
    for u, h in enumerate(histories):
        h = np.asarray(h, dtype=np.int64)
        if len(h) < 2:
            continue
        padded = np.concatenate([np.zeros(length, np.int64), h + 1])
        # window t (t = 1..m-1) holds items h[t-length:t]: padded[t : t + length]
        idx = np.arange(1, len(h))[:, None] + np.arange(length)[None, :]
        xs.append(padded[idx])
        ys.append(h[1:])
        users.append(np.full(len(h) - 1, u, dtype=np.int64))
    if not xs:
        return np.zeros((0, length), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.vstack(xs), np.concatenate(ys), np.concatenate(users)


def evaluate_next_item(model: Recommender, test: pd.DataFrame, k: int = 10) -> dict[str, float]:
    """HR@k and NDCG@k of next-item prediction, ranking all items the user has not seen in training.

    ``test`` holds each user's held-out items (``leave_last_out(ratings, 1)``); with one item per
    user the hit rate is :math:`[\\text{rank} < k]` and NDCG@k is :math:`1 / \\log_2(\\text{rank} + 2)`
    for a hit. Computed by :func:`course_lib.evaluate.evaluate_full_ranking`.
    """
    k = check_positive_int(k, "k")
    result = evaluate_full_ranking(model, test, k)
    return {f"hr@{k}": result[f"hit_rate@{k}"], f"ndcg@{k}": result[f"ndcg@{k}"]}


def shuffle_histories(ratings: pd.DataFrame, random_state: int = 0) -> pd.DataFrame:
    """A copy of ``ratings`` whose timestamps are permuted within each user.

    Each user keeps the same items and the same set of timestamps, but in a random order: any
    signal a model drew from the order of a history is gone.
    """
    check_ratings(ratings, columns=("user_id", "item_id", "timestamp"), allow_duplicates=True)
    rng = np.random.default_rng(random_state)
    out = ratings.copy()
    order = np.lexsort((rng.random(len(out)), out["user_id"].to_numpy()))
    ts = out["timestamp"].to_numpy()[order]
    ts = ts.copy()
    users = out["user_id"].to_numpy()[order]
    bounds = np.flatnonzero(np.r_[True, users[1:] != users[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        ts[a:b] = rng.permutation(ts[a:b])
    new = np.empty_like(ts)
    new[order] = ts
    out["timestamp"] = new
    return out


class LastItemKNN(Recommender):
    r"""Next-item baseline: score every item by its cosine similarity to the user's last item(s).

    .. math::  s_{uj} = \sum_{t=1}^{n} \cos(\mathbf{r}_{:, i_{u,T-t+1}}, \mathbf{r}_{:, j}), \qquad
       \cos(\mathbf{a}, \mathbf{b}) = \frac{\mathbf{a}^\top \mathbf{b}}{\lVert\mathbf{a}\rVert\,\lVert\mathbf{b}\rVert}

    with binary item columns :math:`\mathbf{r}_{:,j} \in \{0,1\}^{|U|}` and :math:`i_{u,T}` the user's
    most recent item. ``fit`` needs a ``timestamp`` column.

    Parameters
    ----------
    n_last : how many of the user's most recent items vote (1 = "items similar to the last one").

    Attributes
    ----------
    S_ ``(n_items, n_items)`` cosine similarities (diagonal 0), last_ ``(n_users, n_last)`` the
    users' most recent items (shifted by one, 0 = none).
    """

    clip = False

    def __init__(self, n_last: int = 1):
        self.n_last = n_last

    def fit(self, ratings: pd.DataFrame) -> "LastItemKNN":
        check_ratings(ratings, columns=("user_id", "item_id", "rating", "timestamp"))
        self._fit_ratings = ratings
        try:
            return super().fit(ratings)
        finally:
            del self._fit_ratings

    def _fit(self, data: Interactions) -> None:
        n_last = check_positive_int(self.n_last, "n_last")
        x = sp.csr_matrix((np.ones(data.n_ratings), (data.u, data.i)), shape=(data.n_users, data.n_items))
        x.sum_duplicates()
        x.data[:] = 1.0
        norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel())
        norms[norms == 0] = 1.0
        s = (x.T @ x).toarray() / norms[:, None] / norms[None, :]
        np.fill_diagonal(s, 0.0)
        self.S_ = s
        self.last_ = pad_left(user_histories(self._fit_ratings, data), n_last)

    def _scores(self, users):
        last = self.last_[np.asarray(users, dtype=np.int64)]
        padded = np.vstack([np.zeros((1, self.S_.shape[1])), self.S_])  # row 0 = padding
        return padded[last].sum(axis=1)

    def _estimate(self, u, i):
        u, i = np.asarray(u), np.asarray(i)
        known = (u >= 0) & (i >= 0)
        uu, ii = np.where(known, u, 0), np.where(known, i, 0)
        return self._scores(uu)[np.arange(len(uu)), ii], ~known
