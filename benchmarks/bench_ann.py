"""Approximate nearest-neighbour search for retrieval: exact, HNSW and IVF (course_lib.ann, faiss).

    .venv/bin/python benchmarks/bench_ann.py                  # 1,000,000 synthetic items + MovieLens (~25 min)
    .venv/bin/python benchmarks/bench_ann.py --quick          # 100,000 items, fewer settings (~3 min)
    .venv/bin/python benchmarks/bench_ann.py --probe-only     # only the faiss SIMD probe (prints, writes nothing)

Catalogues. ``synthetic``: :func:`course_lib.ann.synthetic_catalogue` (seed 0), ``--items`` item
vectors (default 1,000,000) of dimension ``--dim`` (64) in about sqrt(n) topic clusters of Zipf
popularity, with log-normal norms (sigma 0.25: inner product is not cosine), and ``--queries``
(1,000) unit queries drawn from the same topics. ``movielens``: the 1,682 movies and 943 users of
MovieLens 100K as 32-dimensional factors of a rank-32 SVD of the 0/1 interaction matrix (item
vectors :math:`V \\Sigma^{1/2}`, user queries :math:`U \\Sigma^{1/2}`), the size of the course's
catalogue.

Measured, for every index (k = 100): recall@100 against the exact top 100 (NumPy, float32
products, ties to the smaller id) over all queries; query latency one query per call (the first
``--single`` queries, default 200, best of 3 passes per query, median reported) and in batches of
100 queries (ms per query); build time (wall and CPU seconds; IVF includes its k-means); memory
(bytes of the serialised faiss index; 4nd for the NumPy copy). HNSW is swept over ``ef_search``
with ``M`` and ``ef_construction`` fixed, both with faiss's inner-product graph
(``mips="native"``) and with the L2 reduction of Bachrach et al. (``mips="augment"``); IVF over
``nprobe`` with ``nlist`` fixed (about 4 sqrt(n)). The chosen setting of each is the fastest
(median single-query latency) with recall@100 >= 0.95; its speed-up is the exact search's median
latency (the faster of NumPy and faiss ``IndexFlatIP``) divided by its own, single and batched.

Probe (``--probe-only``, or part of every run): the same small searches in subprocesses with the
course's numeric profile, without ``FAISS_OPT_LEVEL``, without ``FAISS_SIMD_LEVEL``, without both,
and with ``FAISS_SIMD_LEVEL=AVX512``; each prints SHA-256 prefixes of the scores and ids, and faiss's
SIMD level. It shows which variable changes faiss's results on this machine.

One thread (OMP and faiss), ``nice``d if you share the machine. Results: ``results/ann.json``,
``results/ann.md``, ``results/ann.png`` (``--quick``: ``results/quick/``, never committed). Never
run by the tests.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import benchlib  # noqa: E402

benchlib.single_thread()
from course.reproducibility import numeric_environment, profile_applies  # noqa: E402

if profile_applies():  # the same code paths as the lessons and tests (set before NumPy and faiss load)
    for _key, _value in numeric_environment().items():
        os.environ.setdefault(_key, _value)

import numpy as np  # noqa: E402

from course_lib.ann import build_index, measure_latency, recall_at_k, synthetic_catalogue  # noqa: E402

K = 100
TARGET_RECALL = 0.95
TARGET_SPEEDUP = 10.0

PROBE = r"""
import hashlib, json
import faiss
from course_lib.ann import build_index, synthetic_catalogue
X, Q = synthetic_catalogue(50_000, 200, 48, random_state=0)
out = {"simd_level": faiss.SIMDConfig.get_level_name()}
h = lambda a: hashlib.sha256(a.tobytes()).hexdigest()[:12]
for name, kind, p in [("flat", "flat", {}), ("hnsw", "hnsw", dict(M=16, ef_construction=80, ef_search=100)),
                      ("ivf", "ivf", dict(nlist=256, nprobe=8)),
                      ("hnsw augment", "hnsw", dict(M=16, ef_construction=80, ef_search=100, mips="augment"))]:
    index = build_index(X, kind, **p)
    for nq in (1, 200):
        S, I = index.search(Q[:nq], 100)
        out[f"{name}, {nq} queries: scores"] = h(S)
        out[f"{name}, {nq} queries: ids"] = h(I)
print(json.dumps(out))
"""


def movielens_catalogue(dim: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Item and user vectors of a rank-``dim`` SVD of ML-100K's 0/1 user x item matrix."""
    from course_lib.data import load_movielens

    r = load_movielens("ml-100k").ratings
    users, u = np.unique(r["user_id"].to_numpy(), return_inverse=True)
    items, i = np.unique(r["item_id"].to_numpy(), return_inverse=True)
    A = np.zeros((len(users), len(items)))
    A[u, i] = 1.0
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    root = np.sqrt(s[:dim])
    return (Vt[:dim].T * root).astype(np.float32), (U[:, :dim] * root).astype(np.float32)


def timed_build(X: np.ndarray, kind: str, **params):
    with benchlib.Timer() as t:
        index = build_index(X, kind, **params)
    return index, {"build_wall_s": round(t.wall, 3), "build_cpu_s": round(t.cpu, 3),
                   "memory_mb": round(index.memory_bytes() / 2**20, 2)}


def latencies(index, Q: np.ndarray, n_single: int, **search) -> dict:
    """Median ms per query (CPU and wall), one query per call and in batches of 100, best of 3 passes."""
    single = measure_latency(index, Q[:n_single], K, batch_size=1, repeats=3, **search)
    batch = measure_latency(index, Q, K, batch_size=100, repeats=3, warmup=1, **search)
    return {"single_cpu_ms": round(single.cpu_median_ms, 4), "single_wall_ms": round(single.median_ms, 4),
            "single_wall_p95_ms": round(single.p95_ms, 4), "batch_cpu_ms": round(batch.cpu_median_ms, 4),
            "batch_wall_ms": round(batch.median_ms, 4)}


def sweep_knob(index, Q, truth, cfg: dict, knob: str, values, sweep: list, results) -> None:
    """Append to ``sweep`` the recall and latencies of ``index`` for each value of its search-time ``knob``
    (``ef_search`` or ``nprobe``), saving after each, and stop at the first that reaches ``cfg["stop_recall"]``."""
    for value in values:
        row = {knob: value, "recall": recall_at_k(index.search(Q, K, **{knob: value})[1], truth),
               **latencies(index, Q, cfg["single"], **{knob: value})}
        sweep.append(row)
        print(f"  {knob} {value:>5}: recall {row['recall']:.4f}  single {row['single_cpu_ms']:.3f} ms CPU  "
              f"batch {row['batch_cpu_ms']:.3f} ms/query CPU", flush=True)
        results.save()
        if row["recall"] >= cfg["stop_recall"]:
            break


def run_catalogue(name: str, X: np.ndarray, Q: np.ndarray, cfg: dict, results: benchlib.Results) -> dict:
    out = {"n_items": int(X.shape[0]), "dim": int(X.shape[1]), "n_queries": int(Q.shape[0]), "k": K,
           "config": cfg, "exact": {}, "hnsw": {}, "ivf": {}}
    results.data["catalogues"][name] = out
    print(f"\n== {name}: {X.shape[0]:,} items x {X.shape[1]}, {Q.shape[0]} queries", flush=True)

    exact, info = timed_build(X, "exact")
    with benchlib.Timer() as t:
        _, truth = exact.search(Q, K)
    print(f"exact top-{K} of all queries: {t.wall:.1f} s", flush=True)
    for kind, index, info in (("numpy", exact, info), ("faiss flat", *timed_build(X, "flat"))):
        row = {**info, **latencies(index, Q, cfg["single"]), "recall": recall_at_k(index.search(Q, K)[1], truth)}
        out["exact"][kind] = row
        print(f"exact {kind:<11} single {row['single_cpu_ms']:.3f} ms CPU ({row['single_wall_ms']:.3f} wall), "
              f"batch {row['batch_cpu_ms']:.3f} ms/query CPU, recall {row['recall']:.4f}", flush=True)
        results.save()
        del index
    best_exact = {f"{m}_{c}_ms": min(r[f"{m}_{c}_ms"] for r in out["exact"].values())
                  for m in ("single", "batch") for c in ("cpu", "wall")}
    out["exact_best_ms"] = best_exact

    for mips in cfg["mips"]:
        label = f"hnsw {mips}"
        index, info = timed_build(X, "hnsw", M=cfg["M"], ef_construction=cfg["ef_construction"], mips=mips)
        print(f"{label}: M={cfg['M']} ef_construction={cfg['ef_construction']} built in {info['build_wall_s']:.1f} s "
              f"({info['memory_mb']:.0f} MB)", flush=True)
        sweep = []
        out["hnsw"][mips] = {**info, "M": cfg["M"], "ef_construction": cfg["ef_construction"], "sweep": sweep}
        sweep_knob(index, Q, truth, cfg, "ef_search", cfg["ef_search"], sweep, results)
        del index

    index, info = timed_build(X, "ivf", nlist=cfg["nlist"], nprobe=1)
    print(f"ivf: nlist={cfg['nlist']} built in {info['build_wall_s']:.1f} s ({info['memory_mb']:.0f} MB)", flush=True)
    sweep = []
    out["ivf"] = {**info, "nlist": cfg["nlist"], "sweep": sweep}
    sweep_knob(index, Q, truth, cfg, "nprobe", itertools.takewhile(lambda n: n <= cfg["nlist"], cfg["nprobe"]),
               sweep, results)
    del index

    out["chosen"] = choose(out)
    results.save()
    return out


def choose(out: dict) -> dict:
    """The fastest setting (median CPU ms per query, one query per call) of each ANN family with
    recall >= TARGET_RECALL, and its speed-ups over the faster exact search (CPU and wall)."""
    best = out["exact_best_ms"]
    families = {f"hnsw {m}": (v["sweep"], "ef_search") for m, v in out["hnsw"].items()}
    families["ivf"] = (out["ivf"]["sweep"], "nprobe")
    chosen = {}
    for name, (sweep, param) in families.items():
        ok = [r for r in sweep if r["recall"] >= TARGET_RECALL]
        if not ok:
            top = max(sweep, key=lambda r: r["recall"]) if sweep else None
            chosen[name] = {"met": False, "note": f"recall {TARGET_RECALL} not reached "
                            f"(best {top['recall']:.4f} at {param}={top[param]})" if top else "not run"}
            continue
        r = min(ok, key=lambda r: r["single_cpu_ms"])
        speed = {f"speedup_{m}_{c}": round(best[f"{m}_{c}_ms"] / r[f"{m}_{c}_ms"], 1)
                 for m in ("single", "batch") for c in ("cpu", "wall")}
        chosen[name] = {param: r[param], "recall": r["recall"], **{k: r[k] for k in r if k.endswith("_ms")}, **speed,
                        "met": bool(speed["speedup_single_cpu"] >= TARGET_SPEEDUP)}
    return chosen


def probe() -> dict:
    """Fingerprints of faiss results with and without the faiss variables of the numeric profile."""
    base = dict(os.environ, **numeric_environment())
    variants = {"profile": base}
    for drop in (("FAISS_OPT_LEVEL",), ("FAISS_SIMD_LEVEL",), ("FAISS_OPT_LEVEL", "FAISS_SIMD_LEVEL")):
        variants["without " + " and ".join(drop)] = {k: v for k, v in base.items() if k not in drop}
    variants["FAISS_SIMD_LEVEL=AVX512"] = dict(base, FAISS_SIMD_LEVEL="AVX512")
    prints = {}
    for label, env in variants.items():
        proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, cwd=benchlib.ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"probe failed ({label}): {proc.stderr[-1500:]}")
        prints[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    ref = prints["profile"]
    summary = {}
    for label, fp in prints.items():
        changed = [k for k in fp if k != "simd_level" and fp[k] != ref[k]]
        summary[label] = {"simd_level": fp["simd_level"], "changed": changed}
        print(f"probe {label:<45} faiss SIMD {fp['simd_level']:<15} differs from the profile in: "
              f"{', '.join(changed) or 'nothing'}", flush=True)
    return {"fingerprints": prints, "summary": summary}


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cats = results["catalogues"]
    fig, axes = plt.subplots(1, len(cats), figsize=(6.2 * len(cats), 4.4), squeeze=False)
    for ax, (name, c) in zip(axes[0], cats.items()):
        for mips, v in c["hnsw"].items():
            s = v["sweep"]
            ax.plot([r["single_cpu_ms"] for r in s], [r["recall"] for r in s], "o-",
                    label=f"HNSW {mips} (M={v['M']}, efC={v['ef_construction']}; ef_search)")
            for r in s:
                ax.annotate(str(r["ef_search"]), (r["single_cpu_ms"], r["recall"]), fontsize=7,
                            textcoords="offset points", xytext=(3, -9))
        s = c["ivf"]["sweep"]
        ax.plot([r["single_cpu_ms"] for r in s], [r["recall"] for r in s], "s-",
                label=f"IVF (nlist={c['ivf']['nlist']}; nprobe)")
        for r in s:
            ax.annotate(str(r["nprobe"]), (r["single_cpu_ms"], r["recall"]), fontsize=7, textcoords="offset points",
                        xytext=(3, 3))
        ax.axvline(c["exact_best_ms"]["single_cpu_ms"], color="k", ls="--", lw=1, label="exact (fastest)")
        ax.axvline(c["exact_best_ms"]["single_cpu_ms"] / TARGET_SPEEDUP, color="grey", ls=":", lw=1, label="exact / 10")
        ax.axhline(TARGET_RECALL, color="grey", ls="-.", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("median CPU time per query, one query per call (ms, one thread)")
        ax.set_ylabel(f"recall@{K} against exact")
        ax.set_title(f"{name}: {c['n_items']:,} items, d={c['dim']}")
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(res: dict) -> str:
    m = res["machine"]
    la = res["load_average"]
    lines = ["# ANN retrieval: exact, HNSW and IVF (faiss) for maximum inner-product search", "",
             f"Command: `{res['command']}`  ", f"Started {res['started']}, finished {res['finished']}.  ",
             f"Machine: {m['cpu']}, {m['cores']} logical cores, {m['ram_gib']} GiB RAM, {m['os']}; "
             f"Python {m['versions']['python']}, NumPy {m['versions']['numpy']}, faiss {res['faiss']['version']} "
             f"(SIMD level {res['faiss']['simd_level']}); threads: {m['threads']} (OMP and faiss).  ",
             f"Load average (1/5/15 min): {la['start']} at start, {la['end']} at end (2 cores shared with "
             "other jobs).", "",
             f"k = {K}. Recall@{K}: the share of the exact top {K} (NumPy) found, over all queries. Latency: "
             "median ms per query of the best of 3 passes, one query per call (single) and in batches of 100 "
             "queries (batch); CPU time of the process, which other jobs on the machine disturb less than "
             "wall-clock time (both are in ann.json). Build: wall seconds (IVF: k-means + adding). Memory: "
             "the serialised faiss index (the NumPy copy: 4nd bytes). Speed-up: the faster exact search's "
             "latency divided by the index's, at the chosen setting (the fastest single-query CPU time with "
             f"recall >= {TARGET_RECALL}). Target: recall@{K} >= {TARGET_RECALL} at >= {TARGET_SPEEDUP:.0f}x "
             "lower query time than exact at 1M items.", ""]
    for name, c in res["catalogues"].items():
        lines += [f"## {name}: {c['n_items']:,} items, dimension {c['dim']}, {c['n_queries']} queries", ""]
        lines += ["| index | setting | build s | memory MB | recall@100 | single ms CPU (wall) | batch ms/query CPU |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]

        def cells(r):
            return (f"{r['recall']:.4f} | {r['single_cpu_ms']:.3f} ({r['single_wall_ms']:.3f}) | "
                    f"{r['batch_cpu_ms']:.3f} |")

        for kind, r in c["exact"].items():
            lines.append(f"| exact ({kind}) | - | {r['build_wall_s']:.2f} | {r['memory_mb']:.1f} | {cells(r)}")
        for mips, v in c["hnsw"].items():
            for r in v["sweep"]:
                lines.append(f"| HNSW {mips} | M={v['M']}, efC={v['ef_construction']}, ef_search={r['ef_search']} | "
                             f"{v['build_wall_s']:.1f} | {v['memory_mb']:.1f} | {cells(r)}")
        v = c["ivf"]
        for r in v["sweep"]:
            lines.append(f"| IVF | nlist={v['nlist']}, nprobe={r['nprobe']} | {v['build_wall_s']:.1f} | "
                         f"{v['memory_mb']:.1f} | {cells(r)}")
        lines += ["", f"Chosen settings (fastest single-query CPU time with recall@{K} >= {TARGET_RECALL}):", "",
                  "| index | setting | recall@100 | single ms CPU | speed-up single CPU (wall) | batch ms/query CPU "
                  f"| speed-up batch CPU (wall) | >= {TARGET_SPEEDUP:.0f}x single |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
        for fam, ch in c.get("chosen", {}).items():
            if "note" in ch:
                lines.append(f"| {fam} | {ch['note']} | | | | | | no |")
                continue
            setting = ", ".join(f"{k}={ch[k]}" for k in ("ef_search", "nprobe") if k in ch)
            lines.append(f"| {fam} | {setting} | {ch['recall']:.4f} | {ch['single_cpu_ms']:.3f} | "
                         f"{ch['speedup_single_cpu']:.1f}x ({ch['speedup_single_wall']:.1f}x) | "
                         f"{ch['batch_cpu_ms']:.3f} | "
                         f"{ch['speedup_batch_cpu']:.1f}x ({ch['speedup_batch_wall']:.1f}x) | "
                         f"{'yes' if ch['met'] else 'no'} |")
        lines.append("")
    if res.get("probe"):
        lines += ["## Which environment variable pins faiss's code path (probe)", "",
                  "50,000 x 48 synthetic items, 200 queries, k = 100; flat, HNSW (native and augmented) and IVF; "
                  "SHA-256 of the scores and ids of 1 and 200 queries, each run in a fresh process. "
                  "\"profile\" = the course's numeric profile (FAISS_OPT_LEVEL=AVX2, FAISS_SIMD_LEVEL=AVX2).", "",
                  "| run | faiss SIMD level | results that differ from the profile's |", "| --- | --- | --- |"]
        for label, s in res["probe"]["summary"].items():
            lines.append(f"| {label} | {s['simd_level']} | {', '.join(s['changed']) or 'none'} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="100,000 items, fewer settings; writes results/quick/")
    ap.add_argument("--items", type=int, default=None, help="synthetic catalogue size (default 1,000,000)")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--single", type=int, default=200, help="queries timed one at a time")
    ap.add_argument("--probe-only", action="store_true")
    ap.add_argument("--no-probe", action="store_true")
    ap.add_argument("--no-movielens", action="store_true")
    args = ap.parse_args()

    import faiss

    faiss.omp_set_num_threads(1)
    if args.probe_only:  # prints only: the results files stay those of the last full run
        probe()
        return
    if args.quick and "BENCH_RESULTS" not in os.environ:
        benchlib.RESULTS = benchlib.DEFAULT_RESULTS / "quick"
    n_items = args.items or (100_000 if args.quick else 1_000_000)
    results = benchlib.Results("ann", benchlib.command_line(), catalogues={},
                               faiss={"version": faiss.__version__, "simd_level": faiss.SIMDConfig.get_level_name()},
                               targets={"recall": TARGET_RECALL, "speedup": TARGET_SPEEDUP, "k": K})
    big = {"single": args.single, "M": 48, "ef_construction": 200, "mips": ["native", "augment"],
           "ef_search": [100, 150, 200, 300, 400, 600, 800, 1200, 1600, 2400, 3200],
           "nlist": int(4 * round(np.sqrt(n_items) / 64) * 64) or 64,
           "nprobe": [1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512], "stop_recall": 0.99}
    if args.quick:
        big.update(ef_search=[100, 200, 400, 800, 1600], nprobe=[4, 8, 16, 32, 64, 128])
    with benchlib.Timer() as t:
        X, Q = synthetic_catalogue(n_items, args.queries, args.dim, random_state=0)
    print(f"synthetic catalogue generated in {t.wall:.1f} s", flush=True)
    run_catalogue("synthetic", X, Q, big, results)
    del X, Q
    if not args.no_movielens:
        Xm, Qm = movielens_catalogue(32)
        small = {"single": args.single, "M": 16, "ef_construction": 100, "mips": ["native", "augment"],
                 "ef_search": [100, 150, 200, 300, 400, 800], "nlist": 32,
                 "nprobe": [1, 2, 4, 8, 16, 32], "stop_recall": 1.0}
        run_catalogue("movielens", Xm, Qm, small, results)
    plot(results.data, benchlib.RESULTS / "ann.png")
    if not args.no_probe:
        results.data["probe"] = probe()
    results.finish()
    (benchlib.RESULTS / "ann.md").write_text(markdown(results.data))
    print(f"\nwrote {benchlib.RESULTS / 'ann.json'}, ann.md, ann.png", flush=True)


if __name__ == "__main__":
    main()
