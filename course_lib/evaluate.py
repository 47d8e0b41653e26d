r"""The course's named evaluation protocols. Results differ between protocols: always say which.

``rating``        RMSE and MAE of predicted ratings on held-out (user, item, rating) rows.
``full_ranking``  for every test user, rank *all* items not seen in training; compare the top k
                  with the user's held-out items (precision, recall, NDCG, MAP ... at k), plus
                  catalogue coverage and novelty.
``sampled``       the NCF protocol (He et al. 2017): rank each held-out item among
                  ``n_negatives`` sampled items the user never rated; HR@k and NDCG@k. Cheap,
                  but it can order models differently from full ranking (Krichene and Rendle,
                  "On Sampled Metrics for Item Recommendation", KDD 2020).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics
from .models.base import Recommender
from .validation import check_positive_int, check_ratings


def evaluate_ratings(model: Recommender, test: pd.DataFrame) -> dict[str, float]:
    """Protocol ``rating``: RMSE and MAE of ``model.test(test)`` against ``test['rating']``."""
    check_ratings(test, name="test ratings", allow_duplicates=True)
    est = model.test(test)["est"].to_numpy()
    truth = test["rating"].to_numpy()
    return {"rmse": metrics.rmse(truth, est), "mae": metrics.mae(truth, est)}


def relevant_items(test: pd.DataFrame, threshold: float | None = None) -> dict:
    """``{user_id: set of item_ids}`` from held-out rows (only ratings >= ``threshold`` if given)."""
    rows = test if threshold is None else test[test["rating"] >= threshold]
    return {u: set(items) for u, items in rows.groupby("user_id")["item_id"]}


def top_k(model: Recommender, users, k: int = 10, batch_size: int = 512) -> dict:
    """``{user_id: [k item_ids, best first]}`` for users known to ``model`` (seen items excluded)."""
    model._check_fitted()
    data = model.data_
    users = np.asarray(list(users))
    inner = data.encode_users(users)
    known = inner >= 0
    out = {}
    for start in range(0, int(known.sum()), batch_size):
        chunk_users = users[known][start:start + batch_size]
        top = model.recommend_inner(inner[known][start:start + batch_size], k)
        for u, row in zip(chunk_users.tolist(), top):
            out[u] = data.item_ids[row[row >= 0]].tolist()
    return out


def evaluate_full_ranking(model: Recommender, test: pd.DataFrame, k: int = 10, *,
                          threshold: float | None = None) -> dict[str, float]:
    """Protocol ``full_ranking`` over every test user (users unknown to the model score 0)."""
    k = check_positive_int(k, "k")
    check_ratings(test, name="test ratings", allow_duplicates=True)
    relevant = relevant_items(test, threshold)
    recs = top_k(model, relevant.keys(), k)
    result = metrics.ranking_metrics(recs, relevant, k)
    data = model.data_
    popularity = dict(zip(data.item_ids.tolist(), (data.item_counts() / data.n_users).tolist()))
    result["coverage"] = metrics.catalogue_coverage(recs, data.n_items)
    result[f"novelty@{k}"] = metrics.novelty(recs, popularity)
    return result


def evaluate_sampled(model: Recommender, test: pd.DataFrame, train: pd.DataFrame, *, n_negatives: int = 99,
                     k: int = 10, random_state: int = 0) -> dict[str, float]:
    r"""Protocol ``sampled`` (NCF): rank each test item among ``n_negatives`` unrated training items.

    The rank of the held-out item is the number of sampled items scored strictly higher
    (ties resolved in the held-out item's favour, as in the NCF reference code), and
    :math:`HR@k = [\text{rank} < k]`, :math:`NDCG@k = [\text{rank} < k] / \log_2(\text{rank} + 2)`.
    """
    n_negatives = check_positive_int(n_negatives, "n_negatives")
    k = check_positive_int(k, "k")
    model._check_fitted()
    data = model.data_
    u = data.encode_users(test["user_id"].to_numpy())
    i = data.encode_items(test["item_id"].to_numpy())
    keep = (u >= 0) & (i >= 0)
    if not keep.any():
        raise ValueError("no test row has a user and item known to the model")
    u, i = u[keep], i[keep]
    tu, ti = data.encode_users(train["user_id"].to_numpy()), data.encode_items(train["item_id"].to_numpy())
    known = (tu >= 0) & (ti >= 0)
    seen = np.unique(np.concatenate([tu[known] * data.n_items + ti[known], u * data.n_items + i]))
    rng = np.random.default_rng(random_state)
    negatives = rng.integers(0, data.n_items, size=(len(u), n_negatives))
    bad = np.isin(u[:, None] * data.n_items + negatives, seen)
    while bad.any():  # redraw, all at once, the few negatives the user has in fact rated
        rows = np.nonzero(bad)[0]
        negatives[bad] = rng.integers(0, data.n_items, size=len(rows))
        bad[bad] = np.isin(u[rows] * data.n_items + negatives[bad], seen)
    hr, ndcg = np.zeros(len(u)), np.zeros(len(u))
    for start in range(0, len(u), 256):
        sl = slice(start, start + 256)
        scores = np.asarray(model._scores(u[sl]), dtype=float)
        rows = np.arange(scores.shape[0])[:, None]
        pos = scores[rows[:, 0], i[sl]]
        rank = (scores[rows, negatives[sl]] > pos[:, None]).sum(axis=1)
        hr[sl] = rank < k
        ndcg[sl] = np.where(rank < k, 1.0 / np.log2(rank + 2), 0.0)
    return {f"hr@{k}": float(hr.mean()), f"ndcg@{k}": float(ndcg.mean())}
