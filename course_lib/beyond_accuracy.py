r"""Beyond accuracy: what a top-k list is like, not only how many hits it has.

Accuracy metrics (:mod:`course_lib.metrics`) count hits. Two lists with the same NDCG can differ in
how alike their items are, how popular they are and how well they reflect a user's tastes. For a
user with list :math:`L = (l_1, \dots, l_k)`:

``intra_list_diversity``  mean pairwise distance between the items of a list (Ziegler et al. 2005),

    .. math::  \mathrm{ILD}(L) = \frac{2}{k(k-1)} \sum_{a < b} \big(1 - \cos(v_{l_a}, v_{l_b})\big)

    with item vectors :math:`v_i` (genres, embeddings); averaged over users.

``average_recommendation_popularity``  (ARP, Abdollahpouri et al. 2019): the mean popularity
    :math:`\phi(i)` (share of training users who rated :math:`i`) of the recommended items.

``long_tail_share``  the share of recommended items in the long tail: the items outside the short
    head, i.e. outside the most popular items that together hold ``head_share`` (default 20 %) of
    the training interactions (the "80/20" split of Abdollahpouri et al. 2019).

``miscalibration``  Steck's (2018) calibration: the KL divergence between the genre distribution
    :math:`p(g \mid u)` of the items a user rated and :math:`q(g \mid u)` of the recommended list,

    .. math::  C_{KL}(p, q) = \sum_g p(g \mid u) \log \frac{p(g \mid u)}{\tilde q(g \mid u)}, \qquad
               \tilde q = (1 - \alpha)\, q + \alpha\, p

    where an item with several genres spreads its weight evenly over them and :math:`\alpha` (0.01)
    keeps the divergence finite when a list misses a genre the user likes. 0 means perfectly
    calibrated; higher means the list over-represents some of the user's tastes.

Every function takes ``recommended`` as :mod:`course_lib.metrics` does (``{user: [items]}``) and
skips the ``-1`` padding of short lists. :func:`per_user_ndcg` gives one NDCG per user, the input of
a paired significance test (:mod:`course_lib.online`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import metrics
from .validation import check_finite_number, check_positive_int

__all__ = ["average_recommendation_popularity", "intra_list_diversity", "item_popularity", "long_tail_items",
           "long_tail_share", "miscalibration", "per_user_ndcg"]


def _lists(recommended) -> dict:
    if not isinstance(recommended, Mapping):
        raise TypeError("recommended must be a mapping {user: [items, best first]}")
    lists = {u: [i for i in items if not (isinstance(i, (int, np.integer)) and i == -1)]
             for u, items in recommended.items()}
    lists = {u: items for u, items in lists.items() if items}
    if not lists:
        raise ValueError("no recommendation list holds an item")
    return lists


def item_popularity(train: pd.DataFrame) -> pd.Series:
    r"""Popularity :math:`\phi(i)`: the share of the training users who interacted with each item (index item_id)."""
    if not {"user_id", "item_id"} <= set(train.columns):
        raise ValueError("train needs the columns user_id and item_id")
    if len(train) == 0:
        raise ValueError("train is empty: popularity is undefined")
    n_users = train["user_id"].nunique()
    return train.groupby("item_id")["user_id"].nunique().rename("popularity") / n_users


def intra_list_diversity(recommended, item_vectors: pd.DataFrame) -> float:
    r"""Mean over users of :math:`\frac{2}{k(k-1)} \sum_{a<b} (1 - \cos(v_a, v_b))` (cosine distance).

    ``item_vectors``: a DataFrame indexed by item_id, one row per item (e.g.
    :func:`course_lib.data.genre_matrix`). An all-zero vector has cosine 0 with everything (distance
    1). Lists with fewer than two known items are skipped.
    """
    if not isinstance(item_vectors, pd.DataFrame):
        raise TypeError("item_vectors must be a DataFrame indexed by item_id")
    values = item_vectors.to_numpy(dtype=float)
    norms = np.linalg.norm(values, axis=1)
    unit = np.divide(values, norms[:, None], out=np.zeros_like(values), where=norms[:, None] > 0)
    row = pd.Series(np.arange(len(item_vectors)), index=item_vectors.index)
    scores = []
    for items in _lists(recommended).values():
        known = row.reindex(items).dropna().astype(int).to_numpy()
        n = len(known)
        if n < 2:
            continue
        sim = unit[known] @ unit[known].T
        upper = np.triu_indices(n, k=1)
        scores.append(float(np.mean(1.0 - sim[upper])))
    if not scores:
        raise ValueError("no list has two items with known vectors: diversity is undefined")
    return float(np.mean(scores))


def average_recommendation_popularity(recommended, popularity: pd.Series) -> float:
    r"""ARP: the mean over users of the mean popularity :math:`\phi(i)` of their recommended items.

    ``popularity`` from :func:`item_popularity`; items absent from it (never rated in training)
    count as popularity 0.
    """
    per_user = [float(popularity.reindex(items).fillna(0.0).mean()) for items in _lists(recommended).values()]
    return float(np.mean(per_user))


def long_tail_items(popularity: pd.Series, head_share: float = 0.2) -> set:
    """The long tail: every item outside the short head (the most popular items holding ``head_share`` of interactions).

    Items are sorted by popularity (ties by item id); the head is the shortest prefix whose
    interactions reach ``head_share`` of all interactions.
    """
    head_share = check_finite_number(head_share, "head_share", minimum=0)
    if not 0 < head_share < 1:
        raise ValueError(f"head_share must be in (0, 1), got {head_share}")
    ordered = popularity.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    cumulative = ordered.cumsum() / ordered.sum()
    n_head = int(np.searchsorted(cumulative.to_numpy(), head_share, side="left")) + 1
    return set(ordered.index[n_head:].tolist())


def long_tail_share(recommended, popularity: pd.Series, head_share: float = 0.2) -> float:
    """The share of recommended items (over all lists) that lie in the long tail (:func:`long_tail_items`)."""
    tail = long_tail_items(popularity, head_share)
    flat = [i for items in _lists(recommended).values() for i in items]
    return float(np.mean([i in tail for i in flat]))


def _genre_distribution(items, genres: pd.DataFrame) -> np.ndarray:
    rows = genres.reindex(items).dropna().to_numpy(dtype=float)
    counts = rows.sum(axis=1, keepdims=True)
    rows = np.divide(rows, counts, out=np.zeros_like(rows), where=counts > 0)
    total = rows.sum()
    return rows.sum(axis=0) / total if total > 0 else np.zeros(genres.shape[1])


def miscalibration(recommended, train: pd.DataFrame, genres: pd.DataFrame, alpha: float = 0.01) -> float:
    r"""Steck's :math:`C_{KL}`, averaged over users: KL(p(g|u) || (1-alpha) q(g|u) + alpha p(g|u)).

    ``p`` comes from the items the user rated in ``train``, ``q`` from the recommended list; each
    item spreads weight 1 evenly over its genres (``genres``: 0/1 DataFrame indexed by item_id,
    :func:`course_lib.data.genre_matrix`). Users without rated items with genres are skipped.
    Reference: H. Steck, "Calibrated Recommendations", RecSys 2018, eq. (1)-(3).
    """
    alpha = check_finite_number(alpha, "alpha", minimum=0)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    history = train.groupby("user_id")["item_id"].apply(list)
    values = []
    for user, items in _lists(recommended).items():
        if user not in history.index:
            continue
        p = _genre_distribution(history[user], genres)
        if p.sum() == 0:
            continue
        q = (1 - alpha) * _genre_distribution(items, genres) + alpha * p
        mask = p > 0
        values.append(float(np.sum(p[mask] * np.log(p[mask] / q[mask]))))
    if not values:
        raise ValueError("no recommended user has a rated item with genres in train")
    return float(np.mean(values))


def per_user_ndcg(recommended, relevant, k: int = 10) -> pd.Series:
    """NDCG@k of each user who has a relevant item (index: user), for paired tests between models.

    The mean of this Series is :func:`course_lib.metrics.ndcg_at_k` exactly.
    """
    k = check_positive_int(k, "k")
    if not isinstance(relevant, Mapping):
        raise TypeError("relevant must be a mapping {user: collection of relevant items}")
    users = [u for u in relevant if len(relevant[u]) > 0]
    values = [metrics.ndcg_at_k({u: list(recommended.get(u, ()))}, {u: relevant[u]}, k) for u in users]
    return pd.Series(values, index=pd.Index(users, name="user_id"), name=f"ndcg@{k}")
