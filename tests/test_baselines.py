"""Baselines: bit for bit equal to Surprise, the estimator contract, and errors that explain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from surprise import BaselineOnly as SurpriseBaselineOnly

from course_lib.data import toy_ratings
from course_lib.evaluate import evaluate_full_ranking, evaluate_ratings, evaluate_sampled
from course_lib.models import BaselineOnly, GlobalMean, NotFittedError, Popularity, UnknownIdError
from course_lib.split import leave_last_out, stratified_split
from course_lib.validation import RatingsError


@pytest.mark.parametrize("method", ["als", "sgd"])
def test_baseline_only_bit_identical_to_surprise(split, surprise_split, method):
    train, test = split
    trainset, testset = surprise_split
    theirs = SurpriseBaselineOnly(bsl_options={"method": method}, verbose=False).fit(trainset)
    ours = BaselineOnly(method=method).fit(train)
    assert ours.global_mean_ == trainset.global_mean
    s_est = np.array([p.est for p in theirs.test(testset)])
    assert np.array_equal(ours.test(test)["est"].to_numpy(), s_est)
    bu = np.array([theirs.bu[trainset.to_inner_uid(u)] for u in ours.data_.user_ids])
    assert np.array_equal(ours.b_u_, bu)


def test_unknown_ids_fall_back_with_a_flag(split):
    train, _ = split
    model = BaselineOnly().fit(train)
    p = model.predict(1, 999_999)  # unknown item: mu + b_u, like Surprise
    assert not p.was_impossible and p.est == pytest.approx(model.global_mean_ + model.b_u_[model.data_.user_index(1)])
    pop = Popularity().fit(train)
    q = pop.predict(1, 999_999)
    assert q.was_impossible and q.est == pop.global_mean_ and q.reason == "item is unknown"


def test_global_mean_and_popularity(split):
    train, test = split
    gm = GlobalMean().fit(train)
    assert evaluate_ratings(gm, test)["rmse"] == pytest.approx(np.sqrt(((test.rating - train.rating.mean()) ** 2).mean()))
    pop = Popularity().fit(train)
    top = pop.recommend(1, 5)
    seen = set(train[train.user_id == 1].item_id)
    assert len(top) == 5 and not seen & set(top.item_id)
    counts = train.item_id.value_counts()
    assert list(top.score) == sorted(top.score, reverse=True)
    assert top.score.iloc[0] == counts.drop(list(seen), errors="ignore").max()


def test_popularity_reference_numbers(ratings):
    """Microsoft Recommenders' protocol, re-measured: most-popular NDCG@10 0.250, P@10 0.224."""
    train, test = stratified_split(ratings, 0.25, random_state=42)
    res = evaluate_full_ranking(Popularity().fit(train), test, k=10)
    assert res["ndcg@10"] == pytest.approx(0.250, abs=0.01)
    assert res["precision@10"] == pytest.approx(0.224, abs=0.01)
    train2, test2 = leave_last_out(ratings)
    sampled = evaluate_sampled(Popularity().fit(train2), test2, train2)
    assert 0.3 < sampled["hr@10"] < 0.5 and sampled["ndcg@10"] < sampled["hr@10"]


def test_estimator_contract():
    toy = toy_ratings()
    model = BaselineOnly(reg_u=5)
    with pytest.raises(NotFittedError, match=r"not fitted yet: call .fit\(train_ratings\)"):
        model.predict(1, 1)
    assert model.fit(toy) is model
    assert clone(model).get_params() == model.get_params()
    again = BaselineOnly(reg_u=5).fit(toy)
    assert np.array_equal(again.b_i_, model.b_i_)
    assert not np.array_equal(BaselineOnly(reg_u=50).fit(toy).b_u_, model.b_u_)
    out = model.test(toy)
    assert list(out.columns) == [*toy.columns, "est", "was_impossible"]
    assert out.est.between(1, 5).all()
    with pytest.raises(UnknownIdError, match="user 42 is not in the training data"):
        model.recommend(42)


@pytest.mark.parametrize("bad, message", [
    (lambda t: t.assign(rating=t.rating.where(t.index != 3)), r"1 NaN or infinite ratings \(first at row 3"),
    (lambda t: pd.concat([t, t.head(1)]), r"repeat a \(user_id, item_id\) pair, e.g. user 1 and item 1"),
    (lambda t: t.iloc[:0], "training ratings is empty"),
    (lambda t: t.rename(columns={"user_id": "userId"}), r"missing columns \['user_id'\].*rename\(columns=\{'userId': 'user_id'\}\)"),
    (lambda t: t.assign(rating=t.rating.astype(str)), "must be numeric"),
])
def test_bad_training_data(bad, message):
    with pytest.raises(RatingsError, match=message):
        BaselineOnly().fit(bad(toy_ratings()))


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="method must be 'als' or 'sgd', got 'adam'"):
        BaselineOnly(method="adam").fit(toy_ratings())
    with pytest.raises(ValueError, match="n_epochs must be an integer >= 1, got 0"):
        BaselineOnly(n_epochs=0).fit(toy_ratings())
    with pytest.raises(ValueError, match="learning_rate must be a finite number"):
        BaselineOnly(method="sgd", learning_rate=float("nan")).fit(toy_ratings())
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        BaselineOnly().fit([(1, 2, 3.0)])
