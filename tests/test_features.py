"""Side features, cold-start splits and the feature-aware PyTorch models (lesson 08)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_lib.interactions import Interactions

from course_lib import features as F
from course_lib.coldstart import cold_start_split, evaluate_cold_start, evaluate_cold_user_ranking
from course_lib.models.baselines import Popularity

torch = pytest.importorskip("torch")
from course_lib.models.torch_models.features import (  # noqa: E402
    AttentionFusion, ConcatFusion, FeatureAware, TextEncoder)


# -- feature encoding ----------------------------------------------------------------------
def test_age_and_year_buckets():
    np.testing.assert_array_equal(F.age_bucket([7, 17, 18, 24, 25, 55, 56, 73, None]), [1, 1, 2, 2, 3, 6, 7, 7, 0])
    np.testing.assert_array_equal(F.year_bucket([1922, 1940, 1996, 1997, 1998, np.nan]), [1, 2, 7, 8, 8, 0])


def test_categorical_codes_reserve_zero_for_unknown():
    codes, cats = F.categorical_codes(["M", "F", "M"])
    assert cats == ["F", "M"]
    np.testing.assert_array_equal(codes, [2, 1, 2])
    codes, _ = F.categorical_codes(["F", "X", None], cats)
    np.testing.assert_array_equal(codes, [1, 0, 0])


def test_genre_multi_hot():
    g, vocab = F.genre_multi_hot(["Comedy|Drama", "Drama", "unknown", None])
    assert vocab == ["Comedy", "Drama"]
    np.testing.assert_array_equal(g, [[1, 1], [0, 1], [0, 0], [0, 0]])
    g2, _ = F.genre_multi_hot(["Horror|Comedy"], vocab)          # unseen genre is ignored
    np.testing.assert_array_equal(g2, [[1, 0]])


def test_titles_tokens_and_vocabulary():
    assert F.tokenize_title("Usual Suspects, The (1995)") == ["the", "usual", "suspects"]
    assert F.tokenize_title("Se7en (1995)") == ["se7en"]
    titles = ["Star Wars (1977)", "Star Trek (1979)", "Trek Home (1990)", "Alien (1979)"]
    vocab = F.build_vocabulary(titles, min_count=2)
    assert vocab == ["star", "trek"]                  # counts tie: alphabetical
    enc = F.encode_titles(["Star Trek Alien Star (2000)", ""], vocab, max_len=3)
    np.testing.assert_array_equal(enc, [[2, 3, 1], [0, 0, 0]])  # 1 = out of vocabulary, 0 = padding


def test_feature_encoder_unknown_rows():
    users = pd.DataFrame({"user_id": [1, 2], "age": [20, 60], "gender": ["M", "F"], "occupation": ["a", "b"]})
    enc = F.FeatureEncoder().fit(users, None)
    out = enc.encode_users(pd.DataFrame({"age": [30], "gender": ["F"], "occupation": ["zzz"]}))
    assert out["age"].tolist() == [3] and out["gender"].tolist() == [1] and out["occupation"].tolist() == [0]
    assert enc.cardinalities["gender"] == 3 and enc.cardinalities["age"] == len(F.AGE_BINS) + 2


# -- cold-start split -----------------------------------------------------------------------
def _ratings(n_users=50, n_items=40, seed=0):
    rng = np.random.default_rng(seed)
    u, i = np.meshgrid(np.arange(1, n_users + 1), np.arange(1, n_items + 1), indexing="ij")
    keep = rng.random(u.shape) < 0.5
    df = pd.DataFrame({"user_id": u[keep], "item_id": i[keep], "rating": rng.integers(1, 6, keep.sum()).astype(float),
                       "timestamp": rng.permutation(keep.sum())})
    return df


def test_cold_start_split_holds_out_whole_users_and_items():
    r = _ratings()
    s = cold_start_split(r, user_share=0.2, item_share=0.2, n_support=3, random_state=1)
    train_u, train_i = set(s.train.user_id), set(s.train.item_id)
    assert not set(s.cold_users.user_id) & train_u and not set(s.cold_items.item_id) & train_i
    assert set(s.cold_users.item_id) <= train_i | set(s.warm_test.item_id)
    assert set(s.support.user_id) == set(s.cold_users.user_id) | set(s.support.user_id)
    assert s.support.groupby("user_id").size().max() <= 3
    # support rows are each cold user's earliest ratings
    for uid, rows in s.support.groupby("user_id"):
        later = s.cold_users[s.cold_users.user_id == uid]
        assert len(later) == 0 or rows.timestamp.max() < later.timestamp.min()
    parts = pd.concat([s.train, s.warm_test, s.cold_users, s.cold_items, s.support])
    assert not parts.index.duplicated().any()
    n_both = (r.user_id.isin(set(s.cold_users.user_id) | set(s.support.user_id)) & r.item_id.isin(set(s.cold_items.item_id))).sum()
    assert len(parts) + n_both == len(r)
    s2 = cold_start_split(r, user_share=0.2, item_share=0.2, n_support=3, random_state=1)
    pd.testing.assert_frame_equal(s.cold_items, s2.cold_items)
    with pytest.raises(ValueError, match="user_share"):
        cold_start_split(r, user_share=1.5)


def test_evaluate_cold_start_popularity():
    s = cold_start_split(_ratings(), random_state=3)
    res = evaluate_cold_start(Popularity().fit(s.train), s)
    assert list(res.index) == ["warm_test", "cold_users", "cold_items"]
    mu = s.train.rating.mean()
    expected = np.sqrt(np.mean((s.cold_items.rating - mu) ** 2))   # unknown items: the global mean
    assert res.loc["cold_items", "rmse"] == pytest.approx(expected)
    assert list(res.columns) == ["rmse", "mae", "ndcg@10", "n"]


def test_cold_start_ndcg_by_hand():
    test = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [10, 11, 12, 10, 11],
                         "rating": [5.0, 1.0, 4.0, 2.0, 3.0]})
    split = cold_start_split(test, 0, 0, 0, 0)._replace(warm_test=test, cold_users=test.iloc[:0],
                                                         cold_items=test.iloc[:0])

    class Fixed:
        def test(self, ratings):
            return ratings.assign(est=[1.0, 3.0, 2.0, 5.0, 5.0])
    res = evaluate_cold_start(Fixed(), split, k=2)
    disc = 1 / np.log2([2, 3])
    # user 1 ranks 11, 12, 10: relevant {10, 12} -> hits [0, 1]; user 2 has no row >= 4 (left out)
    assert res.loc["warm_test", "ndcg@2"] == pytest.approx(disc[1] / disc.sum())


def test_cold_user_full_ranking_by_hand():
    # warm catalogue = the training items 10..14; cold user 1 saw 10 (support), rated 11 (5), 12 (2), 13 (4)
    train = pd.DataFrame({"user_id": [7, 7, 8, 8, 8, 9], "item_id": [10, 11, 12, 13, 14, 14],
                          "rating": [3.0] * 6, "timestamp": np.arange(6)})
    cold = pd.DataFrame({"user_id": [1, 1, 1, 2], "item_id": [11, 12, 13, 12], "rating": [5.0, 2.0, 4.0, 3.0]})
    support = pd.DataFrame({"user_id": [1], "item_id": [10], "rating": [5.0]})
    split = cold_start_split(train, 0, 0, 0, n_support=0)._replace(train=train, cold_users=cold, support=support)

    class Fixed:                                # user 1: 10 > 14 > 12 > 11 > 13; user 2: 14 > 13 = 12 > ...
        data_ = Interactions.from_ratings(train)

        def score_items(self, users):
            table = {(1, 10): 9, (1, 14): 5, (1, 12): 4, (1, 11): 3, (1, 13): 1, (2, 14): 5, (2, 13): 4, (2, 12): 4}
            return np.array([[table.get((u, i), 0.0) for i in self.data_.item_ids] for u in users])
    disc = 1 / np.log2(np.arange(2, 5))
    res = evaluate_cold_user_ranking(Fixed(), split, k=3)
    # user 1 (support 10 excluded): top 3 = 14, 12, 11, liked {11, 13} -> hit at rank 3; user 2 likes nothing
    assert res["n_users"] == 1
    assert res["ndcg@3"] == pytest.approx(disc[2] / disc[:2].sum())
    assert res["recall@3"] == pytest.approx(0.5) and res["hit_rate@3"] == 1.0
    every = evaluate_cold_user_ranking(Fixed(), split, k=3, threshold=None)
    # every rated movie counts: user 1 {11, 12, 13} -> hits at ranks 2, 3; user 2 ranks 14, 12 (tie: lower id), 13
    user1 = (disc[1] + disc[2]) / disc.sum()
    assert every["n_users"] == 2
    assert every["ndcg@3"] == pytest.approx((user1 + disc[1] / disc[0]) / 2)
    assert every["recall@3"] == pytest.approx((2 / 3 + 1) / 2)
    pop = evaluate_cold_user_ranking(Popularity().fit(train), split, k=1)   # most rated: 14 (twice)
    assert pop["hit_rate@1"] == 0.0 and pop["n_users"] == 1


# -- modules against hand computations and PyTorch references -----------------------------
def test_text_encoders():
    torch.manual_seed(0)
    tokens = torch.tensor([[3, 4, 0, 0], [0, 0, 0, 0], [5, 2, 6, 0], [3, 4, 0, 0]])
    bag = TextEncoder(8, 5, "bag")
    w = bag.emb.weight.detach()
    np.testing.assert_allclose(bag(tokens)[0].detach(), (w[3] + w[4]) / 2, rtol=1e-6)
    assert torch.all(bag(tokens)[1] == 0)
    gru = TextEncoder(8, 5, "gru")
    out = gru(tokens).detach()
    _, h = gru.gru(gru.emb(torch.tensor([[5, 2, 6]])))              # the unpadded sequence
    np.testing.assert_allclose(out[2], h[0, 0].detach(), rtol=1e-5, atol=1e-6)
    assert torch.all(out[1] == 0) and torch.allclose(out[0], out[3])
    cnn = TextEncoder(8, 5, "cnn")
    x = cnn.emb(torch.tensor([[3, 4]])).transpose(1, 2)
    ref = torch.relu(torch.nn.functional.conv1d(x, cnn.conv.weight, cnn.conv.bias, padding=1)).max(2).values
    np.testing.assert_allclose(cnn(tokens)[0].detach(), ref[0].detach(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        TextEncoder(8, 5, "lstm")


def test_the_cnn_title_encoder_is_a_width_3_convolution_without_onednn():
    """The windows-times-matrix convolution equals ``F.conv1d(padding=1)`` at every position, forward
    and backward, and no oneDNN convolution runs (its rounding depends on the CPU)."""
    torch.manual_seed(0)
    cnn = TextEncoder(20, 6, "cnn")
    tokens = torch.randint(1, 20, (5, 7))
    x = cnn.emb(tokens)
    windows = torch.nn.functional.pad(x, (0, 0, 1, 1)).unfold(1, 3, 1).flatten(2)
    ours = torch.nn.functional.linear(windows, cnn.conv.weight.flatten(1), cnn.conv.bias)
    ref = torch.nn.functional.conv1d(x.transpose(1, 2), cnn.conv.weight, cnn.conv.bias, padding=1).transpose(1, 2)
    np.testing.assert_allclose(ours.detach(), ref.detach(), rtol=1e-5, atol=1e-6)
    out = cnn(tokens)
    np.testing.assert_allclose(out.detach(), torch.relu(ref).amax(1).detach(), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    grad = cnn.conv.weight.grad.clone()
    cnn.zero_grad()
    torch.relu(torch.nn.functional.conv1d(cnn.emb(tokens).transpose(1, 2), cnn.conv.weight, cnn.conv.bias,
                                          padding=1)).amax(2).sum().backward()
    np.testing.assert_allclose(grad, cnn.conv.weight.grad, rtol=1e-5, atol=1e-6)
    with torch.autograd.profiler.profile() as prof:
        cnn(tokens)
    assert not [e.name for e in prof.function_events if "conv" in e.name or "mkldnn" in e.name]


def test_fusions():
    torch.manual_seed(0)
    parts = torch.randn(4, 3, 6)
    att = AttentionFusion(3, 6, 2, hidden=5)
    out = att(parts)
    a = torch.softmax(att.key(parts).squeeze(-1), 1)
    np.testing.assert_allclose(att.weights_.sum(1), np.ones(4), rtol=1e-6)
    np.testing.assert_allclose(out.detach(), att.out((a.unsqueeze(-1) * parts).sum(1)).detach(), rtol=1e-6)
    cat = ConcatFusion(3, 6, 2, hidden=5)
    assert cat(parts).shape == (4, 2)


# -- the feature-aware model ----------------------------------------------------------------
def _world(seed=0, n_users=80, n_items=60):
    """Men love genre A and hate B, women the opposite; the IDs carry nothing else."""
    rng = np.random.default_rng(seed)
    users = pd.DataFrame({"user_id": np.arange(1, n_users + 1), "age": rng.integers(15, 70, n_users),
                          "gender": rng.choice(["M", "F"], n_users), "occupation": rng.choice(["x", "y"], n_users)})
    genre = rng.choice(["A", "B"], n_items)
    items = pd.DataFrame({"item_id": np.arange(101, 101 + n_items), "genres": genre,
                          "title": [f"Film {g} Story ({1990 + k % 9})" for k, g in enumerate(genre)],
                          "year": 1990 + np.arange(n_items) % 9})
    r = _ratings(n_users, n_items, seed)
    r["item_id"] += 100
    male = users.set_index("user_id").gender.loc[r.user_id].to_numpy() == "M"
    is_a = items.set_index("item_id").genres.loc[r.item_id].to_numpy() == "A"
    r["rating"] = np.where(male == is_a, 5.0, 1.0)
    return users, items, r


FAST = dict(n_factors=8, n_epochs=40, batch_size=128, lr=1e-2, early_stopping=False, progress=False)


def test_features_help_cold_items_and_users():
    users, items, r = _world()
    s = cold_start_split(r, user_share=0.2, item_share=0.2, random_state=0)
    feat = FeatureAware(features=("user_id", "gender", "item_id", "genres"), **FAST).fit(s.train, users=users, items=items)
    ids = FeatureAware(features=("user_id", "item_id"), **FAST).fit(s.train, users=users, items=items)
    rf, ri = evaluate_cold_start(feat, s), evaluate_cold_start(ids, s)
    assert rf.loc["cold_items", "rmse"] < 0.5 < ri.loc["cold_items", "rmse"]
    assert rf.loc["cold_users", "rmse"] < 0.5 < ri.loc["cold_users", "rmse"]
    assert not feat.test(s.cold_items)["was_impossible"].any()
    assert feat.permutation_importance(s.cold_items)["genres"] > 0.5


def test_new_ids_from_features_given_at_test_time():
    users, items, r = _world(1)
    m = FeatureAware(features=("user_id", "gender", "item_id", "genres", "title", "year"), architecture="mlp",
                     fusion="attention", text_encoder="cnn", **FAST).fit(r, users=users, items=items)
    new_user = pd.DataFrame({"user_id": [999], "age": [30], "gender": ["M"], "occupation": ["x"]})
    new_items = pd.DataFrame({"item_id": [998, 997], "genres": ["A", "B"], "title": ["New (1999)"] * 2,
                              "year": [1999, 1999]})
    rows = pd.DataFrame({"user_id": [999, 999], "item_id": [998, 997]})
    out = m.test(rows, users=new_user, items=new_items)
    assert out.est.iloc[0] > 4 and out.est.iloc[1] < 2 and not out.was_impossible.any()
    blind = m.test(rows)                      # no features: the unknown rows only, flagged
    assert blind.was_impossible.all()
    p = m.predict(999, 998, users=new_user, items=new_items)
    assert p.est == pytest.approx(out.est.iloc[0]) and not p.was_impossible
    w = m.attention_weights("item")
    assert list(w.index) == ["item_id", "genres", "year", "title"] and w.sum() == pytest.approx(1, abs=1e-5)
    assert len(m.recommend(1, n=5)) == 5


def test_image_branch_with_generated_vectors_and_determinism():
    users, items, r = _world(2)
    rng = np.random.default_rng(0)
    is_a = (items.genres == "A").to_numpy()
    vectors = pd.DataFrame(0.5 * rng.normal(size=(len(items), 16)) + is_a[:, None], index=items.item_id)
    kw = dict(features=("user_id", "gender", "item_id", "image"), **FAST)
    s = cold_start_split(r, user_share=0.0, item_share=0.2, random_state=0)
    a = FeatureAware(**kw).fit(s.train, users=users, items=items, item_vectors=vectors)
    b = FeatureAware(**kw).fit(s.train, users=users, items=items, item_vectors=vectors)
    np.testing.assert_array_equal(a.test(s.cold_items).est, b.test(s.cold_items).est)
    ids = FeatureAware(**dict(kw, features=("user_id", "gender", "item_id"))).fit(s.train, users=users, items=items)
    rmse_img, rmse_ids = (evaluate_cold_start(m, s).loc["cold_items", "rmse"] for m in (a, ids))
    assert rmse_img < rmse_ids - 0.5
    with pytest.raises(ValueError, match="item_vectors"):
        FeatureAware(**kw).fit(s.train, users=users, items=items)


def test_bce_is_implicit_and_arguments_are_checked():
    users, items, r = _world(3, 30, 20)
    m = FeatureAware(objective="bce", **dict(FAST, n_epochs=2)).fit(r, users=users, items=items)
    assert not m.predicts_ratings and m.history_.train_loss.notna().all()
    with pytest.raises(ValueError, match="objective"):
        FeatureAware(objective="bpr", **FAST).fit(r, users=users, items=items)
    with pytest.raises(ValueError, match="features"):
        FeatureAware(features=("user_id", "age"), **FAST).fit(r, users=users, items=items)
    with pytest.raises(ValueError, match="user table"):
        FeatureAware(features=("age", "item_id"), **FAST).fit(r, items=items)


def test_fold_in_shrinks_towards_the_feature_vector():
    users, items, r = _world(4)
    s = cold_start_split(r, user_share=0.2, item_share=0.0, n_support=6, random_state=0)
    m = FeatureAware(features=("user_id", "item_id", "genres"), **FAST).fit(s.train, users=users, items=items)
    before = m.test(s.support).est.to_numpy()
    stiff = m.fold_in(s.support, reg=1e9)         # lambda -> infinity: the feature vector is kept
    np.testing.assert_allclose(stiff.test(s.support).est, before, atol=1e-4)
    loose = m.fold_in(s.support, reg=1e-3)        # lambda -> 0: fits the support ratings
    err = lambda model: np.sqrt(np.mean((model.test(s.support).est - s.support.rating) ** 2))  # noqa: E731
    assert err(loose) < err(m) - 0.5
    assert evaluate_cold_start(loose, s).loc["cold_users", "rmse"] < evaluate_cold_start(m, s).loc["cold_users", "rmse"]
    assert not hasattr(m, "folded_") and set(loose.folded_) == set(s.support.user_id)  # the original is untouched
    np.testing.assert_array_equal(m.test(s.warm_test).est, loose.test(s.warm_test).est)  # warm users unchanged
    with pytest.raises(ValueError, match="two_tower"):
        FeatureAware(architecture="mlp", **dict(FAST, n_epochs=1)).fit(s.train, users=users, items=items).fold_in(s.support)
