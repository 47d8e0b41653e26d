"""k-NN: the course's models next to Surprise's, on the same split, in one process.

    .venv/bin/python benchmarks/bench_neighbors.py           # ~1 min on 2 cores
    .venv/bin/python benchmarks/bench_neighbors.py --all     # every rule x similarity x user/item (~4 min)

MovieLens 100K, Surprise's ``train_test_split(test_size=0.2, random_state=42)`` (=
``course_lib.split.random_split(ratings, 0.2, random_state=42)``): 80,000 training ratings,
20,000 test ratings. For each configuration: seconds to fit and to predict the whole test set,
Surprise's and ours, the speed-up ratios, the largest absolute difference between the two
predictions over all 20,000 test pairs, and the RMSE.

Times are CPU seconds of this process (``time.process_time``; everything is single-threaded),
which the other jobs on a shared machine disturb less than wall-clock time. Ours is the best
of three runs after a warm-up (Numba compiles on first use); Surprise's is one run (it takes
seconds and varies little).
"""

from __future__ import annotations

import argparse
import os
import time

for _key, _value in {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}.items():
    os.environ.setdefault(_key, _value)

import numpy as np  # noqa: E402
from surprise import Dataset, Reader  # noqa: E402
from surprise import KNNBaseline as SKNNBaseline  # noqa: E402
from surprise import KNNBasic as SKNNBasic  # noqa: E402
from surprise import KNNWithMeans as SKNNWithMeans  # noqa: E402
from surprise.model_selection import train_test_split  # noqa: E402

from course_lib.data import load_movielens, toy_ratings  # noqa: E402
from course_lib.models.neighbors import KNNBaseline, KNNBasic, KNNWithMeans  # noqa: E402
from course_lib.split import random_split  # noqa: E402

PAIRS = {"KNNBasic": (SKNNBasic, KNNBasic), "KNNWithMeans": (SKNNWithMeans, KNNWithMeans),
         "KNNBaseline": (SKNNBaseline, KNNBaseline)}
DEFAULT = [("KNNWithMeans", "msd", True), ("KNNBasic", "msd", True), ("KNNBaseline", "pearson_baseline", True),
           ("KNNWithMeans", "pearson", False), ("KNNBaseline", "pearson_baseline", False)]
ALL = [(name, sim, ub) for name in PAIRS for sim in ("msd", "cosine", "pearson", "pearson_baseline")
       for ub in (True, False)]


def cpu(fn):
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


def best_of(fn, repeats=3):
    runs = [cpu(fn) for _ in range(repeats)]
    return runs[-1][0], min(t for _, t in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="every rule x similarity x user/item")
    args = parser.parse_args()

    ratings = load_movielens("ml-100k").ratings
    train, test = random_split(ratings, 0.2, random_state=42)
    data = Dataset.load_from_df(ratings[["user_id", "item_id", "rating"]], Reader(rating_scale=(1, 5)))
    trainset, testset = train_test_split(data, test_size=0.2, random_state=42)
    for _, ours_cls in PAIRS.values():  # warm-up: Numba compiles (or loads its cache) here
        for sim in ("msd", "pearson_baseline"):
            ours_cls(sim=sim).fit(toy_ratings()).test(toy_ratings())

    header = (f"{'model':<13}{'sim':<17}{'based':<6}{'fit S':>8}{'fit ours':>9}{'x':>6}{'pred S':>8}"
              f"{'pred ours':>10}{'x':>6}{'max|diff|':>11}{'RMSE':>8}")
    print(f"MovieLens 100K, 80/20 split (random_state=42): {len(train):,} train, {len(test):,} test ratings")
    print("CPU seconds; x = Surprise's time / ours\n")
    print(header)
    print("-" * len(header))
    for name, sim, ub in (ALL if args.all else DEFAULT):
        s_cls, o_cls = PAIRS[name]
        s_algo, s_fit = cpu(lambda: s_cls(sim_options={"name": sim, "user_based": ub}, verbose=False).fit(trainset))
        s_pred, s_test = cpu(lambda: s_algo.test(testset))
        model, o_fit = best_of(lambda: o_cls(sim=sim, user_based=ub).fit(train))
        o_pred, o_test = best_of(lambda: model.test(test))
        s_est = np.array([p.est for p in s_pred])
        diff = np.abs(o_pred["est"].to_numpy() - s_est).max()
        rmse = np.sqrt(np.mean((o_pred["est"].to_numpy() - test["rating"].to_numpy()) ** 2))
        print(f"{name:<13}{sim:<17}{'user' if ub else 'item':<6}{s_fit:>8.3f}{o_fit:>9.3f}{s_fit / o_fit:>6.1f}"
              f"{s_test:>8.3f}{o_test:>10.3f}{s_test / o_test:>6.1f}{diff:>11.1e}{rmse:>8.4f}")


if __name__ == "__main__":
    main()
