"""Lesson 10 in course_lib terms: the model table with a PyTorch model, saving and loading a PyTorch
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
from course_lib.evaluate import evaluate_full_ranking  # noqa: E402
from course_lib.models import BPRMF, EASE, BaselineOnly, BiasedMF, ImplicitALS, ItemKNN, Popularity  # noqa: E402
from course_lib.models.torch_models import DotProduct, FeatureAware, NeuMF, load_model, save_model  # noqa: E402
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


def test_table_columns_and_ranges(table):
    t, _ = table
    assert list(t.index) == list(_models())
    assert list(t.columns) == ["fit_seconds", *METRICS]
    assert (t["fit_seconds"] >= 0).all()
    rating = ["popularity", "bias baseline", "biased MF"]
    # only star-predicting models get RMSE; the BCE dot product is a ranking model (scores are logits)
    assert t.drop(index=rating)[["rmse", "mae"]].isna().all().all()
    assert t.loc[rating, "rmse"].between(0.8, 1.3).all() and (t.loc[rating, "mae"] < t.loc[rating, "rmse"]).all()
    for col in ["precision@10", "recall@10", "ndcg@10", "map@10", "coverage"]:
        assert t[col].between(0, 1).all(), col
    assert (t["novelty@10"] > 0).all()
    # on this split most test users are new (counted as 0), so NDCG@10 is small but far from zero
    assert t["ndcg@10"].between(0.01, 0.15).all(), t["ndcg@10"]
    assert t.loc["implicit ALS", "ndcg@10"] > t.loc["popularity", "ndcg@10"] > t.loc["biased MF", "ndcg@10"]
    assert t.loc["dot product", "ndcg@10"] > t.loc["bias baseline", "ndcg@10"]
    assert t.loc["dot product", "coverage"] > t.loc["popularity", "coverage"]


def test_table_is_deterministic_except_fit_time(protocol, table):
    train, test = protocol
    again = compare_models(_models(), train, test, k=10)
    pd.testing.assert_frame_equal(table[0][METRICS], again[METRICS])


def test_fit_params_and_rating_models(protocol, ml100k):
    train, test = protocol
    assert not is_rating_model(DotProduct(objective="bce")) and is_rating_model(DotProduct())
    assert not is_rating_model(FeatureAware(objective="bce"))
    fa = FeatureAware(features=("user_id", "age", "item_id", "genres"), objective="bce", n_epochs=1,
                      n_negatives=1, **FAST)
    small = test.iloc[:3000]
    t = compare_models({"fa": fa}, train, small, fit_params={"fa": {"users": ml100k.users, "items": ml100k.movies}})
    assert t[["rmse", "mae"]].isna().all().all() and 0 <= t.loc["fa", "ndcg@10"] <= 1
    with pytest.raises(ValueError, match="fit_params"):
        compare_models({"pop": Popularity()}, train, small, fit_params={"nope": {}})


# -- saving and loading a PyTorch model in a fresh process ----------------------------------


def test_torch_round_trip_in_fresh_process(dot, tmp_path):
    path = tmp_path / "dot.pt"
    save_model(dot, path)
    users = [int(u) for u in dot.data_.user_ids[:5]]
    expected = [dot.recommend(u, 10).item_id.tolist() for u in users]
    code = (
        "from course_lib.models.torch_models import load_model\n"
        f"m = load_model({str(path)!r})\n"
        f"print([m.recommend(u, 10).item_id.tolist() for u in {users!r}])\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr(expected)
    # and in this process: identical scores, not only identical lists
    again = load_model(path)
    np.testing.assert_array_equal(again._scores(np.arange(5)), dot._scores(np.arange(5)))


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
    assert scoring_seconds(q, np.arange(50), repeats=2) > 0


def test_linear_only_quantization_leaves_a_pure_embedding_model_unchanged(dot):
    q = quantize(dot, embeddings=False)
    assert q.quantization_ == {"linear_layers": 0, "embedding_tables": 0}
    assert serialized_size(q) == serialized_size(dot)
    np.testing.assert_array_equal(q._scores(np.arange(3)), dot._scores(np.arange(3)))


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
    model = NeuMF(n_factors=8, layers=(16, 8), n_epochs=2, validation=0, **FAST).fit(small)
    q = quantize(model)
    assert q.quantization_ == {"linear_layers": 2, "embedding_tables": 4}
    assert serialized_size(q) < serialized_size(model)
    user = small.user_id.iloc[0]
    seen = set(small.loc[small.user_id == user, "item_id"])
    recs = q.recommend(user, 5)
    assert len(recs) == 5 and not seen & set(recs.item_id)
    np.testing.assert_allclose(q._scores(np.arange(4)), model._scores(np.arange(4)), atol=0.2)


def test_movie_recommender_serves_a_torch_model(dot, ml100k):
    from course_lib.serving import MovieRecommender

    service = MovieRecommender(dot, ml100k.movies)
    user = dot.data_.user_ids[0]
    out = service.recommend(user, 10)
    assert out.item_id.tolist() == dot.recommend(user, 10).item_id.tolist()
    assert out["because"].str.startswith("because you rated").all()
    with pytest.raises(TypeError, match="save_model"):
        service.save("unused.joblib")
