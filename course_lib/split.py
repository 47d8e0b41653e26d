r"""Splitting ratings into training and test data, and sampling negatives for implicit feedback.

Which split answers which question:

* :func:`random_split` and :func:`kfold`: rating prediction on ratings missing at random.
  Both reproduce Surprise's ``train_test_split`` and ``KFold`` row for row (same seed, same
  rows, same order), so results can be compared with Surprise's exactly.
* :func:`stratified_split`: top-k ranking; every user (or item) keeps the same share of their
  ratings in training, as in Microsoft Recommenders' benchmark.
* :func:`leave_last_out`: next-item and the NCF protocol: each user's most recent rating(s).
* :func:`temporal_split`: the honest product question, trained on the past, tested on the future.
* :func:`sample_negatives` (from :mod:`course_lib.sampling`, the course's one negative sampler):
  unobserved items for implicit feedback, with labels.

Every function keeps the input's columns, returns new DataFrames, and is seeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import ceil

import numpy as np
import pandas as pd

from .sampling import sample_negatives
from .validation import check_fraction, check_positive_int, check_ratings

__all__ = ["kfold", "leave_last_out", "random_split", "sample_negatives", "stratified_split", "temporal_split"]


def random_split(ratings: pd.DataFrame, test_size: float = 0.2, random_state: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random train/test split, identical to Surprise's ``train_test_split``.

    ``perm = RandomState(random_state).permutation(n)``; the test set has ``ceil(test_size * n)``
    rows; train is ``perm[:n - n_test]`` and test the rest, both in ``perm`` order.
    """
    check_ratings(ratings)
    check_fraction(test_size, "test_size")
    n = len(ratings)
    n_test = ceil(test_size * n)
    if not 0 < n_test < n:
        raise ValueError(f"test_size={test_size} leaves an empty train or test set with {n} ratings")
    perm = np.random.RandomState(random_state).permutation(n)
    return ratings.iloc[perm[: n - n_test]], ratings.iloc[perm[n - n_test:]]


def kfold(ratings: pd.DataFrame, n_splits: int = 5, random_state: int = 0) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """K-fold cross-validation, identical to Surprise's ``KFold(n_splits, random_state)``.

    ``idx = arange(n)`` shuffled by ``RandomState(random_state)``; fold ``f``'s test set is a
    consecutive slice of ``idx`` (the first ``n % n_splits`` folds one row longer); its training
    set is the rest of ``idx`` in order.
    """
    check_ratings(ratings)
    n_splits = check_positive_int(n_splits, "n_splits", minimum=2)
    n = len(ratings)
    if n_splits > n:
        raise ValueError(f"n_splits={n_splits} is more than the {n} ratings")
    idx = np.arange(n)
    np.random.RandomState(random_state).shuffle(idx)
    stop = 0
    for fold in range(n_splits):
        start = stop
        stop += n // n_splits + (1 if fold < n % n_splits else 0)
        yield ratings.iloc[np.concatenate([idx[:start], idx[stop:]])], ratings.iloc[idx[start:stop]]


def stratified_split(
    ratings: pd.DataFrame, test_size: float = 0.25, *, by: str = "user", min_ratings: int = 1, random_state: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user (or per-item) stratified split: each group puts ``round(test_size * n_g)`` rows in test.

    Groups with fewer than ``min_ratings`` rows are dropped first. Rows are shuffled with
    ``random_state`` before each group is cut, so which ratings go to test is random.
    """
    check_ratings(ratings)
    check_fraction(test_size, "test_size")
    if by not in ("user", "item"):
        raise ValueError(f"by must be 'user' or 'item', got {by!r}")
    key = f"{by}_id"
    counts = ratings[key].map(ratings[key].value_counts())
    kept = ratings[counts >= check_positive_int(min_ratings, "min_ratings")]
    shuffled = kept.iloc[np.random.RandomState(random_state).permutation(len(kept))]
    size = shuffled.groupby(key)[key].transform("size").to_numpy()
    rank = shuffled.groupby(key).cumcount().to_numpy()
    in_test = rank >= size - np.round(test_size * size)
    return shuffled[~in_test].sort_index(), shuffled[in_test].sort_index()


def leave_last_out(ratings: pd.DataFrame, n_last: int = 1, *, min_train: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out each user's ``n_last`` most recent ratings (ties in time: later rows count as later).

    Users with fewer than ``n_last + min_train`` ratings stay entirely in training.
    """
    check_ratings(ratings, columns=("user_id", "item_id", "rating", "timestamp"))
    n_last = check_positive_int(n_last, "n_last")
    order = ratings.sort_values(["user_id", "timestamp"], kind="stable")
    rank_from_end = order.groupby("user_id").cumcount(ascending=False).to_numpy()
    size = order.groupby("user_id")["user_id"].transform("size").to_numpy()
    in_test = (rank_from_end < n_last) & (size >= n_last + min_train)
    return order[~in_test].sort_index(), order[in_test].sort_index()


def temporal_split(
    ratings: pd.DataFrame, test_size: float | None = 0.2, *, at: str | int | pd.Timestamp | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One global cut in time: ratings before the cut train, ratings at or after it test.

    Give either ``test_size`` (the cut is the time leaving that share of ratings after it) or
    ``at`` (a date such as ``"1998-03-01"``, a ``pd.Timestamp`` or Unix seconds). Test users
    and items may be new: that is the point of a temporal split.
    """
    check_ratings(ratings, columns=("user_id", "item_id", "rating", "timestamp"))
    if at is not None:
        cut = int(at) if isinstance(at, (int, np.integer)) else int(pd.Timestamp(at).timestamp())
    else:
        check_fraction(test_size, "test_size")
        cut = int(np.quantile(ratings["timestamp"].to_numpy(), 1 - test_size, method="higher"))
    in_test = ratings["timestamp"].to_numpy() >= cut
    if in_test.all() or not in_test.any():
        raise ValueError(f"the cut at {pd.Timestamp(cut, unit='s')} leaves an empty train or test set")
    return ratings[~in_test], ratings[in_test]
