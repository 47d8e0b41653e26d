r"""Cold-start splits and their evaluation.

A random split almost never leaves a user or an item without training ratings, so it cannot
tell whether side features help *new* users or items. :func:`cold_start_split` holds out whole
users and whole items instead:

``train``       the ratings of warm users on warm items, minus ``warm_test``;
``warm_test``   a random share of the warm ratings (the usual setting);
``cold_users``  the ratings of held-out users on warm items (the model never saw these users);
``cold_items``  the ratings of warm users on held-out items;
``support``     the first ``n_support`` ratings (by time) of each cold user: add them to the
                training set for the "a handful of ratings" setting; they are removed from
                ``cold_users`` so every setting is scored on the same rows.

Ratings of a held-out user on a held-out item are dropped.

:func:`evaluate_cold_start` scores the rows of each setting (RMSE and a re-ranking NDCG);
:func:`evaluate_cold_user_ranking` ranks the whole warm catalogue for each brand-new user, which is
what a recommender has to do on a new user's first visit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from . import metrics
from .validation import check_rate, check_ratings

__all__ = ["ColdStartSplit", "cold_start_split", "evaluate_cold_start", "evaluate_cold_user_ranking"]


class ColdStartSplit(NamedTuple):
    train: pd.DataFrame
    warm_test: pd.DataFrame
    cold_users: pd.DataFrame
    cold_items: pd.DataFrame
    support: pd.DataFrame

    def __repr__(self) -> str:
        return "ColdStartSplit(" + ", ".join(f"{k}={len(v):,} ratings" for k, v in self._asdict().items()) + ")"


def cold_start_split(ratings: pd.DataFrame, user_share: float = 0.1, item_share: float = 0.1,
                     test_size: float = 0.1, n_support: int = 5, random_state: int = 42) -> ColdStartSplit:
    """Hold out a share of whole users and whole items (seeded); see the module docstring.

    Cold items with fewer ratings than the median are as likely as any to be drawn (uniform
    over ids), so the cold items look like the catalogue, not like the popular head.
    """
    check_ratings(ratings, name="ratings", allow_duplicates=True)
    for name, v in (("user_share", user_share), ("item_share", item_share), ("test_size", test_size)):
        check_rate(v, name)
    if n_support < 0:
        raise ValueError(f"n_support must be >= 0, got {n_support}")
    rng = np.random.default_rng(random_state)
    users = np.sort(ratings["user_id"].unique())
    items = np.sort(ratings["item_id"].unique())
    cold_u = set(rng.choice(users, int(round(user_share * len(users))), replace=False).tolist())
    cold_i = set(rng.choice(items, int(round(item_share * len(items))), replace=False).tolist())
    is_cu = ratings["user_id"].isin(cold_u).to_numpy()
    is_ci = ratings["item_id"].isin(cold_i).to_numpy()
    warm = ratings[~is_cu & ~is_ci]
    cold_items = ratings[~is_cu & is_ci]
    cold_users = ratings[is_cu & ~is_ci]
    order = cold_users.sort_values(["user_id", "timestamp"] if "timestamp" in cold_users else ["user_id"],
                                   kind="stable")
    first = order.groupby("user_id").cumcount() < n_support
    support = order[first.to_numpy()].sort_index()
    cold_users = cold_users.drop(index=support.index)
    test_mask = rng.random(len(warm)) < test_size
    return ColdStartSplit(warm[~test_mask], warm[test_mask], cold_users, cold_items, support)


def evaluate_cold_start(model, split: ColdStartSplit, k: int = 10, threshold: float = 4.0,
                        **test_kwargs) -> pd.DataFrame:
    """RMSE, MAE and a re-ranking NDCG@k of ``model.test`` on the warm, cold-user and cold-item rows.

    ``ndcg@k``: each user's held-out rows of the setting are sorted by estimate (ties in row order) and the
    top ``k`` compared with the rows rated ``>= threshold`` (binary NDCG, averaged over users with at
    least one such row). It asks "among the movies this user rated, are the liked ones on top?", which
    needs no score for unrated movies, so any rating model can be compared on cold users and items.
    ``test_kwargs`` go to ``model.test`` (e.g. new feature tables of a feature-aware model).
    Returns a DataFrame indexed by setting with columns ``rmse``, ``mae``, ``ndcg@k``, ``n``.
    """
    rows = {}
    for name in ("warm_test", "cold_users", "cold_items"):
        test = getattr(split, name)
        if len(test) == 0:
            continue
        pred = model.test(test, **test_kwargs)
        est = pred["est"].to_numpy()
        truth = test["rating"].to_numpy(dtype=float)
        ranked = pred.assign(_order=np.arange(len(pred))).sort_values(
            ["user_id", "est", "_order"], ascending=[True, False, True], kind="stable")
        recommended = {u: g["item_id"].tolist() for u, g in ranked.groupby("user_id", sort=False)}
        relevant = {u: set(g["item_id"]) for u, g in test[test["rating"] >= threshold].groupby("user_id")}
        ndcg = metrics.ndcg_at_k(recommended, relevant, k) if relevant else float("nan")
        rows[name] = {"rmse": metrics.rmse(truth, est), "mae": metrics.mae(truth, est), f"ndcg@{k}": ndcg,
                      "n": len(test)}
    return pd.DataFrame.from_dict(rows, orient="index")


def evaluate_cold_user_ranking(model, split: ColdStartSplit, k: int = 10,
                               threshold: float | None = 4.0) -> dict[str, float]:
    r"""Full-catalogue top-``k`` ranking for the brand-new users of ``split`` (NDCG, recall and hit rate @k).

    Protocol. For every cold user (``split.cold_users``), the candidates are all the *warm* movies
    (those of ``split.train``) except the user's ``support`` movies, which were already shown to the
    system (they are excluded whether or not the model trained on them, so every setting ranks the
    same candidates). The model scores every candidate with ``model.score_items``, that is with its
    own cold-start path for a user it does not know (popularity for most models; the bias
    :math:`\mu + b_i` for biased rating models; the features of the ``users`` table given to ``fit``
    for feature-aware models; folded-in vectors after ``fold_in``), the ``k`` best are kept (ties:
    lower item id first), and they are compared with the user's held-out movies in
    ``split.cold_users`` rated ``>= threshold`` (``threshold=None``: every held-out movie the user rated
    counts). Users without a relevant movie are skipped. Metrics (binary relevance,
    :mod:`course_lib.metrics`): ``ndcg@k``, ``recall@k`` (hits / relevant) and ``hit_rate@k`` (at least
    one hit), averaged over users; ``n_users`` is how many were scored.
    """
    if len(split.cold_users) == 0:
        raise ValueError("the split has no cold-user rows to rank for")
    users = np.sort(split.cold_users["user_id"].unique())
    items = np.sort(split.train["item_id"].unique())
    columns = model.data_.encode_items(items)
    scores = np.full((len(users), len(items)), -np.inf)
    known = columns >= 0
    scores[:, known] = np.asarray(model.score_items(users), dtype=float)[:, columns[known]]
    row = {u: r for r, u in enumerate(users)}
    col = pd.Index(items)
    sup = split.support[split.support["user_id"].isin(row)]
    c = col.get_indexer(sup["item_id"].to_numpy())
    keep = c >= 0
    scores[[row[u] for u in sup["user_id"].to_numpy()[keep]], c[keep]] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # ties: lower item id first (items sorted)
    recommended = {u: items[order[r]].tolist() for u, r in row.items()}
    test = split.cold_users if threshold is None else split.cold_users[split.cold_users["rating"] >= threshold]
    relevant = {u: set(g["item_id"]) for u, g in test.groupby("user_id")}
    if not relevant:
        raise ValueError("no cold user has a relevant held-out movie")
    return {f"ndcg@{k}": metrics.ndcg_at_k(recommended, relevant, k),
            f"recall@{k}": metrics.recall_at_k(recommended, relevant, k),
            f"hit_rate@{k}": metrics.hit_rate_at_k(recommended, relevant, k), "n_users": len(relevant)}
