"""Rating prediction: every course_lib rating model next to every Surprise algorithm, 5-fold CV, one process.

    .venv/bin/python benchmarks/bench_surprise.py                    # 5 folds, SVD++ on all 5 (~15 min on 2 cores)
    .venv/bin/python benchmarks/bench_surprise.py --folds 2 --svdpp-folds 0 --no-neural   # quick (~3 min)

Writes ``benchmarks/results/surprise.json`` (rewritten after every fold) and ``surprise.md`` (the table).

Protocol: Surprise's own. MovieLens 100K, ``surprise.model_selection.KFold(n_splits=5,
random_state=0)``; the course side uses ``course_lib.split.kfold(ratings, 5, random_state=0)``,
which yields the same test rows in the same order (checked here, fold by fold: "folds identical").
Default parameters on both sides; ``random_state=0`` for the models that draw random numbers (so
that Surprise's SVD is reproducible and can be compared bit for bit). For each model: RMSE and MAE
(mean over folds), fit and predict seconds per fold (CPU seconds of this process,
``time.process_time``, which other jobs on a shared machine disturb less than wall-clock time; the
wall-clock times are in the JSON), and for each course model with a Surprise twin, the time ratios
(Surprise / course) and the largest absolute difference between the two predictions over all test
rows of all folds ("same bits" = the difference is exactly 0).

Models are interleaved fold by fold (fold 1: every model, fold 2: every model ...), so a burst of
load from another process hits all of them alike. Numba-compiled course models are warmed up on a
toy table first (compilation is loaded from the cache, not timed).

Twins: BaselineOnly = BaselineOnly; KNNBasic/KNNWithMeans/KNNBaseline = the same; BiasedMF =
SVD (bit for bit; ``fast=True`` differs in the last bits); FunkSVD = SVD(biased=False); NMF = NMF;
SVDpp = SVD++ (bit for bit; ``fast=True``, O(k|R|) per epoch, differs in the last bits); SlopeOne
= SlopeOne; CoClustering = CoClustering. GlobalMean has no twin: NormalPredictor draws a random
rating from N(mu, sigma) fitted to the training ratings, GlobalMean predicts mu (it is the better
predictor of the two). course_lib has no KNNWithZScore; ALS, PureSVD and the PyTorch/Keras
dot-product models have no Surprise twin. One non-default row is added, "BiasedMF tuned"
(bench_factorization.py's TUNED, chosen on a validation split of fold 1's training ratings, never on
a test fold), because the best default model does not reach RMSE 0.905.

SVD++ fit speed (``--speed-repeats``, default 3): on fold 1 only, Surprise's ``SVDpp(random_state=0)``
and the course's ``SVDpp(random_state=0)`` are fitted ``--speed-repeats`` times each, interleaved
(Surprise, course, Surprise, course ...); the ratio is Surprise's best CPU time over the course's best
(the best of a few is the honest estimate of a code's speed on a shared machine), with the medians
and the load average beside it; the learned arrays are checked equal bit for bit. Skipped with
``--svdpp-folds 0`` (no Surprise SVD++ at all) or ``--speed-repeats 0``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

benchlib.single_thread()

import numpy as np  # noqa: E402
import surprise  # noqa: E402
from surprise import Dataset, Reader  # noqa: E402
from surprise.model_selection import KFold  # noqa: E402

from course_lib.data import load_movielens, toy_ratings  # noqa: E402
from course_lib.models import (  # noqa: E402
    ALS, NMF, BaselineOnly, BiasedMF, CoClustering, FunkSVD, GlobalMean, KNNBaseline, KNNBasic, KNNWithMeans, PureSVD,
    SlopeOne, SVDpp)
from course_lib.split import kfold  # noqa: E402

SURPRISE = {
    "NormalPredictor": lambda: surprise.NormalPredictor(),
    "BaselineOnly": lambda: surprise.BaselineOnly(verbose=False),
    "KNNBasic": lambda: surprise.KNNBasic(verbose=False),
    "KNNWithMeans": lambda: surprise.KNNWithMeans(verbose=False),
    "KNNBaseline": lambda: surprise.KNNBaseline(verbose=False),
    "SVD": lambda: surprise.SVD(random_state=0),
    "SVD(biased=False)": lambda: surprise.SVD(biased=False, random_state=0),
    "SVD++": lambda: surprise.SVDpp(random_state=0),
    "NMF": lambda: surprise.NMF(random_state=0),
    "SlopeOne": lambda: surprise.SlopeOne(),
    "CoClustering": lambda: surprise.CoClustering(random_state=0),
}

#: course model -> (factory, Surprise twin or None, note)
COURSE = {
    "GlobalMean": (GlobalMean, None, "no twin (NormalPredictor samples N(mu, sigma); GlobalMean predicts mu)"),
    "BaselineOnly": (BaselineOnly, "BaselineOnly", ""),
    "KNNBasic": (KNNBasic, "KNNBasic", ""),
    "KNNWithMeans": (KNNWithMeans, "KNNWithMeans", ""),
    "KNNBaseline": (KNNBaseline, "KNNBaseline", ""),
    "BiasedMF": (lambda: BiasedMF(random_state=0), "SVD", ""),
    "BiasedMF(fast=True)": (lambda: BiasedMF(random_state=0, fast=True), "SVD", "fastmath: reordered sums"),
    "FunkSVD": (lambda: FunkSVD(random_state=0), "SVD(biased=False)", ""),
    "NMF": (lambda: NMF(random_state=0), "NMF", ""),
    "SVDpp": (lambda: SVDpp(random_state=0), "SVD++", ""),
    "SVDpp(fast=True)": (lambda: SVDpp(random_state=0, fast=True), "SVD++", "O(k|R|) epochs, fastmath: other rounding"),
    "SlopeOne": (SlopeOne, "SlopeOne", ""),
    "CoClustering": (lambda: CoClustering(random_state=0), "CoClustering", ""),
    "ALS": (lambda: ALS(random_state=0), None, "no twin"),
    "PureSVD": (PureSVD, None, "no twin"),
}


def tuned_biased_mf() -> tuple:
    """bench_factorization.py's TUNED BiasedMF (chosen on a validation split of fold 1's training part)."""
    from bench_factorization import TUNED

    return (lambda: BiasedMF(**TUNED), None, "no twin; hyperparameters tuned in bench_factorization.py (TUNED)")


def neural_models() -> dict:
    from course_lib.models.keras_models import DotProduct as KerasDotProduct
    from course_lib.models.torch_models import DotProduct

    return {"DotProduct (PyTorch)": (lambda: DotProduct(progress=False, random_state=0), None, "no twin"),
            "DotProduct (Keras)": (lambda: KerasDotProduct(random_state=0), None, "no twin")}


def rmse_mae(truth, est) -> tuple[float, float]:
    err = np.asarray(truth, float) - np.asarray(est, float)
    return float(np.sqrt(np.mean(err ** 2))), float(np.mean(np.abs(err)))


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - w


def summarise(rows: list[dict]) -> dict:
    keys = ("rmse", "mae", "fit_cpu_s", "predict_cpu_s", "fit_wall_s", "predict_wall_s")
    out = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    out.update({f"{k}_std": float(np.std([r[k] for r in rows])) for k in ("rmse", "mae")})
    out["folds"] = len(rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5, help="how many of the 5 folds to run (default all)")
    parser.add_argument("--svdpp-folds", type=int, default=5, help="folds for Surprise's slow SVD++ (0: skip)")
    parser.add_argument("--no-neural", action="store_true", help="leave out the PyTorch/Keras dot products")
    parser.add_argument("--speed-repeats", type=int, default=3,
                        help="SVD++ fits on fold 1 for the speed ratio, each side (default 3; "
                             "0 or --svdpp-folds 0: skip)")
    args = parser.parse_args()

    import course

    course.setup(seed=0, torch=not args.no_neural, tensorflow=not args.no_neural)
    course = dict(COURSE)
    course["BiasedMF tuned"] = tuned_biased_mf()
    if not args.no_neural:
        course.update(neural_models())
    ratings = load_movielens("ml-100k").ratings
    data = Dataset.load_from_df(ratings[["user_id", "item_id", "rating"]], Reader(rating_scale=(1, 5)))
    s_folds = list(KFold(n_splits=5, random_state=0).split(data))[:args.folds]
    c_folds = list(kfold(ratings, 5, random_state=0))[:args.folds]
    same_folds = all(
        [(uid, iid) for uid, iid, _ in testset] == list(zip(test["user_id"], test["item_id"]))
        for (_, testset), (_, test) in zip(s_folds, c_folds))
    for name, (make, _, _) in course.items():  # warm-up: Numba loads its compiled loops here
        if "DotProduct" not in name and name != "PureSVD":
            make().fit(toy_ratings()).test(toy_ratings())

    res = benchlib.Results("surprise", benchlib.command_line(), dataset="ml-100k",
                           protocol="surprise.model_selection.KFold(n_splits=5, random_state=0); default parameters",
                           folds_run=len(c_folds), svdpp_folds=min(args.svdpp_folds, len(c_folds)),
                           folds_identical=bool(same_folds), surprise={}, course={}, per_fold={})
    print(f"MovieLens 100K, {len(c_folds)} of Surprise's 5 folds; course folds identical to Surprise's: {same_folds}",
          flush=True)
    s_rows = {name: [] for name in SURPRISE}
    c_rows = {name: [] for name in course}
    max_diff = {name: 0.0 for name in course}
    for f, ((trainset, testset), (train, test)) in enumerate(zip(s_folds, c_folds)):
        s_est = {}
        truth = np.array([r for _, _, r in testset])
        for name, make in SURPRISE.items():
            if name == "SVD++" and f >= args.svdpp_folds:
                continue
            algo, fit_c, fit_w = timed(lambda: make().fit(trainset))
            preds, pred_c, pred_w = timed(lambda: algo.test(testset))
            est = np.array([p.est for p in preds])
            s_est[name] = est
            s_rows[name].append({"fold": f + 1, **dict(zip(("rmse", "mae"), rmse_mae(truth, est))),
                                 "fit_cpu_s": fit_c, "predict_cpu_s": pred_c, "fit_wall_s": fit_w,
                                 "predict_wall_s": pred_w, "load_average": benchlib.load_average()})
            print(f"  fold {f + 1} Surprise {name:<20} RMSE {s_rows[name][-1]['rmse']:.4f}  fit {fit_c:6.2f} s  "
                  f"predict {pred_c:6.2f} s", flush=True)
        for name, (make, twin, _) in course.items():
            model, fit_c, fit_w = timed(lambda: make().fit(train))
            out, pred_c, pred_w = timed(lambda: model.test(test))
            est = out["est"].to_numpy()
            if twin in s_est:  # Surprise's SVD++ may have run on fewer folds
                max_diff[name] = max(max_diff[name], float(np.max(np.abs(est - s_est[twin]))))
            c_rows[name].append({"fold": f + 1, **dict(zip(("rmse", "mae"), rmse_mae(test["rating"], est))),
                                 "fit_cpu_s": fit_c, "predict_cpu_s": pred_c, "fit_wall_s": fit_w,
                                 "predict_wall_s": pred_w, "load_average": benchlib.load_average()})
            print(f"  fold {f + 1} course   {name:<20} RMSE {c_rows[name][-1]['rmse']:.4f}  fit {fit_c:6.2f} s  "
                  f"predict {pred_c:6.2f} s", flush=True)
        # write what we have after every fold
        res.data["surprise"] = {n: summarise(r) for n, r in s_rows.items() if r}
        res.data["course"] = {}
        for name, (make, twin, note) in course.items():
            entry = summarise(c_rows[name])
            entry.update(twin=twin, note=note)
            if twin is not None and twin in res.data["surprise"]:
                s = res.data["surprise"][twin]
                # the ratios and differences over the folds the twin ran on
                ran = {r["fold"] for r in s_rows[twin]}
                same_folds_entry = summarise([r for r in c_rows[name] if r["fold"] in ran])
                entry["max_abs_diff"] = max_diff[name]
                entry["same_bits"] = max_diff[name] == 0.0
                entry["fit_speedup"] = s["fit_cpu_s"] / same_folds_entry["fit_cpu_s"]
                entry["predict_speedup"] = s["predict_cpu_s"] / same_folds_entry["predict_cpu_s"]
            res.data["course"][name] = entry
        res.data["per_fold"] = {"surprise": s_rows, "course": c_rows}
        res.save()
    if args.speed_repeats > 0 and args.svdpp_folds > 0:
        res.data["svdpp_speed"] = svdpp_speed(s_folds[0][0], c_folds[0][0], args.speed_repeats)
        res.save()
    res.finish()
    (benchlib.RESULTS / "surprise.md").write_text(report(res.data))
    print(report(res.data))


def svdpp_speed(trainset, train, repeats: int) -> dict:
    """Surprise's and the course's SVD++ fitted ``repeats`` times each on the same fold, interleaved:
    CPU seconds (best, median, all), the ratio of the best times, and whether the learned arrays are equal."""
    times = {"surprise": [], "course": []}
    loads = []
    for _ in range(repeats):
        theirs, cpu, _ = timed(lambda: surprise.SVDpp(random_state=0).fit(trainset))
        times["surprise"].append(cpu)
        ours, cpu, _ = timed(lambda: SVDpp(random_state=0).fit(train))
        times["course"].append(cpu)
        loads.append(benchlib.load_average())
        print(f"  SVD++ fit on fold 1: Surprise {times['surprise'][-1]:.2f} s, course {cpu:.3f} s CPU "
              f"(load {loads[-1][0]})", flush=True)
    same = all(np.array_equal(getattr(ours, mine), getattr(theirs, their)) for mine, their in (
        ("user_factors_", "pu"), ("item_factors_", "qi"), ("implicit_factors_", "yj"), ("b_u_", "bu"), ("b_i_", "bi")))
    out = {side: {"best_cpu_s": min(ts), "median_cpu_s": float(np.median(ts)), "cpu_s": ts}
           for side, ts in times.items()}
    out.update(repeats=repeats, fold=1, load_average=loads, same_bits=bool(same),
               fit_speedup_best=min(times["surprise"]) / min(times["course"]),
               fit_speedup_median=float(np.median(times["surprise"]) / np.median(times["course"])))
    return out


def report(data: dict) -> str:
    """``surprise.md``: the run (command, machine, load), the table and the SVD++ speed ratio."""
    m, la = data["machine"], data["load_average"]
    lines = [f"# Surprise's 5-fold protocol, every algorithm beside course_lib's twins (`{data['command']}`)", "",
             f"Started {data['started']}, finished {data['finished']}; load average (1, 5, 15 min) at the start "
             f"{la['start']}, at the end {la['end']}.",
             f"Machine: {m['cpu']}, {m['cores']} logical cores, {m['ram_gib']} GiB; {m['os']}; versions "
             f"{m['versions']}; threads {m['threads']}.", "",
             f"Protocol: {data['protocol']}; MovieLens 100K, {data['folds_run']} folds (Surprise's SVD++ on "
             f"{data['svdpp_folds']}); course folds identical to Surprise's: {data['folds_identical']}. RMSE, MAE: "
             "mean over the folds; fit s, predict s: mean CPU seconds per fold (`time.process_time`); fit x, "
             "predict x: Surprise's time over the course's (same folds); max abs diff: the largest difference "
             "between the two predictions over all test rows.", "", markdown(data)]
    speed = data.get("svdpp_speed")
    if speed:
        s, c = speed["surprise"], speed["course"]
        lines += ["", f"## SVD++ fit speed (fold 1, {speed['repeats']} fits each, interleaved, CPU seconds)", "",
                  "| | best | median | all |", "| --- | --- | --- | --- |",
                  f"| Surprise SVDpp | {s['best_cpu_s']:.2f} | {s['median_cpu_s']:.2f} | "
                  f"{', '.join(f'{t:.2f}' for t in s['cpu_s'])} |",
                  f"| course SVDpp | {c['best_cpu_s']:.3f} | {c['median_cpu_s']:.3f} | "
                  f"{', '.join(f'{t:.3f}' for t in c['cpu_s'])} |", "",
                  f"Ratio (Surprise / course): best {speed['fit_speedup_best']:.1f}x, median "
                  f"{speed['fit_speedup_median']:.1f}x; learned arrays equal bit for bit: {speed['same_bits']}; "
                  f"load average after each pair: {[la[0] for la in speed['load_average']]}."]
    return "\n".join(lines) + "\n"


def markdown(data: dict) -> str:
    """The results as one Markdown table (also used by report.py)."""
    folds = data["folds_run"]
    lines = ["| model | RMSE | MAE | fit s | predict s | Surprise twin | fit x | predict x | max abs diff |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, s in data["surprise"].items():
        tag = f" ({s['folds']} of {folds} folds)" if s["folds"] != folds else ""
        lines.append(f"| Surprise {name}{tag} | {s['rmse']:.4f} | {s['mae']:.4f} | {s['fit_cpu_s']:.2f} | "
                     f"{s['predict_cpu_s']:.3f} |  |  |  |  |")
    for name, c in data["course"].items():
        if c.get("twin") and "fit_speedup" in c:
            diff = "0 (same bits)" if c["same_bits"] else f"{c['max_abs_diff']:.1e}"
            twin = data["surprise"][c["twin"]]
            tag = f" ({twin['folds']} of {folds} folds)" if twin["folds"] != folds else ""
            extra = f"{c['twin']}{tag} | {c['fit_speedup']:.1f} | {c['predict_speedup']:.1f} | {diff}"
        elif c.get("twin"):
            extra = f"{c['twin']} (not run) |  |  |  "
        else:
            extra = f"{c.get('note', '')} |  |  |  "
        lines.append(f"| course {name} | {c['rmse']:.4f} | {c['mae']:.4f} | {c['fit_cpu_s']:.2f} | "
                     f"{c['predict_cpu_s']:.3f} | {extra} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
