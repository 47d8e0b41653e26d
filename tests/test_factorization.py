"""Matrix factorisation: bit for bit equal to Surprise's SVD and NMF, checked against closed forms,
sane on MovieLens, and strict about its inputs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from surprise import NMF as SurpriseNMF
from surprise import SVD as SurpriseSVD

from course_lib.data import toy_ratings
from course_lib.evaluate import evaluate_full_ranking, evaluate_ratings
from course_lib.interactions import Interactions
from course_lib.models import BaselineOnly, NotFittedError, Popularity
from course_lib.models.factorization import (ALS, BPRMF, NMF, BiasedMF, DivergenceError, FunkSVD, PureSVD,
                                             _ridge_side)
from course_lib.split import random_split, stratified_split


def _surprise_estimates(algo, testset):
    preds = algo.test(testset)
    return np.array([p.est for p in preds]), np.array([p.details["was_impossible"] for p in preds])


def _assert_same_model(ours, theirs, trainset):
    # inner ids agree (first appearance in the training ratings), so the arrays compare directly
    assert [trainset.to_raw_uid(u) for u in range(trainset.n_users)] == ours.data_.user_ids.tolist()
    assert [trainset.to_raw_iid(i) for i in range(trainset.n_items)] == ours.data_.item_ids.tolist()
    assert np.array_equal(ours.user_factors_, theirs.pu)
    assert np.array_equal(ours.item_factors_, theirs.qi)
    assert np.array_equal(ours.b_u_, theirs.bu)
    assert np.array_equal(ours.b_i_, theirs.bi)


# -- bit-identity with Surprise ----------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    dict(n_factors=8, n_epochs=4, random_state=0),
    dict(n_factors=5, n_epochs=3, random_state=7, biased=False),
    dict(n_factors=6, n_epochs=3, random_state=1, lr_all=0.01, reg_all=0.05, init_mean=0.05, init_std_dev=0.2,
         lr_bu=0.002, lr_qi=0.02, reg_bi=0.1, reg_pu=0.01),
])
def test_biased_mf_bit_identical_to_surprise_svd(split, surprise_split, kwargs):
    train, test = split
    trainset, testset = surprise_split
    theirs = SurpriseSVD(**kwargs).fit(trainset)
    ours = BiasedMF(**kwargs).fit(train)
    _assert_same_model(ours, theirs, trainset)
    est, impossible = _surprise_estimates(theirs, testset)
    out = ours.test(test)
    assert np.array_equal(out["est"].to_numpy(), est)
    assert np.array_equal(out["was_impossible"].to_numpy(), impossible)


def test_defaults_reproduce_surprise_svd_exactly(split, surprise_split):
    train, test = split
    trainset, testset = surprise_split
    theirs = SurpriseSVD(random_state=0).fit(trainset)
    ours = BiasedMF(random_state=0).fit(train)
    _assert_same_model(ours, theirs, trainset)
    est, _ = _surprise_estimates(theirs, testset)
    assert np.array_equal(ours.test(test)["est"].to_numpy(), est)
    rmse = evaluate_ratings(ours, test)["rmse"]
    assert rmse == pytest.approx(np.sqrt(np.mean((test["rating"].to_numpy() - est) ** 2)), abs=0)
    # the fast (fastmath) loop reorders sums: not the same bits, the same model to ~1e-12
    fast = BiasedMF(random_state=0, fast=True).fit(train)
    assert np.abs(fast.user_factors_ - ours.user_factors_).max() < 1e-9
    assert abs(evaluate_ratings(fast, test)["rmse"] - rmse) < 1e-6


def test_funk_svd_is_surprise_svd_unbiased(split, surprise_split):
    train, test = split
    trainset, testset = surprise_split
    theirs = SurpriseSVD(n_factors=10, n_epochs=5, biased=False, random_state=3).fit(trainset)
    ours = FunkSVD(n_factors=10, n_epochs=5, random_state=3).fit(train)
    _assert_same_model(ours, theirs, trainset)
    assert not ours.biased and np.all(ours.b_u_ == 0)
    est, impossible = _surprise_estimates(theirs, testset)
    out = ours.test(test)
    assert impossible.any()  # unknown items in this split: impossible without biases
    assert np.array_equal(out["was_impossible"].to_numpy(), impossible)
    assert np.array_equal(out["est"].to_numpy(), est)


@pytest.mark.parametrize("kwargs", [dict(n_factors=15, n_epochs=12, random_state=0),
                                    dict(n_factors=4, n_epochs=5, biased=True, random_state=2)])
def test_nmf_bit_identical_to_surprise_nmf(split, surprise_split, kwargs):
    train, test = split
    trainset, testset = surprise_split
    theirs = SurpriseNMF(**kwargs).fit(trainset)
    ours = NMF(**kwargs).fit(train)
    _assert_same_model(ours, theirs, trainset)
    assert (ours.user_factors_ >= 0).all() and (ours.item_factors_ >= 0).all()
    assert ours.user_factors_.shape == (trainset.n_users, kwargs["n_factors"])
    assert ours.item_factors_.shape == (trainset.n_items, kwargs["n_factors"])
    est, impossible = _surprise_estimates(theirs, testset)
    out = ours.test(test)
    assert np.array_equal(out["est"].to_numpy(), est)
    assert np.array_equal(out["was_impossible"].to_numpy(), impossible)


# -- closed forms and independent references ---------------------------------------------------
def test_ridge_side_matches_per_row_least_squares():
    rng = np.random.default_rng(0)
    dense = rng.random((6, 9)) < 0.5
    dense[:, 0] = True  # every row observes something
    pattern = sp.csr_matrix(dense.astype(float))
    y = rng.normal(size=dense.shape) * dense
    target = sp.csr_matrix((y[dense], pattern.indices, pattern.indptr), shape=dense.shape)
    X = rng.normal(size=(9, 3))
    lam = rng.random(6) + 0.1
    W = _ridge_side(pattern, target, X, lam)
    for s in range(6):
        Xs, ys = X[dense[s]], y[s, dense[s]]
        expected = np.linalg.solve(Xs.T @ Xs + lam[s] * np.eye(3), Xs.T @ ys)
        np.testing.assert_allclose(W[s], expected, rtol=1e-10, atol=1e-12)


def test_pure_svd_is_the_truncated_svd_of_the_centred_matrix():
    toy = toy_ratings()
    model = PureSVD(n_factors=2, center="user").fit(toy)
    data = model.data_
    dense = np.zeros((data.n_users, data.n_items))
    means = np.bincount(data.u, weights=data.r) / data.user_counts()
    dense[data.u, data.i] = data.r - means[data.u]
    U, s, Vt = np.linalg.svd(dense)
    np.testing.assert_allclose(model.s_, s[:2], rtol=1e-10)
    np.testing.assert_allclose(model.U_ * model.s_ @ model.Vt_, (U[:, :2] * s[:2]) @ Vt[:2], atol=1e-10)
    np.testing.assert_allclose(model.user_factors_ @ model.item_factors_.T, (U[:, :2] * s[:2]) @ Vt[:2], atol=1e-10)
    est = model.test(toy)["est"].to_numpy()
    full = means[data.u] + ((U[:, :2] * s[:2]) @ Vt[:2])[data.u, data.i]
    np.testing.assert_allclose(est, np.clip(full, 1, 5), atol=1e-10)


def test_pure_svd_loses_to_sgd_on_observed_ratings(split):
    train, test = split
    svd = evaluate_ratings(PureSVD(n_factors=20).fit(train), test)["rmse"]
    mf = evaluate_ratings(BiasedMF(n_factors=20, random_state=0, fast=True).fit(train), test)["rmse"]
    base = evaluate_ratings(BaselineOnly().fit(train), test)["rmse"]
    assert mf < base < svd  # imputing ~94 % of the matrix hurts


# -- ALS and BPR sanity ------------------------------------------------------------------------
def test_als_objective_never_increases_and_beats_the_baseline(split):
    train, test = split
    model = ALS(n_factors=10, n_epochs=8, reg=0.1, random_state=0).fit(train)
    loss = model.history_["train_loss"].to_numpy()
    assert (np.diff(loss) <= 1e-9 * loss[:-1]).all()  # each half-step is an exact minimisation
    assert evaluate_ratings(model, test)["rmse"] < evaluate_ratings(BaselineOnly().fit(train), test)["rmse"] - 0.01


def test_bpr_learns_to_rank(ratings):
    train, test = stratified_split(ratings, 0.2, random_state=42)
    model = BPRMF(n_factors=32, n_epochs=15, lr=0.05, reg=0.005, random_state=0).fit(train)
    loss = model.history_["train_loss"].to_numpy()
    assert loss[-1] < 0.5 * loss[0] and loss[0] < np.log(2)
    ours = evaluate_full_ranking(model, test, 10)["ndcg@10"]
    popular = evaluate_full_ranking(Popularity().fit(train), test, 10)["ndcg@10"]
    assert ours > popular + 0.05
    same = BPRMF(n_factors=32, n_epochs=15, lr=0.05, reg=0.005, random_state=0).fit(train)
    assert np.array_equal(same.user_factors_, model.user_factors_)
    rec = model.recommend(train["user_id"].iloc[0], n=5)
    seen = set(train.loc[train["user_id"] == train["user_id"].iloc[0], "item_id"])
    assert len(rec) == 5 and not seen & set(rec["item_id"]) and rec["score"].is_monotonic_decreasing


# -- BPR-MF: defaults pinned, sampling of positives, step schedule, fast negatives ----------------
def test_bpr_defaults_are_pinned(ratings):
    # values of the default BPRMF before sampling / lr_schedule / fast existed (commit 18cd198): the defaults
    # must keep the old random stream (positives with replacement, sample_unseen negatives, constant step)
    toy = BPRMF(n_factors=4, n_epochs=3, random_state=0).fit(toy_ratings())
    assert toy.user_factors_[0, :3] == pytest.approx([0.058189436183575916, -0.047666990011732295, 0.01812362996505541],
                                                     rel=1e-10)
    assert toy.item_factors_[-1, :2] == pytest.approx([-0.1728013076815548, 0.14792320199248193], rel=1e-10)
    assert toy.b_i_[:3] == pytest.approx([-0.24416088621076054, 0.11996492931475862, -0.1377833800265802], rel=1e-10)
    assert toy.history_["train_loss"].tolist() == pytest.approx([0.676584354473292, 0.6849863480503661,
                                                                 0.6700976798636159], rel=1e-10)
    train, _ = stratified_split(ratings, 0.2, random_state=42)
    ml = BPRMF(n_factors=32, n_epochs=5, lr=0.05, reg=0.005, random_state=0).fit(train)
    assert ml.user_factors_[0, :3] == pytest.approx([0.03028142525719049, -0.07093477894911943, 0.12828861105859093],
                                                    rel=1e-10)
    assert ml.b_i_[:3] == pytest.approx([1.2024482571496247, 2.461926450020572, 0.9480412600286531], rel=1e-10)
    assert ml.history_["train_loss"].tolist() == pytest.approx(
        [0.480757590499668, 0.3830417895596017, 0.35608138985235505, 0.32540642146539644, 0.2880718902116716], rel=1e-10)
    explicit = BPRMF(n_factors=32, n_epochs=5, lr=0.05, reg=0.005, random_state=0, sampling="bootstrap",
                     lr_schedule="constant", fast=False).fit(train)
    assert np.array_equal(explicit.item_factors_, ml.item_factors_)


def _spy(monkeypatch, name):
    """Record the arguments of every call of the compiled BPR epoch ``name`` (still running it)."""
    from course_lib.models import factorization

    calls, original = [], getattr(factorization, name)

    def spy(*args):
        out = original(*args)
        calls.append(args)
        return out

    monkeypatch.setattr(factorization, name, spy)
    return calls


def _dense_ratings():
    """40 items; user 0 has seen 36 (4 unseen), user 1 20, user 2 3: the fast path's pool of redraws
    (len // 4 + 64 = 78 draws) runs out several times an epoch (user 0 alone needs ~9 redraws a triple)."""
    pairs = [(0, i) for i in range(36)] + [(1, i) for i in range(20, 40)] + [(2, i) for i in (36, 37, 38)]
    return pd.DataFrame({"user_id": [u for u, _ in pairs], "item_id": [i for _, i in pairs], "rating": 1.0})


@pytest.mark.parametrize("fast", [False, True])
def test_bpr_epoch_sampling_visits_every_positive_once(ratings, monkeypatch, fast):
    train = ratings.iloc[:3000]
    calls = _spy(monkeypatch, "_bpr_epoch_fast" if fast else "_bpr_epoch")
    model = BPRMF(n_factors=4, n_epochs=4, sampling="epoch", fast=fast, random_state=0).fit(train)
    d = model.data_
    truth = np.sort(d.u.astype(np.int64) * d.n_items + d.i)
    orders = []
    for args in calls:
        if fast:
            order, start, us, is_ = args[:4]
            if start == 0:  # a new epoch (later calls of the same epoch resume after a pool ran out)
                orders.append(order)
                assert np.array_equal(np.sort(us[order] * d.n_items + is_[order]), truth)
        else:
            us, is_ = args[:2]
            orders.append(us * d.n_items + is_)
            assert np.array_equal(np.sort(orders[-1]), truth)  # each positive pair exactly once
    assert len(orders) == 4 and not np.array_equal(orders[0], orders[1])  # reshuffled every epoch
    # the default bootstrap draws with replacement: the same check fails for it
    calls.clear()
    BPRMF(n_factors=4, n_epochs=1, fast=fast, random_state=0).fit(train)
    args = calls[0]
    drawn = args[2][args[0]] * d.n_items + args[3][args[0]] if fast else args[0] * d.n_items + args[1]
    assert len(np.unique(drawn)) < 0.7 * len(truth)  # about 1 - 1/e = 63 % of the positives met


@pytest.mark.parametrize("fast", [False, True])
def test_bpr_linear_schedule_step_sizes(monkeypatch, fast):
    calls = _spy(monkeypatch, "_bpr_epoch_fast" if fast else "_bpr_epoch")
    at = -3  # the position of lr in both signatures
    BPRMF(n_factors=2, n_epochs=5, lr=0.08, lr_schedule="linear", fast=fast, random_state=0).fit(toy_ratings())
    steps = [args[at] for args in calls if not fast or args[1] == 0]
    assert steps == pytest.approx([0.08, 0.064, 0.048, 0.032, 0.016], rel=1e-15)  # gamma (1 - t / T), t = 0..4
    calls.clear()
    BPRMF(n_factors=2, n_epochs=5, lr=0.08, fast=fast, random_state=0).fit(toy_ratings())
    assert [args[at] for args in calls] == [0.08] * len(calls) and len(calls) >= 5


def test_bpr_fast_negatives_are_unseen_and_uniform(monkeypatch):
    from scipy.stats import chisquare

    calls = _spy(monkeypatch, "_bpr_epoch_fast")
    model = BPRMF(n_factors=2, n_epochs=300, fast=True, random_state=0).fit(_dense_ratings())
    d = model.data_
    seen = set(zip(d.u.tolist(), d.i.tolist()))
    epochs = {}
    for order, start, us, is_, _, _, _, _, js, *_ in calls:
        epochs.setdefault(id(js), (us[order], js))
    assert len(calls) > 2 * len(epochs) == 600  # the pool of redraws ran out (and was refilled) in most epochs
    users = np.concatenate([u for u, _ in epochs.values()])
    negatives = np.concatenate([j for _, j in epochs.values()])
    assert not any((u, j) in seen for u, j in zip(users.tolist(), negatives.tolist()))  # never a seen item
    for u in range(d.n_users):
        unseen = np.setdiff1d(np.arange(d.n_items), d.i[d.u == u])
        counts = np.bincount(negatives[users == u], minlength=d.n_items)
        assert counts[unseen].sum() == (users == u).sum() > 800
        assert chisquare(counts[unseen]).pvalue > 1e-3  # uniform over the user's unseen items
        if len(unseen) == 4:  # user 0: frequencies within 5 % of 1/4 (10,800 draws: sd 0.4 %)
            assert counts[unseen] / counts.sum() == pytest.approx(0.25, rel=0.05)


def test_bpr_seen_bitmap_is_the_csr_lookup(monkeypatch):
    from course_lib.models import factorization

    d = Interactions.from_ratings(_dense_ratings())
    indptr, indices = d.matrix.indptr.astype(np.int64), d.matrix.indices.astype(np.int64)
    bits = factorization._seen_bitmap(indptr, indices, d.n_items)
    assert bits.shape == (d.n_users, (d.n_items + 7) // 8) and bits.dtype == np.uint8
    none = np.zeros((0, 0), dtype=np.uint8)
    seen = set(zip(d.u.tolist(), d.i.tolist()))
    for u in range(d.n_users):
        for j in range(d.n_items):
            assert factorization._is_seen(indptr, indices, bits, u, j) == ((u, j) in seen)
            assert factorization._is_seen(indptr, indices, none, u, j) == ((u, j) in seen)
    # the same fit with the bitmap and with the binary search alone (bitmap over its size limit)
    with_bits = BPRMF(n_factors=3, n_epochs=20, fast=True, random_state=0).fit(_dense_ratings())
    monkeypatch.setattr(factorization, "_SEEN_BITMAP_MAX_BYTES", 0)
    calls = _spy(monkeypatch, "_bpr_epoch_fast")
    search = BPRMF(n_factors=3, n_epochs=20, fast=True, random_state=0).fit(_dense_ratings())
    assert all(args[9].shape == (0, 0) for args in calls)
    assert np.array_equal(with_bits.item_factors_, search.item_factors_)
    assert with_bits.history_["train_loss"].tolist() == search.history_["train_loss"].tolist()


def test_bpr_fast_gradient_and_losses_match_the_loss_function():
    from course_lib.models import factorization

    xs = np.concatenate([np.linspace(-40, 40, 801), [-1e-300, 0.0, 1e-300, -700.0, 700.0]])
    for one in (1.0, np.float32(1.0)):
        for x in xs.astype(type(one)):
            assert factorization._bpr_gradient(x, one) == factorization._bpr_loss(x, one)[1]  # same bits
    expected = sum(factorization._bpr_loss(x, 1.0)[0] for x in xs)
    assert factorization._bpr_losses(xs) == pytest.approx(expected, rel=1e-14)
    assert factorization._bpr_losses(xs) == pytest.approx(np.logaddexp(0.0, -xs).sum(), rel=1e-14)


def test_bpr_fast_history_is_the_mean_loss_of_the_triples_met(monkeypatch):
    calls = _spy(monkeypatch, "_bpr_epoch_fast")
    model = BPRMF(n_factors=4, n_epochs=3, sampling="epoch", fast=True, random_state=0).fit(toy_ratings())
    margins = {id(args[10]): args[10] for args in calls}  # one array per epoch, complete after its last call
    assert len(margins) == 3
    losses = [np.logaddexp(0.0, -m).mean() for m in margins.values()]
    assert model.history_["train_loss"].tolist() == pytest.approx(losses, rel=1e-12)


def test_bpr_float32(ratings):
    train, test = stratified_split(ratings, 0.2, random_state=42)
    params = dict(n_factors=32, n_epochs=15, lr=0.05, reg=0.005, sampling="epoch", fast=True, random_state=0)
    f64 = BPRMF(**params).fit(train)
    f32 = BPRMF(**params, dtype="float32").fit(train)
    for name in ("user_factors_", "item_factors_", "b_i_"):
        assert getattr(f32, name).dtype == np.float32 and getattr(f64, name).dtype == np.float64
    assert f32.history_["train_loss"].to_numpy() == pytest.approx(f64.history_["train_loss"].to_numpy(), rel=1e-3)
    ours, theirs = (evaluate_full_ranking(m, test, 10)["ndcg@10"] for m in (f32, f64))
    assert ours == pytest.approx(theirs, abs=0.005)
    # the float32 start is the float64 start rounded (same draws), and the default path runs in float32 too
    start = BPRMF(n_factors=32, n_epochs=1, lr=1e-12, random_state=0, dtype="float32").fit(train)
    start64 = BPRMF(n_factors=32, n_epochs=1, lr=1e-12, random_state=0).fit(train)
    assert start.user_factors_.dtype == np.float32
    assert np.allclose(start.user_factors_, start64.user_factors_.astype(np.float32), rtol=1e-5, atol=1e-9)


# -- training history, early stopping, divergence ------------------------------------------------
def test_history_validation_and_early_stopping(split):
    train, test = split
    fit_part, val = random_split(train, 0.1, random_state=1)
    model = BiasedMF(n_factors=20, n_epochs=60, lr_all=0.02, reg_all=0.01, early_stopping=True, n_iter_no_change=3,
                     random_state=0, fast=True)
    assert model.fit(fit_part, validation=val) is model
    h = model.history_
    assert list(h.columns) == ["train_loss", "train_rmse", "val_rmse"] and h.index.name == "epoch"
    assert model.n_epochs_ == len(h) < 60  # it overfits, so it stops
    assert model.best_epoch_ == int(h["val_rmse"].idxmin()) == model.n_epochs_ - 3
    assert evaluate_ratings(model, val)["rmse"] == pytest.approx(h["val_rmse"].min(), abs=1e-12)  # best restored
    assert h["train_rmse"].is_monotonic_decreasing
    # without validation ratings, early stopping holds out validation_fraction of the training ratings
    carved = BiasedMF(n_factors=20, n_epochs=60, lr_all=0.02, reg_all=0.01, early_stopping=True, n_iter_no_change=3,
                      validation_fraction=0.1, random_state=0, fast=True).fit(fit_part)
    assert carved.n_epochs_ < 60 and "val_rmse" in carved.history_
    assert carved.history_["val_rmse"].min() > h["val_rmse"].min() - 0.02


@pytest.mark.parametrize("model", [BiasedMF(n_factors=5, n_epochs=5, lr_all=2.0, random_state=0),
                                   BiasedMF(n_factors=5, n_epochs=5, lr_all=2.0, random_state=0, fast=True),
                                   NMF(n_factors=3, n_epochs=5, biased=True, lr_bu=3.0, lr_bi=3.0, random_state=0)])
def test_divergence_is_reported(split, model):
    with pytest.raises(DivergenceError, match=r"diverged at epoch \d+.*Lower the learning rate"):
        model.fit(split[0])


# -- the contract ------------------------------------------------------------------------------
MODELS = [BiasedMF(n_factors=4, n_epochs=2, random_state=0), FunkSVD(n_factors=4, n_epochs=2, random_state=0),
          NMF(n_factors=3, n_epochs=3, random_state=0), ALS(n_factors=3, n_epochs=2, random_state=0),
          BPRMF(n_factors=4, n_epochs=2, random_state=0), PureSVD(n_factors=2)]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_contract(model):
    toy = toy_ratings()
    model = clone(model)
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict(1, 1)
    assert model.fit(toy) is model
    again = clone(model).fit(toy)
    assert np.array_equal(model.user_factors_, again.user_factors_)  # same seed, same result
    k = model.n_factors
    assert model.user_factors_.shape == (5, k) and model.item_factors_.shape == (6, k)
    pred = model.predict(1, 3)
    assert np.isfinite(pred.est) and not pred.was_impossible
    unknown = model.predict(99, 3)
    if isinstance(model, (FunkSVD, BPRMF, PureSVD)) or (isinstance(model, NMF) and not model.biased):
        assert unknown.was_impossible and unknown.reason == "user is unknown"
    rec = model.recommend(1, n=3)
    assert list(rec.columns) == ["item_id", "score"] and len(rec) == 1  # Ana has seen 5 of 6 movies
    assert rec["item_id"].tolist() == [3]


def test_progress_bar_can_be_shown_and_hidden(capsys):
    BiasedMF(n_factors=2, n_epochs=3, random_state=0, progress=True).fit(toy_ratings())
    shown = capsys.readouterr().err
    BiasedMF(n_factors=2, n_epochs=3, random_state=0).fit(toy_ratings())
    assert "BiasedMF" in shown and capsys.readouterr().err == ""


@pytest.mark.parametrize("model, message", [
    (BiasedMF(n_factors=0), "n_factors must be an integer >= 1, got 0"),
    (BiasedMF(n_factors=-3), "n_factors must be an integer >= 1"),
    (BiasedMF(n_factors=2.5), "n_factors must be an integer"),
    (BiasedMF(n_epochs=0), "n_epochs must be an integer >= 1"),
    (BiasedMF(lr_all=float("nan")), "lr_all must be a finite number, got nan"),
    (BiasedMF(lr_all=float("inf")), "lr_all must be a finite number"),
    (BiasedMF(lr_all=0), "lr_all must be > 0"),
    (BiasedMF(lr_pu=-0.1), "lr_pu must be > 0"),
    (BiasedMF(reg_all=-1), "reg_all must be >= 0"),
    (BiasedMF(reg_qi=float("nan")), "reg_qi must be a finite number"),
    (BiasedMF(init_std_dev=-0.1), "init_std_dev must be >= 0"),
    (BiasedMF(early_stopping=3), "early_stopping must be True or False"),
    (BiasedMF(early_stopping=True, n_iter_no_change=0), "n_iter_no_change must be an integer >= 1"),
    (BiasedMF(early_stopping=True, validation_fraction=1.5), r"validation_fraction must be in \[0, 1\)"),
    (BiasedMF(random_state="seed"), "random_state must be an int, None or a numpy.random.RandomState"),
    (NMF(n_factors=0), "n_factors must be an integer >= 1"),
    (NMF(init_low=-1), "init_low must be >= 0"),
    (NMF(init_low=0.5, init_high=0.2), "init_high must be >= init_low"),
    (ALS(reg=0), "reg must be > 0"),
    (ALS(n_factors=True), "n_factors must be an integer"),
    (BPRMF(lr=float("inf")), "lr must be a finite number"),
    (BPRMF(sampling="uniform"), "sampling must be 'bootstrap' or 'epoch', got 'uniform'"),
    (BPRMF(lr_schedule="cosine"), "lr_schedule must be 'constant' or 'linear', got 'cosine'"),
    (BPRMF(dtype="float16"), "dtype must be 'float64' or 'float32', got 'float16'"),
    (PureSVD(n_factors=5), r"n_factors must be smaller than min\(n_users, n_items\) = 5"),
    (PureSVD(center="median"), "center must be 'user', 'item', 'global' or 'none'"),
])
def test_bad_hyperparameters_are_explained(model, message):
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(toy_ratings())


def test_bad_ratings_are_explained():
    bad = toy_ratings().astype({"rating": float})
    bad.loc[0, "rating"] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite ratings"):
        BiasedMF().fit(bad)
    with pytest.raises(ValueError, match="missing columns"):
        ALS().fit(toy_ratings().rename(columns={"user_id": "userId"}))
    with pytest.raises(ValueError, match="validation ratings"):
        BiasedMF(n_epochs=1).fit(toy_ratings(), validation=pd.DataFrame({"user_id": [1]}))


def test_shuffle_changes_the_order_reproducibly(split):
    train = split[0]
    a = BiasedMF(n_factors=5, n_epochs=2, shuffle=True, random_state=0).fit(train)
    b = BiasedMF(n_factors=5, n_epochs=2, shuffle=True, random_state=0).fit(train)
    c = BiasedMF(n_factors=5, n_epochs=2, random_state=0).fit(train)
    assert np.array_equal(a.user_factors_, b.user_factors_) and not np.array_equal(a.user_factors_, c.user_factors_)


def test_interactions_input_and_no_framework_import(split):
    data = Interactions.from_ratings(split[0])
    assert BiasedMF(n_factors=3, n_epochs=1, random_state=0).fit(data).data_ is data
    code = ("import sys, course_lib.models.factorization; "
            "print(any(m in sys.modules for m in ('torch', 'tensorflow', 'keras')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
