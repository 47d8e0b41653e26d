"""Scaling: fit and recommend time and peak memory of the ranking models on synthetic data.

    .venv/bin/python benchmarks/bench_scaling.py                        # 100k, 1M, 10M (~20-30 min on 2 cores)
    .venv/bin/python benchmarks/bench_scaling.py --sizes 100k,1M        # the quick version (~3 min)
    .venv/bin/python benchmarks/bench_scaling.py --plot-only            # redraw results/scaling.png

Data: synthetic implicit/explicit ratings with MovieLens-like skew, generated with NumPy only
(vectorised, ~10 s for 10M rows) and cached in ``$BENCH_CACHE`` (default /tmp/course_bench_cache):

* sizes grow like real catalogues: 100k ratings = 1,000 users x 1,700 items (ML-100K's shape),
  1M = 6,000 x 3,700 (ML-1M's), 10M = 70,000 x 10,000 (ML-10M's);
* item popularity is a shifted power law, p(item of rank r) ~ (r + n_items/50)^-1.1 (a long tail:
  the most popular item gets ~1 % of the ratings, the tail a handful each);
* user activity is Pareto-tailed (Lomax, shape 1.5): at least 20 ratings per user, as MovieLens
  guarantees, at most 30 % of the catalogue; no duplicate (user, item) pairs;
* ratings 1-5 from a user bias + item bias + noise model (so rating models see a signal).

Protocol: every (model, size) runs in its own subprocess (``--child``), so the peak resident
memory (``ru_maxrss``) is that run's alone; the subprocess is killed after ``--timeout`` seconds.
Inside it the ratings are encoded once (``Interactions.from_ratings``, timed apart: "encode"),
then ``fit`` is timed (wall and CPU seconds), then ``top_n`` of the top 10 unseen items
for a fixed sample of 1,000 users (so the recommend time measures the per-user cost, which grows
with the catalogue). Sizes run from small to large; a (model, size) whose time projected from the
previous size exceeds the timeout is skipped with that reason. The growth exponent per model is the
least-squares slope of log(fit CPU time) against log(ratings) over the sizes that ran (CPU time:
on a shared machine the wall-clock time, also recorded, grows with the load).

Models, with fixed hyperparameters (the course defaults or bench_ranking.py's earlier choices; for
timing only the sizes matter: factors and epochs): ``Popularity``; ``ItemKNN(k=200)``;
``BiasedMF(fast=True)`` (100 factors, 20 epochs); ``ImplicitALS`` (32 factors, alpha=3, reg=30,
15 epochs); ``EASE(lam=500)`` (a dense n_items x n_items inverse: time ~ n_items^3, memory
~ 3 n_items^2 doubles = 2.4 GB at 10k items, independent of the number of ratings); ``BPRMF``
(defaults: 64 factors, 30 epochs); the PyTorch ``DotProduct`` for ONE epoch (per-epoch time),
with the sampled-negative BCE objective (4 negatives per positive; dense Adam, and
``sparse=True``: SparseAdam, which updates only the batch's rows) and with the full-softmax
objective bench_ranking.py tunes (64 factors, batch 1024, batches of whole users).

``ALS`` is the course's explicit ALS (biases, weighted lambda; 20 factors, reg 0.1, 15 epochs) and
``Spark ALS`` Spark MLlib's, fitted with the same rank, regParam and iterations through
``course_lib.distributed.spark_als.fit_spark_als`` in a fresh local Spark session (``local[2]``: two
task threads, 8 GB driver heap). For Spark, "encode" is the hand-over from pandas (a CSV file Spark
reads and caches) plus collecting the factors; "fit" is ``ALS.fit`` alone, its CPU time the JVM's
(all threads, from /proc); "recommend" is Spark's ``recommendForUserSubset`` of the same 1,000 users
(seen items not excluded); the peak memory adds the JVM's peak resident set to Python's. The session
start (JVM included) is recorded apart.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

benchlib.single_thread()

import numpy as np  # noqa: E402

SIZES = {"100k": (100_000, 1_000, 1_700), "1M": (1_000_000, 6_000, 3_700), "10M": (10_000_000, 70_000, 10_000)}
MODELS = ["Popularity", "ItemKNN", "BiasedMF fast", "ImplicitALS", "EASE", "BPRMF", "DotProduct BCE (1 epoch)",
          "DotProduct BCE sparse (1 epoch)", "DotProduct softmax (1 epoch)", "ALS", "Spark ALS"]
N_RECOMMEND_USERS = 1000
CACHE = Path(os.environ.get("BENCH_CACHE", "/tmp/course_bench_cache"))


# ---------------------------------------------------------------------------------------------
# synthetic data
# ---------------------------------------------------------------------------------------------
def generate(n_ratings: int, n_users: int, n_items: int, seed: int = 0):
    """Synthetic ratings with power-law item popularity and Pareto user activity (vectorised).

    Returns ``(u, i, r)``: int32 user and item indices and float64 ratings in 1..5, rows shuffled.
    """
    rng = np.random.default_rng(seed)
    rank = np.arange(1, n_items + 1, dtype=float)
    pop = (rank + n_items / 50) ** -1.1
    pop = pop[rng.permutation(n_items)]  # item ids not sorted by popularity
    pop /= pop.sum()
    cap, floor = int(0.3 * n_items), 20
    weight = rng.pareto(1.5, n_users) + 1.0
    counts = np.clip(np.round(weight / weight.sum() * n_ratings), floor, cap).astype(np.int64)
    for _ in range(20):  # rescale the free users so that the total is n_ratings (within rounding)
        free = (counts > floor) & (counts < cap)
        excess = counts.sum() - n_ratings
        if abs(excess) < n_users or not free.any():
            break
        counts[free] = np.clip(np.round(counts[free] * (1 - excess / counts[free].sum())), floor, cap)
    u = np.repeat(np.arange(n_users, dtype=np.int64), counts)
    cdf = np.cumsum(pop)
    i = np.minimum(np.searchsorted(cdf, rng.random(len(u))), n_items - 1)
    for _ in range(200):  # redraw duplicated (user, item) pairs until none is left
        key = u * n_items + i
        order = np.argsort(key, kind="stable")
        dup = np.zeros(len(u), dtype=bool)
        dup[order[1:]] = key[order[1:]] == key[order[:-1]]
        if not dup.any():
            break
        i[dup] = np.minimum(np.searchsorted(cdf, rng.random(int(dup.sum()))), n_items - 1)
    keep = ~dup
    u, i = u[keep], i[keep]
    b_u = rng.normal(0, 0.4, n_users)
    b_i = rng.normal(0, 0.5, n_items) + 0.3 * (np.log(pop) - np.log(pop).mean()) / np.log(pop).std()
    r = np.clip(np.round(3.5 + b_u[u] + b_i[i] + rng.normal(0, 0.9, len(u))), 1, 5)
    perm = rng.permutation(len(u))
    return u[perm].astype(np.int32), i[perm].astype(np.int32), r[perm].astype(np.float64)


def dataset(size: str):
    """The cached ``(u, i, r)`` of a size (generated on first use)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"synthetic_{size}.npz"
    if not path.is_file():
        u, i, r = generate(*SIZES[size])
        tmp = CACHE / f"synthetic_{size}.tmp.npz"
        np.savez(tmp, u=u, i=i, r=r)
        tmp.replace(path)
    z = np.load(path)
    return z["u"], z["i"], z["r"]


def describe(size: str) -> dict:
    u, i, r = dataset(size)
    item_counts = np.bincount(i)
    user_counts = np.bincount(u)
    top = np.sort(item_counts)[::-1]
    return {"n_ratings": int(len(r)), "n_users": int(u.max() + 1), "n_items": int(i.max() + 1),
            "density": float(len(r) / ((u.max() + 1) * (i.max() + 1))),
            "top_1pct_items_share": float(top[:max(1, len(top) // 100)].sum() / len(r)),
            "user_ratings_min_median_max": [int(user_counts.min()), float(np.median(user_counts)),
                                            int(user_counts.max())],
            "item_ratings_min_median_max": [int(item_counts.min()), float(np.median(item_counts)),
                                            int(item_counts.max())]}


# ---------------------------------------------------------------------------------------------
# one (model, size) run, in a subprocess
# ---------------------------------------------------------------------------------------------
def make_model(name: str):
    from course_lib.models import ALS, BPRMF, EASE, BiasedMF, ImplicitALS, ItemKNN, Popularity

    if name == "ALS":
        return ALS(n_factors=20, reg=0.1, n_epochs=15, random_state=0)
    if name == "Popularity":
        return Popularity()
    if name == "ItemKNN":
        return ItemKNN(k=200)
    if name == "BiasedMF fast":
        return BiasedMF(fast=True, random_state=0)
    if name == "ImplicitALS":
        return ImplicitALS(n_factors=32, alpha=3, reg=30)
    if name == "EASE":
        return EASE(lam=500)
    if name == "BPRMF":
        return BPRMF(random_state=0)
    if name.startswith("DotProduct"):
        import course
        from course_lib.models.torch_models import DotProduct

        course.setup(seed=0, torch=True)
        objective = "bce" if "BCE" in name else "softmax"
        return DotProduct(objective=objective, n_factors=64, weight_decay=1e-4 if objective == "softmax" else 0,
                          batch_size=1024, lr=3e-3, n_epochs=1, early_stopping=False, progress=False,
                          random_state=0, sparse="sparse" in name)
    raise ValueError(name)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _jvm_peak_rss_mib() -> float:
    """The peak resident set of the Spark session's JVM (VmHWM), MiB; 0 if unknown."""
    from pyspark import SparkContext

    try:
        status = Path(f"/proc/{SparkContext._gateway.proc.pid}/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")) / 1024
    except (AttributeError, OSError, StopIteration):
        return 0.0


def child_spark(size: str) -> None:
    """Spark MLlib ALS with the course ALS's settings, timed as the course's models are (see the docstring)."""
    import pandas as pd

    from course_lib.distributed.spark import jvm_cpu_seconds, start_spark, stop_spark, to_spark
    from course_lib.distributed.spark_als import fit_spark_als

    u, i, r = dataset(size)
    ratings = pd.DataFrame({"user_id": u, "item_id": i, "rating": r})
    del u, i, r
    with benchlib.Timer() as t_start:
        spark = start_spark(driver_memory="8g")
        spark.range(1).count()
    rss_data = rss_mib()
    with benchlib.Timer() as t_all:
        als = fit_spark_als(spark, ratings, n_factors=20, reg=0.1, n_epochs=15, random_state=0)
    users = als.user_ids[np.random.default_rng(1).choice(len(als.user_ids), min(N_RECOMMEND_USERS, len(als.user_ids)),
                                                         replace=False)]
    codes = pd.DataFrame({"user_id": pd.Index(als.user_ids).get_indexer(users).astype(np.int32)})
    subset = to_spark(spark, codes, ("user_id",)).cache()
    subset.count()
    cpu_before = jvm_cpu_seconds(spark)
    with benchlib.Timer() as t_rec:
        als.model.recommendForUserSubset(subset, 10).collect()
    rec_cpu = jvm_cpu_seconds(spark) - cpu_before + t_rec.cpu
    peak = rss_mib() + _jvm_peak_rss_mib()
    stop_spark(spark)
    print("RESULT " + json.dumps({
        "encode_s": t_all.wall - als.fit_seconds, "fit_s": als.fit_seconds, "fit_cpu_s": als.fit_cpu_seconds,
        "recommend_s": t_rec.wall, "recommend_cpu_s": rec_cpu, "recommend_users": len(users),
        "rss_after_data_mib": rss_data, "peak_rss_mib": peak, "epochs": 15, "session_start_s": t_start.wall,
        "spark_threads": 2}), flush=True)


def child(model_name: str, size: str) -> None:
    if model_name == "Spark ALS":
        child_spark(size)
        return
    import pandas as pd

    from course_lib.interactions import Interactions

    u, i, r = dataset(size)
    ratings = pd.DataFrame({"user_id": u, "item_id": i, "rating": r})
    del u, i, r
    model = make_model(model_name)  # imports (torch) before the baseline memory reading
    with benchlib.Timer() as t_enc:
        data = Interactions.from_ratings(ratings)
    del ratings
    rss_data = rss_mib()
    with benchlib.Timer() as t_fit:
        model.fit(data)
    rss_fit = rss_mib()
    users = data.user_ids[np.random.default_rng(1).choice(data.n_users, min(N_RECOMMEND_USERS, data.n_users),
                                                           replace=False)]
    with benchlib.Timer() as t_rec:
        model.top_n(users, 10, batch_size=256)
    print("RESULT " + json.dumps({
        "encode_s": t_enc.wall, "fit_s": t_fit.wall, "fit_cpu_s": t_fit.cpu, "recommend_s": t_rec.wall,
        "recommend_cpu_s": t_rec.cpu, "recommend_users": len(users),
        "rss_after_data_mib": rss_data, "peak_rss_mib": max(rss_fit, rss_mib()),
        "epochs": getattr(model, "n_epochs_", None)}), flush=True)


# ---------------------------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------------------------
def run_one(model: str, size: str, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", model, size]
    start = time.perf_counter()
    load = benchlib.load_average()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "reason": f"killed after the {timeout:.0f} s per-run timeout",
                "wall_s": time.perf_counter() - start, "load_average": load}
    children_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        status = "out of memory" if proc.returncode in (-9, 137) else "error"
        return {"status": status, "reason": " / ".join(tail)[-400:], "returncode": proc.returncode,
                "wall_s": time.perf_counter() - start, "load_average": load}
    out = json.loads(lines[-1][len("RESULT "):])
    out.update(status="ok", process_wall_s=time.perf_counter() - start, load_average=load,
               children_max_rss_so_far_mib=children_peak)
    return out


def exponent(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(time) on log(ratings)."""
    pts = [(n, t) for n, t in points if t and t > 0]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def summarise(data: dict) -> None:
    data["exponents"] = {}
    for model in data["models"]:
        runs = [(data["datasets"][s]["n_ratings"], data["runs"].get(model, {}).get(s, {}))
                for s in data["sizes"] if s in data["datasets"]]
        fit = exponent([(n, r.get("fit_s")) for n, r in runs if r.get("status") == "ok"])
        fit_cpu = exponent([(n, r.get("fit_cpu_s")) for n, r in runs if r.get("status") == "ok"])
        rec = exponent([(n, r.get("recommend_s")) for n, r in runs if r.get("status") == "ok"])
        mem = exponent([(n, r.get("peak_rss_mib")) for n, r in runs if r.get("status") == "ok"])
        data["exponents"][model] = {"fit": fit, "fit_cpu": fit_cpu, "recommend": rec, "peak_rss": mem}


def plot(data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for model in data["models"]:
        xs, fits, mems = [], [], []
        for s in data["sizes"]:
            r = data["runs"].get(model, {}).get(s, {})
            if r.get("status") == "ok":
                xs.append(data["datasets"][s]["n_ratings"])
                fits.append(r["fit_cpu_s"])
                mems.append(r["peak_rss_mib"])
        if not xs:
            continue
        e = data["exponents"].get(model, {}).get("fit_cpu")
        label = f"{model} (slope {e:.2f})" if e is not None else f"{model} (one size)"
        axes[0].loglog(xs, fits, "o-", label=label)
        axes[1].loglog(xs, mems, "o-", label=model)
    n = np.array([1e5, 1e7])
    for ax, y0 in ((axes[0], 0.05),):
        ax.loglog(n, y0 * n / n[0], "k:", lw=1, label="slope 1 (linear)")
    axes[0].set(xlabel="ratings", ylabel="fit CPU seconds (DotProduct: one epoch)",
                title="Fit time vs number of ratings")
    axes[1].set(xlabel="ratings", ylabel="peak RSS of the run (MiB)", title="Peak memory")
    axes[0].legend(fontsize=7, loc="upper left")
    axes[1].legend(fontsize=7, loc="upper left")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    loads = [r["load_average"][0] for runs in data["runs"].values() for r in runs.values() if r.get("load_average")]
    span = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "?"
    fig.suptitle(f"Synthetic power-law data, one thread, CPU seconds; 1-min load average at the start of the runs {span}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1M,10M")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--plot-only", action="store_true")
    parser.add_argument("--merge", action="store_true",
                        help="keep the runs already in results/scaling.json and (re)run only the given models/sizes")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    json_path = benchlib.RESULTS / "scaling.json"
    png = benchlib.RESULTS / "scaling.png"
    if args.plot_only:
        data = json.loads(json_path.read_text())
        summarise(data)
        plot(data, png)
        return
    sizes = [s for s in args.sizes.split(",") if s]
    models = [m for m in args.models.split(",") if m]
    old = json.loads(json_path.read_text()) if args.merge and json_path.is_file() else None  # before Results() saves
    res = benchlib.Results("scaling", benchlib.command_line(), sizes=sizes, models=models,
                           timeout_s=args.timeout, recommend_users=N_RECOMMEND_USERS,
                           generator="see bench_scaling.generate (seed 0)", datasets={}, runs={}, exponents={})
    data = res.data
    if old is not None:
        data["sizes"] = [s for s in SIZES if s in set(old.get("sizes", [])) | set(sizes)]
        data["models"] = [m for m in MODELS if m in set(old.get("models", [])) | set(models)]
        data["datasets"] = old.get("datasets", {})
        data["runs"] = old.get("runs", {})
        data["merged_from"] = {"command": old.get("command"), "started": old.get("started"),
                               "load_average": old.get("load_average")}
        res.save()
    for size in sizes:
        with benchlib.Timer() as t:
            data["datasets"][size] = describe(size)
        data["datasets"][size]["generate_or_load_s"] = t.wall
        res.save()
        print(f"{size}: {data['datasets'][size]}", flush=True)
        for model in models:
            runs = data["runs"].setdefault(model, {})
            previous = [(data["datasets"][s]["n_ratings"], runs[s]) for s in list(SIZES)[:list(SIZES).index(size)]
                        if runs.get(s, {}).get("status") == "ok" and s in data["datasets"]]
            reason = skip_reason(model, size, previous, data, args.timeout)
            if reason:
                runs[size] = {"status": "skipped", "reason": reason}
            else:
                runs[size] = run_one(model, size, args.timeout)
            r = runs[size]
            summarise(data)
            res.save()
            if r["status"] == "ok":
                print(f"  {model:<30} fit {r['fit_s']:8.2f} s  recommend {r['recommend_s']:6.2f} s  "
                      f"peak {r['peak_rss_mib']:7.0f} MiB  (load {r['load_average'][0]})", flush=True)
            else:
                print(f"  {model:<30} {r['status']}: {r['reason']}", flush=True)
            try:
                plot(data, png)
            except Exception as exc:  # noqa: BLE001 - a plot failure must not lose the results
                print(f"  (plot failed: {exc})", flush=True)
    res.finish()


def skip_reason(model: str, size: str, previous: list, data: dict, timeout: float) -> str | None:
    """Why a (model, size) is not run: projected time over the timeout, or too much memory."""
    info = SIZES[size]
    n_items = info[2]
    if model == "EASE":
        gib = 3 * n_items ** 2 * 8 / 2**30
        if gib > 12:
            return f"EASE needs ~3 dense n_items^2 float64 matrices ({gib:.0f} GiB at {n_items:,} items)"
    if not previous:
        return None
    n_prev, run_prev = previous[-1]
    prev_items = next(d["n_items"] for d in data["datasets"].values() if d["n_ratings"] == n_prev)
    growth = info[0] / n_prev
    if model == "EASE":
        growth = (n_items / prev_items) ** 3
    elif "softmax" in model:
        growth *= n_items / prev_items
    projected = run_prev["fit_s"] * growth
    if projected > timeout:
        return (f"projected fit time {projected:.0f} s (previous size {run_prev['fit_s']:.1f} s x {growth:.0f}) "
                f"exceeds the {timeout:.0f} s timeout")
    return None


if __name__ == "__main__":
    main()
