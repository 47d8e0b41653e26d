"""Content-based filtering: TF-IDF profiles against a by-hand computation, scores, errors, the tags loader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_lib.data import load_tags, tags_per_item
from course_lib.models import ContentBased
from course_lib.models.content import item_documents

ITEMS = pd.DataFrame({"item_id": [1, 2, 3, 4],
                      "title": ["Space War", "Space Love", "Love Story", "War War Story"],
                      "genres": ["Sci-Fi|Action", "Sci-Fi|Romance", "Romance", "Action|Drama"]})
RATINGS = pd.DataFrame({"user_id": [7, 7, 7, 8, 8], "item_id": [1, 2, 3, 3, 4], "rating": [5.0, 4.0, 1.0, 5.0, 2.0]})


def naive_tfidf(docs: list[str]) -> tuple[np.ndarray, list[str]]:
    """scikit-learn's defaults written out: lower-case words of >= 2 letters, 1 + log tf, smooth idf, L2 rows."""
    import re
    tokens = [re.findall(r"(?u)\b\w\w+\b", d.lower()) for d in docs]
    vocab = sorted({t for ts in tokens for t in ts})
    tf = np.array([[ts.count(v) for v in vocab] for ts in tokens], dtype=float)
    tf = np.where(tf > 0, 1 + np.log(np.where(tf > 0, tf, 1)), 0.0)
    df = (tf > 0).sum(axis=0)
    idf = 1 + np.log((1 + len(docs)) / (1 + df))
    x = tf * idf
    return x / np.linalg.norm(x, axis=1, keepdims=True), vocab


def test_item_profiles_are_tfidf_written_by_hand():
    model = ContentBased().fit(RATINGS, items=ITEMS)
    docs = item_documents(ITEMS).reindex(model.data_.item_ids).tolist()
    x, vocab = naive_tfidf(docs)
    assert list(model.vocabulary_) == vocab
    np.testing.assert_allclose(model.item_profiles_.toarray(), x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("weights", ["centered", "binary"])
def test_scores_are_the_cosine_between_the_user_profile_and_each_item(weights):
    model = ContentBased(weights=weights).fit(RATINGS, items=ITEMS)
    x = model.item_profiles_.toarray()
    for user in (7, 8):
        rows = RATINGS[RATINGS.user_id == user]
        idx = model.data_.encode_items(rows.item_id.to_numpy())
        w = rows.rating.to_numpy() - rows.rating.mean() if weights == "centered" else np.ones(len(rows))
        p = w @ x[idx]
        expected = x @ p / np.linalg.norm(p)
        got = model.score_items([user])[0]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # user 7 liked the space films and disliked "Love Story": the unseen war film scores above zero
    assert model.score_items([7])[0][model.data_.encode_items(np.array([4]))[0]] > 0


def test_a_disliked_items_terms_push_the_centered_profile_away():
    model = ContentBased().fit(RATINGS, items=ITEMS)
    terms = dict(zip(model.vocabulary_, model.user_profiles_[model.data_.encode_users(np.array([7]))[0]].toarray().ravel()))
    assert terms["story"] < 0 < terms["space"]  # "Love Story" was rated 1 by user 7


def test_explain_lists_the_terms_that_make_the_score():
    model = ContentBased().fit(RATINGS, items=ITEMS)
    why = model.explain(7, 4, n_terms=10)
    assert (why > 0).all() and why.index[0] in {"war", "action"}
    score = model.score_items([7])[0][model.data_.encode_items(np.array([4]))[0]]
    u, j = model.data_.encode_users(np.array([7]))[0], model.data_.encode_items(np.array([4]))[0]
    every_term = model.user_profiles_[u].multiply(model.item_profiles_[j]).toarray().ravel()
    assert every_term.sum() == pytest.approx(score, abs=1e-12)   # the terms add up to the score
    assert why.sum() >= score                                      # "story" (disliked) pulls it down
    with pytest.raises(ValueError, match="not in the training ratings"):
        model.explain(7, 99)


def test_errors_say_what_is_missing():
    with pytest.raises(ValueError, match="items=movies"):
        ContentBased().fit(RATINGS)
    with pytest.raises(ValueError, match="no column"):
        ContentBased(columns=("plot",)).fit(RATINGS, items=ITEMS)
    with pytest.raises(ValueError, match="weights"):
        ContentBased(weights="ratings").fit(RATINGS, items=ITEMS)
    with pytest.raises(ValueError, match="no term left"):
        ContentBased(min_df=10).fit(RATINGS, items=ITEMS)


def test_tags_of_ml_latest_small(shared_mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(shared_mirror))
    tags = load_tags(cache_dir=tmp_path)
    assert list(tags.columns) == ["user_id", "item_id", "tag", "timestamp"] and len(tags) == 3683
    per_item = tags_per_item(tags)
    assert per_item.item_id.is_unique and len(per_item) == tags.item_id.nunique()
    assert per_item.tags.str.islower().all()
