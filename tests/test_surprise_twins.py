"""SVD++, Slope One and co-clustering: bit for bit Surprise's SVDpp, SlopeOne and CoClustering on MovieLens 100K,
checked against hand-computed cases, and strict about their inputs (issue 22)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import surprise
from surprise import Dataset, Reader
from surprise.model_selection import KFold

from course_lib.evaluate import evaluate_ratings
from course_lib.models import CoClustering, SlopeOne, SVDpp
from course_lib.split import kfold


@pytest.fixture(scope="module")
def fold(ratings):
    """Fold 1 of Surprise's ``KFold(5, random_state=0)`` on both sides (the benchmark's protocol)."""
    data = Dataset.load_from_df(ratings[["user_id", "item_id", "rating"]], Reader(rating_scale=(1, 5)))
    trainset, testset = next(iter(KFold(n_splits=5, random_state=0).split(data)))
    train, test = next(iter(kfold(ratings, 5, random_state=0)))
    assert [(u, i) for u, i, _ in testset] == list(zip(test["user_id"], test["item_id"]))
    return train, test, trainset, testset


def _same_predictions(ours, theirs, test, testset, n=3000):
    """The first ``n`` test rows and every row with an id unknown to training give the same bits (all rows
    would be slow: Surprise predicts in Python, one row at a time)."""
    unknown = ~(test["user_id"].isin(ours.data_.user_ids) & test["item_id"].isin(ours.data_.item_ids)).to_numpy()
    rows = sorted(set(range(min(n, len(test)))) | set(np.flatnonzero(unknown).tolist()))
    test, testset = test.iloc[rows], [testset[k] for k in rows]
    preds = theirs.test(testset)
    out = ours.test(test)
    assert np.array_equal(out["est"].to_numpy(), np.array([p.est for p in preds]))
    assert np.array_equal(out["was_impossible"].to_numpy(), np.array([p.details["was_impossible"] for p in preds]))
    return out


def _same_ids(ours, trainset):
    assert [trainset.to_raw_uid(u) for u in range(trainset.n_users)] == ours.data_.user_ids.tolist()
    assert [trainset.to_raw_iid(i) for i in range(trainset.n_items)] == ours.data_.item_ids.tolist()


# -- SVD++ -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    dict(n_epochs=2, random_state=0),  # Surprise's defaults: 20 factors, lr 0.007, reg 0.02
    dict(n_factors=7, n_epochs=1, random_state=3, lr_all=0.01, reg_all=0.05, init_mean=0.02, init_std_dev=0.2,
         lr_bu=0.003, lr_qi=0.02, lr_yj=0.004, reg_bi=0.1, reg_pu=0.01, reg_yj=0.03),  # 7: not a multiple of 8
    dict(n_factors=41, n_epochs=1, random_state=1),  # 48 lanes: a pass of 4 vectors of 8, then one of 2
])
def test_svdpp_bit_identical_to_surprise(split, surprise_split, kwargs):
    train, test = split
    trainset, testset = surprise_split
    theirs = surprise.SVDpp(**kwargs).fit(trainset)
    ours = SVDpp(**kwargs).fit(train)
    _same_ids(ours, trainset)
    for mine, their in (("user_factors_", "pu"), ("item_factors_", "qi"), ("implicit_factors_", "yj"),
                        ("b_u_", "bu"), ("b_i_", "bi")):
        assert np.array_equal(getattr(ours, mine), getattr(theirs, their)), mine
    out = _same_predictions(ours, theirs, test, testset)
    assert (~test["item_id"].isin(train["item_id"])).any() and not out["was_impossible"].any()  # mu + b_u, not flagged
    # fast=True: the same model kept as A y + D per user block, rounded differently
    fast = SVDpp(fast=True, **kwargs).fit(train)
    assert np.abs(fast.implicit_factors_ - ours.implicit_factors_).max() < 1e-9
    assert np.abs(fast.test(test)["est"].to_numpy() - ours.test(test)["est"].to_numpy()).max() < 1e-9


def test_svdpp_on_a_surprise_fold_and_its_accuracy(fold):
    train, test, trainset, testset = fold
    theirs = surprise.SVDpp(n_factors=9, n_epochs=1, random_state=0).fit(trainset)
    ours = SVDpp(n_factors=9, n_epochs=1, random_state=0).fit(train)
    _same_predictions(ours, theirs, test, testset)
    # 20 epochs (fast loop): the published 5-fold figure is 0.9187; fold 1 sits at 0.919
    rmse = evaluate_ratings(SVDpp(fast=True, random_state=0).fit(train), test)["rmse"]
    assert rmse == pytest.approx(0.9193, abs=0.001)


def test_division_without_a_divide_is_correctly_rounded():
    from course_lib.models.svdpp import _divide

    import numba

    @numba.njit
    def quotients(a, b):
        out = np.empty_like(a)
        inv = 1.0 / b
        for k in range(len(a)):
            out[k] = _divide(a[k], b, inv)
        return out

    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.3, 200_000) * rng.choice([1e-6, 1.0, 1e6], 200_000)
    for n in list(range(1, 100)) + [255, 256, 737, 1024, 2000]:
        b = np.sqrt(float(n))
        assert np.array_equal(quotients(a, b), a / b), n


def test_svdpp_formula_on_a_hand_made_model(small):
    model = SVDpp(n_factors=3, n_epochs=2, random_state=0).fit(small)
    data = model.data_
    u, i = 4, 7
    items = data.i[data.u == u]
    z = model.implicit_factors_[items].sum(axis=0) / np.sqrt(len(items))
    expected = model.global_mean_ + model.b_u_[u] + model.b_i_[i] + model.item_factors_[i] @ (model.user_factors_[u] + z)
    got = model.predict(data.user_ids[u], data.item_ids[i]).est
    assert got == pytest.approx(np.clip(expected, 1, 5), abs=1e-12)
    np.testing.assert_allclose(model.score_items([data.user_ids[u]])[0, i], expected, atol=1e-12)
    assert list(model.history_.columns) == ["train_loss", "train_rmse"] and model.n_epochs_ == 2


def test_svdpp_early_stopping_and_errors(split):
    train, _ = split
    model = SVDpp(n_factors=5, n_epochs=30, early_stopping=True, n_iter_no_change=2, fast=True).fit(train)
    assert "val_rmse" in model.history_ and model.n_epochs_ < 30
    assert model.best_epoch_ == int(model.history_["val_rmse"].idxmin())
    with pytest.raises(ValueError, match="lr_yj must be > 0"):
        SVDpp(lr_yj=0.0).fit(train)
    with pytest.raises(ValueError, match="reg_all must be >= 0"):
        SVDpp(reg_all=-1.0).fit(train)


# -- Slope One ---------------------------------------------------------------------------------
def test_slope_one_identical_to_surprise(fold):
    train, test, trainset, testset = fold
    theirs = surprise.SlopeOne().fit(trainset)
    ours = SlopeOne().fit(train)
    _same_ids(ours, trainset)
    assert np.array_equal(ours.freq_, theirs.freq)
    shared = ours.freq_ > 0
    assert np.array_equal(ours.dev_[shared], theirs.dev[shared])
    assert np.array_equal(ours.user_mean_, np.array(theirs.user_mean))
    out = _same_predictions(ours, theirs, test, testset)
    assert out["was_impossible"].any()  # an item of the test fold never rated in training
    assert evaluate_ratings(ours, test)["rmse"] == pytest.approx(0.9468, abs=0.001)  # 5-fold mean: 0.9459


def test_slope_one_by_hand_with_half_stars():
    # Alice rated A 5 and B 3.5; Bob rated A 4, B 2.5, C 3; Carol rated B 4, C 4.5
    r = pd.DataFrame({"user_id": ["alice", "alice", "bob", "bob", "bob", "carol", "carol"],
                      "item_id": ["A", "B", "A", "B", "C", "B", "C"],
                      "rating": [5.0, 3.5, 4.0, 2.5, 3.0, 4.0, 4.5]})
    model = SlopeOne().fit(r)
    a, b, c = model.data_.encode_items(["A", "B", "C"])
    assert model.dev_[a, b] == pytest.approx(((5 - 3.5) + (4 - 2.5)) / 2)  # half stars kept (Surprise truncates)
    assert model.dev_[c, b] == pytest.approx(((3 - 2.5) + (4.5 - 4)) / 2) and model.dev_[b, c] == -model.dev_[c, b]
    assert model.freq_[a, c] == 1 and model.dev_[a, c] == pytest.approx(1.0)
    # Carol and A: R_A(carol) = {B, C}; mu_carol = 4.25
    expected = 4.25 + (model.dev_[a, b] + model.dev_[a, c]) / 2
    assert model.predict("carol", "A").est == pytest.approx(min(expected, 5.0))
    np.testing.assert_allclose(model.score_items(["carol"])[0, a], expected)
    assert model.predict("dave", "A").was_impossible


# -- co-clustering -----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [dict(random_state=0), dict(n_cltr_u=5, n_cltr_i=2, n_epochs=7, random_state=11)])
def test_co_clustering_identical_to_surprise(fold, kwargs):
    train, test, trainset, testset = fold
    theirs = surprise.CoClustering(**kwargs).fit(trainset)
    ours = CoClustering(**kwargs).fit(train)
    _same_ids(ours, trainset)
    assert np.array_equal(ours.user_clusters_, theirs.cltr_u) and np.array_equal(ours.item_clusters_, theirs.cltr_i)
    for mine, their in (("avg_cocltr_", "avg_cocltr"), ("avg_cltr_u_", "avg_cltr_u"), ("avg_cltr_i_", "avg_cltr_i"),
                        ("user_mean_", "user_mean"), ("item_mean_", "item_mean")):
        assert np.array_equal(getattr(ours, mine), getattr(theirs, their)), mine
    _same_predictions(ours, theirs, test, testset)
    # the initial clusters are Surprise's draws: one epoch from them is not the fitted model
    assert not np.array_equal(CoClustering(**{**kwargs, "n_epochs": 1}).fit(train).user_clusters_, ours.user_clusters_)


def test_co_clustering_by_hand_and_errors(small):
    model = CoClustering(n_cltr_u=2, n_cltr_i=2, n_epochs=3).fit(small)
    data = model.data_
    cu, ci = model.user_clusters_, model.item_clusters_
    u, i = data.u, data.i
    # the averages are the means of the ratings in each (co-)cluster
    for c in range(2):
        assert model.avg_cltr_u_[c] == pytest.approx(data.r[cu[u] == c].mean())
        for d in range(2):
            assert model.avg_cocltr_[c, d] == pytest.approx(data.r[(cu[u] == c) & (ci[i] == d)].mean())
    # the prediction formula, for one rating
    k = 11
    expected = (model.avg_cocltr_[cu[u[k]], ci[i[k]]] + data.r[u == u[k]].mean() - model.avg_cltr_u_[cu[u[k]]]
                + data.r[i == i[k]].mean() - model.avg_cltr_i_[ci[i[k]]])
    assert model.predict(data.user_ids[u[k]], data.item_ids[i[k]]).est == pytest.approx(np.clip(expected, 1, 5))
    assert model.predict(-5, data.item_ids[0]).est == pytest.approx(model.global_mean_)
    with pytest.raises(ValueError, match="n_cltr_u must be an integer >= 1"):
        CoClustering(n_cltr_u=0).fit(small)
