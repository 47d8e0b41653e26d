"""EASE, implicit ALS and item-kNN: hand-checked formulas, the contract, and the measured numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from course_lib.evaluate import evaluate_full_ranking
from course_lib.models import NotFittedError
from course_lib.models.implicit import EASE, ImplicitALS, ItemKNN, binary_matrix
from course_lib.split import stratified_split

SMALL = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3, 3, 3, 4, 4],
                      "item_id": [10, 20, 30, 10, 20, 20, 30, 40, 10, 40],
                      "rating": [5, 3, 4, 4, 2, 5, 1, 3, 2, 4]})


@pytest.fixture(scope="module")
def split(ratings):
    return stratified_split(ratings, 0.25, random_state=42)


def test_binary_matrix_ignores_rating_values():
    ease = EASE(lam=1.0).fit(SMALL)
    x = binary_matrix(ease.data_).toarray()
    assert x.shape == (4, 4) and set(np.unique(x)) == {0.0, 1.0} and x.sum() == len(SMALL)


def test_ease_matches_constrained_least_squares_solution():
    lam = 2.0
    ease = EASE(lam=lam).fit(SMALL)
    x = binary_matrix(ease.data_).toarray()
    n = x.shape[1]
    # independent reference: for each column j solve ridge regression of x_j on the other columns
    b_ref = np.zeros((n, n))
    for j in range(n):
        others = [k for k in range(n) if k != j]
        a = x[:, others]
        b_ref[others, j] = np.linalg.solve(a.T @ a + lam * np.eye(n - 1), a.T @ x[:, j])
    assert np.allclose(ease.B_, b_ref, atol=1e-10)
    assert np.allclose(np.diag(ease.B_), 0)
    scores = ease.score_items(ease.data_.user_ids)
    assert scores.shape == (4, 4) and np.allclose(scores, x @ b_ref)


def test_item_knn_cosine_and_pruning():
    knn = ItemKNN(k=3).fit(SMALL)
    x = binary_matrix(knn.data_).toarray()
    cos = (x.T @ x) / np.outer(np.linalg.norm(x, axis=0), np.linalg.norm(x, axis=0))
    np.fill_diagonal(cos, 0)
    assert np.allclose(knn.similarity_, cos)
    pruned = ItemKNN(k=1).fit(SMALL).similarity_
    assert ((pruned != 0).sum(axis=0) <= 1).all()
    assert np.allclose(pruned.max(axis=0), cos.max(axis=0))


def test_implicit_als_matches_a_dense_weighted_least_squares_step():
    als = ImplicitALS(n_factors=3, alpha=5.0, reg=0.5, n_epochs=1, random_state=0).fit(SMALL)
    x = binary_matrix(als.data_).toarray()
    rng = np.random.default_rng(0)
    p = rng.normal(0, 0.01, (4, 3))
    q = rng.normal(0, 0.01, (4, 3))
    c = 1 + 5.0 * x

    def solve(pref, conf, fixed):  # the textbook normal equations, one row at a time
        return np.array([np.linalg.solve(fixed.T @ np.diag(conf[r]) @ fixed + 0.5 * np.eye(3),
                                         fixed.T @ np.diag(conf[r]) @ pref[r]) for r in range(len(pref))])

    p = solve(x, c, q)
    q = solve(x.T, c.T, p)
    assert np.allclose(als.user_factors_, p, atol=1e-10) and np.allclose(als.item_factors_, q, atol=1e-10)


def test_implicit_als_loss_decreases_and_is_reproducible():
    def loss(m):
        x = binary_matrix(m.data_).toarray()
        pred = m.user_factors_ @ m.item_factors_.T
        return ((1 + 5 * x) * (x - pred) ** 2).sum() + 0.1 * ((m.user_factors_ ** 2).sum() + (m.item_factors_ ** 2).sum())
    losses = [loss(ImplicitALS(n_factors=2, alpha=5, reg=0.1, n_epochs=e).fit(SMALL)) for e in (1, 3, 10)]
    assert losses[0] > losses[1] > losses[2]
    a = ImplicitALS(n_factors=2, random_state=3).fit(SMALL)
    b = clone(a).fit(SMALL)
    assert np.array_equal(a.user_factors_, b.user_factors_)


@pytest.mark.parametrize("model", [EASE(lam=1.0), ItemKNN(k=2), ImplicitALS(n_factors=2)])
def test_contract_recommend_predict_and_errors(model):
    with pytest.raises(NotFittedError):
        clone(model).recommend(1)
    m = clone(model).fit(SMALL)
    recs = m.recommend(2, n=5)
    assert list(recs.columns) == ["item_id", "score"]
    assert set(recs["item_id"]).isdisjoint({10, 20}) and len(recs) == 2
    assert recs["score"].is_monotonic_decreasing
    pred = m.predict(2, 30)
    assert not pred.was_impossible and np.isclose(pred.est, m.score_items([2])[0, m.data_.item_index(30)])
    assert m.predict(99, 30).was_impossible


def test_bad_hyperparameters_say_what_was_expected():
    with pytest.raises(ValueError, match="lam must be > 0"):
        EASE(lam=0).fit(SMALL)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        ItemKNN(k=0).fit(SMALL)
    with pytest.raises(TypeError, match="n_factors"):
        ImplicitALS(n_factors=2.5).fit(SMALL)


def test_measured_full_ranking_numbers(split):
    """The anchors (0.475-0.480 for EASE, 0.473 for ALS, 0.429 for item-kNN), within noise."""
    train, test = split
    assert evaluate_full_ranking(EASE(lam=500).fit(train), test)["ndcg@10"] == pytest.approx(0.4766, abs=0.002)
    assert evaluate_full_ranking(ImplicitALS().fit(train), test)["ndcg@10"] == pytest.approx(0.4817, abs=0.002)
    assert evaluate_full_ranking(ItemKNN(k=400).fit(train), test)["ndcg@10"] == pytest.approx(0.4279, abs=0.002)


# -- the compiled solvers: exact (Cholesky) and conjugate gradient (issue 22) ------------------------
def _half_step(x, fixed, alpha, reg, cg_steps, start=None, extra=None):
    from course_lib.models.implicit import _als_half

    out = np.zeros((x.shape[0], fixed.shape[1])) if start is None else start.copy()
    gram = fixed.T @ fixed + reg * np.eye(fixed.shape[1])
    extra = np.empty(0) if extra is None else extra
    _als_half(x.indptr.astype(np.int64), x.indices.astype(np.int64), fixed, gram, alpha, 1.0 + alpha, 0.0, out, cg_steps,
              extra)
    return out


def test_compiled_exact_and_cg_solves_against_the_numpy_normal_equations():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    x = sp.random(60, 40, density=0.2, random_state=1, format="lil")
    x[5, :] = 0.0
    x = x.tocsr()
    x.eliminate_zeros()
    x.data[:] = 1.0
    assert np.diff(x.indptr)[5] == 0  # a row without items is solved too (its factors are 0)
    fixed = rng.normal(0, 0.5, (40, 8))
    reference = ImplicitALS._solve(x, fixed, 3.0, 2.0)  # np.linalg.solve of every row's system
    np.testing.assert_allclose(_half_step(x, fixed, 3.0, 2.0, 0), reference, rtol=1e-10, atol=1e-12)
    # CG solves an f x f system in at most f steps (exact arithmetic): 8 steps from 0 reach the solution ...
    np.testing.assert_allclose(_half_step(x, fixed, 3.0, 2.0, 8), reference, rtol=1e-7, atol=1e-9)
    # ... 2 steps from 0 do not; from a nearby start (the previous sweep's factors) they shrink the error
    assert np.abs(_half_step(x, fixed, 3.0, 2.0, 2) - reference).max() > 1e-3
    near = reference + rng.normal(0, 1e-3, reference.shape)
    before = np.linalg.norm(near - reference, axis=1)
    after = np.linalg.norm(_half_step(x, fixed, 3.0, 2.0, 2, start=near) - reference, axis=1)
    assert (after < before / 2).all() and np.median(after / before) < 0.2


def test_compiled_solves_with_a_penalty_per_row_against_the_numpy_normal_equations():
    """``extra`` (the frequency-scaled penalty of ``reg_exponent``) adds lambda_u - lambda to row u's diagonal."""
    import scipy.sparse as sp

    rng = np.random.default_rng(1)
    x = sp.random(50, 30, density=0.25, random_state=2, format="csr")
    x.data[:] = 1.0
    fixed = rng.normal(0, 0.5, (30, 6))
    reg_rows = 2.0 * (1 + 3.0 * np.diff(x.indptr) / 30) ** 1.0
    reference = ImplicitALS._solve(x, fixed, 3.0, reg_rows)
    assert np.abs(reference - ImplicitALS._solve(x, fixed, 3.0, 2.0)).max() > 1e-3  # the penalty matters
    np.testing.assert_allclose(_half_step(x, fixed, 3.0, 2.0, 0, extra=reg_rows - 2.0), reference, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_half_step(x, fixed, 3.0, 2.0, 6, extra=reg_rows - 2.0), reference, rtol=1e-7, atol=1e-9)


def test_reg_exponent_is_the_frequency_scaled_penalty_of_rendle_et_al():
    """One sweep with nu = 1 equals the textbook normal equations with lambda_u = lambda (1 + alpha |I_u| / |I|)
    (and lambda_i = lambda (1 + alpha |U_i| / |U|)); nu = 0 is the plain model, bit for bit."""
    als = ImplicitALS(n_factors=3, alpha=5.0, reg=0.5, n_epochs=1, reg_exponent=1.0, random_state=0).fit(SMALL)
    x = binary_matrix(als.data_).toarray()
    rng = np.random.default_rng(0)
    p = rng.normal(0, 0.01, (4, 3))
    q = rng.normal(0, 0.01, (4, 3))
    c = 1 + 5.0 * x

    def solve(pref, conf, fixed):
        lam = 0.5 * (1 + 5.0 * pref.sum(1) / pref.shape[1])
        return np.array([np.linalg.solve(fixed.T @ np.diag(conf[r]) @ fixed + lam[r] * np.eye(3),
                                         fixed.T @ np.diag(conf[r]) @ pref[r]) for r in range(len(pref))])

    p = solve(x, c, q)
    q = solve(x.T, c.T, p)
    assert np.allclose(als.user_factors_, p, atol=1e-10) and np.allclose(als.item_factors_, q, atol=1e-10)
    plain = ImplicitALS(n_factors=3, alpha=5.0, reg=0.5, n_epochs=1, random_state=0).fit(SMALL)
    zero = ImplicitALS(n_factors=3, alpha=5.0, reg=0.5, n_epochs=1, reg_exponent=0, random_state=0).fit(SMALL)
    assert np.array_equal(plain.user_factors_, zero.user_factors_) and not np.allclose(plain.user_factors_, p)
    with pytest.raises(ValueError, match="reg_exponent"):
        ImplicitALS(reg_exponent=-1).fit(SMALL)


def test_cg_als_stays_within_tolerance_of_exact_als(split):
    """CG with implicit's 3 steps per sweep vs the exact solve, 15 sweeps on MovieLens 100K: NDCG@10
    within 0.002 and scores within 2 % on average (1 CG step is 20 % away: the tolerance can fail)."""
    train, test = split
    exact = ImplicitALS(random_state=0).fit(train)
    users = exact.data_.user_ids
    s_exact = exact.score_items(users)
    ndcg_exact = evaluate_full_ranking(exact, test)["ndcg@10"]

    def gap(model):
        s = model.score_items(users)
        return np.abs(s - s_exact).mean() / np.abs(s_exact).mean()

    cg = ImplicitALS(solver="cg", random_state=0).fit(train)
    assert gap(cg) < 0.02
    assert abs(evaluate_full_ranking(cg, test)["ndcg@10"] - ndcg_exact) < 0.002
    assert gap(ImplicitALS(solver="cg", cg_steps=1, random_state=0).fit(train)) > 0.1
    # threads share the rows; each row is computed by the same code: the same bits
    two = ImplicitALS(solver="cg", n_jobs=2, random_state=0).fit(train)
    assert np.array_equal(two.user_factors_, cg.user_factors_) and np.array_equal(two.item_factors_, cg.item_factors_)
    single = ImplicitALS(solver="cg", dtype="float32", random_state=0).fit(train)
    assert single.user_factors_.dtype == np.float32
    assert abs(evaluate_full_ranking(single, test)["ndcg@10"] - evaluate_full_ranking(cg, test)["ndcg@10"]) < 0.001


def test_implicit_als_solver_options_are_checked():
    with pytest.raises(ValueError, match="solver must be 'exact' or 'cg'"):
        ImplicitALS(solver="lu").fit(SMALL)
    with pytest.raises(ValueError, match="cg_steps must be an integer >= 1"):
        ImplicitALS(solver="cg", cg_steps=0).fit(SMALL)
    with pytest.raises(ValueError, match="n_jobs must be a positive int"):
        ImplicitALS(n_jobs=0).fit(SMALL)
    with pytest.raises(ValueError, match="dtype must be 'float64' or 'float32'"):
        ImplicitALS(dtype="float16").fit(SMALL)
