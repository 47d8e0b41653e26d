"""Lesson 15 (the capstone) in course_lib terms: the model table with a PyTorch model, saving and loading a PyTorch
recommender in a fresh process, and int8 quantisation (size, NDCG, the Recommender contract)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from course_lib.compare import compare_models, is_rating_model, temporal_protocol  # noqa: E402
from course_lib.evaluate import (evaluate_full_ranking, evaluate_full_ranking_by_group, evaluate_ratings,  # noqa: E402
                                 relevant_items)
from course_lib.models import BPRMF, EASE, BaselineOnly, BiasedMF, ImplicitALS, ItemKNN, Popularity  # noqa: E402
from course_lib.models import load_model, save_model  # noqa: E402
from course_lib.models.torch_models import DotProduct, FeatureAware, NeuMF  # noqa: E402
from course_lib.models.torch_models.quantization import (  # noqa: E402
    Int8Embedding, quantize, scoring_seconds, serialized_size)

METRICS = ["rmse", "mae", "precision@10", "recall@10", "ndcg@10", "map@10", "coverage", "novelty@10"]
FAST = dict(batch_size=2048, lr=3e-3, progress=False, random_state=0)
#: the largest NDCG@10 change quantisation may cause on the temporal test period (measured: about 0.0001)
NDCG_TOLERANCE = 0.005


@pytest.fixture(scope="module")
def protocol(ratings):
    train, validation, test = temporal_protocol(ratings, test_size=0.2, validation_size=0.1)
    return pd.concat([train, validation]), test


def _models():
    return {"popularity": Popularity(), "bias baseline": BaselineOnly(), "item-kNN": ItemKNN(),
            "EASE": EASE(), "implicit ALS": ImplicitALS(), "biased MF": BiasedMF(n_epochs=5, random_state=0),
            "BPR-MF": BPRMF(n_epochs=5, random_state=0),
            "dot product": DotProduct(objective="bce", n_factors=32, weight_decay=0.0, n_epochs=2, **FAST)}


@pytest.fixture(scope="module")
def table(protocol):
    train, test = protocol
    models = _models()
    return compare_models(models, train, test, k=10), models


@pytest.fixture(scope="module")
def dot(table):
    return table[1]["dot product"]


# -- the comparison table ------------------------------------------------------------------


def test_table_agrees_with_the_protocols_and_the_metrics(table, protocol):
    t, models = table
    train, test = protocol
    assert list(t.index) == list(_models()) and list(t.columns) == ["fit_seconds", *METRICS]
    rating = ["popularity", "bias baseline", "biased MF"]
    # only star-predicting models get RMSE; the BCE dot product is a ranking model (scores are logits)
    assert t.drop(index=rating)[["rmse", "mae"]].isna().all().all()
    assert t.loc["biased MF", "rmse"] == evaluate_ratings(models["biased MF"], test)["rmse"]
    for name in ("popularity", "EASE", "dot product"):  # each row is the protocol's result, column by column
        direct = evaluate_full_ranking(models[name], test, 10)
        assert t.loc[name, METRICS[2:]].tolist() == [direct[c] for c in METRICS[2:]], name
    # coverage and novelty recomputed independently for one model
    users = list(relevant_items(test))
    lists = models["EASE"].top_n(users, 10)
    assert t.loc["EASE", "coverage"] == pytest.approx(len({i for r in lists for i in r}) / models["EASE"].data_.n_items)
    share = train.groupby("item_id").user_id.nunique() / train.user_id.nunique()
    assert t.loc["EASE", "novelty@10"] == pytest.approx(np.mean(-np.log2(share[np.concatenate(lists)].to_numpy())))
    # what the lesson teaches: implicit ALS first, popularity above the rating model, the BCE network
    # above the bias baseline and far more diverse than popularity
    assert t.loc["implicit ALS", "ndcg@10"] > t.loc["popularity", "ndcg@10"] > t.loc["biased MF", "ndcg@10"]
    assert t.loc["dot product", "ndcg@10"] > t.loc["bias baseline", "ndcg@10"]
    assert t.loc["dot product", "coverage"] > t.loc["popularity", "coverage"]


def test_new_users_get_each_models_fallback(table, protocol):
    """Most test users of the temporal split are new: they are ranked by the model's fallback, not scored 0."""
    _, models = table
    _, test = protocol
    groups = evaluate_full_ranking_by_group(models["popularity"], test, 10)
    assert groups.loc["new users", "n_users"] > groups.loc["known users", "n_users"] > 0
    assert groups.loc["new users", "ndcg@10"] > 0.02  # popularity's list, not an empty one
    ease = evaluate_full_ranking_by_group(models["EASE"], test, 10)
    # EASE has no rule of its own for a new user: its fallback is popularity, so the two agree there
    assert ease.loc["new users", "ndcg@10"] == groups.loc["new users", "ndcg@10"]
    assert ease.loc["known users", "ndcg@10"] > groups.loc["known users", "ndcg@10"]


def test_table_is_deterministic_except_fit_time(protocol, table):
    train, test = protocol
    again = compare_models(_models(), train, test, k=10)
    pd.testing.assert_frame_equal(table[0][METRICS], again[METRICS])


def test_side_tables_reach_the_models_that_read_them(protocol, ml100k):
    train, test = protocol
    assert not is_rating_model(DotProduct(objective="bce")) and is_rating_model(DotProduct())
    assert not is_rating_model(FeatureAware(objective="bce"))
    fa = FeatureAware(features=("user_id", "age", "item_id", "genres"), objective="bce", n_epochs=1,
                      n_negatives=1, **FAST)
    small = test.iloc[:3000]
    t = compare_models({"fa": fa, "pop": Popularity()}, train, small, users=ml100k.users, items=ml100k.movies)
    assert t.loc["fa"][["rmse", "mae"]].isna().all()
    assert fa.data_.users is ml100k.users and fa.data_.items is ml100k.movies
    assert t.loc["fa", "ndcg@10"] == evaluate_full_ranking(fa, small, 10)["ndcg@10"]


# -- saving and loading a PyTorch model in a fresh process ----------------------------------


def test_torch_round_trip_in_fresh_process(dot, tmp_path):
    path = tmp_path / "dot.model"
    save_model(dot, path)
    users = [int(u) for u in dot.data_.user_ids[:5]]
    expected = [dot.recommend(u, 10).item_id.tolist() for u in users]
    code = (
        "from course_lib.models import load_model\n"
        f"m = load_model({str(path)!r})\n"
        f"print([m.recommend(u, 10).item_id.tolist() for u in {users!r}])\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr(expected)
    # and in this process: identical scores, not only identical lists
    again = load_model(path)
    users = dot.data_.user_ids[:5]
    np.testing.assert_array_equal(again.score_items(users), dot.score_items(users))


# -- quantisation ------------------------------------------------------------------------


def test_quantized_dot_product_is_smaller_and_as_accurate(dot, protocol):
    _, test = protocol
    q = quantize(dot)
    assert q.quantization_ == {"linear_layers": 0, "embedding_tables": 2}
    assert q is not dot and isinstance(dot.net_.item_emb, torch.nn.Embedding)  # the original is untouched
    size, size_q = serialized_size(dot), serialized_size(q)
    assert size_q < size / 3, (size, size_q)
    assert serialized_size(quantize(dot)) == size_q  # sizes are deterministic
    before, after = (evaluate_full_ranking(m, test, 10)["ndcg@10"] for m in (dot, q))
    assert abs(before - after) < NDCG_TOLERANCE, (before, after)
    assert 0 < scoring_seconds(q, dot.data_.user_ids[:50], repeats=2) < 60


def test_linear_only_quantization_leaves_a_pure_embedding_model_unchanged(dot):
    q = quantize(dot, embeddings=False)
    assert q.quantization_ == {"linear_layers": 0, "embedding_tables": 0}
    assert serialized_size(q) == serialized_size(dot)
    users = dot.data_.user_ids[:3]
    np.testing.assert_array_equal(q.score_items(users), dot.score_items(users))


def test_quantized_model_keeps_the_contract(dot, protocol):
    train, _ = protocol
    q = quantize(dot)
    for user in dot.data_.user_ids[:20]:
        seen = set(train.loc[train.user_id == user, "item_id"])
        recs = q.recommend(user, 10)
        assert len(recs) == 10 and not seen & set(recs.item_id)
        assert recs.score.is_monotonic_decreasing
    rows = train.iloc[:100]
    est = q.test(rows)["est"].to_numpy()
    ref = dot.test(rows)["est"].to_numpy()
    assert np.isfinite(est).all() and np.abs(est - ref).max() < 0.1
    with pytest.raises(TypeError, match="PyTorch"):
        quantize(EASE().fit(train.iloc[:2000]))


def test_int8_embedding_error_bound():
    torch.manual_seed(0)
    emb = torch.nn.Embedding(50, 16)
    q = Int8Embedding.from_float(emb)
    assert q.q.dtype == torch.int8 and q.q.abs().max() <= 127
    err = (q.weight - emb.weight.detach()).abs()
    assert (err <= q.scale / 2 + 1e-7).all()
    idx = torch.tensor([3, 0, 49])
    torch.testing.assert_close(q(idx), q.weight[idx])
    zero = Int8Embedding(torch.zeros(2, 4))
    assert torch.equal(zero.weight, torch.zeros(2, 4))


def test_quantized_neumf_converts_linear_layers(small):
    model = NeuMF(n_factors=8, layers=(16, 8), n_epochs=2, early_stopping=False, **FAST).fit(small)
    q = quantize(model)
    assert q.quantization_ == {"linear_layers": 2, "embedding_tables": 4}
    assert serialized_size(q) < serialized_size(model)
    user = small.user_id.iloc[0]
    seen = set(small.loc[small.user_id == user, "item_id"])
    recs = q.recommend(user, 5)
    assert len(recs) == 5 and not seen & set(recs.item_id)
    users = model.data_.user_ids[:4]
    np.testing.assert_allclose(q.score_items(users), model.score_items(users), atol=0.2)


def test_movie_recommender_serves_a_torch_model(dot, ml100k):
    from course_lib.serving import MovieRecommender

    service = MovieRecommender(dot, ml100k.movies)
    user = dot.data_.user_ids[0]
    out = service.recommend(user, 10)
    assert out.item_id.tolist() == dot.recommend(user, 10).item_id.tolist()
    assert out["because"].str.startswith("because you rated").all()
