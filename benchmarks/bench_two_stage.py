"""Two-stage retrieval on MovieLens 100K: two towers with and without the logQ correction against the
dot product of lessons 06-07, ANN indexes over the item tower, and the pipeline's per-request latency.

    .venv/bin/python benchmarks/bench_two_stage.py                 # 3 seeds, Keras twin included (~10 min idle)
    .venv/bin/python benchmarks/bench_two_stage.py --quick         # 1 seed, no Keras, fewer requests

Protocol (``full_ranking`` of course_lib.evaluate). For seed ``s`` in ``--seeds`` (default 0, 1, 2): a
per-user stratified 75/25 split of ML-100K with ``random_state=42+s`` (lesson 07's split for s=0), every
training interaction a positive; each model fitted with ``random_state=s``; every test user ranks every
item unseen in training; Recall@100, NDCG@10, novelty@10 (mean self-information of the top 10) and the
mean training popularity of the top 10. Models:

* ``two-tower, logQ``: :class:`course_lib.models.torch_models.TwoTower` with its defaults (user id, age,
  gender, occupation; item id, genres, year; 32 factors, batch 512, in-batch softmax with the logQ
  correction, early stopping on the full-softmax validation loss);
* ``two-tower, no correction``: the same with ``logq_correction=False``;
* ``two-tower (Keras twin), logQ``: :class:`course_lib.models.keras_models.TwoTower`, same settings;
* ``dot product, BCE``: lesson 07's ``DotProduct(objective="bce", n_factors=64, weight_decay=0,
  batch_size=2048, n_epochs=6, lr=3e-3)`` (4 sampled negatives per positive), IDs only.

ANN (seed 0's two-tower): the 1,682 item vectors indexed exactly (NumPy, faiss flat), with HNSW (native
inner product, M 32, ef_construction 200, ef_search swept) and IVF (nlist 41, nprobe swept); the 943
users' vectors as queries; recall@100 against the exact top 100 and single-query CPU latency. The 1M-item
benchmark of the same indexes is ``bench_ann.py`` (``results/ann.md``).

Pipeline: :class:`course_lib.pipeline.TwoStagePipeline` (100 candidates -> drop seen -> optional ranker ->
optional MMR lambda 0.7 -> top 10 with titles) for ``--requests`` users (default 300), best of 3 passes
per request, p50 and p95 of wall-clock and CPU milliseconds. The ranker is the BCE dot product scoring the
candidates through its ``test()`` (a stand-in for lesson 13's rankers).

One thread. Results: ``results/two_stage.json`` and ``results/two_stage.md`` (machine, load averages).
Never run by the tests.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import benchlib  # noqa: E402

benchlib.single_thread()
from course.reproducibility import numeric_environment, profile_applies  # noqa: E402

if profile_applies():
    import os

    for _key, _value in numeric_environment().items():
        os.environ.setdefault(_key, _value)

import numpy as np  # noqa: E402

K_RETRIEVE = 100


def models(seed: int, keras: bool) -> dict:
    from course_lib.models.torch_models import DotProduct
    from course_lib.models.torch_models.two_tower import TwoTower

    out = {"two-tower, logQ": TwoTower(random_state=seed),
           "two-tower, no correction": TwoTower(logq_correction=False, random_state=seed)}
    if keras:
        from course_lib.models.keras_models.two_tower import TwoTower as KerasTwoTower

        out["two-tower (Keras twin), logQ"] = KerasTwoTower(random_state=seed)
    out["dot product, BCE"] = DotProduct(objective="bce", n_factors=64, weight_decay=0, batch_size=2048, n_epochs=6,
                                         lr=3e-3, progress=False, random_state=seed)
    return out


def quality(seeds: list[int], keras: bool, results: benchlib.Results) -> None:
    from course_lib.data import load_movielens
    from course_lib.evaluate import evaluate_full_ranking, top_k
    from course_lib.split import stratified_split

    ml = load_movielens("ml-100k")
    rows = results.data.setdefault("quality", [])
    for seed in seeds:
        train, test = stratified_split(ml.ratings, 0.25, random_state=42 + seed)
        counts = train.item_id.value_counts()
        for name, model in models(seed, keras).items():
            with benchlib.Timer() as t:
                model.fit(train, users=ml.users, items=ml.movies)
            at10, at100 = evaluate_full_ranking(model, test, 10), evaluate_full_ranking(model, test, 100)
            recs = top_k(model, sorted(test.user_id.unique()), 10)
            popularity = float(np.mean([counts.get(i, 0) for items in recs.values() for i in items]))
            row = {"seed": seed, "model": name, "recall@100": at100["recall@100"], "ndcg@10": at10["ndcg@10"],
                   "novelty@10": at10["novelty@10"], "mean_popularity@10": popularity,
                   "epochs": int(getattr(model, "n_epochs_", 0)), "fit_cpu_s": round(t.cpu, 2),
                   "fit_wall_s": round(t.wall, 2)}
            rows.append(row)
            results.save()
            print(f"seed {seed} {name:<30} recall@100 {row['recall@100']:.4f} ndcg@10 {row['ndcg@10']:.4f} "
                  f"popularity@10 {popularity:.0f} ({t.cpu:.1f} s CPU)", flush=True)
            if seed == seeds[0] and name == "two-tower, logQ":
                results.keep = (ml, train, model)


def ann_on_movielens(results: benchlib.Results) -> None:
    from course_lib.ann import build_index, measure_latency, recall_at_k

    ml, train, model = results.keep
    V = model.item_vectors()
    P = model.user_vectors(model.data_.user_ids)
    _, truth = build_index(V, "exact").search(P, K_RETRIEVE)
    out = results.data["ann_movielens"] = {"n_items": int(len(V)), "n_queries": int(len(P)), "k": K_RETRIEVE,
                                           "rows": []}

    def record(label, index, **search):
        lat = measure_latency(index, P[:200], K_RETRIEVE, repeats=3, **search)
        row = {"index": label, "recall@100": recall_at_k(index.search(P, K_RETRIEVE, **search)[1], truth),
               "single_cpu_ms": round(lat.cpu_median_ms, 4), "single_wall_ms": round(lat.median_ms, 4)}
        out["rows"].append(row)
        print(f"ANN {label:<28} recall@100 {row['recall@100']:.4f}  {row['single_cpu_ms']:.3f} ms CPU", flush=True)

    record("exact (numpy)", build_index(V, "exact"))
    record("exact (faiss flat)", build_index(V, "flat"))
    hnsw = build_index(V, "hnsw", M=32, ef_construction=200)
    for ef in (100, 200, 400):
        record(f"HNSW M=32 ef_search={ef}", hnsw, ef_search=ef)
    ivf = build_index(V, "ivf", nlist=41)
    for nprobe in (1, 2, 4, 8, 16):
        record(f"IVF nlist=41 nprobe={nprobe}", ivf, nprobe=nprobe)
    results.save()


def pipeline_latency(n_requests: int, results: benchlib.Results) -> None:
    from course_lib.ann import build_index
    from course_lib.models.torch_models import DotProduct
    from course_lib.pipeline import TwoStagePipeline, measure_request_latency

    ml, train, model = results.keep
    ranker = DotProduct(objective="bce", n_factors=64, weight_decay=0, batch_size=2048, n_epochs=6, lr=3e-3,
                        random_state=0).fit(train)
    V = model.item_vectors()
    users = model.data_.user_ids[:n_requests]
    rows = results.data["pipeline"] = []
    indexes = {"faiss flat": build_index(V, "flat"), "HNSW M=32 ef_search=200": build_index(V, "hnsw", M=32),
               "IVF nlist=41 nprobe=8": build_index(V, "ivf", nlist=41, nprobe=8)}
    settings = [("faiss flat", None, None), ("HNSW M=32 ef_search=200", None, None),
                ("IVF nlist=41 nprobe=8", None, None), ("HNSW M=32 ef_search=200", ranker, None),
                ("HNSW M=32 ef_search=200", ranker, 0.7)]
    for label, rank, lam in settings:
        pipe = TwoStagePipeline(model, indexes[label], ranker=rank, n_candidates=100, k=10, mmr_lambda=lam,
                                items=ml.movies)
        lat = measure_request_latency(pipe, users, repeats=3, warmup=10)
        row = {"index": label, "ranker": "dot product BCE (test())" if rank is not None else "none",
               "mmr_lambda": lam, **{k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(lat).items()}}
        rows.append(row)
        results.save()
        print(f"pipeline {label}, ranker {row['ranker']}, MMR {lam}: p50 {lat.p50_ms:.2f} ms, p95 {lat.p95_ms:.2f} ms "
              f"(CPU {lat.cpu_p50_ms:.2f} / {lat.cpu_p95_ms:.2f})", flush=True)


def markdown(data: dict) -> str:
    import pandas as pd

    m = data["machine"]
    lines = ["# Two-stage retrieval on MovieLens 100K: two towers, ANN, the pipeline", "",
             f"Command: `{data['command']}`  ", f"Started {data['started']}, finished {data['finished']}.  ",
             f"Machine: {m['cpu']}, {m['cores']} logical cores, {m['ram_gib']} GiB RAM, {m['os']}; "
             f"Python {m['versions']['python']}, NumPy {m['versions']['numpy']}, PyTorch {m['versions']['torch']}; "
             f"threads: {m['threads']}.  ",
             f"Load average (1/5/15 min): {data['load_average']['start']} at start, {data['load_average']['end']} "
             "at end (2 cores shared with other jobs).", "",
             "Protocol: per-user stratified 75/25 split of ML-100K (`random_state` 42 + seed), every training "
             "interaction a positive, full ranking of every unseen item for every test user (course_lib.evaluate's "
             "`full_ranking`); each model fitted with `random_state` = seed. Popularity@10: mean number of training "
             "interactions of the recommended items. See the docstring of `benchmarks/bench_two_stage.py`.", ""]
    q = pd.DataFrame(data.get("quality", []))
    if len(q):
        lines += ["## Retrieval quality (mean ± std over seeds, [min, max])", "",
                  "| model | seeds | Recall@100 | NDCG@10 | novelty@10 | popularity@10 | epochs | fit CPU s |",
                  "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: |"]
        for name, g in q.groupby("model", sort=False):
            def cell(col, g=g):
                return f"{g[col].mean():.4f} ± {g[col].std(ddof=1) if len(g) > 1 else 0:.4f} [{g[col].min():.4f}, " \
                       f"{g[col].max():.4f}]"
            lines.append(f"| {name} | {len(g)} | {cell('recall@100')} | {cell('ndcg@10')} | "
                         f"{g['novelty@10'].mean():.3f} | {g['mean_popularity@10'].mean():.0f} | "
                         f"{g['epochs'].mean():.1f} | {g['fit_cpu_s'].mean():.1f} |")
        lines += ["", "Per seed:", "", "| seed | model | Recall@100 | NDCG@10 | popularity@10 |", "| ---: | --- | ---: | ---: | ---: |"]
        lines += [f"| {r.seed} | {r.model} | {r['recall@100']:.4f} | {r['ndcg@10']:.4f} | {r['mean_popularity@10']:.0f} |"
                  for _, r in q.iterrows()]
        lines.append("")
    a = data.get("ann_movielens")
    if a and a["rows"]:
        lines += [f"## ANN over the two-tower item vectors ({a['n_items']:,} items, {a['n_queries']} user queries, "
                  f"k = {a['k']})", "", "Seed 0's two-tower model. Recall@100 against the exact top 100 (NumPy); "
                  "latency: median CPU (wall) ms of one query per call, best of 3 passes, 200 queries. At this size "
                  "exact search is already fast: the index pays off on large catalogues (`results/ann.md`: 1M items).",
                  "", "| index | recall@100 | single ms CPU (wall) |", "| --- | ---: | ---: |"]
        lines += [f"| {r['index']} | {r['recall@100']:.4f} | {r['single_cpu_ms']:.3f} ({r['single_wall_ms']:.3f}) |"
                  for r in a["rows"]]
        lines.append("")
    p = data.get("pipeline", [])
    if p:
        lines += ["## The pipeline, per request", "",
                  "`TwoStagePipeline`: user tower -> index (100 unseen candidates) -> ranker -> MMR -> top 10 with "
                  "titles, one request per user, best of 3 passes; p50 / p95 over the requests.", "",
                  "| index | ranker | MMR λ | requests | p50 ms wall | p95 ms wall | p50 ms CPU | p95 ms CPU |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {r['index']} | {r['ranker']} | {r['mmr_lambda'] if r['mmr_lambda'] is not None else '-'} | "
                  f"{r['n_requests']} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['cpu_p50_ms']:.2f} | "
                  f"{r['cpu_p95_ms']:.2f} |" for r in p]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=benchlib.int_list, default="0,1,2")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--no-keras", action="store_true")
    ap.add_argument("--quick", action="store_true", help="seed 0 only, no Keras, 50 requests; results/quick/")
    args = ap.parse_args()
    seeds = [0] if args.quick else args.seeds
    keras = not (args.quick or args.no_keras)
    if args.quick:
        benchlib.RESULTS = benchlib.DEFAULT_RESULTS / "quick"
    import course

    course.setup(seed=42, torch=True, tensorflow=keras)
    results = benchlib.Results("two_stage", benchlib.command_line(), seeds=seeds)
    quality(seeds, keras, results)
    ann_on_movielens(results)
    pipeline_latency(50 if args.quick else args.requests, results)
    results.finish()
    (benchlib.RESULTS / "two_stage.md").write_text(markdown(results.data))
    print(f"\nwrote {benchlib.RESULTS / 'two_stage.json'} and two_stage.md", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
