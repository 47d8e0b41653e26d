"""k-NN models and similarities: identical to Surprise's, the estimator contract, clear errors.

Surprise predicts about 5,000 ratings a second with its k-NN algorithms, so the exhaustive
comparison (all 20,000 test pairs) runs for Surprise's default model (KNNWithMeans, user-based
msd); the 24 combinations of rule x similarity x user/item on the 80/20 split, and the 5 folds
of KFold(5, random_state=0), compare fixed samples of test pairs (1,000, and 500 per fold) that
always include every pair with an unknown user or item. Similarity matrices are compared in
full, bit for bit.
"""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from surprise import Dataset, Reader
from surprise import KNNBaseline as SKNNBaseline
from surprise import KNNBasic as SKNNBasic
from surprise import KNNWithMeans as SKNNWithMeans
from surprise.model_selection import KFold, train_test_split

from course_lib.data import toy_ratings
from course_lib.interactions import Interactions
from course_lib.models.neighbors import KNN, KNNBaseline, KNNBasic, KNNWithMeans, _top_k
from course_lib.models import NotFittedError, UnknownIdError
from course_lib.similarities import adjusted_cosine, cosine, msd, pearson, similarity_matrix
from course_lib.split import kfold, random_split
from course_lib.validation import RatingsError

OURS = {"basic": KNNBasic, "means": KNNWithMeans, "baseline": KNNBaseline}
THEIRS = {"basic": SKNNBasic, "means": SKNNWithMeans, "baseline": SKNNBaseline}
SIMS = ["msd", "cosine", "pearson", "pearson_baseline"]


def surprise_data(ratings):
    return Dataset.load_from_df(ratings[["user_id", "item_id", "rating"]], Reader(rating_scale=(1, 5)))


@pytest.fixture(scope="module")
def split(ratings):
    return random_split(ratings, 0.2, random_state=42)


@pytest.fixture(scope="module")
def surprise_split(ratings):
    return train_test_split(surprise_data(ratings), test_size=0.2, random_state=42)


@pytest.fixture(scope="module")
def sample(split):
    """1,000 fixed test rows plus every row whose user or item is not in training."""
    train, test = split
    unknown = ~test.user_id.isin(train.user_id) | ~test.item_id.isin(train.item_id)
    rng = np.random.default_rng(0)
    picked = np.zeros(len(test), bool)
    picked[rng.choice(len(test), 1000, replace=False)] = True
    return np.flatnonzero(picked | unknown.to_numpy())


def fit_surprise_family(trainset, sim, user_based, **params):
    """Surprise's three k-NN models fitted on ``trainset``, sharing one similarity matrix.

    The first fit computes the matrix; the other two run Surprise's own ``fit`` with
    ``compute_similarities`` answering from it (it would compute the very same matrix again).
    """
    options = {"name": sim, "user_based": user_based}
    options.update({k: v for k, v in params.items() if k in ("min_support", "shrinkage")})
    knn = {k: v for k, v in params.items() if k in ("k", "min_k")}
    first = SKNNBaseline(sim_options=dict(options), verbose=False, **knn).fit(trainset)
    models = {"baseline": first}
    for rule in ("basic", "means"):
        algo = THEIRS[rule](sim_options=dict(options), verbose=False, **knn)
        algo.compute_similarities = lambda: first.sim
        models[rule] = algo.fit(trainset)
    return models


def compare(ours, theirs, test, testset, rows):
    """Max |difference| of estimates; asserts the flags match (except KNNBaseline's unknowns)."""
    preds = [theirs.predict(*testset[r][:2], r_ui=testset[r][2]) for r in rows]
    s_est = np.array([p.est for p in preds])
    s_imp = np.array([p.details["was_impossible"] for p in preds])
    mine = ours.test(test.iloc[rows])
    if ours._rule() == "baseline":  # Surprise does not flag its baseline fallback for unknown ids; we do
        rows_df = test.iloc[rows]
        unknown = (ours.data_.encode_users(rows_df.user_id) < 0) | (ours.data_.encode_items(rows_df.item_id) < 0)
        assert np.array_equal(mine.was_impossible.to_numpy(), unknown)
        assert not s_imp.any()
    else:
        assert np.array_equal(mine.was_impossible.to_numpy(), s_imp)
    return np.abs(mine.est.to_numpy() - s_est).max()


def same_order(ours, trainset):
    ub = ours.user_based
    ids = ours.data_.user_ids if ub else ours.data_.item_ids
    to_inner = trainset.to_inner_uid if ub else trainset.to_inner_iid
    return np.array([to_inner(x) for x in ids])


@pytest.mark.parametrize("user_based", [True, False], ids=["user", "item"])
@pytest.mark.parametrize("sim", SIMS)
def test_all_rules_equal_surprise(split, surprise_split, sample, sim, user_based):
    train, test = split
    trainset, testset = surprise_split
    theirs = fit_surprise_family(trainset, sim, user_based)
    for rule in ("basic", "means", "baseline"):
        ours = OURS[rule](sim=sim, user_based=user_based).fit(train)
        if rule == "baseline":
            perm = same_order(ours, trainset)
            assert np.array_equal(ours.similarity_, theirs[rule].sim[np.ix_(perm, perm)]), "similarities differ"
        assert compare(ours, theirs[rule], test, testset, sample) <= 1e-9, rule


def test_default_model_equals_surprise_on_every_test_pair(split, surprise_split):
    train, test = split
    trainset, testset = surprise_split
    theirs = SKNNWithMeans(verbose=False).fit(trainset)
    ours = KNNWithMeans().fit(train)
    assert compare(ours, theirs, test, testset, np.arange(len(test))) <= 1e-9


def test_hyperparameters_equal_surprise(split, surprise_split, sample):
    train, test = split
    trainset, testset = surprise_split
    params = dict(k=7, min_k=3, min_support=4, shrinkage=30)
    theirs = fit_surprise_family(trainset, "pearson_baseline", False, **params)
    for rule in ("basic", "means", "baseline"):
        ours = OURS[rule](sim="pearson_baseline", user_based=False, **params).fit(train)
        assert compare(ours, theirs[rule], test, testset, sample) <= 1e-9, rule
    theirs = fit_surprise_family(trainset, "msd", True, k=3, min_k=2, min_support=5)
    ours = KNNBasic(sim="msd", k=3, min_k=2, min_support=5).fit(train)
    assert compare(ours, theirs["basic"], test, testset, sample) <= 1e-9
    assert ours.test(test.iloc[sample]).was_impossible.sum() > 36  # "too few neighbours" happens here


def test_five_fold_equals_surprise(ratings):
    """Surprise's KFold(5, random_state=0), KNNBasic with user-based msd and min_support=3 (so that "too few
    neighbours" fallbacks occur): 500 test pairs of each fold plus every pair with an unknown user or item."""
    theirs_folds = KFold(n_splits=5, random_state=0).split(surprise_data(ratings))
    rng = np.random.default_rng(1)
    for fold, ((train, test), (trainset, testset)) in enumerate(zip(kfold(ratings, 5, random_state=0), theirs_folds)):
        assert len(test) == len(testset)
        theirs = SKNNBasic(k=5, min_k=3, sim_options={"name": "msd", "min_support": 3}, verbose=False).fit(trainset)
        ours = KNNBasic(k=5, min_k=3, min_support=3).fit(train)
        unknown = ~test.user_id.isin(train.user_id) | ~test.item_id.isin(train.item_id)
        rows = np.union1d(rng.choice(len(test), 500, replace=False), np.flatnonzero(unknown.to_numpy()))
        assert compare(ours, theirs, test, testset, rows) <= 1e-9, fold


# -- the pieces ----------------------------------------------------------------------------
def test_top_k_is_heapq_nlargest():
    rng = np.random.default_rng(0)
    for trial in range(300):
        n, k = int(rng.integers(0, 30)), int(rng.integers(1, 12))
        sims = rng.integers(-2, 4, n) / 2.0  # many ties
        order, top = np.empty(k, np.int64), np.empty(k)
        count = _top_k(sims, k, order, top)
        expected = heapq.nlargest(k, range(n), key=lambda c: sims[c])
        assert list(order[:count]) == expected, trial


def brute_force(R, centre):
    """Similarity of rows a, b by the definition, pair by pair (NaN = not rated)."""
    n = R.shape[0]
    S = np.eye(n)
    for a in range(n):
        for b in range(n):
            if a != b:
                both = ~np.isnan(R[a]) & ~np.isnan(R[b])
                x, y = centre(R, a, both), centre(R, b, both)
                den = np.sqrt((x ** 2).sum() * (y ** 2).sum())
                S[a, b] = (x * y).sum() / den if den else 0.0
    return S


def test_similarities_match_their_definitions():
    rng = np.random.default_rng(3)
    R = rng.integers(1, 6, (7, 9)).astype(float)
    R[rng.random(R.shape) < 0.35] = np.nan
    rows, cols = np.nonzero(~np.isnan(R))
    sparse = sp.csr_matrix((R[rows, cols], (rows, cols)), shape=R.shape)
    col_mean = np.nanmean(R, axis=0)
    np.testing.assert_allclose(cosine(sparse), brute_force(R, lambda R, a, m: R[a, m]), atol=1e-12)
    np.testing.assert_allclose(pearson(sparse), brute_force(R, lambda R, a, m: R[a, m] - R[a, m].mean()), atol=1e-12)
    adjusted = brute_force(R, lambda R, a, m: R[a, m] - col_mean[m])
    np.testing.assert_allclose(adjusted_cosine(sparse), adjusted, atol=1e-12)
    expected = np.eye(7)
    for a in range(7):
        for b in range(7):
            both = ~np.isnan(R[a]) & ~np.isnan(R[b])
            if a != b and both.any():
                expected[a, b] = 1 / (((R[a, both] - R[b, both]) ** 2).mean() + 1)
    np.testing.assert_allclose(msd(sparse), expected, atol=1e-12)
    counts = (~np.isnan(R)).astype(int) @ (~np.isnan(R)).astype(int).T
    supported = msd(sparse, min_support=4)
    assert (supported[(counts < 4) & ~np.eye(7, dtype=bool)] == 0).all()
    with pytest.raises(ValueError, match="unknown similarity 'jaccard'"):
        similarity_matrix(sparse, "jaccard")
    with pytest.raises(ValueError, match="needs baseline"):
        similarity_matrix(sparse, "pearson_baseline")


def test_toy_prediction_by_hand():
    """Ana's rating of Fargo, user-based, cosine, mean-centred: the lesson's worked example."""
    toy = toy_ratings()
    R = toy.pivot(index="user_id", columns="item_id", values="rating").to_numpy()
    mean = np.nanmean(R, axis=1)
    sims = brute_force(R, lambda R, a, m: R[a, m])[0]
    raters = [v for v in range(1, 5) if not np.isnan(R[v, 2])]  # Ben, Cai, Dee, Eve rated Fargo
    num = sum(sims[v] * (R[v, 2] - mean[v]) for v in raters)
    expected = mean[0] + num / sum(sims[v] for v in raters)
    model = KNNWithMeans(sim="cosine", k=40).fit(toy)
    p = model.predict(1, 3)
    assert p.est == pytest.approx(expected, abs=1e-12) and not p.was_impossible
    nb = model.neighbours(1, 3)
    assert set(nb.neighbour) == {2, 3, 4, 5} and nb.weight.sum() == pytest.approx(1)
    assert list(nb.similarity) == sorted(nb.similarity, reverse=True)


# -- the contract ----------------------------------------------------------------------------
def test_estimator_contract(split):
    train, test = split
    model = KNN(rule="baseline", sim="pearson_baseline", user_based=False, k=20)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict(1, 1)
    assert model.fit(train) is model
    assert clone(model).get_params() == model.get_params()
    assert KNNWithMeans(k=5).get_params()["k"] == 5 and "rule" not in KNNWithMeans().get_params()
    theirs = KNNBaseline(sim="pearson_baseline", user_based=False, k=20).fit(train)
    assert np.array_equal(model.test(test.head(500)).est, theirs.test(test.head(500)).est)
    assert model.similarity_.shape == (model.data_.n_items, model.data_.n_items)
    toy = toy_ratings()  # k larger than the number of users: every candidate is a neighbour
    assert KNNWithMeans(k=10**9).fit(toy).predict(1, 3).est == KNNWithMeans(k=5).fit(toy).predict(1, 3).est


def test_unknown_ids_fall_back_with_a_flag(split):
    train, test = split
    means = KNNWithMeans().fit(train)
    p = means.predict(1, 999_999)
    assert p.was_impossible and p.est == means.global_mean_ and p.reason == "item is unknown"
    p = means.predict(999_999, 1)
    assert p.was_impossible and p.reason == "user is unknown"
    base = KNNBaseline().fit(train)
    p = base.predict(1, 999_999)  # the baseline mu + b_u, flagged
    u = base.data_.user_index(1)
    assert p.was_impossible and p.est == pytest.approx(base.global_mean_ + base.b_u_[u])
    basic = KNNBasic(sim="pearson", min_k=3, k=3).fit(train)
    known = test.user_id.isin(train.user_id) & test.item_id.isin(train.item_id)
    flagged = basic.test(test[known].head(3000)).query("was_impossible")
    assert len(flagged) > 0 and (flagged.est == basic.global_mean_).all()
    u, i = flagged.user_id.iloc[0], flagged.item_id.iloc[0]
    assert basic.predict(u, i).reason.startswith("fewer than min_k=3 neighbours")


def test_recommend_excludes_seen_and_explains(split, ml100k):
    train, _ = split
    model = KNNBaseline(sim="pearson_baseline", user_based=False).fit(train)
    seen = set(train.loc[train.user_id == 1, "item_id"])
    recs = model.recommend_explained(1, n=10, n_reasons=3)
    assert len(recs) == 10 and not seen & set(recs.item_id)
    assert list(recs.score) == sorted(recs.score, reverse=True)
    for item, because in zip(recs.item_id, recs.because):
        assert 1 <= len(because) <= 3 and set(because) <= seen  # "because you rated ..."
        nb = model.neighbours(1, item)
        assert nb.loc[nb.used, "weight"].sum() == pytest.approx(1)
        assert model.predict(1, item).est == pytest.approx(min(5, max(1, recs.set_index("item_id").score[item])))
    near = model.nearest(50, k=5)
    assert len(near) == 5 and 50 not in set(near.neighbour)
    assert list(near.similarity) == sorted(near.similarity, reverse=True)
    users = KNNWithMeans(k=10).fit(train)
    nb = users.neighbours(1, 50)
    assert len(nb) == 10 and set(nb.neighbour) <= set(train.loc[train.item_id == 50, "user_id"])
    with pytest.raises(UnknownIdError, match="user 999999 is not in the training data"):
        users.recommend(999_999)


@pytest.mark.parametrize("params, error, message", [
    (dict(k=0), ValueError, "k .*must be an integer >= 1, got 0"),
    (dict(k=-3), ValueError, "must be an integer >= 1"),
    (dict(k=2.5), TypeError, "k .*must be an integer"),
    (dict(min_k=0), ValueError, "min_k"),
    (dict(k=5, min_k=6), ValueError, r"min_k \(6\) must not exceed k \(5\)"),
    (dict(sim="euclidean"), ValueError, "sim must be one of 'cosine', 'msd'"),
    (dict(user_based="yes"), TypeError, "user_based must be True"),
    (dict(min_support=0), ValueError, "min_support"),
    (dict(shrinkage=-1), ValueError, "shrinkage must be >= 0"),
])
def test_bad_hyperparameters_say_what_is_wrong(params, error, message):
    with pytest.raises(error, match=message):
        KNNWithMeans(**params).fit(toy_ratings())


def test_bad_ratings_say_what_is_wrong():
    toy = toy_ratings()
    with pytest.raises(ValueError, match="rule must be one of"):
        KNN(rule="zscore").fit(toy)
    with pytest.raises(RatingsError, match="NaN"):
        KNNBasic().fit(toy.assign(rating=toy.rating.where(toy.index != 3)))
    with pytest.raises(RatingsError, match="repeat a \\(user_id, item_id\\) pair"):
        KNNBasic().fit(pd.concat([toy, toy.head(1)]))
    with pytest.raises(RatingsError, match="empty"):
        KNNBasic().fit(toy.head(0))
    with pytest.raises(RatingsError, match="outside the scale"):  # the scale comes with the data, as in Surprise
        KNNBasic().fit(Interactions.from_ratings(toy.assign(rating=toy.rating * 2), rating_scale=(1, 5)))
    clipped = KNNBasic().fit(Interactions.from_ratings(toy, rating_scale=(0, 10)))
    assert clipped.data_.rating_scale == (0.0, 10.0)
