r"""One comparison table for several models on one split, and the capstone's temporal protocol.

:func:`compare_models` fits every model on the same training ratings and measures, in one call:

* ``fit_seconds``: CPU time of ``fit`` (``time.process_time``), the only column that is not
  deterministic;
* ``rmse``, ``mae``: protocol ``rating`` (:func:`course_lib.evaluate.evaluate_ratings`), for
  rating models only (NaN for ranking models, whose scores are not ratings);
* ``precision@k``, ``recall@k``, ``ndcg@k``, ``map@k``, ``coverage``, ``novelty@k``: protocol
  ``full_ranking`` (:func:`course_lib.evaluate.evaluate_full_ranking`), every test user included: a
  user the model does not know is ranked by the model's fallback (popularity for most models);
* with ``user_groups=True``, ``ndcg@k (known users)`` and ``ndcg@k (new users)`` split that NDCG
  between the test users the model was trained on and the others
  (:func:`course_lib.evaluate.evaluate_full_ranking_by_group`).

:func:`temporal_protocol` gives the honest product split: train on the past, choose
hyperparameters on the next slice of time (validation), report on the most recent slice (test).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from .evaluate import evaluate_full_ranking, evaluate_full_ranking_by_group, evaluate_ratings
from .models.base import Recommender
from .split import temporal_split
from .validation import check_fraction, check_positive_int

__all__ = ["compare_models", "is_rating_model", "temporal_protocol"]


def is_rating_model(model: Recommender) -> bool:
    """True if the model's predictions are ratings (``model.predicts_ratings``), e.g. BiasedMF.

    Ranking models (ItemKNN, EASE, ImplicitALS, BPRMF) output scores that are not on the rating
    scale, so RMSE is meaningless for them. A neural model trained on implicit feedback
    (``objective`` other than ``"mse"``, e.g. ``DotProduct(objective="bce")``) outputs logits or
    scores: not a rating model either, even before it is fitted.
    """
    return bool(model.predicts_ratings)


def compare_models(models: Mapping[str, Recommender], train: pd.DataFrame, test: pd.DataFrame, k: int = 10,
                   rating_models: Iterable[str] | None = None, *, users: pd.DataFrame | None = None,
                   items: pd.DataFrame | None = None, item_vectors: pd.DataFrame | None = None,
                   user_groups: bool = False) -> pd.DataFrame:
    """Fit each model on ``train`` and evaluate it on ``test``: one row per model, indexed by name.

    Parameters
    ----------
    models : ``{name: unfitted (or fitted, it is refitted) model}``, in the order of the table.
    train, test : ratings DataFrames (user_id, item_id, rating).
    k : cut-off of the ranking metrics.
    rating_models : names of the models to score with RMSE/MAE; ``None`` = every model for
        which :func:`is_rating_model` is True. The others get NaN.
    users, items, item_vectors : side tables given to every model's ``fit`` (the contract's side
        inputs: models that read features use them, the others ignore them).
    user_groups : add ``ndcg@k (known users)`` and ``ndcg@k (new users)``.

    Returns
    -------
    DataFrame with columns ``fit_seconds, rmse, mae, precision@k, recall@k, ndcg@k, map@k,
    coverage, novelty@k`` (index ``model``). Every column but ``fit_seconds`` is deterministic
    for deterministic (seeded) models.
    """
    k = check_positive_int(k, "k")
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty dict {name: model}")
    for name, model in models.items():
        if not isinstance(model, Recommender):
            raise TypeError(f"models[{name!r}] is a {type(model).__name__}, not a course Recommender")
    if rating_models is None:
        rating = {name for name, model in models.items() if is_rating_model(model)}
    else:
        rating = set(rating_models)
        unknown = rating - set(models)
        if unknown:
            raise ValueError(f"rating_models names {sorted(map(str, unknown))} that are not in models")
    columns = ["fit_seconds", "rmse", "mae", f"precision@{k}", f"recall@{k}", f"ndcg@{k}", f"map@{k}",
               "coverage", f"novelty@{k}"]
    rows = []
    for name, model in models.items():
        start = time.process_time()
        model.fit(train, users=users, items=items, item_vectors=item_vectors)
        row = {"model": name, "fit_seconds": time.process_time() - start, "rmse": np.nan, "mae": np.nan}
        if name in rating:
            row.update(evaluate_ratings(model, test))
        if user_groups:
            groups = evaluate_full_ranking_by_group(model, test, k)
            row.update({key: value for key, value in groups.loc["all"].items() if key != "n_users"})
            for group in ("known users", "new users"):
                row[f"ndcg@{k} ({group})"] = groups.loc[group].get(f"ndcg@{k}", np.nan)
        else:
            row.update(evaluate_full_ranking(model, test, k))
        rows.append(row)
    if user_groups:
        columns += [f"ndcg@{k} (known users)", f"ndcg@{k} (new users)"]
    return pd.DataFrame(rows).set_index("model")[columns]


def temporal_protocol(ratings: pd.DataFrame, test_size: float = 0.2,
                      validation_size: float = 0.1) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(train, validation, test)``, all cut by time: train < validation < test.

    ``test`` is the last ``test_size`` share of all ratings
    (:func:`~course_lib.split.temporal_split`); ``validation`` is then the last
    ``validation_size`` share *of the remaining training ratings*, cut the same way. Fit the
    final model on ``train + validation`` (``pd.concat``) once hyperparameters are chosen.
    """
    check_fraction(test_size, "test_size")
    check_fraction(validation_size, "validation_size")
    rest, test = temporal_split(ratings, test_size)
    train, validation = temporal_split(rest, validation_size)
    return train, validation, test
