"""The course's NDCG@k is Microsoft Recommenders' ``ndcg_at_k``, to 1e-6, on the same recommendations.

``msr_ndcg_at_k`` below re-implements, step by step, ``recommenders.evaluation.python_evaluation.ndcg_at_k``
of recommenders 1.2.1 with its defaults (``relevancy_method="top_k"``, ``score_type="binary"``,
``discfun_type="loge"``), read from its source:

1. keep the users present in both the truth and the predictions;
2. sort the predictions by user, then score descending (pandas' multi-column sort is stable: tied
   scores keep the order of the rows), keep each user's first ``k`` and number them 1..k;
3. hits = the kept rows whose (user, item) is in the truth;
4. DCG of a user = sum over hits of ``1 / ln(1 + rank)``; IDCG = the same over ranks ``1..min(k, |truth_u|)``;
5. NDCG = DCG / IDCG per user, averaged over **every user of the truth** (a user without a hit, or
   without predictions, counts 0); 0.0 when nothing is hit at all.

There is no relevance threshold on the truth in ``ndcg_at_k`` (its ``threshold`` argument applies to
predictions with ``relevancy_method="by_threshold"``): "relevant = rated >= 4" means filtering the truth
first, which is what the course's ``evaluate_full_ranking(..., threshold=4)`` does.

The re-implementation was checked against the package itself (recommenders 1.2.1 installed with
``--no-deps`` beside pandas 2.3.3 / NumPy 1.26.4 in a separate virtual environment, since the package
pins older NumPy and pandas than the course): set ``MSR_PYTHON`` to such an interpreter and
``test_the_reference_equals_the_package`` compares them too (skipped otherwise).
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pandas as pd
import pytest

from course_lib import metrics
from course_lib.evaluate import evaluate_full_ranking
from course_lib.models import EASE, ItemKNN, Popularity
from course_lib.split import stratified_split

TOL = 1e-6


def msr_ndcg_at_k(rating_true: pd.DataFrame, rating_pred: pd.DataFrame, k: int = 10) -> float:
    """Microsoft Recommenders' ``ndcg_at_k`` (1.2.1, defaults), columns user_id, item_id, prediction."""
    common = set(rating_true.user_id) & set(rating_pred.user_id)
    pred = rating_pred[rating_pred.user_id.isin(common)]
    top = pred.sort_values(["user_id", "prediction"], ascending=[True, False], kind="stable")
    top = top.groupby("user_id").head(k).copy()
    top["rank"] = top.groupby("user_id").cumcount() + 1
    hits = top.merge(rating_true[["user_id", "item_id"]], on=["user_id", "item_id"])
    if len(hits) == 0:
        return 0.0
    dcg = (1.0 / np.log(1.0 + hits["rank"])).groupby(hits.user_id).sum()
    n_true = rating_true.groupby("user_id").size()
    idcg = n_true.clip(upper=k).map(lambda n: float(np.sum(1.0 / np.log(1.0 + np.arange(1, n + 1)))))
    return float((dcg.reindex(n_true.index, fill_value=0.0) / idcg).mean())


def predictions_of(model, users) -> pd.DataFrame:
    """Every unseen item's score for ``users``, rows in the model's item order (the order ties keep)."""
    scores = model.score_items(users)
    seen = model.data_.matrix[model.data_.encode_users(users)].toarray() > 0
    u, i = np.nonzero(~seen)
    return pd.DataFrame({"user_id": np.asarray(users)[u], "item_id": model.data_.item_ids[i],
                         "prediction": scores[u, i]})


@pytest.fixture(scope="module")
def split(ratings):
    return stratified_split(ratings, 0.25, by="user", random_state=42)


@pytest.mark.parametrize("make", [Popularity, lambda: ItemKNN(k=20), lambda: EASE(500)],
                         ids=["popularity (ties everywhere)", "item-kNN k=20 (ties at 0)", "EASE"])
@pytest.mark.parametrize("threshold", [None, 4])
def test_course_ndcg_equals_microsoft_recommenders(make, threshold, split):
    train, test = split
    model = make().fit(train)
    truth = test if threshold is None else test[test.rating >= threshold]
    users = sorted(set(truth.user_id))
    preds = predictions_of(model, users)
    ours = evaluate_full_ranking(model, test, 10, threshold=threshold)["ndcg@10"]
    theirs = msr_ndcg_at_k(truth, preds, 10)
    assert abs(ours - theirs) < TOL, (ours, theirs)
    if threshold is not None:  # the threshold matters: all ratings give another number
        assert abs(evaluate_full_ranking(model, test, 10)["ndcg@10"] - theirs) > 1e-3


def test_ties_users_with_few_relevant_items_and_users_without_hits():
    """A hand-made case: every rule that differs between NDCG variants changes the value."""
    truth = pd.DataFrame({"user_id": [1, 1, 2, 3, 3, 3], "item_id": [10, 11, 12, 10, 13, 14]})
    # user 1: items 10 and 11 tie with 12; user 2: its only relevant item at rank 3; user 3: no hit
    pred = pd.DataFrame({"user_id": [1, 1, 1, 1, 2, 2, 2, 3, 3],
                         "item_id": [12, 10, 11, 14, 10, 11, 12, 11, 12],
                         "prediction": [0.5, 0.5, 0.5, 0.1, 0.9, 0.8, 0.7, 0.3, 0.2]})
    recs = {u: g.sort_values("prediction", ascending=False, kind="stable").item_id.tolist()
            for u, g in pred.groupby("user_id")}
    relevant = {u: set(g.item_id) for u, g in truth.groupby("user_id")}
    for k in (1, 2, 3):
        ours = metrics.ndcg_at_k(recs, relevant, k)
        assert abs(ours - msr_ndcg_at_k(truth, pred, k)) < TOL, k
    # by hand at k = 2: user 1 has 12 (miss), 10 (hit at rank 2) -> (1/ln 3) / (1/ln 2 + 1/ln 3);
    # user 2 hits at rank 3 only: 0 at k = 2; user 3: 0
    u1 = (1 / np.log(3)) / (1 / np.log(2) + 1 / np.log(3))
    assert metrics.ndcg_at_k(recs, relevant, 2) == pytest.approx(u1 / 3, abs=1e-12)
    # user 2 has one relevant item: its ideal DCG stops at min(k, 1) = 1 position
    assert metrics.ndcg_at_k(recs, relevant, 3) == pytest.approx(
        (((1 / np.log(3) + 1 / np.log(4)) / (1 / np.log(2) + 1 / np.log(3))) + np.log(2) / np.log(4)) / 3, abs=1e-12)


def test_a_wrong_variant_would_be_caught(split):
    """Averaging over users with a hit only, or an IDCG over k positions, moves NDCG by far more than 1e-6."""
    train, test = split
    model = EASE(500).fit(train)
    users = sorted(set(test.user_id))
    preds = predictions_of(model, users)
    top = {u: g.sort_values("prediction", ascending=False, kind="stable").item_id.head(10).tolist()
           for u, g in preds.groupby("user_id")}
    relevant = {u: set(g.item_id) for u, g in test.groupby("user_id")}
    disc = 1 / np.log2(np.arange(2, 12))
    per_user = {u: sum(disc[r] for r, i in enumerate(top[u]) if i in relevant[u]) for u in users}
    idcg_k = disc.sum()
    truth = msr_ndcg_at_k(test, preds, 10)
    assert abs(np.mean([per_user[u] / idcg_k for u in users]) - truth) > 1e-3  # IDCG over k positions
    idcg = {u: disc[:min(10, len(relevant[u]))].sum() for u in users}
    with_hit = [per_user[u] / idcg[u] for u in users if per_user[u] > 0]
    assert abs(np.mean(with_hit) - truth) > 1e-3  # averaged over users with a hit only
    assert abs(np.mean([per_user[u] / idcg[u] for u in users]) - truth) < TOL  # the right one
    few = [u for u in users if len(relevant[u]) < 10]
    assert few, "the split must have users with fewer than k relevant items for this test to mean anything"


@pytest.mark.skipif(not os.environ.get("MSR_PYTHON"), reason="set MSR_PYTHON to a Python with recommenders 1.2.1")
def test_the_reference_equals_the_package(split, tmp_path):
    train, test = split
    model = ItemKNN(k=20).fit(train)
    users = sorted(set(test.user_id))
    preds = predictions_of(model, users)
    test[["user_id", "item_id", "rating"]].to_csv(tmp_path / "true.csv", index=False)
    preds.to_csv(tmp_path / "pred.csv", index=False)
    code = ("import json, pandas as pd\n"
            "from recommenders.evaluation.python_evaluation import ndcg_at_k\n"
            f"t = pd.read_csv({str(tmp_path / 'true.csv')!r}); p = pd.read_csv({str(tmp_path / 'pred.csv')!r})\n"
            "kw = dict(col_user='user_id', col_item='item_id', col_rating='rating', col_prediction='prediction', k=10)\n"
            "print(json.dumps([ndcg_at_k(t, p, **kw), ndcg_at_k(t[t.rating >= 4], p, **kw)]))\n")
    done = subprocess.run([os.environ["MSR_PYTHON"], "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    package = json.loads(done.stdout.strip().splitlines()[-1])
    preds = pd.read_csv(tmp_path / "pred.csv")  # the same floats the package read
    assert abs(package[0] - msr_ndcg_at_k(test, preds, 10)) < TOL
    assert abs(package[1] - msr_ndcg_at_k(test[test.rating >= 4], preds, 10)) < TOL
