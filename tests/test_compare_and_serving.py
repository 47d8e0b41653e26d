"""The capstone in course_lib terms: the comparison table and the served, saved and reloaded model."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from course_lib.compare import compare_models, is_rating_model, temporal_protocol
from course_lib.evaluate import evaluate_full_ranking, evaluate_ratings
from course_lib.models import EASE, BaselineOnly, ItemKNN, Popularity
from course_lib.serving import MovieRecommender
from course_lib.split import temporal_split

METRICS = ["rmse", "mae", "precision@10", "recall@10", "ndcg@10", "map@10", "coverage", "novelty@10"]
STAR_WARS = {50: 5, 172: 5, 181: 5}  # Star Wars, The Empire Strikes Back, Return of the Jedi


@pytest.fixture(scope="module")
def temporal(ratings):
    return temporal_split(ratings, 0.2)


@pytest.fixture(scope="module")
def table(temporal):
    train, test = temporal
    models = {"Popularity": Popularity(), "BaselineOnly": BaselineOnly(), "ItemKNN": ItemKNN(), "EASE": EASE()}
    return compare_models(models, train, test, k=10)


@pytest.fixture(scope="module")
def served(temporal, ml100k):
    train, _ = temporal
    return MovieRecommender(EASE().fit(train), ml100k.movies), train


# -- compare_models --------------------------------------------------------------------------


def test_compare_models_rows_are_the_protocols_results(table, temporal):
    train, test = temporal
    assert list(table.index) == ["Popularity", "BaselineOnly", "ItemKNN", "EASE"]
    assert list(table.columns) == ["fit_seconds", *METRICS]
    # RMSE/MAE only for rating models; ranking models' scores are not ratings
    assert table.loc[["ItemKNN", "EASE"], ["rmse", "mae"]].isna().all().all()
    assert table.loc["BaselineOnly", "rmse"] == evaluate_ratings(BaselineOnly().fit(train), test)["rmse"]
    direct = evaluate_full_ranking(EASE().fit(train), test, 10)
    assert table.loc["EASE", METRICS[2:]].tolist() == [direct[c] for c in METRICS[2:]]
    # Popularity recommends (almost) the same list to everyone
    assert table.loc["Popularity", "coverage"] < table.loc["EASE", "coverage"] / 2


def test_ease_beats_popularity_on_temporal_ndcg(table):
    assert table.loc["EASE", "ndcg@10"] > table.loc["Popularity", "ndcg@10"]
    # ItemKNN(k=400) is close to popularity on this split (within 20 %), not clearly better
    assert table.loc["ItemKNN", "ndcg@10"] > 0.8 * table.loc["Popularity", "ndcg@10"]


def test_compare_models_is_deterministic(temporal, table):
    train, test = temporal
    again = compare_models({"Popularity": Popularity(), "BaselineOnly": BaselineOnly(), "ItemKNN": ItemKNN(),
                            "EASE": EASE()}, train, test, k=10)
    pd.testing.assert_frame_equal(table[METRICS], again[METRICS])


def test_compare_models_rating_models_and_errors(temporal):
    train, test = temporal
    small = test.iloc[:2000]
    t = compare_models({"pop": Popularity()}, train, small, k=5, rating_models=[])
    assert t[["rmse", "mae"]].isna().all().all() and "ndcg@5" in t.columns
    assert is_rating_model(BaselineOnly()) and not is_rating_model(EASE())
    with pytest.raises(ValueError, match="not in models"):
        compare_models({"pop": Popularity()}, train, small, rating_models=["nope"])
    with pytest.raises(TypeError, match="Recommender"):
        compare_models({"x": object()}, train, small)
    with pytest.raises(ValueError, match="non-empty"):
        compare_models({}, train, small)


def test_temporal_protocol_orders_time(ratings):
    train, validation, test = temporal_protocol(ratings, test_size=0.2, validation_size=0.1)
    assert len(train) + len(validation) + len(test) == len(ratings)
    assert train["timestamp"].max() <= validation["timestamp"].min()
    assert validation["timestamp"].max() <= test["timestamp"].min()
    assert len(test) == pytest.approx(0.2 * len(ratings), rel=0.01)
    assert len(validation) == pytest.approx(0.1 * (len(ratings) - len(test)), rel=0.02)
    with pytest.raises(ValueError, match="validation_size"):
        temporal_protocol(ratings, 0.2, 1.5)


# -- serving ---------------------------------------------------------------------------------


def test_recommend_known_user(served):
    rec, train = served
    user = train["user_id"].iloc[0]
    out = rec.recommend(user, 10)
    assert list(out.columns) == ["item_id", "title", "year", "genres", "score", "because"]
    assert len(out) == 10
    seen = set(train.loc[train["user_id"] == user, "item_id"])
    assert not seen & set(out["item_id"])
    assert out["title"].notna().all() and (out["title"].str.len() > 0).all()
    assert out["score"].is_monotonic_decreasing
    assert out["because"].str.startswith("because you rated").all()
    # the explanation names movies the user did rate
    titles = set(rec.movies.loc[rec.movies["item_id"].isin(seen), "title"])
    first = out["because"].iloc[0].removeprefix("because you rated ").split("; ")
    assert set(first) <= titles
    # the same items as the model's own recommend
    assert list(out["item_id"]) == list(rec.model.recommend(user, 10)["item_id"])


def test_unknown_user_gets_popularity(served):
    rec, train = served
    out = rec.recommend("no such user", 5)
    counts = train["item_id"].value_counts()
    assert list(out["score"]) == list(counts.iloc[:5].astype(float))  # the 5 largest counts, in order
    assert (counts.loc[out["item_id"]].to_numpy() == out["score"].to_numpy()).all()
    assert out["because"].str.contains("popular").all()


def test_new_user_star_wars(served):
    rec, _ = served
    out = rec.for_new_user(STAR_WARS, 10)
    assert len(out) == 10 and not set(STAR_WARS) & set(out["item_id"])
    assert out["because"].str.startswith("because you rated").all()
    share = out["genres"].str.contains("Action|Adventure|Sci-Fi", regex=True).mean()
    assert share >= 0.6, out[["title", "genres"]]
    # disliking everything (or only unknown movies) falls back to popularity
    assert rec.for_new_user({50: 1}, 3)["because"].str.contains("popular").all()
    assert 50 not in set(rec.for_new_user({50: 1}, 3)["item_id"])
    assert rec.for_new_user({10**9: 5}, 3)["because"].str.contains("popular").all()
    with pytest.raises(ValueError, match="non-empty"):
        rec.for_new_user({}, 3)


def test_item_based_knn_uses_its_own_explanation(temporal, ml100k):
    from course_lib.models import KNNBasic

    train, _ = temporal
    small = train[train["user_id"].isin(train["user_id"].unique()[:150])]
    model = KNNBasic(k=20, sim="cosine", user_based=False).fit(small)
    out = MovieRecommender(model, ml100k.movies).recommend(small["user_id"].iloc[0], 3)
    assert len(out) == 3 and out["because"].str.len().gt(0).all()


def test_save_load_round_trip_in_fresh_process(served, tmp_path):
    rec, train = served
    path = tmp_path / "ease.service"
    rec.save(path)
    users = [int(u) for u in train["user_id"].unique()[:3]]
    expected = pd.concat([rec.recommend(u, 10) for u in users] + [rec.for_new_user(STAR_WARS, 10)],
                         ignore_index=True)
    expected_path = tmp_path / "expected.pkl"
    expected.to_pickle(expected_path)
    code = (
        "import pandas as pd, sys\n"
        "from course_lib.serving import MovieRecommender\n"
        f"rec = MovieRecommender.load({str(path)!r})\n"
        f"got = pd.concat([rec.recommend(u, 10) for u in {users!r}] + [rec.for_new_user({STAR_WARS!r}, 10)], "
        "ignore_index=True)\n"
        f"pd.testing.assert_frame_equal(got, pd.read_pickle({str(expected_path)!r}), check_exact=True)\n"
        "print('ok')\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_load_refuses_other_files(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="not a MovieRecommender file"):
        MovieRecommender.load(text)
    import zipfile

    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("serving.json", '{"format": "something else"}')
    with pytest.raises(ValueError, match="not a MovieRecommender file"):
        MovieRecommender.load(other)
    with pytest.raises(FileNotFoundError):
        MovieRecommender.load(tmp_path / "missing.service")


def test_constructor_checks(ml100k):
    with pytest.raises(TypeError, match="Recommender"):
        MovieRecommender(object(), ml100k.movies)
    from course_lib.models import NotFittedError

    with pytest.raises(NotFittedError):
        MovieRecommender(EASE(), ml100k.movies)
