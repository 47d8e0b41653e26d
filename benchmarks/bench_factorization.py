"""Matrix factorisation, the course's models next to Surprise's, measured in one process.

    .venv/bin/python benchmarks/bench_factorization.py            # ~3-4 min on 2 cores
    .venv/bin/python benchmarks/bench_factorization.py --svdpp    # also SVD++, Surprise's and the course's (+2 min)
    .venv/bin/python benchmarks/bench_factorization.py --tune     # re-run the search behind TUNED (~3 min)
    .venv/bin/python benchmarks/bench_factorization.py --epochs-only --json   # part 2 -> results/epochs.json

Part 1: 5-fold cross-validation on MovieLens 100K with Surprise's folds (``KFold(5, random_state=0)``
= ``course_lib.split.kfold(ratings, 5, random_state=0)``): RMSE, MAE, fit and predict seconds per
fold. "same bits" says whether every prediction equals Surprise's exactly.

Part 2: one SGD epoch on the 80,000 training ratings of the 80/20 split with 100 factors:
Surprise's Cython, the course's exact Numba loop and its fastmath loop, in CPU time of the
thread (``time.thread_time``), interleaved, best and median of several epochs: on a shared
machine the best CPU time is the honest estimate of the code's speed. Part 1's times are wall
clock, so they grow with the machine's load.

The tuned configuration was chosen on a validation split carved from the first fold's training
ratings (``random_split(train, 0.1, random_state=1)``), never on a test fold; see TUNED and
``--tune``. Earlier, coarser rounds (n_factors 100/200, lr 0.005-0.01, reg 0.05-0.16, shuffled or
not) showed that reg ~0.08-0.1, lr 0.005 and a small initialisation (0.01) matter most; the
number of epochs is the one with the best validation RMSE.
"""

from __future__ import annotations

import argparse
import os
import time

for _key, _value in {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}.items():
    os.environ.setdefault(_key, _value)

import numpy as np  # noqa: E402
from surprise import NMF as SurpriseNMF  # noqa: E402
from surprise import SVD as SurpriseSVD  # noqa: E402
from surprise import SVDpp as SurpriseSVDpp  # noqa: E402
from surprise import Dataset, Reader  # noqa: E402
from surprise.model_selection import KFold, train_test_split  # noqa: E402

from course_lib.data import load_movielens  # noqa: E402
from course_lib.interactions import Interactions  # noqa: E402
from course_lib.models import SVDpp  # noqa: E402
from course_lib.models.factorization import ALS, NMF, BiasedMF, PureSVD, _sgd_epoch_exact, _sgd_epoch_fast  # noqa: E402
from course_lib.split import kfold, random_split  # noqa: E402

#: chosen on a validation split of fold 1's training ratings (see the module docstring)
TUNED = dict(n_factors=100, n_epochs=94, lr_all=0.005, reg_all=0.08, reg_bu=0.02, reg_bi=0.02, init_std_dev=0.01,
             random_state=0, fast=True)


def _rmse_mae(truth, est):
    err = np.asarray(truth) - np.asarray(est)
    return float(np.sqrt(np.mean(err ** 2))), float(np.mean(np.abs(err)))


def cross_validate(ratings, svdpp: bool) -> list[tuple]:
    data = Dataset.load_from_df(ratings[["user_id", "item_id", "rating"]], Reader(rating_scale=(1, 5)))
    s_folds = list(KFold(n_splits=5, random_state=0).split(data))
    c_folds = list(kfold(ratings, 5, random_state=0))
    surprise_models = {"SVD": lambda: SurpriseSVD(random_state=0), "NMF": lambda: SurpriseNMF(random_state=0)}
    if svdpp:
        surprise_models["SVD++"] = lambda: SurpriseSVDpp(random_state=0)
    course_models = {
        "BiasedMF (= SVD)": (lambda: BiasedMF(random_state=0), "SVD"),
        "BiasedMF fast": (lambda: BiasedMF(random_state=0, fast=True), "SVD"),
        "NMF (= NMF)": (lambda: NMF(random_state=0), "NMF"),
        "BiasedMF tuned": (lambda: BiasedMF(**TUNED), None),
        "ALS (k=20, reg=0.1)": (lambda: ALS(random_state=0), None),
        "PureSVD (k=20)": (lambda: PureSVD(20), None),
    }
    if svdpp:  # the ratio of the fit times (best of 3, same run) is measured by bench_surprise.py
        course_models["SVDpp (= SVD++)"] = (lambda: SVDpp(random_state=0), "SVD++")
        course_models["SVDpp fast"] = (lambda: SVDpp(random_state=0, fast=True), None)
    BiasedMF(n_factors=2, n_epochs=1).fit(c_folds[0][0].head(100))  # load the compiled loops once
    SVDpp(n_factors=2, n_epochs=1).fit(c_folds[0][0].head(100))
    SVDpp(n_factors=2, n_epochs=1, fast=True).fit(c_folds[0][0].head(100))
    results, s_est = {}, {}
    for name, make in surprise_models.items():
        rows = []
        for trainset, testset in s_folds:
            t0 = time.perf_counter(); algo = make().fit(trainset); t1 = time.perf_counter()
            preds = algo.test(testset); t2 = time.perf_counter()
            est = np.array([p.est for p in preds])
            s_est.setdefault(name, []).append(est)
            rows.append((*_rmse_mae([p.r_ui for p in preds], est), t1 - t0, t2 - t1))
        results[f"Surprise {name}"] = (np.mean(rows, axis=0), "")
        print(f"  done Surprise {name}", flush=True)
    for name, (make, ref) in course_models.items():
        rows, same = [], True
        for f, (train, test) in enumerate(c_folds):
            t0 = time.perf_counter(); model = make().fit(train); t1 = time.perf_counter()
            est = model.test(test)["est"].to_numpy(); t2 = time.perf_counter()
            if ref is not None:
                same &= bool(np.array_equal(est, s_est[ref][f]))
            rows.append((*_rmse_mae(test["rating"], est), t1 - t0, t2 - t1))
        results[name] = (np.mean(rows, axis=0), "" if ref is None else ("yes" if same else "no"))
        print(f"  done {name}", flush=True)
    return results


def epoch_times(ratings, repeats: int = 3, epochs: int = 20) -> dict:
    train, test = random_split(ratings, 0.2, random_state=42)
    data = Dataset.load_from_df(ratings[["user_id", "item_id", "rating"]], Reader(rating_scale=(1, 5)))
    trainset, _ = train_test_split(data, test_size=0.2, random_state=42)
    d = Interactions.from_ratings(train)
    order = d.user_major_order()
    us, is_, rs = d.u[order], d.i[order], d.r[order]
    times = {"Surprise SVD (Cython)": [], "course exact (Numba)": [], "course fast (Numba fastmath)": []}
    for _ in range(repeats):  # interleaved, so that load from other processes hits all three alike
        t0 = time.thread_time(); SurpriseSVD(n_epochs=epochs, random_state=0).fit(trainset)
        times["Surprise SVD (Cython)"].append((time.thread_time() - t0) / epochs)
        for name, loop in (("course exact (Numba)", _sgd_epoch_exact), ("course fast (Numba fastmath)", _sgd_epoch_fast)):
            rng = np.random.RandomState(0)
            P, Q = rng.normal(0, 0.1, (d.n_users, 100)), rng.normal(0, 0.1, (d.n_items, 100))
            b_u, b_i = np.zeros(d.n_users), np.zeros(d.n_items)
            for _ in range(epochs):
                t0 = time.thread_time()
                loop(us, is_, rs, d.global_mean, b_u, b_i, P, Q, .005, .005, .005, .005, .02, .02, .02, .02, True)
                times[name].append(time.thread_time() - t0)
    exact = BiasedMF(random_state=0).fit(train).test(test)["est"].to_numpy()
    fast = BiasedMF(random_state=0, fast=True).fit(train).test(test)["est"].to_numpy()
    rmse_exact, rmse_fast = _rmse_mae(test["rating"], exact)[0], _rmse_mae(test["rating"], fast)[0]
    return times, rmse_exact, rmse_fast


TUNE_GRID = [  # (n_factors, reg_all, init_std_dev, reg_bu = reg_bi, lr_all)
    (100, 0.1, 0.01, 0.02, 0.005), (100, 0.08, 0.01, 0.02, 0.005), (100, 0.08, 0.03, 0.02, 0.005),
    (200, 0.1, 0.01, 0.02, 0.005), (200, 0.08, 0.01, 0.02, 0.005), (100, 0.1, 0.01, 0.005, 0.005),
    (100, 0.06, 0.01, 0.02, 0.005), (50, 0.08, 0.01, 0.02, 0.005), (100, 0.1, 0.01, 0.02, 0.007)]


def tune(ratings) -> None:
    """The last round of the search: validation RMSE per configuration, best epoch of 150."""
    train, _ = next(kfold(ratings, 5, random_state=0))
    fit_part, val = random_split(train, 0.1, random_state=1)
    print("| n_factors | reg_all | init_std_dev | reg_bu=reg_bi | lr_all | best epoch | val RMSE |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for k, reg, std, reg_b, lr in TUNE_GRID:
        h = BiasedMF(n_factors=k, n_epochs=150, lr_all=lr, reg_all=reg, init_std_dev=std, reg_bu=reg_b, reg_bi=reg_b,
                     random_state=0, fast=True).fit(fit_part, validation=val).history_
        best = h["val_rmse"].idxmin()
        print(f"| {k} | {reg} | {std} | {reg_b} | {lr} | {int(h['epoch'][best])} | {h['val_rmse'][best]:.5f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svdpp", action="store_true", help="also cross-validate Surprise's SVD++ (slow)")
    parser.add_argument("--epochs-only", action="store_true", help="only part 2 (epoch times)")
    parser.add_argument("--tune", action="store_true", help="re-run the hyperparameter search behind TUNED, then stop")
    parser.add_argument("--json", action="store_true", help="also write part 2 to benchmarks/results/epochs.json")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds of 20 epochs in part 2")
    args = parser.parse_args()
    ratings = load_movielens("ml-100k").ratings
    if args.tune:
        tune(ratings)
        return
    if not args.epochs_only:
        print("MovieLens 100K, 5-fold CV (Surprise's KFold(5, random_state=0)); seconds per fold")
        results = cross_validate(ratings, args.svdpp)
        print("\n| model | RMSE | MAE | fit s | predict s | same bits as Surprise |\n| --- | --- | --- | --- | --- | --- |")
        for name, ((rmse, mae, fit_s, pred_s), same) in results.items():
            print(f"| {name} | {rmse:.4f} | {mae:.4f} | {fit_s:.2f} | {pred_s:.3f} | {same} |")
        print(f"\nTUNED = {TUNED}")
    if args.json:
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import benchlib

        res = benchlib.Results("epochs", benchlib.command_line(), dataset="ml-100k",
                               protocol="one SGD epoch over the 80,000 training ratings of random_split(0.2, "
                                        "random_state=42), 100 factors; CPU ms of the thread (time.thread_time)")
    times, rmse_exact, rmse_fast = epoch_times(ratings, repeats=args.repeats)
    if args.json:
        res.data["epoch_ms"] = {name: {"best": 1e3 * min(ts), "median": 1e3 * float(np.median(ts)), "n": len(ts)}
                                for name, ts in times.items()}
        res.data["rmse_exact"], res.data["rmse_fast"] = rmse_exact, rmse_fast
        res.finish()
    print("\nOne SGD epoch, 80,000 ratings, 100 factors (CPU ms of this thread; best and median)")
    print("| loop | best ms | median ms |\n| --- | --- | --- |")
    for name, ts in times.items():
        print(f"| {name} | {1e3 * min(ts):.1f} | {1e3 * float(np.median(ts)):.1f} |")
    print(f"\n80/20 split, 20 epochs: RMSE exact {rmse_exact:.10f}, fast {rmse_fast:.10f}, "
          f"difference {abs(rmse_exact - rmse_fast):.1e}")


if __name__ == "__main__":
    main()
