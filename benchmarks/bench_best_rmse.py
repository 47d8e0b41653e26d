"""The best rating accuracy the library reaches on MovieLens 100K: Bayesian MF (Gibbs) and a ridge blend.

    .venv/bin/python benchmarks/bench_best_rmse.py            # ~15 min on a loaded 2-core machine
    .venv/bin/python benchmarks/bench_best_rmse.py --folds 1  # fold 1 only

Protocol: Surprise's 5 folds (``course_lib.split.kfold(ratings, 5, random_state=0)`` =
``surprise.model_selection.KFold(5, random_state=0)``). Every choice is made on a validation split
carved from the fold's TRAINING part (``random_split(train, 0.1, random_state=1)``), never on the
test fold:

1. the rank of ``BayesianMF(implicit=True)`` (Bayesian SVD++) is chosen among ``K_GRID`` by its
   validation RMSE (fitted on the other 90 %);
2. the blend's members (``BayesianMF`` with that rank, ``BiasedMF`` tuned, ``KNNBaseline`` item- and
   user-based with the pearson-baseline similarity, ``SVDpp``) are fitted on the same 90 % and predict the
   validation ratings; a ridge regression (``RIDGE``, with an intercept) of the ratings on their
   predictions gives the blend's weights;
3. every member is refitted on the whole training part and the blend (clipped to [1, 5]) predicts
   the test fold with those weights.

Reported: the test RMSE of ``BayesianMF`` alone and of the blend, per fold and mean +- std over the
folds, with the CPU seconds (``time.process_time``) of the final ``BayesianMF`` fit and of the whole
fold (search and blend included); the load average beside them (the machine is shared).

How the settings were read off fold 1's validation carve (val RMSE; BiasedMF tuned: 0.9099 there):
plain ``BayesianMF`` k=10, 200 sweeps, burn-in 50: 0.9001 (400 sweeps: 0.9011; burn-in 100: 0.9032);
k=20 and 32, 500 sweeps, burn-in 100: 0.9014, 0.9010; ``implicit=True`` k=10, 200 / 400 sweeps,
burn-in 50: 0.8979 / 0.8990; k=20, 250 sweeps: 0.8978; k=32, 250 sweeps: 0.9015.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

benchlib.single_thread()

import numpy as np  # noqa: E402

from course_lib.data import load_movielens  # noqa: E402
from course_lib.models import BiasedMF, KNNBaseline, SVDpp  # noqa: E402
from course_lib.models.bayesian import BayesianMF  # noqa: E402
from course_lib.split import kfold, random_split  # noqa: E402

#: ranks tried for BayesianMF(implicit=True) on each fold's validation split; the sweeps and burn-in were
#: read off fold 1's validation curves (history_.val_rmse): flat from ~150 sweeps, burn-in 50 better than 100
K_GRID = (10, 20)
SWEEPS = dict(n_epochs=250, burn_in=50, implicit=True)
#: bench_factorization.py's TUNED (chosen on fold 1's validation carve)
TUNED_MF = dict(n_factors=100, n_epochs=94, lr_all=0.005, reg_all=0.08, reg_bu=0.02, reg_bi=0.02, init_std_dev=0.01,
                random_state=0, fast=True)
MEMBERS = {
    "BiasedMF tuned": lambda: BiasedMF(**TUNED_MF),
    "KNNBaseline item pearson_baseline": lambda: KNNBaseline(k=40, sim="pearson_baseline", user_based=False),
    "KNNBaseline user pearson_baseline": lambda: KNNBaseline(k=40, sim="pearson_baseline", user_based=True),
    "SVDpp": lambda: SVDpp(random_state=0, fast=True),
}
RIDGE = 1.0


def rmse(truth, est) -> float:
    return float(np.sqrt(np.mean((np.asarray(truth) - np.asarray(est)) ** 2)))


def ridge_weights(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Ridge with an unpenalised intercept: ``[b, w]`` minimising ``|y - b - X w|^2 + lam |w|^2``."""
    x_bar, y_bar = X.mean(axis=0), y.mean()
    Xc = X - x_bar
    w = np.linalg.solve(Xc.T @ Xc + lam * np.eye(X.shape[1]), Xc.T @ (y - y_bar))
    return np.concatenate([[y_bar - x_bar @ w], w])


def one_fold(n: int, train, test) -> dict:
    fit_part, val = random_split(train, 0.1, random_state=1)
    with benchlib.Timer() as whole:
        search = {}
        for k in K_GRID:
            est = BayesianMF(n_factors=k, **SWEEPS).fit(fit_part).test(val).est.to_numpy()
            search[k] = (rmse(val.rating, est), est)
        k_best = min(search, key=lambda k: search[k][0])
        val_preds = {"BayesianMF": search[k_best][1]}
        val_rmse = {f"BayesianMF k={k}": v[0] for k, v in search.items()}
        for name, make in MEMBERS.items():
            val_preds[name] = make().fit(fit_part).test(val).est.to_numpy()
            val_rmse[name] = rmse(val.rating, val_preds[name])
        names = list(val_preds)
        coef = ridge_weights(np.column_stack([val_preds[m] for m in names]), val.rating.to_numpy(), RIDGE)
        test_preds = {}
        with benchlib.Timer() as bpmf_fit:
            final = BayesianMF(n_factors=k_best, **SWEEPS).fit(train)
        test_preds["BayesianMF"] = final.test(test).est.to_numpy()
        for name, make in MEMBERS.items():
            test_preds[name] = make().fit(train).test(test).est.to_numpy()
        blend = np.clip(coef[0] + np.column_stack([test_preds[m] for m in names]) @ coef[1:], 1, 5)
    row = {"fold": n, "k": k_best, "val_rmse": val_rmse, "weights": dict(zip(["intercept", *names], coef.tolist())),
           "test_rmse": {**{m: rmse(test.rating, p) for m, p in test_preds.items()}, "blend": rmse(test.rating, blend)},
           "bayesian_fit_cpu_s": bpmf_fit.cpu, "fold_cpu_s": whole.cpu, "load_average": benchlib.load_average()}
    print(f"fold {n}: k={k_best} BayesianMF {row['test_rmse']['BayesianMF']:.4f} blend {row['test_rmse']['blend']:.4f} "
          f"(BayesianMF fit {bpmf_fit.cpu:.1f} s CPU, fold {whole.cpu:.1f} s CPU, load {row['load_average']})", flush=True)
    return row


def report(res: benchlib.Results) -> str:
    rows = res.data["folds"]
    models = list(rows[0]["test_rmse"])
    lines = [f"# Best rating accuracy on MovieLens 100K (`{res.data['command']}`)", "",
             f"Started {res.data['started']}, finished {res.data['finished']}; load average (1, 5, 15 min) at the "
             f"start {res.data['load_average']['start']}, at the end {res.data['load_average']['end']}.",
             f"Machine: {res.data['machine']['cpu']}, {res.data['machine']['cores']} logical cores; threads "
             f"{res.data['machine']['threads']}.", "", res.data["protocol"], "",
             "| model | " + " | ".join(f"fold {r['fold']}" for r in rows) + " | mean | std |",
             "| --- |" + " --- |" * (len(rows) + 2)]
    for m in models:
        v = np.array([r["test_rmse"][m] for r in rows])
        lines.append(f"| {m} | " + " | ".join(f"{x:.4f}" for x in v) + f" | {v.mean():.4f} | {v.std():.4f} |")
    for key, label in (("bayesian_fit_cpu_s", "BayesianMF final fit, CPU s"), ("fold_cpu_s", "whole fold, CPU s")):
        v = np.array([r[key] for r in rows])
        lines.append(f"| {label} | " + " | ".join(f"{x:.1f}" for x in v) + f" | {v.mean():.1f} | |")
    lines += ["", "Per fold: the rank chosen, the validation RMSE of every candidate (fitted on 90 % of the training "
              "part) and the blend's weights.", ""]
    for r in rows:
        lines.append(f"* fold {r['fold']}: k = {r['k']}; validation RMSE "
                     + ", ".join(f"{m} {v:.4f}" for m, v in r["val_rmse"].items())
                     + "; weights " + ", ".join(f"{m} {v:+.3f}" for m, v in r["weights"].items()))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5, help="how many of the 5 folds to run")
    args = parser.parse_args()
    ratings = load_movielens("ml-100k").ratings
    protocol = (f"Protocol: kfold(ratings, 5, random_state=0) (= Surprise's KFold); per fold, choices made on "
                f"random_split(train, 0.1, random_state=1) only. BayesianMF {SWEEPS}, rank from {list(K_GRID)}; "
                f"blend = ridge (lambda {RIDGE}, intercept) on the validation predictions of BayesianMF, "
                f"{', '.join(MEMBERS)}; members refitted on the whole training part. RMSE on the test fold.")
    res = benchlib.Results("best_rmse", benchlib.command_line(), dataset="ml-100k", protocol=protocol, folds=[])
    BayesianMF(n_factors=2, n_epochs=2, burn_in=1).fit(ratings.head(200))  # compile once, outside the timings
    SVDpp(n_factors=2, n_epochs=1, fast=True).fit(ratings.head(200))
    for n, (train, test) in enumerate(kfold(ratings, 5, random_state=0), start=1):
        if n > args.folds:
            break
        res.data["folds"].append(one_fold(n, train, test))
        res.save()
    res.finish()
    text = report(res)
    (benchlib.RESULTS / "best_rmse.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
