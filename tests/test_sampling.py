"""The one negative sampler: unseen items only, reproducible, the binary-search lookup equals np.isin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_lib.sampling import is_seen, pair_keys, sample_negatives, sample_unseen


def test_sample_unseen_never_returns_seen_pairs():
    rng = np.random.default_rng(0)
    seen = pair_keys([0, 0, 1, 1], [1, 2, 0, 4], 5)
    users, items = sample_unseen(np.array([0, 1, 1]), 5, seen, 50, rng)
    assert users.shape == items.shape == (150,)
    assert not np.isin(users * 5 + items, seen).any()
    assert set(items[users == 1]) <= {1, 2, 3}
    assert set(items[users == 0]) == {0, 3, 4}  # uniform over the unseen: every one of them drawn in 50 tries


def test_sample_unseen_is_uniform_over_the_unseen_items():
    rng = np.random.default_rng(1)
    seen = pair_keys([0] * 5, [0, 1, 2, 3, 4], 10)
    _, items = sample_unseen(np.zeros(1, dtype=np.int64), 10, seen, 50_000, rng)
    share = np.bincount(items, minlength=10)[5:] / 50_000
    assert np.abs(share - 0.2).max() < 0.01  # five unseen items, 20 % each


def test_seen_lookup_by_binary_search_equals_isin():
    rng = np.random.default_rng(0)
    seen = np.unique(rng.integers(0, 5_000, 2_000))
    keys = rng.integers(-10, 5_100, 10_000)
    assert np.array_equal(is_seen(keys, seen), np.isin(keys, seen))
    assert not is_seen(keys, seen[:0]).any()


def test_sample_negatives_on_raw_ids():
    pos = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": [1, 2, 3]})
    out = sample_negatives(pos, 3, items=[1, 2, 3, 4, 5], random_state=0)
    neg = out[out.label == 0]
    assert len(neg) == 9 and out.label.sum() == 3
    assert not set(map(tuple, neg[["user_id", "item_id"]].to_numpy())) & {("a", 1), ("a", 2), ("b", 3)}
    assert out.equals(sample_negatives(pos, 3, items=[1, 2, 3, 4, 5], random_state=0))
    with pytest.raises(ValueError, match="every candidate item"):
        sample_negatives(pos, 1, items=[1, 2])
