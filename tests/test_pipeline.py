"""The two-stage pipeline: retrieval through an index equals the retriever's own exact top-n, rankers and
MMR against independent implementations, and every bad input (wrong index, unknown user, no candidate)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_lib.ann import build_index
from course_lib.interactions import UnknownIdError
from course_lib.pipeline import COLUMNS, TwoStagePipeline, measure_request_latency, mmr

torch = pytest.importorskip("torch")
from course_lib.models.torch_models import DotProduct  # noqa: E402
from course_lib.models.torch_models.two_tower import TwoTower  # noqa: E402


def _mmr_reference(rel, V, k, lam):
    """MMR written from Carbonell and Goldstein's definition, with plain loops and Python floats."""
    rel = [float(x) for x in rel]
    lo, hi = min(rel), max(rel)
    rel = [(x - lo) / (hi - lo) if hi > lo else 1.0 for x in rel]

    def cos(a, b):
        na, nb = float(np.sqrt(np.dot(a, a))), float(np.sqrt(np.dot(b, b)))
        return 0.0 if na == 0 or nb == 0 else float(np.dot(a, b)) / (na * nb)
    chosen = []
    while len(chosen) < min(k, len(rel)):
        best, best_gain = None, -np.inf
        for i in range(len(rel)):
            if i in chosen:
                continue
            penalty = max((cos(V[i], V[j]) for j in chosen), default=0.0)
            gain = lam * rel[i] - (1 - lam) * penalty
            if gain > best_gain:
                best, best_gain = i, gain
        chosen.append(best)
    return chosen


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.7, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mmr_equals_the_reference(lam, seed):
    rng = np.random.default_rng(seed)
    rel, V = rng.normal(size=25), rng.normal(size=(25, 4))
    assert mmr(rel, V, 8, lam).tolist() == _mmr_reference(rel, V, 8, lam)


def test_mmr_edge_cases():
    rel = np.array([3.0, 2.0, 1.0])
    V = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert mmr(rel, V, 3, 1.0).tolist() == [0, 1, 2]          # lambda = 1: the ranking itself
    assert mmr(rel, V, 2, 0.5).tolist() == [0, 2]             # the duplicate direction is skipped
    assert mmr(rel, V, 10, 0.5).tolist() == [0, 2, 1]         # k > n: every candidate once
    assert mmr([], np.zeros((0, 2)), 5).tolist() == []        # no candidates: nothing to pick
    assert mmr([1.0, 1.0], np.zeros((2, 2)), 2).tolist() == [0, 1]   # ties and zero vectors
    with pytest.raises(ValueError, match="one row per relevance score"):
        mmr(rel, V[:2], 2)
    with pytest.raises(ValueError, match=r"lam \(lambda\) must be in \[0, 1\]"):
        mmr(rel, V, 2, 1.5)
    with pytest.raises(ValueError, match="finite"):
        mmr([1.0, np.nan, 0.0], V, 2)


@pytest.fixture(scope="module")
def tables():
    """50 users, 30 items; user 1 has rated every item (nothing left to recommend); side tables."""
    rng = np.random.default_rng(5)
    rows = [(1, i + 101, 4.0) for i in range(30)]
    rows += [(u + 1, int(i) + 101, 4.0) for u in range(1, 50) for i in rng.choice(30, 8, replace=False)]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    users = pd.DataFrame({"user_id": np.arange(1, 51), "age": rng.integers(15, 70, 50),
                          "gender": rng.choice(["F", "M"], 50), "occupation": rng.choice(["student", "other"], 50)})
    items = pd.DataFrame({"item_id": np.arange(101, 131), "year": rng.integers(1950, 1998, 30),
                          "title": [f"Movie {k}" for k in range(30)],
                          "genres": ["|".join(rng.choice(["Action", "Comedy", "Drama"], 2, replace=False))
                                     for _ in range(30)]})
    return ratings, users, items


@pytest.fixture(scope="module")
def retriever(tables):
    ratings, users, items = tables
    return TwoTower(n_epochs=3, batch_size=64, random_state=0).fit(ratings, users=users, items=items)


def test_exact_retrieval_equals_the_models_own_top_n(retriever, tables):
    pipe = TwoStagePipeline(retriever, build_index(retriever.item_vectors(), "flat"), n_candidates=15, k=10)
    for user in (2, 7, 33):
        out = pipe.recommend(user)
        assert list(out.columns) == COLUMNS and out.attrs["source"] == "index"
        assert out.item_id.tolist() == retriever.top_n([user], 10)[0].tolist()
        assert out["rank"].tolist() == list(range(1, 11)) and out.title.str.startswith("Movie").all()
        np.testing.assert_allclose(out.retrieval_score, retriever.score_items([user])[0][
            retriever.data_.encode_items(out.item_id)], rtol=1e-5)
        seen = set(tables[0].item_id[tables[0].user_id == user])
        assert not seen & set(out.item_id)


def test_a_ranker_reorders_the_candidates(retriever, tables):
    index = build_index(retriever.item_vectors(), "exact")
    base = TwoStagePipeline(retriever, index, n_candidates=12, k=12)
    candidates = base.recommend(5).item_id.to_numpy()
    # a callable ranker: the candidates come back in its order (here: by item id, descending)
    by_id = TwoStagePipeline(retriever, index, n_candidates=12, k=5, ranker=lambda u, items: np.asarray(items, float))
    assert by_id.recommend(5).item_id.tolist() == sorted(candidates, reverse=True)[:5]
    # a course model as ranker: its own test() estimates decide, best first
    ratings = tables[0]   # without user 1, who has seen every item (course_lib.sampling.sample_unseen never ends)
    dot = DotProduct(objective="bce", n_epochs=2, random_state=0).fit(ratings[ratings.user_id != 1])
    ranked = TwoStagePipeline(retriever, index, n_candidates=12, k=12, ranker=dot).recommend(5)
    est = dot.test(pd.DataFrame({"user_id": 5, "item_id": candidates}))
    assert ranked.item_id.tolist() == est.sort_values("est", ascending=False, kind="stable").item_id.tolist()
    np.testing.assert_allclose(ranked.ranker_score, ranked.score)

    class WithContext:
        def score_candidates(self, user_id, item_ids):
            return -np.asarray(item_ids, float)
    with_context = TwoStagePipeline(retriever, index, n_candidates=12, k=3, ranker=WithContext())
    assert with_context.recommend(5).item_id.tolist() == sorted(candidates)[:3]


def test_mmr_in_the_pipeline_diversifies_the_same_candidates(retriever):
    index = build_index(retriever.item_vectors(), "exact")
    plain = TwoStagePipeline(retriever, index, n_candidates=20, k=10).recommend(9)
    diverse = TwoStagePipeline(retriever, index, n_candidates=20, k=10, mmr_lambda=0.3).recommend(9)
    pool = TwoStagePipeline(retriever, index, n_candidates=20, k=20).recommend(9)
    assert set(diverse.item_id) <= set(pool.item_id) and diverse.item_id.tolist() != plain.item_id.tolist()
    V = retriever.item_vectors(pool.item_id)
    expected = _mmr_reference(pool.score.to_numpy(), V, 10, 0.3)
    assert diverse.item_id.tolist() == pool.item_id.to_numpy()[expected].tolist()


def test_wrong_index_and_bad_settings_are_refused(retriever):
    vectors = retriever.item_vectors()
    with pytest.raises(ValueError, match="16-dimensional vectors but the retriever's item vectors have 32"):
        TwoStagePipeline(retriever, build_index(vectors[:, :16], "flat"))
    with pytest.raises(ValueError, match="holds 20 vectors but the retriever knows 30 items"):
        TwoStagePipeline(retriever, build_index(vectors[:20], "flat"))
    index = build_index(vectors, "flat")
    with pytest.raises(ValueError, match=r"n_candidates \(5\) must be >= k \(10\)"):
        TwoStagePipeline(retriever, index, n_candidates=5)
    with pytest.raises(ValueError, match="mmr_lambda must be in"):
        TwoStagePipeline(retriever, index, mmr_lambda=2.0)
    with pytest.raises(TypeError, match="ranker must be"):
        TwoStagePipeline(retriever, index, ranker="dcn")
    with pytest.raises(TypeError, match="user_vectors"):
        TwoStagePipeline(DotProduct(n_epochs=1).fit(retriever.data_), index)   # MSE: no negatives drawn
    with pytest.raises(ValueError, match="16 columns but the index holds 32-dimensional"):
        index.search(vectors[:2, :16], 5)      # the index itself (course_lib.ann) names the mismatch
    bad = TwoStagePipeline(retriever, index, ranker=lambda u, items: np.zeros(3))
    with pytest.raises(ValueError, match=r"returned 3 scores for 22 candidates"):
        bad.recommend(2)
    nan = TwoStagePipeline(retriever, index, ranker=lambda u, items: np.full(len(items), np.nan))
    with pytest.raises(ValueError, match="NaN or infinite"):
        nan.recommend(2)


def test_unknown_users_fall_back_or_raise_as_documented(retriever, tables):
    index = build_index(retriever.item_vectors(), "flat")
    pipe = TwoStagePipeline(retriever, index, ranker=lambda u, items: pytest.fail("no ranker for a fallback"))
    out = pipe.recommend(999)
    assert out.attrs["source"].startswith("popularity fallback: user 999 has no training pairs and no features")
    popular = retriever.data_.item_ids[np.argsort(-retriever.data_.item_counts(), kind="stable")][:10]
    assert out.item_id.tolist() == popular.tolist() and out.ranker_score.isna().all()
    with pytest.raises(UnknownIdError, match="no training pairs and no features"):
        TwoStagePipeline(retriever, index, unknown_users="raise").recommend(999)
    with pytest.raises(ValueError, match="unknown_users must be"):
        TwoStagePipeline(retriever, index, unknown_users="ignore")
    # the same new user described by their features is retrieved through the index
    new = pd.DataFrame({"user_id": [999], "age": [25], "gender": ["M"], "occupation": ["student"]})
    described = TwoStagePipeline(retriever, index, users=new).recommend(999)
    assert described.attrs["source"] == "index" and len(described) == 10


def test_an_empty_candidate_set_gives_an_empty_answer(retriever):
    """User 1 has rated all 30 items: nothing is left; the ranker is never called."""
    index = build_index(retriever.item_vectors(), "flat")
    pipe = TwoStagePipeline(retriever, index, ranker=lambda u, items: pytest.fail("ranker called"), mmr_lambda=0.5)
    out = pipe.recommend(1)
    assert out.empty and list(out.columns) == COLUMNS
    assert "no unseen candidates" in out.attrs["source"]
    assert len(TwoStagePipeline(retriever, index, exclude_seen=False).recommend(1)) == 10


def test_hnsw_and_ivf_indexes_serve_the_pipeline(retriever):
    vectors = retriever.item_vectors()
    exact = TwoStagePipeline(retriever, build_index(vectors, "exact"), n_candidates=10).recommend(3)
    for kind, params in (("hnsw", {"M": 8, "ef_search": 64, "mips": "augment"}), ("ivf", {"nlist": 2, "nprobe": 2})):
        out = TwoStagePipeline(retriever, build_index(vectors, kind, **params), n_candidates=10).recommend(3)
        assert out.item_id.tolist() == exact.item_id.tolist(), kind   # 30 items: a wide search is exact


def test_latency_helper_reports_percentiles(retriever):
    pipe = TwoStagePipeline(retriever, build_index(retriever.item_vectors(), "flat"))
    lat = measure_request_latency(pipe, [2, 3, 4], repeats=2, warmup=1)
    assert lat.n_requests == 3 and 0 < lat.p50_ms <= lat.p95_ms and lat.cpu_p50_ms >= 0
    with pytest.raises(ValueError, match="at least one user"):
        measure_request_latency(pipe, [])
