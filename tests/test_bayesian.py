"""Bayesian MF by Gibbs sampling: the compiled conditionals against dense NumPy algebra, reproducibility,
strict inputs and a small problem it must solve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from course_lib.models import BaselineOnly, BayesianMF
from course_lib.models.bayesian import _sample_hyper, _sample_implicit, _sample_rows, _user_grams


def _low_rank_ratings(n_users=60, n_items=40, k=2, density=0.5, noise=0.3, seed=0):
    """Ratings mu + b_u + b_i + p_u . q_i + noise on a random half of the cells (scale 1-5, not rounded)."""
    rng = np.random.default_rng(seed)
    P, Q = rng.normal(0, 0.7, (n_users, k)), rng.normal(0, 0.7, (n_items, k))
    b_u, b_i = rng.normal(0, 0.3, n_users), rng.normal(0, 0.3, n_items)
    u, i = np.nonzero(rng.random((n_users, n_items)) < density)
    r = np.clip(3.5 + b_u[u] + b_i[i] + np.einsum("ij,ij->i", P[u], Q[i]) + rng.normal(0, noise, len(u)), 1, 5)
    return pd.DataFrame({"user_id": u + 1, "item_id": i + 1001, "rating": r})


def test_sample_rows_is_a_draw_from_the_gaussian_conditional():
    rng = np.random.default_rng(1)
    n_rows, n_cols, K, alpha = 5, 7, 3, 1.7
    mask = rng.random((n_rows, n_cols)) < 0.6
    mask[:, 0] = True
    csr = sp.csr_matrix(mask.astype(float))
    target = rng.normal(size=csr.nnz)
    F = rng.normal(size=(n_cols, K))
    Lam = np.array([[2.0, 0.3, 0.1], [0.3, 1.5, -0.2], [0.1, -0.2, 1.0]])
    Lam_mu = Lam @ np.array([0.5, -0.1, 0.2])
    Z = rng.normal(size=(n_rows, K))
    X = _sample_rows(csr.indptr.astype(np.int64), csr.indices.astype(np.int64), target, F, alpha, Lam, Lam_mu, Z)
    for s in range(n_rows):
        cols = csr.indices[csr.indptr[s]:csr.indptr[s + 1]]
        t = target[csr.indptr[s]:csr.indptr[s + 1]]
        A = Lam + alpha * F[cols].T @ F[cols]
        mean = np.linalg.solve(A, Lam_mu + alpha * F[cols].T @ t)
        L = np.linalg.cholesky(A)  # x = mean + L^{-T} z has covariance L^{-T} L^{-1} = A^{-1}
        np.testing.assert_allclose(X[s], mean + np.linalg.solve(L.T, Z[s]), rtol=1e-10, atol=1e-12)


def test_sample_implicit_is_sequential_gibbs_on_the_residuals():
    """Item after item, y_j is drawn from its Gaussian conditional given the other y's (recomputed densely)."""
    rng = np.random.default_rng(2)
    n_users, n_items, k, alpha = 6, 5, 2, 2.5
    mask = rng.random((n_users, n_items)) < 0.6
    mask[:, 0] = True
    by_user = sp.csr_matrix(mask.astype(float))
    by_item = by_user.T.tocsr()
    u, i = np.nonzero(mask)  # user-major, as the CSR rows
    base = rng.normal(size=len(u))  # r - mu - b_u - b_i - q_i . p_u
    Q, W0 = rng.normal(size=(n_items, k)), rng.normal(size=(n_items, k))
    c = 1 / np.sqrt(mask.sum(axis=1))
    Lam, Lam_mu = np.array([[1.5, 0.2], [0.2, 0.8]]), np.array([0.1, -0.3])
    Z = rng.normal(size=(n_items, k))

    def residuals(W):
        z = c[:, None] * (mask.astype(float) @ W)
        return base - np.einsum("ij,ij->i", Q[i], z[u])

    G, g = _user_grams(by_user.indptr.astype(np.int64), by_user.indices.astype(np.int64), residuals(W0), Q)
    W = W0.copy()
    _sample_implicit(by_item.indptr.astype(np.int64), by_item.indices.astype(np.int64), c, G, g, W, alpha, Lam,
                     Lam_mu, Z)
    expected = W0.copy()
    for j in range(n_items):
        rows = mask[u, j]  # ratings of the users who rated j: their residual is linear in y_j
        x = c[u[rows], None] * Q[i[rows]]
        t = residuals(expected)[rows] + x @ expected[j]
        A = Lam + alpha * x.T @ x
        mean = np.linalg.solve(A, Lam_mu + alpha * x.T @ t)
        expected[j] = mean + np.linalg.solve(np.linalg.cholesky(A).T, Z[j])
    np.testing.assert_allclose(W, expected, rtol=1e-9, atol=1e-12)


def test_sample_hyper_concentrates_on_the_sample_moments():
    rng = np.random.default_rng(3)
    cov = np.array([[1.0, 0.5], [0.5, 2.0]])
    X = rng.multivariate_normal([1.0, -2.0], cov, size=20_000)
    mu, Lam = _sample_hyper(X, 2.0, np.random.default_rng(4))
    np.testing.assert_allclose(mu, X.mean(axis=0), atol=0.05)
    np.testing.assert_allclose(np.linalg.inv(Lam), np.cov(X.T), rtol=0.05)


@pytest.mark.parametrize("implicit", [False, True])
def test_learns_a_low_rank_matrix_better_than_the_baseline(implicit):
    ratings = _low_rank_ratings()
    test = ratings.sample(frac=0.2, random_state=0)
    train = ratings.drop(test.index)
    model = BayesianMF(n_factors=4, n_epochs=60, burn_in=20, implicit=implicit).fit(train, validation=test)
    rmse = np.sqrt(np.mean((model.test(test).est - test.rating) ** 2))
    base = BaselineOnly().fit(train).test(test)
    assert rmse < 0.8 * np.sqrt(np.mean((base.est - test.rating) ** 2))
    assert model.history_.val_rmse.iloc[-1] == pytest.approx(rmse, abs=1e-9)  # the running average is the model
    assert list(model.history_.columns) == ["train_loss", "train_rmse", "alpha", "val_rmse"]
    assert model.n_epochs_ == model.best_epoch_ == 60 and model.user_samples_.shape == (40, model.data_.n_users, 4)
    assert model.item_samples_.shape == (40, model.data_.n_items, 4) and model.alpha_.shape == (60,)
    assert model.implicit_factors_.shape == (model.data_.n_items, 4)
    assert np.any(model.implicit_factors_) == implicit
    # the posterior noise precision is near 1 / noise^2 = 11 (the clipped cells add a little noise)
    assert 6 < model.alpha_[20:].mean() < 16


def test_estimates_are_the_average_of_the_samples_and_match_the_scores():
    ratings = _low_rank_ratings(seed=5)
    model = BayesianMF(n_factors=3, n_epochs=12, burn_in=4, random_state=1).fit(ratings)
    u, i = model.data_.u[:50], model.data_.i[:50]
    per_sample = [model.global_mean_ + np.einsum("ij,ij->i", P[u], Q[i]) for P, Q in
                  zip(model.user_samples_, model.item_samples_)]
    est, impossible = model._estimate(u, i)
    np.testing.assert_allclose(est, np.mean(per_sample, axis=0) + model.b_u_[u] + model.b_i_[i], rtol=1e-12)
    assert not impossible.any()
    scores = model.score_items(model.data_.user_ids[u[:3]])
    np.testing.assert_allclose(scores[np.arange(3), i[:3]], est[:3], rtol=1e-12)


def test_same_random_state_same_model_and_none_is_fresh():
    ratings = _low_rank_ratings(n_users=20, n_items=15)
    a, b = (BayesianMF(n_factors=2, n_epochs=6, burn_in=2, implicit=True, random_state=7).fit(ratings) for _ in range(2))
    np.testing.assert_array_equal(a.user_samples_, b.user_samples_)
    np.testing.assert_array_equal(a.alpha_, b.alpha_)
    c = BayesianMF(n_factors=2, n_epochs=6, burn_in=2, random_state=8).fit(ratings)
    d, e = (BayesianMF(n_factors=2, n_epochs=6, burn_in=2, random_state=None).fit(ratings) for _ in range(2))
    assert not np.array_equal(a.alpha_, c.alpha_) and not np.array_equal(d.alpha_, e.alpha_)
    gen = np.random.default_rng(3)
    assert np.isfinite(BayesianMF(n_factors=2, n_epochs=3, burn_in=1, random_state=gen).fit(ratings).alpha_).all()


@pytest.mark.parametrize("params, message", [
    (dict(n_factors=0), "n_factors"), (dict(n_epochs=0), "n_epochs"),
    (dict(n_epochs=10, burn_in=10), r"burn_in must be an integer in \[0, n_epochs\)"),
    (dict(burn_in=-1), "burn_in"), (dict(burn_in=2.5), "burn_in"), (dict(beta_0=0), "beta_0"),
    (dict(alpha_a=-1), "alpha_a"), (dict(alpha_b=float("nan")), "alpha_b"), (dict(init_std_dev=-0.1), "init_std_dev"),
    (dict(random_state="seed"), "random_state"),
])
def test_bad_hyperparameters_are_explained(params, message):
    with pytest.raises(ValueError, match=message):
        BayesianMF(**{"n_epochs": 5, "burn_in": 1, **params}).fit(_low_rank_ratings(n_users=10, n_items=8))


def test_unknown_ids_fall_back_to_the_biases():
    ratings = _low_rank_ratings(n_users=15, n_items=10)
    model = BayesianMF(n_factors=2, n_epochs=5, burn_in=1).fit(ratings)
    p = model.predict(1, 99999)
    assert not p.was_impossible and p.est == pytest.approx(np.clip(model.global_mean_ + model.b_u_[0], 1, 5))
    assert model.predict(99999, 99999).est == pytest.approx(model.global_mean_)
    np.testing.assert_allclose(model.score_items([99999])[0], model.global_mean_ + model.b_i_)
