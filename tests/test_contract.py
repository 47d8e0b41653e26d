"""The estimator contract of :mod:`course_lib.models.base`, checked on every model class of the library.

Like scikit-learn's ``parametrize_with_checks``: the classes are discovered from the public modules
(``course_lib.models``, ``.torch_models``, ``.keras_models``), so a new model is checked the day it is
exported. Each is fitted with its defaults (a few epochs less where that matters for time) on one small
fixture that has timestamps and side tables, so every model can be fitted by the same call.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import course_lib.models as models_module
from course_lib.interactions import Interactions
from course_lib.models import NotFittedError, Recommender, UnknownIdError, load_model, save_model
from course_lib.validation import RatingsError

torch_models = pytest.importorskip("course_lib.models.torch_models")
keras_models = pytest.importorskip("course_lib.models.keras_models")


def _public_models() -> list[type]:
    found = []
    for module in (models_module, torch_models, keras_models):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, Recommender) and obj is not Recommender \
                    and not inspect.isabstract(obj) and obj not in found:
                found.append(obj)
    return found


MODELS = _public_models()
IDS = [f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}" for cls in MODELS]

#: fewer epochs where the defaults would take long; nothing else changes
FAST = {"BiasedMF": dict(n_factors=8, n_epochs=5), "FunkSVD": dict(n_factors=8, n_epochs=5),
        "NMF": dict(n_epochs=5), "ALS": dict(n_epochs=3), "BPRMF": dict(n_epochs=3), "ImplicitALS": dict(n_epochs=3),
        "PureSVD": dict(n_factors=4), "DotProduct": dict(n_epochs=3), "GMF": dict(n_epochs=3), "MLP": dict(n_epochs=3),
        "NeuMF": dict(n_epochs=3), "FeatureAware": dict(n_epochs=3), "GRU4Rec": dict(n_epochs=2),
        "LSTMRec": dict(n_epochs=2), "Caser": dict(n_epochs=2), "LightGCN": dict(n_epochs=3),
        "LogisticRanker": dict(n_epochs=3), "FMRanker": dict(n_epochs=3), "DeepFMRanker": dict(n_epochs=2),
        "DCNRanker": dict(n_epochs=2),
        "SASRec": dict(n_epochs=2), "BERT4Rec": dict(n_epochs=2),
        "AutoRec": dict(n_epochs=3), "MultVAE": dict(n_epochs=3), "MultDAE": dict(n_epochs=3),
        "TwoTower": dict(n_epochs=3, batch_size=64), "BayesianMF": dict(n_epochs=20, burn_in=5)}


#: models whose estimate for an unknown item is a rule of their own (a bias model's mu + b_u, the
#: global mean itself), not flagged as impossible, exactly as Surprise's BaselineOnly and SVD do
OWN_RULE_FOR_UNKNOWN = {"GlobalMean", "BaselineOnly", "BiasedMF", "ALS", "SVDpp", "CoClustering", "BayesianMF"}


def make(cls, **extra) -> Recommender:
    return cls(**{**FAST.get(cls.__name__, {}), **extra})


@pytest.fixture(scope="module")
def fixture_data():
    """40 users, 30 items, ratings 1-5 with timestamps; MovieLens-like user and item tables."""
    rng = np.random.default_rng(7)
    rows = []
    for u in range(40):
        items = rng.choice(30, size=int(rng.integers(8, 18)), replace=False)
        for t, i in enumerate(items):
            rows.append((u + 1, i + 101, float(rng.integers(1, 6)), 880_000_000 + 1000 * t + u))
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    users = pd.DataFrame({"user_id": np.arange(1, 46), "age": rng.integers(15, 70, 45),
                          "gender": rng.choice(["F", "M"], 45), "occupation": rng.choice(["student", "writer", "other"], 45)})
    genres = ["Action", "Comedy", "Drama", "Romance"]
    items = pd.DataFrame({"item_id": np.arange(101, 131), "year": rng.integers(1950, 1998, 30),
                          "title": [f"Movie {w} {k}" for k, w in enumerate(rng.choice(["Love", "War", "Night", "Day"], 30))],
                          "genres": ["|".join(rng.choice(genres, 2, replace=False)) for _ in range(30)]})
    return ratings, users, items


def fit(model, fixture_data):
    ratings, users, items = fixture_data
    return model.fit(ratings, users=users, items=items)


@pytest.fixture(scope="module")
def fitted(fixture_data):
    """Every model fitted once with ``random_state`` as defaulted (0)."""
    return {cls: fit(make(cls), fixture_data) for cls in MODELS}


def _params_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(repr(a[k]) == repr(b[k]) for k in a)


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_init_stores_its_parameters_and_clone_round_trips(cls):
    model = make(cls)
    params = model.get_params()
    signature = {k: v for k, v in inspect.signature(cls.__init__).parameters.items()
                 if k != "self" and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)}
    assert set(params) == set(signature)
    for name, value in params.items():
        assert getattr(model, name) is value or repr(getattr(model, name)) == repr(value), name
    assert _params_equal(clone(model).get_params(), params)
    if "random_state" in params:
        assert signature["random_state"].default == 0, "every course model defaults to random_state=0"
    for old in ("validation", "patience", "embedding_dim", "init_std", "shrink", "learning_rate"):
        if old == "learning_rate" and cls.__name__ == "BaselineOnly":
            continue  # Surprise's own name for BaselineOnly's SGD step
        assert old not in params, f"{old!r} is not the course's vocabulary (see models/base.py)"


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_use_before_fit_raises_not_fitted(cls, fixture_data):
    model = make(cls)
    ratings = fixture_data[0]
    for call in (lambda: model.predict(1, 101), lambda: model.test(ratings), lambda: model.recommend(1),
                 lambda: model.score_items([1]), lambda: model.top_n([1]), lambda: save_model(model, "never.model")):
        with pytest.raises(NotFittedError, match="not fitted"):
            call()


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_fit_returns_self_keeps_hyperparameters_and_names_learned_state(cls, fixture_data, fitted):
    model = make(cls)
    before = model.get_params()
    assert fit(model, fixture_data) is model
    assert _params_equal(model.get_params(), before), "fit changed a hyperparameter"
    learned = set(vars(model)) - set(before)
    assert learned and all(name.endswith("_") for name in learned), sorted(n for n in learned if not n.endswith("_"))
    assert isinstance(model.data_, Interactions) and model.data_.users is fixture_data[1]
    if hasattr(model, "history_"):
        h = model.history_
        assert h.index.name == "epoch" and list(h.index) == list(range(1, len(h) + 1)) and "train_loss" in h
        assert model.n_epochs_ == len(h) and 1 <= model.best_epoch_ <= len(h)


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_same_random_state_same_model(cls, fixture_data, fitted):
    users = fitted[cls].data_.user_ids[:6]
    again = fit(make(cls), fixture_data)
    np.testing.assert_array_equal(again.score_items(users), fitted[cls].score_items(users))
    if "random_state" in fitted[cls].get_params():
        assert np.isfinite(fit(make(cls, random_state=None), fixture_data).score_items(users)).all()


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_fit_accepts_interactions(cls, fixture_data):
    ratings, users, items = fixture_data
    data = Interactions.from_ratings(ratings, users=users, items=items)
    model = make(cls).fit(data)
    assert model.data_ is data


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_recommend_returns_n_unseen_items_best_first(cls, fixture_data, fitted):
    model = fitted[cls]
    ratings = fixture_data[0]
    for user in (1, 17, 40):
        seen = set(ratings.loc[ratings.user_id == user, "item_id"])
        recs = model.recommend(user, 5)
        assert list(recs.columns) == ["item_id", "score"] and len(recs) == 5
        assert not seen & set(recs.item_id) and set(recs.item_id) <= set(model.data_.item_ids)
        assert recs.score.is_monotonic_decreasing
        assert model.top_n([user], 5)[0].tolist() == recs.item_id.tolist()
        scores = model.score_items([user])[0]
        np.testing.assert_allclose(recs.score, scores[model.data_.encode_items(recs.item_id)], rtol=1e-6)
    every = model.recommend(1, 100)
    assert len(every) == model.data_.n_items - len(set(ratings.loc[ratings.user_id == 1, "item_id"]))


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_unknown_ids_are_handled_as_documented(cls, fitted):
    model = fitted[cls]
    p = model.predict(999, 101)
    assert np.isfinite(p.est) and p.user_id == 999
    if model.predicts_ratings:
        low, high = model.data_.rating_scale
        assert low <= p.est <= high
    out = model.test(pd.DataFrame({"user_id": [1, 999, 1], "item_id": [101, 101, 999]}))
    assert np.isfinite(out.est).all()
    if cls.__name__ in OWN_RULE_FOR_UNKNOWN:  # mu + b_u (an unknown item adds no bias), as Surprise: no flag
        assert not model.predict(1, 999).was_impossible
    else:
        # an unknown item cannot be scored; an unknown user may be (popularity's item mean, features ...)
        assert model.predict(1, 999).was_impossible and list(out.was_impossible)[::2] == [False, True]
    with pytest.raises(UnknownIdError, match="not in the training data"):
        model.recommend(999)
    fallback = model.score_items([999])
    assert fallback.shape == (1, model.data_.n_items) and np.isfinite(fallback).all()
    assert len(model.top_n([999], 3)[0]) == 3


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_bad_ratings_are_refused_with_a_message(cls, fixture_data):
    ratings = fixture_data[0]
    with pytest.raises(RatingsError, match="NaN"):
        make(cls).fit(ratings.assign(rating=ratings.rating.where(ratings.index != 5)))
    with pytest.raises(RatingsError, match="missing columns"):
        make(cls).fit(ratings.rename(columns={"item_id": "movieId"}))


#: the models' rates in [0, 1) (dropout, the held-out share): one rule, course_lib.validation.check_rate
RATES = [(cls, name) for cls in MODELS for name in ("dropout", "id_dropout", "validation_fraction")
         if name in inspect.signature(cls.__init__).parameters]


@pytest.mark.parametrize("cls, name", RATES, ids=[f"{c.__name__}.{n}" for c, n in RATES])
@pytest.mark.parametrize("bad", [1.0, -0.1, float("nan")])
def test_rates_outside_zero_one_are_refused_with_a_message(cls, name, bad, fixture_data):
    if name == "validation_fraction" and bad == 1.0 and issubclass(cls, torch_models.sequence.NextItemModel):
        bad = 1.5  # the next-item models hold out the last item of a share in (0, 1] of the users
    with pytest.raises(ValueError, match=name):
        fit(make(cls, **{name: bad, "early_stopping": True} if name == "validation_fraction" else {name: bad}),
            fixture_data)


def test_every_model_is_saved_and_loaded_in_a_fresh_process(fitted, tmp_path):
    users = [1, 17, 40, 999]
    expected = {}
    for k, (cls, model) in enumerate(fitted.items()):
        save_model(model, tmp_path / f"{k}.model")
        expected[str(k)] = {"top": [a.tolist() for a in model.top_n(users, 5)],
                            "scores": np.round(model.score_items(users), 6).tolist(), "class": cls.__name__}
        again = load_model(tmp_path / f"{k}.model")
        np.testing.assert_array_equal(again.score_items(users), model.score_items(users))
        assert _params_equal({k: v for k, v in again.get_params().items() if k != "pretrained"},
                             {k: v for k, v in model.get_params().items() if k != "pretrained"})
    code = (
        "import json, sys, numpy as np\n"
        "from course_lib.models import load_model\n"
        f"out = {{}}\nfor k in {list(expected)!r}:\n"
        f"    m = load_model({str(tmp_path)!r} + f'/{{k}}.model')\n"
        f"    out[k] = {{'top': [a.tolist() for a in m.top_n({users!r}, 5)],\n"
        f"              'scores': np.round(m.score_items({users!r}), 6).tolist(), 'class': type(m).__name__}}\n"
        "print(json.dumps(out))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    for k, want in expected.items():
        assert got[k] == want, want["class"]


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="not a model file"):
        load_model(bad)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.model")


def test_the_contract_covers_every_model():
    names = {cls.__name__ for cls in MODELS}
    assert {"BiasedMF", "KNNBaseline", "EASE", "LastItemKNN", "FeatureAware", "GRU4Rec", "LightGCN"} <= names
    assert len(MODELS) >= 28, sorted(names)


def _contributing_example():
    """The model class of CONTRIBUTING.md's "A whole new model" block."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "CONTRIBUTING.md").read_text()
    block = text.split("A whole new model", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert len(block.strip().splitlines()) < 60, "the example must stay under 60 lines"
    namespace = {"__name__": "contributing_example"}
    exec(compile(block, "CONTRIBUTING.md", "exec"), namespace)
    return next(v for v in namespace.values() if isinstance(v, type) and issubclass(v, Recommender)
                and v is not Recommender)


def test_the_contributing_example_follows_the_contract(fixture_data, tmp_path):
    cls = _contributing_example()
    model = cls()
    assert _params_equal(clone(model).get_params(), model.get_params())
    with pytest.raises(NotFittedError):
        model.recommend(1)
    assert fit(model, fixture_data) is model and set(vars(model)) - set(model.get_params()) <= {
        "data_", "global_mean_", "item_mean_"}
    ratings = fixture_data[0]
    recs = model.recommend(1, 5)
    assert len(recs) == 5 and recs.score.is_monotonic_decreasing
    assert not set(recs.item_id) & set(ratings.loc[ratings.user_id == 1, "item_id"])
    assert model.predict(1, 999).was_impossible and np.isfinite(model.score_items([999])).all()
    # the formula, by hand, for one movie
    movie = ratings[ratings.item_id == 101]
    mu = ratings.rating.mean()
    assert model.predict(5, 101).est == pytest.approx((movie.rating.sum() + 25 * mu) / (len(movie) + 25))
    save_model(model, tmp_path / "example.model")
    again = load_model(tmp_path / "example.model", classes=[cls])
    np.testing.assert_array_equal(again.score_items([1, 2]), model.score_items([1, 2]))
    with pytest.raises(ValueError, match="only course_lib's own classes"):
        load_model(tmp_path / "example.model")  # a class the caller did not name is never imported
