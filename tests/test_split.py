"""Splits: Surprise's random split and k-fold row for row; the other schemes by their invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from surprise import Dataset, Reader
from surprise.model_selection import KFold, train_test_split

from course_lib.split import kfold, leave_last_out, random_split, sample_negatives, stratified_split, temporal_split


def _rows(df):
    return list(df[["user_id", "item_id", "rating"]].itertuples(index=False, name=None))


@pytest.fixture(scope="module")
def surprise_data(ratings):
    return Dataset.load_from_df(ratings[["user_id", "item_id", "rating"]], Reader(rating_scale=(1, 5)))


def test_random_split_equals_surprise(ratings, surprise_data):
    trainset, testset = train_test_split(surprise_data, test_size=0.2, random_state=42)
    train, test = random_split(ratings, test_size=0.2, random_state=42)
    assert _rows(test) == [tuple(t) for t in testset]
    raw_train = [(trainset.to_raw_uid(u), trainset.to_raw_iid(i), r) for u, i, r in trainset.all_ratings()]
    assert sorted(_rows(train)) == sorted(raw_train)
    assert train.user_id.iloc[0] == trainset.to_raw_uid(0)  # same first-appearance order


def test_kfold_equals_surprise(ratings, surprise_data):
    ours = list(kfold(ratings, n_splits=5, random_state=0))
    theirs = list(KFold(n_splits=5, random_state=0).split(surprise_data))
    assert len(ours) == 5
    for (train, test), (_, testset) in zip(ours, theirs):
        assert _rows(test) == [tuple(t) for t in testset]
        assert len(train) + len(test) == len(ratings)
    all_test = pd.concat([t for _, t in ours])
    assert all_test.index.sort_values().equals(ratings.index)  # folds partition the data


def test_stratified_split_per_user(ratings):
    train, test = stratified_split(ratings, 0.25, random_state=1)
    n_user = ratings.groupby("user_id").size()
    n_test = test.groupby("user_id").size().reindex(n_user.index, fill_value=0)
    assert (n_test == np.round(0.25 * n_user)).all()
    assert len(train) + len(test) == len(ratings)
    assert not train.index.intersection(test.index).size
    again, _ = stratified_split(ratings, 0.25, random_state=1)
    assert again.equals(train)
    other, _ = stratified_split(ratings, 0.25, random_state=2)
    assert not other.index.equals(train.index)


def test_stratified_split_per_item_and_min_ratings(ratings):
    train, test = stratified_split(ratings, 0.25, by="item", min_ratings=5, random_state=0)
    counts = ratings.item_id.value_counts()
    assert set(train.item_id) | set(test.item_id) == set(counts[counts >= 5].index)
    with pytest.raises(ValueError, match="by must be 'user' or 'item'"):
        stratified_split(ratings, by="movie")


def test_leave_last_out(ratings):
    train, test = leave_last_out(ratings)
    assert len(test) == 943 and test.user_id.is_unique
    last = train.groupby("user_id").timestamp.max()
    assert (test.set_index("user_id").timestamp >= last.reindex(test.user_id).to_numpy()).all()


def test_temporal_split(ratings):
    train, test = temporal_split(ratings, 0.2)
    assert train.timestamp.max() < test.timestamp.min()
    assert abs(len(test) / len(ratings) - 0.2) < 0.01
    train2, test2 = temporal_split(ratings, at="1998-03-01")
    assert train2.timestamp.max() < pd.Timestamp("1998-03-01").timestamp() <= test2.timestamp.min()
    with pytest.raises(ValueError, match="empty train or test"):
        temporal_split(ratings, at="2030-01-01")


def test_sample_negatives_are_unseen(ratings):
    pos = ratings.head(2000)
    out = sample_negatives(pos, 4, exclude=ratings, random_state=0)
    neg = out[out.label == 0]
    assert len(neg) == 8000 and (out.label == 1).sum() == 2000
    seen = set(zip(ratings.user_id, ratings.item_id))
    assert not any(pair in seen for pair in zip(neg.user_id, neg.item_id))
    assert out.equals(sample_negatives(pos, 4, exclude=ratings, random_state=0))


def test_bad_split_arguments(ratings):
    with pytest.raises(ValueError, match="test_size must be a number strictly between 0 and 1, got 1.5"):
        random_split(ratings, test_size=1.5)
    with pytest.raises(ValueError, match="n_splits must be an integer >= 2, got 1"):
        list(kfold(ratings, n_splits=1))
    with pytest.raises(ValueError, match=r"missing columns \['timestamp'\]"):
        leave_last_out(ratings.drop(columns="timestamp"))
