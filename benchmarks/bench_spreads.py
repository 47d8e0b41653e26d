"""The comparisons lessons 02-16 make on one split, repeated over split seeds: mean, spread, paired gaps.

    .venv/bin/python benchmarks/bench_spreads.py                       # every section, seeds 42,1,2,3,4 (~10 CPU min idle)
    .venv/bin/python benchmarks/bench_spreads.py --sections 03-slope-one --seeds 42,1

A lesson shows a model comparison on one split (seed 42) and draws a conclusion from it. This
benchmark re-runs exactly the lesson's code on other split seeds, so the lesson can say whether its
conclusion survives another draw. Seed 42 is the lesson's own split: its row reproduces the lesson's
printed numbers (the script prints them, so a drift is visible). Models keep the lesson's own
``random_state`` (0, or none for the deterministic ones), so what varies is the split, and, for
the validation sections, the validation part carved from it.

Sections (each names the lesson and the cells whose claim it tests):

* ``02-groups`` -- lesson 02, cells 62-65: NDCG@10 per group of users (women / men; light / medium /
  heavy thirds by training ratings) for the bias model and Popularity; stratified 75/25 per user.
* ``02-classify`` -- lesson 02, cells 75-85: a like is a rating >= 4, predicted when the score >= 3.5;
  accuracy, F1, global and per-user AUC of the bias model, the user's mean and "always a like";
  random 80/20.
* ``02-beyond`` -- lesson 02, cells 93-96: NDCG@10, intra-list diversity (genres), ARP, long-tail
  share and miscalibration of the bias model, Popularity and ``EASE(lam=500)``; stratified 75/25.
* ``03-k`` -- lesson 03, cells 49-54: validation RMSE of ``KNNWithMeans`` (msd) for k in 1..160,
  user- and item-based, on ``random_split(train, 0.1, random_state=1)``; the best k per seed and the
  gap between k = 40 (the default) and the best.
* ``03-slope-one`` -- lesson 03, cells 56 and 80: test RMSE of the six k-NN models and Slope One on
  random 80/20; where Slope One ranks.
* ``04-models`` -- lesson 04, cells 43, 64, 73 and 84: test RMSE of the bias baseline, truncated SVD
  (k = 20), biased MF (Surprise SVD's defaults), biased MF k = 20 with gamma = 0.007, SVD++ and NMF
  with their defaults, and ALS (k = 20, 10 epochs, lambda = 0.1); random 80/20.
* ``04-curves`` -- lesson 04, cells 46-54: best validation RMSE over 40 epochs of biased MF
  (gamma = 0.01) for lambda in {0, 0.02, 0.1} (k = 50) and for k in {1, 5, 20, 50, 100} x lambda in
  {0.02, 0.1}, with the epoch of the best; validation = ``random_split(train, 0.1, random_state=1)``.
* ``06-variants`` -- lesson 06, cells 42-45: the PyTorch dot product without biases and range, with
  biases, with the sigmoid range, with weight decay 1e-4 (32 factors, 12 epochs, no early stopping):
  best validation RMSE and epoch, test RMSE at epoch 12; random 90/10.
* ``06-dropout`` -- lessons 06 (cells 33-48) and 11 (cells 18-22): test RMSE of the bias baseline, the
  dot product with weight decay, with dropout 0.3 instead, and AutoRec; random 90/10.
* ``08-content`` -- lesson 08, cells 78-106: on ml-latest-small, NDCG@10 of popularity, TF-IDF content
  (title + genres; + all tags, which leak; + the tags of training pairs), ImplicitALS, and the
  content/ALS hybrid with alpha chosen on validation; content against 20 random orders on the films no
  training rating covers; stratified 75/25 per user.
* ``15-windows`` -- lesson 15, cells 17-32: the capstone's ten-model table (EASE's lambda and ALS's
  penalty chosen on the validation period as in the lesson) on five time windows: seed 42 is the
  lesson's (the whole timeline), seed j first drops the last j x 10 % of the ratings, so each window
  ends earlier; NDCG@10 of known and new users, coverage.
* ``16-noise`` -- lesson 16, cells 13-19: test RMSE of the bias baseline and biased MF (lambda 0.02 and
  0.1) when a share p of the training ratings is replaced by a random star; the draw is seeded by the
  split's seed (42 stands for the lesson's draw, seed 0); random 80/20.
* ``16-overfit`` -- lesson 16, cells 27-33: the dot product (32 factors, 12 epochs) without
  regularisation, with weight decay 3e-4, with dropout 0.5 and with early stopping: best validation
  RMSE and test RMSE; random 80/20.
* ``08-image`` -- lesson 08, cells 28-59: cold-movie RMSE of the ID-only model, the attention model with
  genres, with the stand-in image vector instead of the genres and with neither (8 epochs, as the
  lesson trains the image model), the image's attention weight, and the two-tower's permutation
  importance on cold movies; ``cold_start_split(..., random_state=seed)`` (42 is the lesson's split and
  stand-in; other seeds draw the stand-in from ``default_rng(seed)``).
* ``09-shuffle`` -- lesson 09, cell 34: HR@10 of the last-item baselines fitted on ordered and on
  shuffled histories; ``leave_last_out`` has no seed, so the seed is the shuffle's (42 stands for the
  lesson's shuffle seed 0).
* ``11-autoencoders`` -- lesson 11, cells 35-39: NDCG@10 of Mult-VAE, Mult-DAE, EASE and implicit ALS
  with the lesson's settings; stratified 75/25 per user.

Output: ``results/spreads.json`` (every row) and ``results/spreads.md`` (mean ± std (ddof=1) over
seeds [min, max], and the paired differences each lesson's claim rests on, seed by seed).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

benchlib.single_thread()

import os  # noqa: E402

from course.reproducibility import numeric_environment  # noqa: E402

for _key, _value in numeric_environment().items():  # the lessons' numeric profile, so seed 42 is the lesson's bits
    os.environ.setdefault(_key, _value)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from course_lib import beyond_accuracy as ba  # noqa: E402
from course_lib import metrics  # noqa: E402
from course_lib.data import genre_matrix, load_movielens  # noqa: E402
from course_lib.evaluate import evaluate_ratings, relevant_items, top_k  # noqa: E402
from course_lib.models import (ALS, EASE, NMF, SVDpp, BaselineOnly, BiasedMF, KNNBaseline, KNNBasic,  # noqa: E402
                               KNNWithMeans, Popularity, PureSVD, SlopeOne)
from course_lib.split import random_split, stratified_split  # noqa: E402

SEEDS = "42,1,2,3,4"


def _rmse(model, test) -> float:
    return float(evaluate_ratings(model, test)["rmse"])


# ---------------------------------------------------------------- lesson 02
def groups(ml, seed: int) -> list[dict]:
    ratings = ml.ratings
    train_s, test_s = stratified_split(ratings, test_size=0.25, random_state=seed)
    relevant = relevant_items(test_s)
    n_train = train_s.user_id.value_counts()
    third = pd.qcut(n_train, 3, labels=["light", "medium", "heavy"])
    gender = ml.users.set_index("user_id").gender
    grp = {"women": gender.index[gender == "F"], "men": gender.index[gender == "M"],
           **{f"{t} users": third.index[third == t] for t in ["light", "medium", "heavy"]}}
    rows = []
    for name, model in (("biases, ALS", BaselineOnly()), ("Popularity", Popularity())):
        recs = top_k(model.fit(train_s), relevant, k=10)
        for g, users in grp.items():
            users = [u for u in users if u in relevant]
            rows.append({"model": name, "metric": f"NDCG@10 {g}",
                         "value": metrics.ndcg_at_k({u: recs[u] for u in users}, {u: relevant[u] for u in users}, k=10)})
    return rows


def classify(ml, seed: int) -> list[dict]:
    train, test = random_split(ml.ratings, test_size=0.2, random_state=seed)
    liked = (test.rating >= 4).to_numpy().astype(int)
    user_mean = train.groupby("user_id").rating.mean()
    scores = {"biases": BaselineOnly().fit(train).test(test).est.to_numpy(),
              "user's mean only": test.user_id.map(user_mean).fillna(train.rating.mean()).to_numpy(),
              "always a like": np.full(len(test), 5.0)}
    frame = test.assign(liked=liked, **scores)
    both = frame.groupby("user_id").liked.transform("nunique") == 2
    rows = []
    for name, s in scores.items():
        y_hat = (s >= 3.5).astype(int)
        per_user = frame[both].groupby("user_id")[["liked", name]].apply(lambda g: metrics.roc_auc(g.liked, g[name]))
        for metric, value in {"accuracy": np.mean(liked == y_hat), "F1": metrics.f1(liked, y_hat),
                              "AUC (global)": metrics.roc_auc(liked, s), "AUC (per user)": per_user.mean()}.items():
            rows.append({"model": name, "metric": metric, "value": float(value)})
    return rows


def beyond(ml, seed: int) -> list[dict]:
    train_s, test_s = stratified_split(ml.ratings, test_size=0.25, random_state=seed)
    relevant = relevant_items(test_s)
    G = genre_matrix(ml.movies)
    phi = ba.item_popularity(train_s)
    rows = []
    for name, model in (("biases, ALS", BaselineOnly()), ("Popularity", Popularity()), ("EASE", EASE(lam=500))):
        recs = top_k(model.fit(train_s), relevant, k=10)
        for metric, value in {"NDCG@10": metrics.ndcg_at_k(recs, relevant, 10),
                              "ILD (genres)": ba.intra_list_diversity(recs, G),
                              "ARP": ba.average_recommendation_popularity(recs, phi),
                              "long-tail share": ba.long_tail_share(recs, phi),
                              "miscalibration": ba.miscalibration(recs, train_s, G)}.items():
            rows.append({"model": name, "metric": metric, "value": float(value)})
    return rows


# ---------------------------------------------------------------- lessons 06, 09, 11 (PyTorch)
def _unbounded():
    from course_lib.models.torch_models import DotProduct

    class Unbounded(DotProduct):
        """Lesson 06's dot product without the sigmoid range."""

        def _y_range(self, data):
            return None

    return Unbounded


def dot_variants(ml, seed: int) -> list[dict]:
    from course_lib.models.torch_models import DotProduct

    unbounded = _unbounded()
    train, test = random_split(ml.ratings, 0.1, random_state=seed)
    fit_part, val = random_split(train, 0.1, random_state=1)
    variants = {"no biases, unbounded": unbounded(biases=False, weight_decay=0),
                "biases, unbounded": unbounded(weight_decay=0),
                "biases + range": DotProduct(weight_decay=0),
                "biases + range + weight decay": DotProduct(weight_decay=1e-4)}
    rows = []
    for name, model in variants.items():
        model.set_params(n_factors=32, lr=5e-3, n_epochs=12, early_stopping=False, random_state=0, progress=False)
        h = model.fit(fit_part, validation=val).history_
        rows += [{"model": name, "metric": "best val RMSE", "value": float(np.sqrt(h.val_loss.min()))},
                 {"model": name, "metric": "best epoch", "value": float(h.val_loss.idxmin())},
                 {"model": name, "metric": "test RMSE, epoch 12", "value": _rmse(model, test)}]
    return rows


def dot_dropout(ml, seed: int) -> list[dict]:
    from course_lib.models.torch_models import AutoRec, DotProduct

    train, test = random_split(ml.ratings, 0.1, random_state=seed)
    models = {"bias baseline": BaselineOnly(),
              "dot product, weight decay 1e-4": DotProduct(n_factors=32, lr=5e-3, weight_decay=1e-4, n_epochs=20,
                                                           progress=False, random_state=0),
              "dot product, dropout 0.3": DotProduct(n_factors=32, lr=5e-3, weight_decay=0, dropout=0.3, n_epochs=20,
                                                     progress=False, random_state=0),
              "AutoRec (lesson 11)": AutoRec(n_factors=500, reg=100.0, n_epochs=40, random_state=0)}
    return [{"model": name, "metric": "test RMSE", "value": _rmse(m.fit(train), test)} for name, m in models.items()]


def shuffled_histories(ml, seed: int) -> list[dict]:
    from course_lib.evaluate import evaluate_next_item
    from course_lib.models import LastItemKNN
    from course_lib.sequences import shuffle_histories
    from course_lib.split import leave_last_out

    train, test = leave_last_out(ml.ratings, n_last=1)            # no seed: the same split every time
    shuffled = shuffle_histories(train, random_state=0 if seed == 42 else seed)   # 42 stands for the lesson's 0
    rows = [{"model": "popularity", "metric": "HR@10", "value": float(evaluate_next_item(Popularity().fit(train), test, k=10)["hr@10"])}]
    for n_last in (1, 3):
        for order, data in (("ordered", train), ("shuffled", shuffled)):
            rows.append({"model": f"similar to last {n_last}, {order}", "metric": "HR@10",
                         "value": float(evaluate_next_item(LastItemKNN(n_last=n_last).fit(data), test, k=10)["hr@10"])})
    return rows


def autoencoders(ml, seed: int) -> list[dict]:
    from course_lib.evaluate import evaluate_full_ranking
    from course_lib.models import ImplicitALS
    from course_lib.models.torch_models import MultDAE, MultVAE

    train_x, test_x = stratified_split(ml.ratings, 0.25, random_state=seed)
    models = {"Mult-VAE (40 epochs, T=200)": MultVAE(n_epochs=40, anneal_steps=200, random_state=0),
              "Mult-DAE (20 epochs)": MultDAE(n_epochs=20, random_state=0), "EASE": EASE(lam=500),
              "implicit ALS": ImplicitALS(n_factors=64, alpha=3, reg=30)}
    return [{"model": name, "metric": "NDCG@10", "value": float(evaluate_full_ranking(m.fit(train_x), test_x)["ndcg@10"])}
            for name, m in models.items()]


# ---------------------------------------------------------------- lesson 08 (content on ml-latest-small)
def _z_score(s):
    sd = s.std(axis=1, keepdims=True)
    return np.divide(s - s.mean(axis=1, keepdims=True), sd, out=np.zeros_like(s), where=sd > 0)


def _hybrid_class():
    from course_lib.models import Recommender
    from course_lib.models.base import estimate_known_pairs, pairs_from_scores

    class Hybrid(Recommender):
        """Lesson 08's blend: alpha * z(content scores) + (1 - alpha) * z(CF scores), per user."""
        _predicts_ratings = False

        def __init__(self, content=None, cf=None, alpha=0.5):
            self.content, self.cf, self.alpha = content, cf, alpha

        def _fit(self, data, validation=None):
            for part in (self.content, self.cf):
                assert np.array_equal(part.data_.item_ids, data.item_ids), "fit both parts on the same ratings"

        def _scores(self, users):
            ids = self.data_.user_ids[users]
            return (self.alpha * _z_score(self.content.score_items(ids))
                    + (1 - self.alpha) * _z_score(self.cf.score_items(ids)))

        def _estimate(self, u, i):
            return estimate_known_pairs(u, i, pairs_from_scores(self._scores))

    return Hybrid


_LATEST: dict = {}


def content(ml, seed: int) -> list[dict]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from course_lib.data import load_ml_latest_small, load_tags, tags_per_item
    from course_lib.evaluate import evaluate_full_ranking
    from course_lib.models import ImplicitALS
    from course_lib.models.content import ContentBased, item_documents

    if not _LATEST:
        _LATEST.update(latest=load_ml_latest_small(), tags=load_tags())
    latest, tags = _LATEST["latest"], _LATEST["tags"]

    def tags_without(held_out):
        pairs = pd.MultiIndex.from_frame(held_out[["user_id", "item_id"]])
        return tags[~pd.MultiIndex.from_frame(tags[["user_id", "item_id"]]).isin(pairs)]

    train_s, test_s = stratified_split(latest.ratings, 0.25, random_state=seed)
    films_all = latest.movies.merge(tags_per_item(tags), on="item_id", how="left")
    films_s = latest.movies.merge(tags_per_item(tags_without(test_s)), on="item_id", how="left")
    tagged = ("title", "genres", "tags")
    models = {"popularity": Popularity().fit(train_s),
              "content: title + genres": ContentBased().fit(train_s, items=films_s),
              "content: + all tags (leaky)": ContentBased(columns=tagged).fit(train_s, items=films_all),
              "content: + tags of training pairs": ContentBased(columns=tagged).fit(train_s, items=films_s),
              "ImplicitALS": ImplicitALS(random_state=0).fit(train_s)}
    rows = [{"model": name, "metric": "NDCG@10", "value": float(evaluate_full_ranking(m, test_s)["ndcg@10"])}
            for name, m in models.items()]
    # films nobody rated in training: content (title + genres) against 20 random orders
    new_films = np.setdiff1d(latest.movies.item_id, train_s.item_id)
    test_new = test_s[test_s.item_id.isin(new_films)]
    users_new = np.sort(test_new.user_id.unique())
    cb_tg = models["content: title + genres"]
    vectorizer = TfidfVectorizer(sublinear_tf=True).fit(item_documents(latest.movies).reindex(cb_tg.data_.item_ids))
    X_new = vectorizer.transform(item_documents(latest.movies).reindex(new_films))
    P_new = cb_tg.user_profiles_[cb_tg.data_.encode_users(users_new)]
    top_new = np.argsort(-(P_new @ X_new.T).toarray(), axis=1, kind="stable")[:, :10]
    relevant_new = {u: set(g) for u, g in test_new.groupby("user_id").item_id}
    recommended_new = {u: new_films[top_new[r]].tolist() for r, u in enumerate(users_new)}
    rng_new = np.random.default_rng(0)
    random_ndcg = [metrics.ndcg_at_k({u: rng_new.permutation(new_films)[:10].tolist() for u in users_new}, relevant_new, 10)
                   for _ in range(20)]
    rows += [{"model": "content: title + genres", "metric": "NDCG@10 on films new to training",
              "value": float(metrics.ndcg_at_k(recommended_new, relevant_new, 10))},
             {"model": "random order (mean of 20)", "metric": "NDCG@10 on films new to training",
              "value": float(np.mean(random_ndcg))}]
    # the hybrid, alpha chosen on validation carved from the training ratings
    hybrid = _hybrid_class()
    fit_v, val_v = stratified_split(train_s, 0.25, random_state=0)
    films_v = latest.movies.merge(tags_per_item(tags_without(pd.concat([val_v, test_s]))), on="item_id", how="left")
    cb_v = ContentBased(columns=tagged).fit(fit_v, items=films_v)
    als_v = ImplicitALS(random_state=0).fit(fit_v)
    ndcg_v = pd.Series({a: evaluate_full_ranking(hybrid(cb_v, als_v, a).fit(fit_v), val_v)["ndcg@10"]
                        for a in [0.0, 0.1, 0.2, 0.3, 0.5]})
    alpha = ndcg_v.round(4).idxmax()
    blend = hybrid(models["content: + tags of training pairs"], models["ImplicitALS"], alpha).fit(train_s)
    rows += [{"model": "hybrid (alpha on validation)", "metric": "NDCG@10",
              "value": float(evaluate_full_ranking(blend, test_s)["ndcg@10"])},
             {"model": "hybrid (alpha on validation)", "metric": "alpha", "value": float(alpha)}]
    return rows


def image_stand_in(ml, seed: int) -> list[dict]:
    """Lesson 08's stand-in 'image' vectors (genres through a random projection, plus noise) and its
    permutation importance, on the cold-start split of ``seed`` (42 is the lesson's)."""
    from course_lib import features
    from course_lib.coldstart import cold_start_split, evaluate_cold_start
    from course_lib.data import toy_movies
    from course_lib.models.torch_models import FeatureAware

    split = cold_start_split(ml.ratings, user_share=0.1, item_share=0.1, n_support=5, random_state=seed)
    if seed == 42:   # the lesson's generator: the same draws before the stand-in, so seed 42 is its vector
        rng = np.random.default_rng(0)
        _, genre_names = features.genre_multi_hot(toy_movies().genres)
        k = 3
        rng.normal(0, 0.5, (len(genre_names), k)), rng.normal(0, 0.5, (len(features.YEAR_BINS) + 2, k))
        rng.normal(0, 0.5, (2 * k, k)), rng.normal(0, 0.5, k), rng.normal(0, 0.5, (k, 4)), rng.normal(0, 0.5, 4)
    else:
        rng = np.random.default_rng(seed)
    genre_table, _ = features.genre_multi_hot(ml.movies.genres)
    projection = rng.normal(size=(genre_table.shape[1], 16))
    image_vectors = pd.DataFrame(genre_table @ projection + rng.normal(0, 1.0, (len(ml.movies), 16)),
                                 index=ml.movies.item_id)
    side = dict(users=ml.users, items=ml.movies)
    no_genres = ("user_id", "age", "gender", "occupation", "item_id", "year", "title")
    models = {"ID only": FeatureAware(features=("user_id", "item_id"), progress=False, random_state=0),
              "two-tower + attention (genres)": FeatureAware(fusion="attention", progress=False, random_state=0),
              "attention, image instead of genres (8 epochs)": FeatureAware(
                  features=no_genres + ("image",), fusion="attention", n_epochs=8, progress=False, random_state=0),
              "attention, neither genres nor image (8 epochs)": FeatureAware(
                  features=no_genres, fusion="attention", n_epochs=8, progress=False, random_state=0)}
    rows = []
    for name, model in models.items():
        model.fit(split.train, **side, **({"item_vectors": image_vectors} if "image instead" in name else {}))
        rows.append({"model": name, "metric": "cold-movie RMSE",
                     "value": float(evaluate_cold_start(model, split).loc["cold_items", "rmse"])})
        if "image instead" in name:
            rows.append({"model": name, "metric": "attention weight of the image",
                         "value": float(model.attention_weights("item")["image"])})
    two_tower = FeatureAware(architecture="two_tower", fusion="concat", text_encoder="bag", progress=False,
                             random_state=0).fit(split.train, **side)
    for feature, value in two_tower.permutation_importance(split.cold_items, random_state=0).items():
        rows.append({"model": "two-tower, permutation importance", "metric": f"RMSE increase, {feature}",
                     "value": float(value)})
    return rows


# ---------------------------------------------------------------- lesson 15 (the capstone's table, earlier windows)
def windows(ml, seed: int) -> list[dict]:
    """The capstone's protocol on a time window: seed 42 is the lesson's (the whole timeline), seed j the
    timeline without its last j x 10 % of ratings; in each, test = last 20 %, validation = the 10 % before."""
    from course_lib.compare import compare_models, temporal_protocol
    from course_lib.evaluate import evaluate_full_ranking
    from course_lib.models import BPRMF, ImplicitALS, ItemKNN
    from course_lib.models.torch_models import DotProduct, FeatureAware, NeuMF
    from course_lib.split import temporal_split

    ratings = ml.ratings if seed == 42 else temporal_split(ml.ratings, seed / 10)[0]
    train, validation, test = temporal_protocol(ratings, test_size=0.2, validation_size=0.1)
    ease_val = {lam: evaluate_full_ranking(EASE(lam=lam).fit(train), validation, 10)["ndcg@10"] for lam in (250, 500, 1000)}
    als_val = {reg: evaluate_full_ranking(ImplicitALS(n_factors=32, reg=reg).fit(train), validation, 10)["ndcg@10"]
               for reg in (10, 30, 100)}
    best_lam, best_reg = max(ease_val, key=ease_val.get), max(als_val, key=als_val.get)   # the lesson's idxmax
    common = dict(batch_size=2048, lr=3e-3, progress=False, random_state=0)
    models = {
        "popularity": Popularity(), "bias baseline": BaselineOnly(), "item-kNN": ItemKNN(k=400),
        "EASE": EASE(lam=best_lam), "implicit ALS": ImplicitALS(n_factors=32, reg=float(best_reg)),
        "biased MF": BiasedMF(random_state=0), "BPR-MF": BPRMF(random_state=0),
        "dot product": DotProduct(objective="bce", n_factors=64, weight_decay=0.0, n_epochs=6, **common),
        "NeuMF": NeuMF(n_factors=32, layers=(64, 32, 16), n_epochs=5, **common),
        "feature-aware": FeatureAware(features=("user_id", "age", "gender", "occupation", "item_id", "genres", "year"),
                                      objective="bce", n_negatives=2, n_epochs=3, **common)}
    table = compare_models(models, pd.concat([train, validation]), test, k=10, users=ml.users, items=ml.movies,
                           user_groups=True)
    known = test.user_id.isin(pd.concat([train, validation]).user_id)
    rows = [{"model": "test period", "metric": "known users", "value": float(test.user_id[known].nunique())},
            {"model": "test period", "metric": "first day (days since 1970)", "value": float(test.timestamp.min() // 86400)},
            {"model": "EASE", "metric": "lambda chosen", "value": float(best_lam)},
            {"model": "implicit ALS", "metric": "reg chosen", "value": float(best_reg)}]
    for name in table.index:
        for metric in ("ndcg@10 (known users)", "ndcg@10 (new users)", "coverage"):
            rows.append({"model": name, "metric": metric, "value": float(table.loc[name, metric])})
    return rows


# ---------------------------------------------------------------- lesson 16 (the FAQ's noise and overfitting answers)
def noise(ml, seed: int) -> list[dict]:
    train, test = random_split(ml.ratings, 0.2, random_state=seed)
    rng = np.random.default_rng(0 if seed == 42 else seed)       # 42 stands for the lesson's noise draw, seed 0
    u_draw, random_star = rng.random(len(train)), rng.integers(1, 6, len(train)).astype(float)
    rows = []
    for p in (0.0, 0.1, 0.2, 0.3, 0.4):
        noisy = train.assign(rating=np.where(u_draw < p, random_star, train.rating.to_numpy()))
        for name, model in (("bias baseline", BaselineOnly()), ("MF, lambda=0.02", BiasedMF(reg_all=0.02, random_state=0)),
                            ("MF, lambda=0.1", BiasedMF(reg_all=0.1, random_state=0))):
            rows.append({"model": name, "metric": f"test RMSE, p={p}", "value": _rmse(model.fit(noisy), test)})
    return rows


def overfit(ml, seed: int) -> list[dict]:
    from course_lib.models.torch_models import DotProduct

    train, test = random_split(ml.ratings, 0.2, random_state=seed)
    fit_part, val = random_split(train, 0.1, random_state=1)
    common = dict(n_factors=32, lr=5e-3, n_epochs=12, random_state=0, progress=False)
    regimes = {"no regularisation": DotProduct(weight_decay=0.0, early_stopping=False, **common),
               "weight decay 3e-4": DotProduct(weight_decay=3e-4, early_stopping=False, **common),
               "dropout 0.5": DotProduct(weight_decay=0.0, dropout=0.5, early_stopping=False, **common),
               "early stopping": DotProduct(weight_decay=0.0, n_iter_no_change=2, **common)}
    rows = []
    for name, m in regimes.items():
        h = m.fit(fit_part, validation=val).history_
        rows += [{"model": name, "metric": "best val RMSE", "value": float(np.sqrt(h.val_loss.min()))},
                 {"model": name, "metric": "test RMSE", "value": _rmse(m, test)}]
    return rows


# ---------------------------------------------------------------- lesson 03
def knn_k(ml, seed: int) -> list[dict]:
    train, _ = random_split(ml.ratings, 0.2, random_state=seed)
    fit_part, valid = random_split(train, 0.1, random_state=1)
    rows = []
    for side, user_based in (("user-based", True), ("item-based", False)):
        for k in (1, 2, 5, 10, 20, 40, 80, 160):
            rows.append({"model": f"KNNWithMeans {side}", "metric": f"val RMSE k={k}",
                         "value": _rmse(KNNWithMeans(k=k, user_based=user_based).fit(fit_part), valid)})
        curve = {int(r["metric"].split("=")[1]): r["value"] for r in rows[-8:]}
        best = min(curve, key=curve.get)
        rows += [{"model": f"KNNWithMeans {side}", "metric": "best k", "value": float(best)},
                 {"model": f"KNNWithMeans {side}", "metric": "val RMSE k=40 minus best", "value": curve[40] - curve[best]}]
    return rows


KNN_RULES = {"basic": lambda ub: KNNBasic(user_based=ub), "means": lambda ub: KNNWithMeans(user_based=ub),
             "baseline": lambda ub: KNNBaseline(sim="pearson_baseline", user_based=ub)}


def slope_one(ml, seed: int) -> list[dict]:
    train, test = random_split(ml.ratings, 0.2, random_state=seed)
    rows = [{"model": f"k-NN {rule}, {side}", "metric": "test RMSE", "value": _rmse(make(ub).fit(train), test)}
            for rule, make in KNN_RULES.items() for side, ub in (("user-based", True), ("item-based", False))]
    rows.append({"model": "Slope One", "metric": "test RMSE", "value": _rmse(SlopeOne().fit(train), test)})
    order = sorted(rows, key=lambda r: r["value"])
    rank = 1 + [r["model"] for r in order].index("Slope One")
    return rows + [{"model": "Slope One", "metric": "rank among the 7 (1 = best)", "value": float(rank)}]


# ---------------------------------------------------------------- lesson 04
def mf_models(ml, seed: int) -> list[dict]:
    train, test = random_split(ml.ratings, 0.2, random_state=seed)
    models = {"bias baseline": BaselineOnly(), "truncated SVD, k=20": PureSVD(n_factors=20),
              "biased MF, k=100 (SVD defaults)": BiasedMF(random_state=0),
              "biased MF, k=20, gamma=0.007": BiasedMF(n_factors=20, lr_all=0.007, random_state=0),
              "SVD++ (defaults)": SVDpp(random_state=0), "NMF (defaults)": NMF(random_state=0),
              "ALS, k=20, lambda=0.1": ALS(n_factors=20, n_epochs=10, reg=0.1, random_state=0)}
    return [{"model": name, "metric": "test RMSE", "value": _rmse(m.fit(train), test)} for name, m in models.items()]


def mf_curves(ml, seed: int) -> list[dict]:
    train, _ = random_split(ml.ratings, 0.2, random_state=seed)
    fit_part, val = random_split(train, 0.1, random_state=1)

    def best(k: int, lam: float) -> tuple[float, int]:
        h = BiasedMF(n_factors=k, n_epochs=40, lr_all=0.01, reg_all=lam, random_state=0, fast=True) \
            .fit(fit_part, validation=val).history_["val_rmse"]
        return float(h.min()), int(h.idxmin())

    rows = []
    for lam in (0.0, 0.02, 0.1):
        value, epoch = best(50, lam)
        rows += [{"model": f"k=50, lambda={lam}", "metric": "best val RMSE", "value": value},
                 {"model": f"k=50, lambda={lam}", "metric": "best epoch", "value": float(epoch)}]
    for lam in (0.02, 0.1):
        curve = {k: best(k, lam)[0] for k in (1, 5, 20, 50, 100)}
        rows += [{"model": f"lambda={lam}", "metric": f"best val RMSE k={k}", "value": v} for k, v in curve.items()]
        rows.append({"model": f"lambda={lam}", "metric": "best k", "value": float(min(curve, key=curve.get))})
    return rows


SECTIONS = {"02-groups": (groups, "lesson 02, cells 62-65: NDCG@10 by group, stratified 75/25 per user"),
            "02-classify": (classify, "lesson 02, cells 75-85: like = rating >= 4, predicted at score >= 3.5; random 80/20"),
            "02-beyond": (beyond, "lesson 02, cells 93-96: beyond accuracy, stratified 75/25 per user"),
            "03-k": (knn_k, "lesson 03, cells 49-54: KNNWithMeans (msd), validation RMSE by k"),
            "03-slope-one": (slope_one, "lesson 03, cells 56 and 80: test RMSE, random 80/20"),
            "04-models": (mf_models, "lesson 04, cells 43, 64, 73, 84: test RMSE, random 80/20"),
            "04-curves": (mf_curves, "lesson 04, cells 46-54: biased MF, best validation RMSE over 40 epochs"),
            "06-variants": (dot_variants, "lesson 06, cells 42-45: the dot product's ingredients, 12 epochs, random 90/10"),
            "06-dropout": (dot_dropout, "lessons 06 (cells 33-48) and 11 (cells 18-22): test RMSE, random 90/10"),
            "08-content": (content, "lesson 08, cells 78-106: content-based, tags and the hybrid on ml-latest-small, "
                           "stratified 75/25 per user"),
            "08-image": (image_stand_in, "lesson 08, cells 54-59: the stand-in image vector and the permutation "
                         "importance on cold movies, cold_start_split(random_state=seed)"),
            "15-windows": (windows, "lesson 15, cells 17-32: the ten-model table on earlier time windows "
                           "(42 = the lesson's; seed j drops the last j x 10 % of the timeline first)"),
            "16-noise": (noise, "lesson 16, cells 13-19: a share p of training ratings replaced by a random star "
                         "(the draw seeded by the split's seed; 42 = the lesson's draw, seed 0); random 80/20"),
            "16-overfit": (overfit, "lesson 16, cells 27-33: the dot product without regularisation, with weight decay "
                           "3e-4, dropout 0.5, early stopping; random 80/20"),
            "09-shuffle": (shuffled_histories, "lesson 09, cell 34: last-item baselines on shuffled histories; "
                           "leave-last-out has no seed, the seed is the shuffle's (42 = the lesson's shuffle seed 0)"),
            "11-autoencoders": (autoencoders, "lesson 11, cells 35-39: NDCG@10, stratified 75/25 per user")}
TORCH_SECTIONS = {"06-variants", "06-dropout", "08-image", "11-autoencoders", "15-windows", "16-overfit"}

#: the paired differences (a minus b, per seed) that the lessons' claims rest on: (section, metric a, model a, metric b, model b)
PAIRS = [
    ("02-groups", "NDCG@10 women", "Popularity", "NDCG@10 men", "Popularity"),
    ("02-groups", "NDCG@10 women", "biases, ALS", "NDCG@10 men", "biases, ALS"),
    ("02-groups", "NDCG@10 heavy users", "Popularity", "NDCG@10 light users", "Popularity"),
    ("02-classify", "F1", "always a like", "F1", "user's mean only"),
    ("02-classify", "F1", "biases", "F1", "always a like"),
    ("02-classify", "AUC (global)", "user's mean only", "AUC (global)", "always a like"),
    ("02-beyond", "ILD (genres)", "Popularity", "ILD (genres)", "biases, ALS"),
    ("02-beyond", "ILD (genres)", "Popularity", "ILD (genres)", "EASE"),
    ("02-beyond", "ILD (genres)", "EASE", "ILD (genres)", "biases, ALS"),
    ("02-beyond", "miscalibration", "EASE", "miscalibration", "Popularity"),
    ("02-beyond", "long-tail share", "biases, ALS", "long-tail share", "EASE"),
    ("03-slope-one", "test RMSE", "Slope One", "test RMSE", "k-NN means, user-based"),
    ("03-slope-one", "test RMSE", "Slope One", "test RMSE", "k-NN means, item-based"),
    ("03-slope-one", "test RMSE", "Slope One", "test RMSE", "k-NN basic, item-based"),
    ("04-models", "test RMSE", "biased MF, k=100 (SVD defaults)", "test RMSE", "bias baseline"),
    ("04-models", "test RMSE", "truncated SVD, k=20", "test RMSE", "bias baseline"),
    ("04-models", "test RMSE", "NMF (defaults)", "test RMSE", "biased MF, k=100 (SVD defaults)"),
    ("04-models", "test RMSE", "SVD++ (defaults)", "test RMSE", "biased MF, k=20, gamma=0.007"),
    ("04-models", "test RMSE", "biased MF, k=20, gamma=0.007", "test RMSE", "biased MF, k=100 (SVD defaults)"),
    ("04-models", "test RMSE", "ALS, k=20, lambda=0.1", "test RMSE", "SVD++ (defaults)"),
    ("04-curves", "best val RMSE", "k=50, lambda=0.1", "best val RMSE", "k=50, lambda=0.02"),
    ("04-curves", "best val RMSE", "k=50, lambda=0.02", "best val RMSE", "k=50, lambda=0.0"),
    ("04-curves", "best val RMSE k=100", "lambda=0.1", "best val RMSE k=1", "lambda=0.1"),
    ("04-curves", "best val RMSE k=100", "lambda=0.02", "best val RMSE k=1", "lambda=0.02"),
    ("06-variants", "best val RMSE", "biases, unbounded", "best val RMSE", "no biases, unbounded"),
    ("06-variants", "best val RMSE", "biases + range", "best val RMSE", "biases, unbounded"),
    ("06-variants", "best val RMSE", "biases + range + weight decay", "best val RMSE", "biases + range"),
    ("06-variants", "test RMSE, epoch 12", "biases + range", "test RMSE, epoch 12", "biases + range + weight decay"),
    ("06-dropout", "test RMSE", "dot product, weight decay 1e-4", "test RMSE", "bias baseline"),
    ("06-dropout", "test RMSE", "dot product, dropout 0.3", "test RMSE", "dot product, weight decay 1e-4"),
    ("06-dropout", "test RMSE", "AutoRec (lesson 11)", "test RMSE", "bias baseline"),
    ("06-dropout", "test RMSE", "AutoRec (lesson 11)", "test RMSE", "dot product, weight decay 1e-4"),
    ("08-content", "NDCG@10", "content: + tags of training pairs", "NDCG@10", "content: title + genres"),
    ("08-content", "NDCG@10", "content: + all tags (leaky)", "NDCG@10", "content: + tags of training pairs"),
    ("08-content", "NDCG@10", "popularity", "NDCG@10", "content: + tags of training pairs"),
    ("08-content", "NDCG@10 on films new to training", "content: title + genres", "NDCG@10 on films new to training",
     "random order (mean of 20)"),
    ("08-content", "NDCG@10", "hybrid (alpha on validation)", "NDCG@10", "ImplicitALS"),
    ("08-image", "cold-movie RMSE", "attention, image instead of genres (8 epochs)", "cold-movie RMSE",
     "attention, neither genres nor image (8 epochs)"),
    ("08-image", "cold-movie RMSE", "attention, image instead of genres (8 epochs)", "cold-movie RMSE", "ID only"),
    ("08-image", "cold-movie RMSE", "attention, image instead of genres (8 epochs)", "cold-movie RMSE",
     "two-tower + attention (genres)"),
    ("08-image", "RMSE increase, user_id", "two-tower, permutation importance", "RMSE increase, genres",
     "two-tower, permutation importance"),
    ("08-image", "RMSE increase, genres", "two-tower, permutation importance", "RMSE increase, year",
     "two-tower, permutation importance"),
    ("08-image", "RMSE increase, year", "two-tower, permutation importance", "RMSE increase, title",
     "two-tower, permutation importance"),
    ("15-windows", "ndcg@10 (known users)", "implicit ALS", "ndcg@10 (known users)", "BPR-MF"),
    ("15-windows", "ndcg@10 (known users)", "implicit ALS", "ndcg@10 (known users)", "EASE"),
    ("15-windows", "ndcg@10 (known users)", "implicit ALS", "ndcg@10 (known users)", "NeuMF"),
    ("15-windows", "ndcg@10 (known users)", "implicit ALS", "ndcg@10 (known users)", "item-kNN"),
    ("15-windows", "ndcg@10 (known users)", "popularity", "ndcg@10 (known users)", "bias baseline"),
    ("15-windows", "ndcg@10 (new users)", "feature-aware", "ndcg@10 (new users)", "popularity"),
    ("15-windows", "coverage", "implicit ALS", "coverage", "EASE"),
    ("16-noise", "test RMSE, p=0.0", "MF, lambda=0.02", "test RMSE, p=0.0", "MF, lambda=0.1"),
    ("16-noise", "test RMSE, p=0.1", "MF, lambda=0.02", "test RMSE, p=0.1", "MF, lambda=0.1"),
    ("16-noise", "test RMSE, p=0.2", "MF, lambda=0.02", "test RMSE, p=0.2", "MF, lambda=0.1"),
    ("16-noise", "test RMSE, p=0.4", "MF, lambda=0.02", "test RMSE, p=0.4", "MF, lambda=0.1"),
    ("16-overfit", "test RMSE", "weight decay 3e-4", "test RMSE", "dropout 0.5"),
    ("16-overfit", "test RMSE", "weight decay 3e-4", "test RMSE", "early stopping"),
    ("16-overfit", "test RMSE", "dropout 0.5", "test RMSE", "early stopping"),
    ("09-shuffle", "HR@10", "similar to last 1, shuffled", "HR@10", "similar to last 1, ordered"),
    ("09-shuffle", "HR@10", "similar to last 1, shuffled", "HR@10", "popularity"),
    ("09-shuffle", "HR@10", "similar to last 3, shuffled", "HR@10", "similar to last 3, ordered"),
    ("11-autoencoders", "NDCG@10", "Mult-DAE (20 epochs)", "NDCG@10", "EASE"),
    ("11-autoencoders", "NDCG@10", "Mult-VAE (40 epochs, T=200)", "NDCG@10", "EASE"),
    ("11-autoencoders", "NDCG@10", "Mult-DAE (20 epochs)", "NDCG@10", "Mult-VAE (40 epochs, T=200)"),
    ("11-autoencoders", "NDCG@10", "implicit ALS", "NDCG@10", "EASE"),
]


stats = benchlib.stats   # mean, std (ddof=1), min, max, n


def summarise(runs: list[dict]) -> dict:
    frame = pd.DataFrame(runs)
    out: dict = {"cells": {}, "pairs": []}
    for (section, model, metric), g in frame.groupby(["section", "model", "metric"], sort=False):
        out["cells"].setdefault(section, []).append({"model": model, "metric": metric, **stats(g.value)})
    for section, ma, a, mb, b in PAIRS:
        f = frame[frame.section == section]
        va = f[(f.model == a) & (f.metric == ma)].set_index("seed").value
        vb = f[(f.model == b) & (f.metric == mb)].set_index("seed").value
        d = (va - vb).dropna()
        if len(d):
            out["pairs"].append({"section": section, "a": f"{a}: {ma}", "b": f"{b}: {mb}", **stats(d),
                                 "same sign on every seed": bool((d > 0).all() or (d < 0).all()),
                                 "per seed": {int(s): float(x) for s, x in d.items()}})
    return out


def markdown(data: dict) -> str:
    lines = ["# bench_spreads.py results", "",
             f"MovieLens 100K. Each lesson's comparison re-run on split seeds {data['seeds']} (42 is the lesson's split); "
             "the models keep the lesson's own random_state, so what varies is the split. Mean ± std (ddof=1) over "
             "the seeds [min, max]. Command: `" + data["command"] + "`.", ""]
    for section, cells in data["summary"]["cells"].items():
        lines += [f"## {section}: {SECTIONS[section][1]}", "", "| model | metric | mean ± std [min, max] | seed 42 |",
                  "|---|---|---|---|"]
        seed42 = {(r["model"], r["metric"]): r["value"] for r in data["runs"] if r["section"] == section and r["seed"] == 42}
        for c in cells:
            v42 = seed42.get((c["model"], c["metric"]))
            lines.append(f"| {c['model']} | {c['metric']} | {c['mean']:.4f} ± {c['std']:.4f} [{c['min']:.4f}, {c['max']:.4f}] | "
                         + ("" if v42 is None else f"{v42:.4f}") + " |")
        pairs = [p for p in data["summary"]["pairs"] if p["section"] == section]
        if pairs:
            lines += ["", "Paired differences (a minus b on the same split):", "",
                      "| a | b | mean ± std [min, max] | same sign on every seed |", "|---|---|---|---|"]
            lines += [f"| {p['a']} | {p['b']} | {p['mean']:+.4f} ± {p['std']:.4f} [{p['min']:+.4f}, {p['max']:+.4f}] | "
                      f"{'yes' if p['same sign on every seed'] else 'no'} |" for p in pairs]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=benchlib.int_list, default=SEEDS)
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated among {', '.join(SECTIONS)}")
    args = parser.parse_args()
    sections = args.sections.split(",")
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose among {', '.join(SECTIONS)}")
    import course

    course.setup(seed=0, torch=bool(TORCH_SECTIONS & set(sections)))
    ml = load_movielens("ml-100k")
    res = benchlib.Results("spreads", benchlib.command_line(), dataset="ml-100k", seeds=args.seeds, sections=sections,
                           runs=[], summary={})
    for section in sections:
        fn = SECTIONS[section][0]
        for seed in args.seeds:
            start = time.process_time()
            rows = fn(ml, seed)
            cpu = time.process_time() - start
            res.data["runs"] += [{"section": section, "seed": seed, **r} for r in rows]
            print(f"  {section:<13} seed {seed:>2}  {len(rows):>3} rows  {cpu:6.1f} CPU s", flush=True)
            res.data["summary"] = summarise(res.data["runs"])
            res.save()
    res.finish()
    text = markdown(res.data)
    (res.path.with_suffix(".md")).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
