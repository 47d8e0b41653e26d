r"""Time-ordered histories for next-item prediction (lesson 09), without PyTorch.

A user's history is the list of items they rated, oldest first (ties in time: later rows count
as later, the rule of :func:`course_lib.split.leave_last_out`). Sequence models read inner item
indices **shifted by one**, so that ``0`` can mean "padding" (no item):

* :func:`user_histories` – each inner user's inner items, oldest first, from an ``Interactions``
  that carries timestamps;
* :func:`pad_left` – the last ``length`` items of each history, left-padded with ``0`` (shifted ids);
* :func:`next_item_chunks` – training examples "every position predicts the next item" (RNNs);
* :func:`next_item_windows` – training examples "the last ``L`` items predict the next one" (CNNs);
* :func:`shuffle_histories` – the same ratings with each user's order destroyed (does order matter?).

Data preparation only: the models are in :mod:`course_lib.models.sequential` (``LastItemKNN``) and
:mod:`course_lib.models.torch_models.sequence` (GRU4Rec, LSTMRec, Caser); the protocol is
:func:`course_lib.evaluate.evaluate_next_item`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .interactions import Interactions
from .validation import check_positive_int, check_ratings

__all__ = ["next_item_chunks", "next_item_windows", "pad_left", "shuffle_histories", "time_ordered", "user_histories"]


def time_ordered(ratings: pd.DataFrame) -> pd.DataFrame:
    """``ratings`` sorted by user, then time (stable: ties keep the row order)."""
    check_ratings(ratings, columns=("user_id", "item_id", "timestamp"), allow_duplicates=True)
    return ratings.sort_values(["user_id", "timestamp"], kind="stable")


def user_histories(data: Interactions) -> list[np.ndarray]:
    """Each inner user's inner item indices, oldest first: a list of length ``data.n_users``.

    ``data`` must carry timestamps (ratings with a ``timestamp`` column); ties in time keep the
    order of the rows.
    """
    if data.t is None:
        raise ValueError("next-item models read the order of each user's ratings: fit them on ratings with a "
                         "'timestamp' column (MovieLens's ratings have one)")
    rank = np.lexsort((data.t, data.u))  # by user, then time; lexsort is stable: ties keep row order
    u, i = data.u[rank], data.i[rank].astype(np.int64)
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
