"""The evaluation protocols of course_lib.evaluate: new users go through the model's fallback in full
ranking, and the sampled protocol never draws one of the user's held-out positives as a negative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_lib.evaluate import evaluate_full_ranking, evaluate_full_ranking_by_group, evaluate_sampled
from course_lib.models import BPRMF, EASE, Popularity


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    """Users 2-6 rate items 1-12 (item i by i mod 5 + 1 of them); user 1 rated items 1 and 13."""
    rows = [(1, 1, 5.0), (1, 13, 5.0)]
    for item in range(1, 13):
        for user in range(2, 2 + item % 5 + 1):
            rows.append((user, item, 4.0))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


def test_a_new_user_is_ranked_by_the_models_fallback(train):
    most_popular = train.item_id.value_counts().index[0]
    test = pd.DataFrame({"user_id": [99], "item_id": [most_popular], "rating": [5.0]})
    for model in (Popularity().fit(train), EASE().fit(train), BPRMF(n_epochs=2).fit(train)):
        assert evaluate_full_ranking(model, test, k=1)["hit_rate@1"] == 1.0, type(model).__name__
        groups = evaluate_full_ranking_by_group(model, test, k=1)
        assert groups.loc["new users", "n_users"] == 1 and groups.loc["known users", "n_users"] == 0
        assert groups.loc["new users", "hit_rate@1"] == 1.0


def test_a_new_user_scores_zero_when_the_fallback_misses(train):
    least_popular = train.item_id.value_counts().index[-1]
    test = pd.DataFrame({"user_id": [99], "item_id": [least_popular], "rating": [5.0]})
    assert evaluate_full_ranking(Popularity().fit(train), test, k=1)["hit_rate@1"] == 0.0


class _HeldOutFirst(Popularity):
    """Scores user 1's other held-out positives (items 3-11) above everything: drawing one as a negative shows."""

    def score_items(self, user_ids):
        scores = super().score_items(user_ids).copy()
        columns = self.data_.encode_items(np.arange(1, 14))
        scores[:, columns] = 0.0
        scores[:, columns[2:11]] = 10.0   # items 3..11: held-out positives of user 1
        scores[:, columns[1]] = 1.0       # item 2: the test item
        return scores                     # item 12 (0.0) is user 1's only true negative


def test_sampled_negatives_exclude_every_held_out_positive(train):
    model = _HeldOutFirst().fit(train)
    held_out = pd.DataFrame({"user_id": 1, "item_id": np.arange(2, 12), "rating": 5.0})
    test = held_out.iloc[:1]
    for seed in range(20):
        result = evaluate_sampled(model, test, train, held_out=held_out, n_negatives=1, k=1, random_state=seed)
        assert result["hr@1"] == 1.0, f"a held-out positive was drawn as a negative (random_state={seed})"
    # without the held-out split, user 1's other positives are fair game: the protocol the issue warned about
    leaky = [evaluate_sampled(model, test, train, n_negatives=1, k=1, random_state=s)["hr@1"] for s in range(20)]
    assert min(leaky) == 0.0
