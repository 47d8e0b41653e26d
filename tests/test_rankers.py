"""The rankers of lesson 13 against independent references, and their handling of bad input.

* ``LogisticRanker`` minimises scikit-learn's ``LogisticRegression`` objective on the same one-hot rows;
* ``FMRanker``'s logit is :mod:`course_lib.nn_numpy.crossing`'s O(kn) FM (itself checked against the
  pairwise sum) on the sparse rows :math:`x` of ``FieldEncoder.to_csr``, and the naive pairwise sum;
* ``DeepFMRanker`` and ``DCNRanker`` are re-computed in NumPy from their weights; the PyTorch cross
  layers equal the NumPy ``CrossLayer`` to 1e-10 (float64), which equals keras-rs's ``FeatureCross``
  to 1e-6 (tests/test_nn_numpy_crossing.py; lesson 13 shows the three side by side);
* a planted cross (a label that depends on gender x genre only) is learned by the FM, not by the
  logistic regression;
* unknown ids, empty or duplicated candidates, wrong feature shapes and missing inputs give clear
  errors or the documented fallbacks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from course_lib import nn_numpy
from course_lib.interactions import UnknownIdError
from course_lib.metrics import roc_auc
from course_lib.models import Popularity
from course_lib.models.torch_models.rankers import (CrossNet, DCNRanker, DeepFMRanker, FMRanker, LogisticRanker,
                                                    fm_interaction)
from course_lib.ranking_data import FIELDS, FieldEncoder, click_labels, evaluate_reranking, retrieve_candidates

GENRES = ["Action", "Comedy", "Drama", "Romance"]


def _tables(rng, n_users=60, n_items=40):
    users = pd.DataFrame({"user_id": np.arange(1, n_users + 1), "age": rng.integers(15, 70, n_users),
                          "gender": np.where(np.arange(n_users) % 2 == 0, "F", "M"),
                          "occupation": rng.choice(["student", "writer", "other"], n_users)})
    items = pd.DataFrame({"item_id": np.arange(101, 101 + n_items), "year": rng.integers(1950, 1998, n_items),
                          "title": [f"Movie {k}" for k in range(n_items)],
                          "genres": [GENRES[k % 4] if k % 5 else f"{GENRES[k % 4]}|{GENRES[(k + 1) % 4]}"
                                     for k in range(n_items)]})
    return users, items


@pytest.fixture(scope="module")
def small():
    """60 users x 40 items, ~20 ratings each, timestamps; ratings depend on the user and the item."""
    rng = np.random.default_rng(3)
    users, items = _tables(rng)
    taste = rng.normal(size=(60, 3))
    look = rng.normal(size=(40, 3))
    rows = []
    for u in range(60):
        for t, i in enumerate(rng.choice(40, size=20, replace=False)):
            score = taste[u] @ look[i] + rng.normal(scale=0.5)
            rows.append((u + 1, i + 101, float(np.clip(np.round(3 + score), 1, 5)), 880_000_000 + 3600 * (7 * t + u)))
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return ratings, users, items


@pytest.fixture(scope="module")
def planted():
    """The click depends on gender x first genre only (women click Drama and Romance, men Action and
    Comedy): no single feature predicts it, a pairwise cross does."""
    rng = np.random.default_rng(5)
    users, items = _tables(rng, 80, 40)
    women = users.set_index("user_id").gender.eq("F")
    first = items.set_index("item_id").genres.str.split("|").str[0]
    rows = []
    for u in users.user_id:
        for t, i in enumerate(rng.choice(items.item_id, size=25, replace=False)):
            likes = women[u] == (first[i] in ("Drama", "Romance"))
            click = likes if rng.random() < 0.9 else not likes
            rows.append((u, i, 5.0 if click else 2.0, 880_000_000 + 3600 * (t + u)))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"]), users, items


def _fit(cls, data, **kw):
    ratings, users, items = data
    return cls(**kw).fit(ratings, users=users, items=items)


def _rows(model, ratings, users, items):
    idx, val = model.encoder_.encode(ratings.user_id, ratings.item_id, ratings.timestamp, users=users, items=items)
    return idx, val, model.encoder_.to_csr(idx, val)


# -------------------------------------------------------------------------------- click label, fields
def test_click_label_is_rating_at_least_the_threshold():
    np.testing.assert_array_equal(click_labels(np.array([1, 3.5, 4, 5])), [0, 0, 1, 1])
    np.testing.assert_array_equal(click_labels(pd.DataFrame({"rating": [3.0, 4.0]}), 3), [1, 1])
    with pytest.raises(ValueError, match="NaN"):
        click_labels(np.array([4.0, np.nan]))
    with pytest.raises(ValueError, match="one rating per row"):
        click_labels(np.ones((2, 2)))


def test_field_encoder_layout_codes_and_sparse_rows(small):
    ratings, users, items = small
    enc = FieldEncoder().fit(ratings.user_id.unique(), ratings.item_id.unique(), users, items)
    assert enc.fields == FIELDS and enc.genre_slots_ == 2
    assert enc.n_slots == len(FIELDS) - 1 + 2 and len(enc.feature_names()) == enc.n_features
    sizes = enc.sizes
    assert sizes["user_id"] == 61 and sizes["item_id"] == 41 and sizes["weekday"] == 8 and sizes["hour"] == 7
    idx, val = enc.encode([1, 999], [101, 105], [0, None], users=users, items=items)
    names = np.array(enc.feature_names())
    assert idx.shape == val.shape == (2, enc.n_slots)
    # user 999: unknown id and no row in the table -> every user field is code 0 ("unknown")
    assert [n for n in names[idx[1, :4]]] == ["user_id=unknown", "age=unknown", "gender=unknown", "occupation=unknown"]
    # 1970-01-01 was a Thursday, 00:00 UTC; a missing time is unknown
    assert list(names[idx[0, -2:]]) == ["weekday=Thu", "hour=00-03h"]
    assert list(names[idx[1, -2:]]) == ["weekday=unknown", "hour=unknown"]
    # item 101 (k=0) has two genres with value 1/2 each; item 105 (k=4) one genre, the 2nd slot padded
    g = [k for k, f in enumerate(enc.slot_fields) if enc.fields[f] == "genres"]
    np.testing.assert_allclose(val[0, g], [0.5, 0.5])
    assert val[1, g[1]] == 0 and names[idx[1, g[0]]] == "genres=Action"
    X = enc.to_csr(idx, val)
    assert X.shape == (2, enc.n_features)
    np.testing.assert_allclose(np.asarray(X.sum(axis=1)).ravel(), [len(FIELDS)] * 2)   # one unit of mass per field
    with pytest.raises(ValueError, match="users table"):
        FieldEncoder().fit([1], [101], None, items)
    with pytest.raises(ValueError, match="distinct names"):
        FieldEncoder(fields=("user_id", "colour")).fit([1], [101], users, items)


# -------------------------------------------------------------------------------- references
def test_logistic_ranker_minimises_scikit_learns_logistic_regression(small):
    from sklearn.linear_model import LogisticRegression

    ratings, users, items = small
    reg = 1e-2
    model = _fit(LogisticRanker, small, reg=reg, early_stopping=False, n_epochs=400, batch_size=len(ratings),
                 lr=0.05)
    _, _, X = _rows(model, ratings, users, items)
    y = click_labels(ratings)
    sk = LogisticRegression(C=1 / (reg * len(ratings)), tol=1e-12, max_iter=10_000).fit(X, y)
    p_sk = sk.predict_proba(X)[:, 1]
    p = model.predict_proba(ratings)
    assert np.abs(p - p_sk).max() < 1e-4                         # measured: 1.2e-6
    np.testing.assert_allclose(model.weights_, sk.coef_[0], atol=1e-3)
    assert abs(model.net_.bias.item() - sk.intercept_[0]) < 1e-3
    # the tolerance can fail: the optimum for a 10x weaker penalty is elsewhere
    other = LogisticRegression(C=10 / (reg * len(ratings)), tol=1e-12, max_iter=10_000).fit(X, y)
    assert np.abs(p - other.predict_proba(X)[:, 1]).max() > 2e-2


def test_fm_ranker_logit_is_the_numpy_fm_on_the_sparse_rows(small):
    ratings, users, items = small
    model = _fit(FMRanker, small, n_epochs=3, n_factors=6, init_std_dev=0.3)
    idx, val, X = _rows(model, ratings.head(200), users, items)
    net = model.net_
    w0, w = net.bias.item(), net.w.weight.detach().double().numpy()[:, 0]
    V = net.V.weight.detach().double().numpy()
    by_numpy = w0 + X @ w + nn_numpy.fm_pairwise(X, V)
    np.testing.assert_allclose(by_numpy, w0 + X @ w + nn_numpy.fm_pairwise_naive(X.toarray(), V), atol=1e-10)
    p = model.score_features(idx, val)
    np.testing.assert_allclose(np.log(p / (1 - p)), by_numpy, atol=1e-4)
    assert np.abs(nn_numpy.fm_pairwise(X, V)).max() > 1e-2      # the pairwise term is not negligible here
    fm = nn_numpy.FactorizationMachine(np.array([w0]), w, V)
    np.testing.assert_allclose(fm(X), by_numpy, atol=1e-10)


def test_deepfm_logit_is_fm_plus_mlp_recomputed_in_numpy(small):
    ratings, users, items = small
    model = _fit(DeepFMRanker, small, n_epochs=2, n_factors=4, hidden_units=(8,), init_std_dev=0.3)
    idx, val, X = _rows(model, ratings.head(100), users, items)
    net = model.net_
    V = net.V.weight.detach().double().numpy()
    fm = net.bias.item() + X @ net.w.weight.detach().double().numpy()[:, 0] + nn_numpy.fm_pairwise(X, V)
    pool = net.pool.double().numpy()                                            # (L, m)
    z = np.einsum("blk,lm->bmk", V[idx] * val[..., None], pool).reshape(len(idx), -1)
    lin1, lin2 = net.deep[0][0], net.deep[1]
    h = np.maximum(z @ lin1.weight.detach().double().numpy().T + lin1.bias.detach().double().numpy(), 0)
    deep = h @ lin2.weight.detach().double().numpy().T[:, 0] + lin2.bias.item()
    p = model.score_features(idx, val)
    np.testing.assert_allclose(np.log(p / (1 - p)), fm + deep, atol=1e-4)


def _numpy_cross_layers(cross: CrossNet) -> list:
    layers = []
    for k, up in enumerate(cross.up):
        b = up.bias.detach().double().numpy()
        if cross.down is None:
            layers.append(nn_numpy.CrossLayer(up.weight.detach().double().numpy(), b))
        else:
            layers.append(nn_numpy.CrossLayer(None, b, U=up.weight.detach().double().numpy(),
                                              V=cross.down[k].weight.detach().double().numpy().T))
    return layers


@pytest.mark.parametrize("rank", [None, 3])
def test_torch_cross_layers_equal_the_numpy_cross_layers(rank):
    """The NumPy CrossLayer equals keras-rs's FeatureCross to 1e-6 (tests/test_nn_numpy_crossing.py, which pays
    for TensorFlow's import): equal to it, the PyTorch layers equal the library layer too."""
    torch.manual_seed(0)
    d = 10
    cross = CrossNet(d, n_layers=2, rank=rank).double()
    with torch.no_grad():
        for up in cross.up:
            up.bias.normal_(0, 0.3)
    x0 = np.random.default_rng(0).normal(size=(7, d))
    out = cross(torch.as_tensor(x0)).detach().numpy()
    layers = _numpy_cross_layers(cross)
    np.testing.assert_allclose(out, nn_numpy.CrossNetwork(layers)(x0), rtol=0, atol=1e-10)
    by_formula = x0
    for layer in layers:
        W = layer.W if layer.W is not None else layer.U @ layer.V.T
        by_formula = x0 * (by_formula @ W.T + layer.b) + by_formula
    np.testing.assert_allclose(out, by_formula, rtol=0, atol=1e-10)
    assert np.abs(out - x0).max() > 0.1                            # the layers did something


@pytest.mark.parametrize("structure", ["stacked", "parallel"])
def test_dcn_ranker_logit_recomputed_in_numpy(small, structure):
    ratings, users, items = small
    model = _fit(DCNRanker, small, n_epochs=2, n_factors=3, n_cross_layers=2, rank=2, hidden_units=(5,),
                 structure=structure, init_std_dev=0.3)
    idx, val, _ = _rows(model, ratings.head(100), users, items)
    net = model.net_
    V = net.V.weight.detach().double().numpy()
    x0 = np.einsum("blk,lm->bmk", V[idx] * val[..., None], net.pool.double().numpy()).reshape(len(idx), -1)
    xc = nn_numpy.CrossNetwork(_numpy_cross_layers(net.cross))(x0)

    def mlp(x):
        lin = net.deep[0]
        return np.maximum(x @ lin.weight.detach().double().numpy().T + lin.bias.detach().double().numpy(), 0)
    h = mlp(xc) if structure == "stacked" else np.hstack([xc, mlp(x0)])
    logit = h @ net.head.weight.detach().double().numpy()[0] + net.head.bias.item()
    p = model.score_features(idx, val)
    np.testing.assert_allclose(np.log(p / (1 - p)), logit, atol=1e-4)


def test_fm_interaction_is_the_pairwise_sum():
    e = torch.randn(4, 5, 3, dtype=torch.float64)
    naive = sum((e[:, a] * e[:, b]).sum(1) for a in range(5) for b in range(a + 1, 5))
    torch.testing.assert_close(fm_interaction(e), naive, rtol=0, atol=1e-12)


def test_a_planted_cross_is_learned_by_the_fm_not_by_logistic_regression(planted):
    ratings, users, items = planted
    train = ratings.sample(frac=0.8, random_state=0)
    test = ratings.drop(train.index)
    y = click_labels(test)
    auc = {}
    for cls in (LogisticRanker, FMRanker):
        model = cls(features=("user_id", "gender", "item_id", "genres"), n_epochs=30, lr=2e-2,
                    early_stopping=False).fit(train, users=users, items=items)
        auc[cls.__name__] = roc_auc(y, model.predict_proba(test))
    assert auc["LogisticRanker"] < 0.62 and auc["FMRanker"] > 0.8, auc


# -------------------------------------------------------------------------------- the click label in fit
def test_fit_derives_the_label_and_the_click_rate(small):
    ratings, users, items = small
    model = _fit(LogisticRanker, small, n_epochs=1, early_stopping=False)
    assert model.global_mean_ == pytest.approx((ratings.rating >= 4).mean())
    high = _fit(LogisticRanker, small, n_epochs=1, early_stopping=False, positive_threshold=5)
    assert high.global_mean_ == pytest.approx((ratings.rating >= 5).mean())
    with pytest.raises(ValueError, match="needs both labels"):
        _fit(LogisticRanker, small, n_epochs=1, positive_threshold=0.5)
    assert model.request_time_[model.data_.user_index(1)] == ratings.loc[ratings.user_id == 1, "timestamp"].max()


def test_unseen_negatives_lower_the_scores_of_unwatched_items(small):
    ratings, users, items = small
    gap = {}
    for n_unseen in (0, 3):
        model = _fit(FMRanker, small, n_epochs=10, batch_size=64, early_stopping=False, n_unseen_negatives=n_unseen)
        seen = model.data_.matrix.toarray() > 0
        s = model.score_items(model.data_.user_ids)
        gap[n_unseen] = s[seen].mean() - s[~seen].mean()      # watched minus unwatched, mean probability
    assert gap[3] > gap[0] + 0.1, gap


def test_validation_frame_with_timestamps_is_used(small):
    ratings, users, items = small
    val = ratings.sample(frac=0.2, random_state=0)
    train = ratings.drop(val.index)
    model = LogisticRanker(n_epochs=3).fit(train, validation=val, users=users, items=items)
    assert "val_loss" in model.history_ and not hasattr(model, "_validation_times")


# -------------------------------------------------------------------------------- bad input and fallbacks
def test_unknown_users_and_items(small):
    ratings, users, items = small
    model = _fit(FMRanker, small, n_epochs=2)
    with pytest.raises(UnknownIdError, match=r"user_id\(s\) have no training ratings and no features.*users="):
        model.predict_proba(pd.DataFrame({"user_id": [1, 999], "item_id": [101, 101]}))
    with pytest.raises(UnknownIdError, match="item_id"):
        model.predict_proba(pd.DataFrame({"user_id": [1], "item_id": [999]}))
    # a new user described by features is scored from them (its id field unknown)
    newcomer = users.iloc[[0]].assign(user_id=999)
    p = model.predict_proba(pd.DataFrame({"user_id": [999], "item_id": [101]}), users=newcomer)
    assert 0 < p[0] < 1
    out = model.test(pd.DataFrame({"user_id": [1, 999, 1], "item_id": [101, 101, 999]}))
    assert list(out.was_impossible) == [False, True, True] and out.est.iloc[1] == model.global_mean_
    fallback = model.score_items([999])                           # every user field unknown: item + context terms
    assert fallback.shape == (1, model.data_.n_items) and np.isfinite(fallback).all()
    assert fallback.std() > 0


def test_rerank_orders_candidates_and_handles_empty_and_duplicated_sets(small):
    ratings, users, items = small
    model = _fit(FMRanker, small, n_epochs=2)
    cand = pd.DataFrame({"user_id": [2, 2, 2, 1, 1], "item_id": [101, 102, 103, 104, 105]})
    out = model.rerank(cand, n=2)
    assert list(out.columns) == ["user_id", "item_id", "score", "rank"]
    assert out.user_id.tolist() == [2, 2, 1, 1] and out["rank"].tolist() == [1, 2, 1, 2]
    p = model.predict_proba(cand)
    best2 = cand.iloc[:3].item_id.to_numpy()[np.argsort(-p[:3], kind="stable")[:2]]
    assert out.item_id.tolist()[:2] == best2.tolist()
    empty = model.rerank(cand.iloc[:0])
    assert empty.empty and list(empty.columns) == ["user_id", "item_id", "score", "rank"]
    with pytest.raises(ValueError, match="twice"):
        model.rerank(pd.concat([cand, cand.iloc[:1]]))
    with pytest.raises(UnknownIdError):
        model.rerank(pd.DataFrame({"user_id": [999], "item_id": [101]}))
    with pytest.raises(TypeError, match="DataFrame"):
        model.rerank([(1, 101)])
    # the request time is read from a timestamp column when there is one
    at = model.predict_proba(cand.assign(timestamp=0))
    assert not np.allclose(at, p)
    scores = model.score_candidates(2, [101, 102, 103])
    np.testing.assert_allclose(scores, p[:3])
    assert model.score_candidates(2, []).shape == (0,)


def test_wrong_feature_shapes_are_refused_with_the_layout(small):
    ratings, users, items = small
    model = _fit(LogisticRanker, small, n_epochs=1)
    idx, val, _ = _rows(model, ratings.head(5), users, items)
    with pytest.raises(nn_numpy.ShapeError, match=r"idx must have shape \(n_rows, 10\)"):
        model.score_features(idx[:, :-1], val[:, :-1])
    with pytest.raises(nn_numpy.ShapeError, match="val must have the shape of idx"):
        model.score_features(idx, val[:, :-1])
    with pytest.raises(ValueError, match="outside"):
        model.score_features(idx + model.encoder_.n_features, val)
    with pytest.raises(TypeError, match="integer"):
        model.score_features(idx.astype(float), val)
    with pytest.raises(ValueError, match="NaN"):
        model.score_features(idx, np.where(val > 0, np.nan, val))


def test_missing_inputs_and_bad_parameters_are_explained(small):
    ratings, users, items = small
    with pytest.raises(ValueError, match="timestamp"):
        LogisticRanker(n_epochs=1).fit(ratings.drop(columns="timestamp"), users=users, items=items)
    with pytest.raises(ValueError, match="users table"):
        LogisticRanker(n_epochs=1).fit(ratings, items=items)
    model = LogisticRanker(features=("user_id", "item_id"), n_epochs=1).fit(ratings.drop(columns="timestamp"))
    assert model.encoder_.n_slots == 2
    with pytest.raises(ValueError, match="string"):
        LogisticRanker(features="user_id").fit(ratings, users=users, items=items)
    with pytest.raises(ValueError, match="structure"):
        _fit(DCNRanker, small, structure="side by side")
    with pytest.raises(ValueError, match="hidden_units"):
        _fit(DeepFMRanker, small, hidden_units=(0,))


# -------------------------------------------------------------------------------- the re-ranking protocol
def test_evaluate_reranking_by_hand():
    cand = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [10, 11, 12, 20, 21]})
    test = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [12, 13, 21], "rating": [5.0, 4.0, 2.0]})
    out = evaluate_reranking([0.1, 0.2, 0.9, 0.5, 0.4], cand, test, k=2)
    # user 1 only (user 2 has no rating >= 4): item 12 first, 1 of its 2 relevant items is a candidate
    assert out["n_users"] == 1 and out["ndcg@2"] == pytest.approx(1 / (1 + 1 / np.log2(3)))
    assert out["candidate_recall"] == pytest.approx(0.5) and out["recall@2"] == pytest.approx(0.5)
    tied = evaluate_reranking([0.0] * 5, cand, test, k=2)          # ties keep the candidate order: 10, 11
    assert tied["ndcg@2"] == 0.0
    with pytest.raises(ValueError, match="one score per candidate"):
        evaluate_reranking([0.1], cand, test)


def test_retrieve_candidates_is_the_retrievers_top_n(small):
    ratings = small[0]
    pop = Popularity().fit(ratings)
    cand = retrieve_candidates(pop, [1, 2], 5)
    assert cand.groupby("user_id").size().tolist() == [5, 5]
    assert cand.loc[cand.user_id == 1, "item_id"].tolist() == pop.top_n([1], 5)[0].tolist()
    assert cand.retrieval_rank.tolist() == [1, 2, 3, 4, 5] * 2


@pytest.mark.parametrize("cls", [LogisticRanker, FMRanker, DeepFMRanker, DCNRanker])
def test_saved_and_loaded_rankers_score_the_same(cls, small, tmp_path):
    from course_lib.models import load_model, save_model

    ratings, users, items = small
    model = _fit(cls, small, n_epochs=1)
    save_model(model, tmp_path / "ranker.model")
    again = load_model(tmp_path / "ranker.model")
    cand = ratings.head(30)
    np.testing.assert_array_equal(again.predict_proba(cand), model.predict_proba(cand))
    np.testing.assert_array_equal(again.score_items([1, 999]), model.score_items([1, 999]))
