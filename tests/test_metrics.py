"""Metrics: scikit-learn where it has the metric, hand-computed cases otherwise, and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.metrics as skm

from course_lib import metrics as M


def test_rating_errors_match_sklearn():
    rng = np.random.default_rng(0)
    y, p = rng.integers(1, 6, 500).astype(float), rng.uniform(1, 5, 500)
    assert M.mse(y, p) == pytest.approx(skm.mean_squared_error(y, p), abs=1e-12)
    assert M.rmse(y, p) == pytest.approx(math.sqrt(skm.mean_squared_error(y, p)), abs=1e-12)
    assert M.mae(y, p) == pytest.approx(skm.mean_absolute_error(y, p), abs=1e-12)
    assert M.rmse([3, 4], [3, 4]) == 0.0


def test_rating_errors_reject_bad_input():
    with pytest.raises(ValueError, match="y_true has 3 values but y_pred has 2"):
        M.rmse([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="y_pred contains 1 NaN"):
        M.mae([1, 2], [1, float("nan")])


def test_classification_matches_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    p = rng.integers(0, 2, 300)
    s = np.round(rng.uniform(size=300), 1)  # rounded: many ties
    assert M.precision(y, p) == pytest.approx(skm.precision_score(y, p))
    assert M.recall(y, p) == pytest.approx(skm.recall_score(y, p))
    assert M.f1(y, p) == pytest.approx(skm.f1_score(y, p))
    assert M.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


def test_classification_edge_cases():
    assert M.precision([1, 0], [0, 0]) == 0.0 and M.recall([0, 0], [1, 0]) == 0.0 and M.f1([0, 0], [0, 0]) == 0.0
    with pytest.raises(ValueError, match="at least one positive and one negative"):
        M.roc_auc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="only 0 and 1"):
        M.precision([1, 2], [1, 0])


REL = {"u1": {"a", "c", "x"}, "u2": {"b"}}
RECS = {"u1": ["a", "b", "c"], "u2": ["c", "d", "e"]}


def test_ranking_hand_computed():
    # u1: hits at ranks 1 and 3 of 3 relevant; u2: no hit.
    assert M.precision_at_k(RECS, REL, 3) == pytest.approx((2 / 3 + 0) / 2)
    assert M.recall_at_k(RECS, REL, 3) == pytest.approx((2 / 3 + 0) / 2)
    assert M.hit_rate_at_k(RECS, REL, 3) == 0.5
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert M.ndcg_at_k(RECS, REL, 3) == pytest.approx(dcg / idcg / 2)
    assert M.map_at_k(RECS, REL, 3) == pytest.approx((1 + 2 / 3) / 3 / 2)
    assert M.mrr_at_k(RECS, REL, 3) == pytest.approx(0.5)


def test_ranking_extremes():
    perfect = {"u": ["a", "b"]}
    rel = {"u": {"a", "b"}}
    assert M.ndcg_at_k(perfect, rel, 2) == M.map_at_k(perfect, rel, 2) == M.precision_at_k(perfect, rel, 2) == 1.0
    nothing = {"u": ["c", "d"]}
    assert M.ndcg_at_k(nothing, rel, 2) == M.map_at_k(nothing, rel, 2) == M.mrr_at_k(nothing, rel, 2) == 0.0


def test_ndcg_matches_sklearn_binary():
    rng = np.random.default_rng(3)
    items = np.arange(50)
    recs, rel, scores, truth = {}, {}, [], []
    for u in range(30):
        s = rng.permutation(50)
        relevant = set(rng.choice(50, size=rng.integers(1, 12), replace=False).tolist())
        recs[u] = list(np.argsort(-s, kind="stable")[:10])
        rel[u] = relevant
        scores.append(s)
        truth.append(np.isin(items, list(relevant)).astype(int))
    ours = M.ndcg_at_k(recs, rel, 10)
    assert ours == pytest.approx(skm.ndcg_score(np.array(truth), np.array(scores), k=10), abs=1e-12)


def test_k_larger_than_list_and_missing_user():
    rel = {"u": {"a"}, "v": {"b"}}
    recs = {"u": ["a"]}  # v has no recommendations: scores 0
    assert M.precision_at_k(recs, rel, 5) == pytest.approx((1 / 5) / 2)
    assert M.ndcg_at_k(recs, rel, 5) == 0.5
    users_without_relevant = {"w": set(), **rel}
    assert M.ndcg_at_k(recs, users_without_relevant, 5) == 0.5  # w is skipped


def test_array_input_and_map_denominators():
    arr = np.array([["a", "b", "c"], ["c", "d", "e"]])
    assert M.ndcg_at_k(arr, REL, 3, users=["u1", "u2"]) == M.ndcg_at_k(RECS, REL, 3)
    assert M.map_at_k(RECS, REL, 3, denominator="relevant") == pytest.approx((1 + 2 / 3) / 3 / 2)
    with pytest.raises(ValueError, match="pass users="):
        M.ndcg_at_k(arr, REL, 3)
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        M.ndcg_at_k(RECS, REL, 0)


def test_coverage_and_novelty():
    assert M.catalogue_coverage(RECS, 10) == 0.5
    pop = {"a": 0.5, "b": 0.25, "c": 1.0, "d": 0.5, "e": 0.5}
    assert M.novelty(RECS, pop) == pytest.approx(np.mean([1, 2, 0, 0, 1, 1]))
