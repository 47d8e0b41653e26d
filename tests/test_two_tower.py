"""Two-tower retrieval: the in-batch softmax with the logQ correction against independent references
(PyTorch's cross-entropy, Keras's, a per-row loop, a Monte Carlo of the full softmax's gradient), the
PyTorch model and its Keras twin, and their bad inputs. The contract itself: tests/test_contract.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_lib.interactions import UnknownIdError
from course_lib.retrieval import in_batch_logits, in_batch_softmax_loss, sampling_probability, split_features

torch = pytest.importorskip("torch")
from course_lib.models.torch_models.two_tower import TwoTower  # noqa: E402
from course_lib.models.torch_models.two_tower import in_batch_softmax_loss as torch_loss  # noqa: E402


def _batch(seed=0, B=12, d=5, n_items=6):
    rng = np.random.default_rng(seed)
    P, Q = rng.normal(size=(B, d)), rng.normal(size=(B, d))
    ids = rng.integers(0, n_items, B)             # n_items < B: duplicates (accidental hits) are certain
    log_q = np.log(rng.dirichlet(np.ones(n_items)))[ids]
    return P, Q, ids, log_q


def _loop_loss(P, Q, ids, log_q, remove, tau):
    """The formula row by row, in plain Python floats: an independent reference."""
    total = 0.0
    for b in range(len(P)):
        logits = []
        for c in range(len(P)):
            if remove and c != b and ids[c] == ids[b]:
                continue
            s = float(np.dot(P[b], Q[c])) / tau - (float(log_q[c]) if log_q is not None else 0.0)
            logits.append((c, s))
        m = max(s for _, s in logits)
        log_norm = m + np.log(sum(np.exp(s - m) for _, s in logits))
        total += log_norm - dict(logits)[b]
    return total / len(P)


@pytest.mark.parametrize("remove", [True, False])
@pytest.mark.parametrize("correct", [True, False])
@pytest.mark.parametrize("tau", [1.0, 0.2])
def test_numpy_loss_equals_a_loop_and_pytorch(remove, correct, tau):
    P, Q, ids, log_q = _batch()
    lq = log_q if correct else None
    ours = in_batch_softmax_loss(P, Q, ids, lq, remove_accidental_hits=remove, temperature=tau)
    assert ours == pytest.approx(_loop_loss(P, Q, ids, lq, remove, tau), rel=1e-12)
    t = torch_loss(torch.tensor(P), torch.tensor(Q), torch.tensor(ids), None if lq is None else torch.tensor(lq),
                   remove_accidental_hits=remove, temperature=tau)
    assert float(t) == pytest.approx(ours, rel=1e-12)


def test_the_correction_and_the_mask_change_the_loss():
    P, Q, ids, log_q = _batch()
    plain = in_batch_softmax_loss(P, Q, ids, None, remove_accidental_hits=False)
    assert abs(in_batch_softmax_loss(P, Q, ids, log_q, remove_accidental_hits=False) - plain) > 1e-2
    assert abs(in_batch_softmax_loss(P, Q, ids, None, remove_accidental_hits=True) - plain) > 1e-2
    S = in_batch_logits(P, Q, ids, log_q)
    hits = (ids[:, None] == ids[None, :]) & ~np.eye(len(ids), dtype=bool)
    assert hits.any() and np.isneginf(S[hits]).all() and np.isfinite(S[~hits]).all()
    np.testing.assert_allclose(np.diag(S), (P * Q).sum(1) - log_q, rtol=1e-12)


def _sampled_softmax_mass(B: int, draws: int = 300, seed: int = 0):
    """Average softmax mass per item over candidates drawn from Q: (corrected, uncorrected, P, Q e^s)."""
    rng = np.random.default_rng(seed)
    n = 30
    s = rng.normal(0, 1.0, n)
    Q = np.maximum(rng.dirichlet(np.full(n, 0.5)), 2e-3)   # a skewed popularity
    Q /= Q.sum()
    P_full = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
    biased = Q * np.exp(s) / (Q * np.exp(s)).sum()
    est = {True: np.zeros(n), False: np.zeros(n)}
    for _ in range(draws):
        cand = rng.choice(n, size=B, p=Q)
        for correct in (True, False):
            logits = s[cand] - (np.log(Q[cand]) if correct else 0.0)
            w = np.exp(logits - logits.max())
            est[correct] += np.bincount(cand, weights=w / w.sum(), minlength=n) / draws
    return est[True], est[False], P_full, biased


def test_logq_makes_the_sampled_softmax_estimate_the_full_softmax():
    """Monte Carlo: the softmax over candidates drawn from Q, with logits s - log Q, puts on average the
    full softmax's probability P(j|u) on each item j (the negative term of the full gradient), closer as
    the batch grows (self-normalised importance sampling is consistent); without the correction it puts
    Q(j) e^{s_j} (normalised) there: popular items are over-penalised."""
    tv = lambda a, b: 0.5 * np.abs(a - b).sum()  # noqa: E731
    corrected, uncorrected, P_full, biased = _sampled_softmax_mass(B=1000)
    small_batch = _sampled_softmax_mass(B=50)[0]
    assert tv(corrected, P_full) < 0.012
    assert tv(small_batch, P_full) > 3 * tv(corrected, P_full)    # the bias shrinks with B
    assert tv(uncorrected, P_full) > 0.3 and tv(uncorrected, biased) < 0.008


def test_sampling_probability_and_feature_names():
    np.testing.assert_allclose(sampling_probability([0, 2, 2, 3], 5), [0.25, 0, 0.5, 0.25, 0])
    with pytest.raises(ValueError, match="lie in 0..4"):
        sampling_probability([0, 5], 5)
    with pytest.raises(ValueError, match="at least one"):
        sampling_probability([], 5)
    assert split_features(("year", "user_id", "item_id", "age")) == (("user_id", "age"), ("item_id", "year"))
    with pytest.raises(ValueError, match="unknown: \\['title'\\]"):
        split_features(("user_id", "item_id", "title"))
    with pytest.raises(ValueError, match="at least one user input"):
        split_features(("item_id", "genres"))


# -- the models -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tables():
    """60 users, 40 items, skewed popularity; MovieLens-like side tables (with 5 users and 3 items without
    ratings: features only)."""
    rng = np.random.default_rng(3)
    pop = rng.dirichlet(np.full(40, 0.5))
    rows = [(u + 1, int(i) + 101, 4.0) for u in range(60) for i in rng.choice(40, 12, replace=False, p=pop)]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    users = pd.DataFrame({"user_id": np.arange(1, 66), "age": rng.integers(15, 70, 65),
                          "gender": rng.choice(["F", "M"], 65), "occupation": rng.choice(["student", "other"], 65)})
    items = pd.DataFrame({"item_id": np.arange(101, 144), "year": rng.integers(1950, 1998, 43),
                          "title": [f"Movie {k}" for k in range(43)],
                          "genres": ["|".join(rng.choice(["Action", "Comedy", "Drama"], 2, replace=False))
                                     for _ in range(43)]})
    return ratings, users, items


@pytest.fixture(scope="module")
def fitted(tables):
    ratings, users, items = tables
    return TwoTower(n_epochs=4, batch_size=64, random_state=0).fit(ratings, users=users, items=items)


def test_scores_are_inner_products_of_the_tower_vectors(fitted):
    model = fitted
    users = model.data_.user_ids[:7]
    P, Q = model.user_vectors(users), model.item_vectors()
    assert P.shape == (7, 32) and Q.shape == (model.data_.n_items, 32) and P.dtype == np.float32
    np.testing.assert_allclose(model.score_items(users), P.astype(float) @ Q.astype(float).T, rtol=1e-6)
    pairs = pd.DataFrame({"user_id": users, "item_id": model.data_.item_ids[:7]})
    np.testing.assert_allclose(model.test(pairs)["est"], (P * Q[:7]).sum(1), rtol=1e-5)
    # training-mode id dropout is off when scoring: the same call twice gives the same bits
    np.testing.assert_array_equal(model.user_vectors(users), P)


def test_unknown_users_features_fallback_and_errors(fitted, tables):
    model = fitted
    # user 63 has features in the table given to fit but no ratings: scored from the features
    featured = model.score_items([63])[0]
    np.testing.assert_allclose(featured, model.user_vectors([63]).astype(float)[0] @ model.item_vectors().T.astype(float),
                               rtol=1e-6)
    assert not np.allclose(featured, model.data_.item_counts())
    # a user with neither ratings nor features: popularity in score_items, an error in user_vectors
    np.testing.assert_array_equal(model.score_items([999])[0], model.data_.item_counts())
    with pytest.raises(UnknownIdError, match="no training pairs and no features .* users=table"):
        model.user_vectors([1, 999])
    new = pd.DataFrame({"user_id": [999], "age": [30], "gender": ["F"], "occupation": ["student"]})
    assert np.isfinite(model.user_vectors([999], users=new)).all()
    # new items from their features: the three items without ratings
    assert model.item_vectors([141, 142, 143]).shape == (3, 32)


@pytest.mark.parametrize("bad, match", [
    (dict(batch_size=1), "batch_size must be at least 2"), (dict(temperature=0), "temperature must be > 0"),
    (dict(logq_correction="yes"), "logq_correction must be True or False"),
    (dict(features=("user_id",)), "at least one user input"), (dict(id_dropout=1.0), "id_dropout must be in")])
def test_bad_hyperparameters_are_refused(tables, bad, match):
    ratings, users, items = tables
    with pytest.raises((ValueError, TypeError), match=match):
        TwoTower(n_epochs=1, **bad).fit(ratings, users=users, items=items)


def test_features_need_their_table(tables):
    with pytest.raises(ValueError, match="need the user table"):
        TwoTower(n_epochs=1).fit(tables[0], items=tables[2])


def test_logq_correction_on_movielens_retrieves_more_popular_and_more_relevant_items():
    """Without the correction the model divides popularity out: its top 10 are far less popular and it
    finds fewer held-out items (lesson 12 and benchmarks/bench_two_stage.py measure it on full runs)."""
    from course_lib.data import load_movielens
    from course_lib.evaluate import evaluate_full_ranking
    from course_lib.split import stratified_split

    ml = load_movielens("ml-100k")
    train, test = stratified_split(ml.ratings, 0.25, random_state=42)
    res = {}
    for correct in (True, False):
        m = TwoTower(logq_correction=correct, n_epochs=3, early_stopping=False, random_state=0)
        res[correct] = evaluate_full_ranking(m.fit(train, users=ml.users, items=ml.movies), test, 100)
    assert res[True]["recall@100"] > res[False]["recall@100"] + 0.1, res
    assert res[True]["novelty@100"] < res[False]["novelty@100"] - 1.0, res


# -- the Keras twin ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras_twin(tables):
    pytest.importorskip("keras_rs")
    from course_lib.models.keras_models.two_tower import TwoTower as KerasTwoTower

    ratings, users, items = tables
    return KerasTwoTower(n_epochs=4, batch_size=64, random_state=0).fit(ratings, users=users, items=items)


def test_keras_logits_and_loss_equal_the_numpy_reference(keras_twin):
    import keras

    from course_lib.retrieval import tower_inputs

    model = keras_twin
    data, rows = model.data_, np.array([0, 3, 3, 7, 1, 3, 9, 2])     # item 3 three times: accidental hits
    users = data.user_ids[[0, 1, 2, 3, 4, 5, 6, 7]]
    U = tower_inputs("user", users, data, model.encoder_, model.user_features_)
    V = tower_inputs("item", data.item_ids[rows], data, model.encoder_, model.item_features_)
    x = {**{f"user_{f}": a.astype(np.float32 if a.dtype.kind == "f" else np.int32) for f, a in U.items()},
         **{f"item_{f}": a.astype(np.float32 if a.dtype.kind == "f" else np.int32) for f, a in V.items()},
         "q": model.sampling_probability_[rows].astype(np.float32), "item_index": rows.astype(np.int32)}
    logits = keras.ops.convert_to_numpy(model.net_(x, training=False))
    P, Q = model.user_vectors(users), model.item_vectors(data.item_ids[rows])
    ref = in_batch_logits(P, Q, rows, np.log(model.sampling_probability_[rows]))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(logits[finite], ref[finite], rtol=1e-5, atol=1e-5)
    assert (logits[~finite] <= -1e8).all() and (~finite).sum() == 6
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(np.arange(8), logits)
    assert float(loss) == pytest.approx(in_batch_softmax_loss(P, Q, rows, np.log(model.sampling_probability_[rows])),
                                        rel=1e-5)


def test_keras_rs_remove_accidental_hits_is_a_no_op_in_0_4_0():
    """Why the Keras twin masks accidental hits itself (keras-team/keras-rs pull request 206). If this test
    fails, keras-rs fixed the layer: use it in course_lib/models/keras_models/two_tower.py instead."""
    import keras
    import keras_rs

    from course_lib.models.keras_models.two_tower import MaskAccidentalHits

    logits = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], dtype=np.float32)
    ids = np.array([7, 7, 9], dtype=np.int32)
    theirs = keras.ops.convert_to_numpy(keras_rs.layers.RemoveAccidentalHits()(logits, np.eye(3, dtype="float32"), ids))
    np.testing.assert_array_equal(theirs, logits)
    ours = keras.ops.convert_to_numpy(MaskAccidentalHits()(logits, ids))
    assert ours[0, 1] <= -1e8 and ours[1, 0] <= -1e8
    np.testing.assert_array_equal(np.delete(ours.ravel(), [1, 3]), np.delete(logits.ravel(), [1, 3]))


def test_keras_twin_scores_and_fallbacks_match_the_torch_models_rules(keras_twin):
    model = keras_twin
    users = model.data_.user_ids[:5]
    np.testing.assert_allclose(model.score_items(users),
                               model.user_vectors(users).astype(float) @ model.item_vectors().T.astype(float), rtol=1e-6)
    np.testing.assert_array_equal(model.score_items([999])[0], model.data_.item_counts())
    with pytest.raises(UnknownIdError, match="no training pairs and no features"):
        model.user_vectors([999])
    assert list(model.history_.columns) == ["train_loss", "val_loss"] and model.history_.index.name == "epoch"
