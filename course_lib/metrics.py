r"""Metrics: rating error, binary classification, top-k ranking, catalogue coverage and novelty.

Ranking metrics use binary relevance and the definitions of Microsoft Recommenders 1.2.1, so
numbers can be compared with its benchmark. For one user with recommended list
:math:`L = (l_1, \dots, l_k)`, relevant set :math:`T` and hits :math:`h_j = [l_j \in T]`:

.. math::
    P@k = \frac{1}{k} \sum_{j=1}^{k} h_j, \qquad
    R@k = \frac{1}{|T|} \sum_{j=1}^{k} h_j, \qquad
    HR@k = \max_j h_j, \qquad
    RR@k = \frac{1}{\min\{j : h_j = 1\}}

.. math::
    NDCG@k = \frac{\sum_j h_j / \log_2(j + 1)}{\sum_{j=1}^{\min(k, |T|)} 1 / \log_2(j + 1)}, \qquad
    AP@k = \frac{1}{\min(k, |T|)} \sum_j h_j \, P@j

Each is averaged over the users who have at least one relevant item; a user with no
recommendations scores 0. ``recommended`` is a mapping ``{user: [items, best first]}`` or a
2-D array aligned with ``users``; ``relevant`` is a mapping ``{user: collection of items}``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .validation import check_positive_int, check_same_length

# -- rating error -------------------------------------------------------------------------


def mse(y_true, y_pred) -> float:
    r"""Mean squared error :math:`\frac{1}{n} \sum (r - \hat r)^2`."""
    y, p = check_same_length(y_true, y_pred, ("y_true", "y_pred"))
    return float(np.mean((y - p) ** 2))


def rmse(y_true, y_pred) -> float:
    r"""Root mean squared error :math:`\sqrt{\frac{1}{n} \sum (r - \hat r)^2}`."""
    return float(np.sqrt(mse(y_true, y_pred)))


def mae(y_true, y_pred) -> float:
    r"""Mean absolute error :math:`\frac{1}{n} \sum |r - \hat r|`."""
    y, p = check_same_length(y_true, y_pred, ("y_true", "y_pred"))
    return float(np.mean(np.abs(y - p)))


# -- binary classification --------------------------------------------------------------------


def _binary(y_true, y_pred, names=("y_true", "y_pred")) -> tuple[np.ndarray, np.ndarray]:
    y, p = check_same_length(y_true, y_pred, names)
    for arr, name in ((y, names[0]),) + (((p, names[1]),) if names[1] == "y_pred" else ()):
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} must hold only 0 and 1 (binary labels); threshold scores first")
    return y.astype(bool), p


def precision(y_true, y_pred) -> float:
    """Share of predicted positives that are positive: TP / (TP + FP); 0 when nothing is predicted."""
    y, p = _binary(y_true, y_pred)
    predicted = p.astype(bool)
    return float((y & predicted).sum() / predicted.sum()) if predicted.any() else 0.0


def recall(y_true, y_pred) -> float:
    """Share of positives that are predicted positive: TP / (TP + FN); 0 when there are no positives."""
    y, p = _binary(y_true, y_pred)
    return float((y & p.astype(bool)).sum() / y.sum()) if y.any() else 0.0


def f1(y_true, y_pred) -> float:
    """Harmonic mean of precision and recall, 2PR / (P + R); 0 when both are 0."""
    pr, rc = precision(y_true, y_pred), recall(y_true, y_pred)
    return 0.0 if pr + rc == 0 else 2 * pr * rc / (pr + rc)


def roc_auc(y_true, scores) -> float:
    r"""Area under the ROC curve: the probability that a random positive outscores a random negative.

    Computed with the Mann-Whitney statistic on average ranks (ties count one half):
    :math:`AUC = (\sum_{\text{pos}} \text{rank} - n_+(n_+ + 1)/2) / (n_+ n_-)`.
    """
    y, s = _binary(y_true, scores, ("y_true", "scores"))
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC-AUC needs at least one positive and one negative label")
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# -- top-k ranking ----------------------------------------------------------------------------


def _align(recommended, relevant, k: int, users=None) -> tuple[np.ndarray, np.ndarray]:
    """Hits matrix ``(n_users, k)`` and relevant counts ``(n_users,)`` for users with relevant items."""
    k = check_positive_int(k, "k")
    if not isinstance(relevant, Mapping):
        raise TypeError("relevant must be a mapping {user: collection of relevant items}")
    if isinstance(recommended, Mapping):
        user_list = [u for u in relevant if len(relevant[u]) > 0]
        rows = [list(recommended.get(u, ()))[:k] for u in user_list]
    else:
        if users is None:
            raise ValueError("with a 2-D array of recommendations, pass users= (one per row)")
        array = np.asarray(recommended)
        if array.ndim != 2 or len(array) != len(users):
            raise ValueError(f"recommended must have shape (len(users), >=k) = ({len(users)}, {k}), got {array.shape}")
        keep = [j for j, u in enumerate(users) if len(relevant.get(u, ())) > 0]
        user_list = [users[j] for j in keep]
        rows = [list(array[j, :k]) for j in keep]
    hits = np.zeros((len(user_list), k), dtype=bool)
    n_rel = np.zeros(len(user_list), dtype=np.int64)
    for row, (u, recs) in enumerate(zip(user_list, rows)):
        rel = relevant[u]
        rel = rel if isinstance(rel, (set, frozenset)) else set(rel)
        n_rel[row] = len(rel)
        hits[row, : len(recs)] = [item in rel for item in recs]
    if len(user_list) == 0:
        raise ValueError("no user has a relevant item: ranking metrics are undefined")
    return hits, n_rel


def precision_at_k(recommended, relevant, k: int = 10, *, users=None) -> float:
    """Precision@k: hits in the top k divided by k, averaged over users."""
    hits, _ = _align(recommended, relevant, k, users)
    return float(hits.sum(axis=1).mean() / k)


def recall_at_k(recommended, relevant, k: int = 10, *, users=None) -> float:
    """Recall@k: hits in the top k divided by the number of relevant items, averaged over users."""
    hits, n_rel = _align(recommended, relevant, k, users)
    return float((hits.sum(axis=1) / n_rel).mean())


def hit_rate_at_k(recommended, relevant, k: int = 10, *, users=None) -> float:
    """Hit rate@k: share of users with at least one relevant item in their top k."""
    hits, _ = _align(recommended, relevant, k, users)
    return float(hits.any(axis=1).mean())


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(recommended, relevant, k: int = 10, *, users=None) -> float:
    """NDCG@k with binary relevance; the ideal DCG places min(k, |relevant|) hits on top."""
    hits, n_rel = _align(recommended, relevant, k, users)
    disc = _discounts(k)
    dcg = hits @ disc
    idcg = np.cumsum(disc)[np.minimum(n_rel, k) - 1]
    return float((dcg / idcg).mean())


def map_at_k(recommended, relevant, k: int = 10, *, users=None, denominator: str = "min_k") -> float:
    """Mean average precision@k: sum of precision@j at each hit j, divided by min(k, |relevant|).

    ``denominator="relevant"`` divides by |relevant| instead (Microsoft Recommenders' ``map``).
    """
    hits, n_rel = _align(recommended, relevant, k, users)
    if denominator not in ("min_k", "relevant"):
        raise ValueError(f"denominator must be 'min_k' or 'relevant', got {denominator!r}")
    precision_at_j = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    denom = np.minimum(n_rel, k) if denominator == "min_k" else n_rel
    return float(((precision_at_j * hits).sum(axis=1) / denom).mean())


def mrr_at_k(recommended, relevant, k: int = 10, *, users=None) -> float:
    """Mean reciprocal rank@k: 1 / rank of the first hit (0 when none), averaged over users."""
    hits, _ = _align(recommended, relevant, k, users)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, np.inf)
    return float((1.0 / first).mean())


def ranking_metrics(recommended, relevant, k: int = 10, *, users=None) -> dict[str, float]:
    """Every ranking metric at ``k`` in one dict (keys ``precision@k``, ``recall@k``, ...)."""
    return {
        f"precision@{k}": precision_at_k(recommended, relevant, k, users=users),
        f"recall@{k}": recall_at_k(recommended, relevant, k, users=users),
        f"hit_rate@{k}": hit_rate_at_k(recommended, relevant, k, users=users),
        f"ndcg@{k}": ndcg_at_k(recommended, relevant, k, users=users),
        f"map@{k}": map_at_k(recommended, relevant, k, users=users),
        f"mrr@{k}": mrr_at_k(recommended, relevant, k, users=users),
    }


# -- beyond accuracy --------------------------------------------------------------------------


def _all_items(recommended) -> np.ndarray:
    lists = recommended.values() if isinstance(recommended, Mapping) else np.asarray(recommended)
    flat = [item for recs in lists for item in recs]
    return np.asarray(flat)


def catalogue_coverage(recommended, n_items: int) -> float:
    """Share of the catalogue (``n_items`` items) that appears in at least one recommendation list."""
    n_items = check_positive_int(n_items, "n_items")
    items = _all_items(recommended)
    items = items[items != -1] if items.dtype.kind in "iu" else items
    return len(set(items.tolist())) / n_items


def novelty(recommended, item_popularity: Mapping) -> float:
    r"""Mean self-information of recommended items, :math:`-\log_2 p(i)`, in bits.

    ``item_popularity`` maps an item to the share of users who interacted with it in training
    (a number in (0, 1]). Items missing from it are skipped. Higher means less obvious.
    """
    values = [item_popularity[i] for i in _all_items(recommended).tolist() if i in item_popularity]
    if not values:
        raise ValueError("no recommended item has a known popularity")
    p = np.asarray(values, dtype=float)
    if (p <= 0).any() or (p > 1).any():
        raise ValueError("item_popularity must hold shares in (0, 1]")
    return float(np.mean(-np.log2(p)))
