"""Beyond-accuracy metrics and online-evaluation helpers against naive references and SciPy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics.pairwise import cosine_similarity

from course_lib import beyond_accuracy as ba
from course_lib import metrics, online

GENRES = pd.DataFrame({"Action": [1, 1, 0, 0, 1], "Comedy": [0, 1, 1, 0, 0], "Drama": [0, 0, 1, 1, 0]},
                      index=pd.Index([10, 11, 12, 13, 14], name="item_id"))
TRAIN = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3], "item_id": [10, 11, 12, 10, 13, 10], "rating": [5, 4, 3, 4, 2, 5]})


def test_intra_list_diversity_equals_the_pairwise_cosine_distance_of_scikit_learn():
    recs = {1: [10, 11, 12], 2: [13, 14, -1], 3: [10, 14]}
    expected = []
    for items in ([10, 11, 12], [13, 14], [10, 14]):
        sim = cosine_similarity(GENRES.loc[items].to_numpy(float))
        n = len(items)
        expected.append(np.mean([1 - sim[a, b] for a in range(n) for b in range(a + 1, n)]))
    assert ba.intra_list_diversity(recs, GENRES) == pytest.approx(np.mean(expected), abs=1e-12)
    assert ba.intra_list_diversity({1: [10, 14]}, GENRES) == pytest.approx(0.0, abs=1e-12)  # same genres
    assert ba.intra_list_diversity({1: [10, 12]}, GENRES) == pytest.approx(1.0)               # no shared genre


def test_popularity_arp_and_long_tail():
    phi = ba.item_popularity(TRAIN)
    assert phi.to_dict() == pytest.approx({10: 1.0, 11: 1 / 3, 12: 1 / 3, 13: 1 / 3})
    assert ba.average_recommendation_popularity({1: [10, 11], 2: [13, 99]}, phi) == pytest.approx(
        np.mean([(1 + 1 / 3) / 2, (1 / 3 + 0) / 2]))
    # 10 holds 3 of 6 interactions: it alone is the head for any head_share <= 0.5
    assert ba.long_tail_items(phi, 0.2) == {11, 12, 13}
    assert ba.long_tail_share({1: [10, 11], 2: [12, 13]}, phi) == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="head_share"):
        ba.long_tail_items(phi, 1.5)


def _naive_kl(user, items, alpha):
    def dist(its):
        rows = GENRES.loc[[i for i in its if i in GENRES.index]].to_numpy(float)
        rows = rows / rows.sum(axis=1, keepdims=True)
        return rows.sum(axis=0) / rows.sum()
    p = dist(TRAIN[TRAIN.user_id == user].item_id.tolist())
    q = (1 - alpha) * dist(items) + alpha * p
    return stats.entropy(p, q)  # KL(p || q), skipping p = 0 terms


def test_miscalibration_is_steck_kl_divergence():
    recs = {1: [13, 14], 2: [10, 11, 12], 3: [10]}
    expected = np.mean([_naive_kl(u, items, 0.01) for u, items in recs.items()])
    assert ba.miscalibration(recs, TRAIN, GENRES) == pytest.approx(expected, rel=1e-12)
    assert ba.miscalibration({3: [14]}, TRAIN, GENRES) == pytest.approx(0.0, abs=1e-12)  # same genre mix
    with pytest.raises(ValueError, match="alpha"):
        ba.miscalibration(recs, TRAIN, GENRES, alpha=0)


def test_per_user_ndcg_averages_to_the_course_ndcg():
    rng = np.random.default_rng(0)
    recs = {u: rng.permutation(30)[:10].tolist() for u in range(40)}
    relevant = {u: set(rng.choice(30, size=rng.integers(1, 6), replace=False).tolist()) for u in range(40)}
    per_user = ba.per_user_ndcg(recs, relevant, 10)
    assert len(per_user) == 40
    assert per_user.mean() == pytest.approx(metrics.ndcg_at_k(recs, relevant, 10), abs=1e-15)


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(TypeError, match="mapping"):
        ba.intra_list_diversity([[1, 2]], GENRES)
    with pytest.raises(ValueError, match="no recommendation list"):
        ba.long_tail_share({1: [-1]}, ba.item_popularity(TRAIN))
    with pytest.raises(ValueError, match="empty"):
        ba.item_popularity(TRAIN.iloc[:0])


def test_paired_test_matches_scipy():
    rng = np.random.default_rng(1)
    a = pd.Series(rng.random(200), index=range(200))
    b = pd.Series(a.to_numpy() + 0.05 + 0.1 * rng.standard_normal(200), index=range(200))
    result = online.paired_test(a, b.iloc[::-1])  # order of the index does not matter
    d = b.to_numpy() - a.to_numpy()
    assert result["mean_difference"] == pytest.approx(d.mean())
    assert result["t_pvalue"] == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert result["wilcoxon_pvalue"] == pytest.approx(stats.wilcoxon(d).pvalue)
    lo, hi = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert (result["low"], result["high"]) == pytest.approx((lo, hi))
    short = online.paired_test(a.iloc[:150], b)
    assert short["n_users"] == 150 and short["n_dropped"] == 50
    with pytest.raises(ValueError, match="NaN"):
        online.paired_test(a.where(a > 0.1), b)


def test_team_draft_interleaving_keeps_each_teams_order_and_balance():
    rng = np.random.default_rng(3)
    for _ in range(200):
        la, lb = rng.permutation(15)[:8].tolist(), rng.permutation(15)[:8].tolist()
        merged, teams = online.team_draft_interleave(la, lb, 10, rng)
        assert len(merged) == len(set(merged)) == min(10, len(set(la) | set(lb)))
        picked_a = [i for i, t in zip(merged, teams) if t == "A"]
        picked_b = [i for i, t in zip(merged, teams) if t == "B"]
        assert picked_a == sorted(picked_a, key=la.index) and picked_b == sorted(picked_b, key=lb.index)
        assert abs(len(picked_a) - len(picked_b)) <= 1 or not set(la) - set(merged) or not set(lb) - set(merged)
        # each pick is the team's best item not yet shown when it was picked
        for j, (item, team) in enumerate(zip(merged, teams)):
            own = la if team == "A" else lb
            assert item == next(i for i in own if i not in merged[:j])
    merged, _ = online.team_draft_interleave([1, 2, 3], [1, 2, 3], 3, rng)
    assert merged == [1, 2, 3]


def test_clicks_follow_the_position_model():
    rng = np.random.default_rng(7)
    clicks = np.array([online.simulate_clicks([1, 2, 3, 4], {1, 2, 3, 4}, rng, p_relevant=1.0) for _ in range(20000)])
    assert clicks.mean(axis=0) == pytest.approx(online.examination_probabilities(4), abs=0.015)
    never = np.array([online.simulate_clicks([5, 6], {1}, rng, p_other=0.0) for _ in range(1000)])
    assert not never.any()


def test_ab_test_finds_a_better_list_and_not_an_identical_one():
    relevant = {u: {u % 50, (u + 1) % 50} for u in range(2000)}
    good = {u: sorted(relevant[u]) + [100, 101, 102] for u in range(2000)}
    bad = {u: [100, 101, 102] + sorted(relevant[u]) for u in range(2000)}
    result = online.ab_test(bad, good, relevant, random_state=0)
    assert result["n_a"] + result["n_b"] == 2000
    assert result["low"] > 0 and result["ctr_b"] > result["ctr_a"]
    same = online.ab_test(good, good, relevant, random_state=0)
    assert same["low"] < 0 < same["high"]
    assert online.ab_test(bad, good, relevant, random_state=0) == result  # seeded


def test_interleaving_prefers_the_list_with_the_relevant_items_first():
    relevant = {u: {u % 50, (u + 1) % 50} for u in range(600)}
    good = {u: sorted(relevant[u]) + [100, 101, 102] for u in range(600)}
    bad = {u: [100, 101, 102] + sorted(relevant[u]) for u in range(600)}
    result = online.interleaving_test(bad, good, relevant, 5, random_state=0)
    assert result["wins_a"] + result["wins_b"] + result["ties"] == 600
    assert result["wins_b"] > 3 * result["wins_a"] and result["pvalue"] < 1e-6
    assert result["pvalue"] == pytest.approx(stats.binomtest(result["wins_b"], result["wins_a"] + result["wins_b"]).pvalue)
    same = online.interleaving_test(good, good, relevant, 5, random_state=0)
    assert same["pvalue"] > 0.01  # identical lists: the coin decides the teams, no real winner
