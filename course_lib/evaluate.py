r"""The course's named evaluation protocols. Results differ between protocols: always say which.

``rating``        RMSE and MAE of predicted ratings on held-out (user, item, rating) rows.
``full_ranking``  for every test user, rank *all* items not seen in training; compare the top k
                  with the user's held-out items (precision, recall, NDCG, MAP ... at k), plus
                  catalogue coverage and novelty. Users the model has never seen are ranked by the
                  model's fallback (popularity unless the model has a better rule, such as side
                  features): :func:`evaluate_full_ranking_by_group` reports them apart.
``sampled``       the NCF protocol (He et al. 2017): rank each held-out item among
                  ``n_negatives`` sampled items the user never interacted with (neither in
                  training nor among their other held-out items); HR@k and NDCG@k. Cheap, but it
                  can order models differently from full ranking (Krichene and Rendle,
                  "On Sampled Metrics for Item Recommendation", KDD 2020).
``next_item``     sequences: each user's held-out next item ranked among all unseen items.

Every protocol uses only the public methods of the models (``test``, ``top_n``, ``score_items``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics
from .models.base import Recommender, check_is_fitted
from .sampling import pair_keys, sample_unseen
from .validation import check_positive_int, check_random_state, check_ratings

__all__ = ["evaluate_full_ranking", "evaluate_full_ranking_by_group", "evaluate_next_item", "evaluate_ratings",
           "evaluate_sampled", "relevant_items", "top_k"]


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


def top_k(model: Recommender, users, k: int = 10) -> dict:
    """``{user_id: [k item_ids, best first]}`` (seen items excluded; unknown users: the fallback ranking)."""
    users = list(users)
    return {u: items.tolist() for u, items in zip(users, model.top_n(users, k))}


def _ranking_result(model: Recommender, recs: dict, relevant: dict, k: int) -> dict[str, float]:
    result = metrics.ranking_metrics(recs, relevant, k)
    data = model.data_
    popularity = dict(zip(data.item_ids.tolist(), (data.item_counts() / data.n_users).tolist()))
    result["coverage"] = metrics.catalogue_coverage(recs, data.n_items)
    result[f"novelty@{k}"] = metrics.novelty(recs, popularity)
    return result


def evaluate_full_ranking(model: Recommender, test: pd.DataFrame, k: int = 10, *,
                          threshold: float | None = None) -> dict[str, float]:
    """Protocol ``full_ranking`` over every test user; unknown users are ranked by the model's fallback.

    Returns the metrics of :func:`course_lib.metrics.ranking_metrics` at ``k``, ``coverage`` and
    ``novelty@k``. :func:`evaluate_full_ranking_by_group` splits them between known and new users.
    """
    k = check_positive_int(k, "k")
    check_ratings(test, name="test ratings", allow_duplicates=True)
    check_is_fitted(model)
    relevant = relevant_items(test, threshold)
    return _ranking_result(model, top_k(model, relevant.keys(), k), relevant, k)


def evaluate_full_ranking_by_group(model: Recommender, test: pd.DataFrame, k: int = 10, *,
                                   threshold: float | None = None) -> pd.DataFrame:
    """:func:`evaluate_full_ranking` for all test users, for those known to the model, and for new ones.

    One row per group (``all``, ``known users``, ``new users``) with ``n_users`` and the metrics. A
    model that cannot personalise for a new user falls back to its fallback ranking (popularity for
    most), so the ``new users`` row shows what the model's cold-start path is worth.
    """
    k = check_positive_int(k, "k")
    check_ratings(test, name="test ratings", allow_duplicates=True)
    check_is_fitted(model)
    relevant = relevant_items(test, threshold)
    recs = top_k(model, relevant.keys(), k)
    known = model.data_.encode_users(list(relevant)) >= 0
    groups = {"all": list(relevant), "known users": [u for u, ok in zip(relevant, known) if ok],
              "new users": [u for u, ok in zip(relevant, known) if not ok]}
    rows = {}
    for name, users in groups.items():
        if users:
            rows[name] = {"n_users": len(users), **_ranking_result(model, {u: recs[u] for u in users},
                                                                    {u: relevant[u] for u in users}, k)}
        else:
            rows[name] = {"n_users": 0}
    return pd.DataFrame.from_dict(rows, orient="index")


def evaluate_sampled(model: Recommender, test: pd.DataFrame, train: pd.DataFrame, *,
                     held_out: pd.DataFrame | None = None, n_negatives: int = 99, k: int = 10,
                     random_state: int = 0) -> dict[str, float]:
    r"""Protocol ``sampled`` (NCF): rank each test item among ``n_negatives`` items the user never interacted with.

    Negatives are drawn uniformly among the model's items that the user has in neither ``train``
    nor ``held_out`` (all of the user's held-out interactions; default ``test``): when ``test``
    holds one item per user taken from a larger test split, pass that split as ``held_out``, or
    the user's other held-out positives could be drawn as "negatives". The rank of the held-out
    item is the number of sampled items scored strictly higher (ties in its favour, as in the NCF
    reference code); :math:`HR@k = [\text{rank} < k]`, :math:`NDCG@k = [\text{rank} < k] / \log_2(\text{rank} + 2)`.
    Rows whose user or item the model does not know are skipped.
    """
    n_negatives = check_positive_int(n_negatives, "n_negatives")
    k = check_positive_int(k, "k")
    check_is_fitted(model)
    data = model.data_
    u = data.encode_users(test["user_id"].to_numpy())
    i = data.encode_items(test["item_id"].to_numpy())
    keep = (u >= 0) & (i >= 0)
    if not keep.any():
        raise ValueError("no test row has a user and item known to the model")
    u, i = u[keep], i[keep]
    interacted = [train] + ([test] if held_out is None else [test, held_out])
    codes = [(data.encode_users(t["user_id"].to_numpy()), data.encode_items(t["item_id"].to_numpy())) for t in interacted]
    tu = np.concatenate([c[0] for c in codes])
    ti = np.concatenate([c[1] for c in codes])
    ok = (tu >= 0) & (ti >= 0)
    seen = pair_keys(tu[ok], ti[ok], data.n_items)
    rng = check_random_state(random_state)
    negatives = sample_unseen(u, data.n_items, seen, n_negatives, rng)[1].reshape(len(u), n_negatives)
    users = data.user_ids[u]
    hr, ndcg = np.zeros(len(u)), np.zeros(len(u))
    for start in range(0, len(u), 256):
        sl = slice(start, start + 256)
        scores = model.score_items(users[sl])
        rows = np.arange(scores.shape[0])[:, None]
        pos = scores[rows[:, 0], i[sl]]
        rank = (scores[rows, negatives[sl]] > pos[:, None]).sum(axis=1)
        hr[sl] = rank < k
        ndcg[sl] = np.where(rank < k, 1.0 / np.log2(rank + 2), 0.0)
    return {f"hr@{k}": float(hr.mean()), f"ndcg@{k}": float(ndcg.mean())}


def evaluate_next_item(model: Recommender, test: pd.DataFrame, k: int = 10) -> dict[str, float]:
    """Protocol ``next_item``: HR@k and NDCG@k, ranking all items the user has not seen in training.

    ``test`` holds each user's held-out items (:func:`course_lib.split.leave_last_out`); with one
    item per user the hit rate is :math:`[\\text{rank} < k]` and NDCG@k is
    :math:`1 / \\log_2(\\text{rank} + 2)` for a hit (computed by :func:`evaluate_full_ranking`).
    """
    k = check_positive_int(k, "k")
    result = evaluate_full_ranking(model, test, k)
    return {f"hr@{k}": result[f"hit_rate@{k}"], f"ndcg@{k}": result[f"ndcg@{k}"]}
