"""Second-stage rankers (lesson 13): AUC, log loss and re-ranking NDCG@10 over several seeds.

    .venv/bin/python benchmarks/bench_rankers.py                          # seeds 42 1 2, negatives 0 1 4
    .venv/bin/python benchmarks/bench_rankers.py --seeds 42 --negatives 1  # quick

Protocol. MovieLens 100K, ``stratified_split(ratings, 0.25, random_state=seed)`` (per user 75/25);
the rankers are seeded with the same ``seed``. The click label is ``rating >= 4`` (the rankers' default
``positive_threshold``). For each seed:

* **first stage**: ``EASE(lam=500)`` fitted on the training ratings retrieves each test user's 100 best
  unseen movies (``course_lib.ranking_data.retrieve_candidates``); its own order is the baseline row;
* **rankers**: ``LogisticRanker``, ``FMRanker``, ``DeepFMRanker``, ``DCNRanker`` with their default
  hyperparameters (all fields: user id, age, gender, occupation, item id, genres, year, weekday,
  hour; early stopping on 10 % of the training ratings), trained with ``n_unseen_negatives`` in
  ``--negatives`` (0 = negatives are the rated movies below 4 only; s > 0 adds s sampled unwatched
  movies per rating);
* **AUC and log loss** of the click probability on the held-out *rated* movies (the "shown" rows:
  label = rating >= 4): ``course_lib.metrics.roc_auc`` and the mean binary cross-entropy;
* **NDCG@10** (and recall@10) of re-ordering each user's first ``N`` candidates by the ranker
  (``course_lib.ranking_data.evaluate_reranking``; relevant = held-out movies rated >= 4), for
  N = 20, 50 and 100; the retrieval order's NDCG@10 does not depend on N.

Writes ``benchmarks/results/rankers.json`` (every row) and ``rankers.md`` (mean ± std over the seeds,
``ddof=1``), with the machine and the load average before and after. Times are CPU seconds of this
process (one thread); under load they are inflated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

from course.reproducibility import numeric_environment  # noqa: E402

import os  # noqa: E402

for _key, _value in numeric_environment().items():
    os.environ.setdefault(_key, _value)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from course_lib.data import load_movielens  # noqa: E402
from course_lib.metrics import roc_auc  # noqa: E402
from course_lib.models import EASE  # noqa: E402
from course_lib.models.torch_models.rankers import DCNRanker, DeepFMRanker, FMRanker, LogisticRanker  # noqa: E402
from course_lib.ranking_data import click_labels, evaluate_reranking, retrieve_candidates  # noqa: E402
from course_lib.split import stratified_split  # noqa: E402

RANKERS = {"logistic regression": LogisticRanker, "FM": FMRanker, "DeepFM": DeepFMRanker, "DCN-v2": DCNRanker}
DEPTHS = (20, 50, 100)


def log_loss(y, p) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def reranking(scores, cand, test, depth: int) -> dict:
    keep = (cand["retrieval_rank"] <= depth).to_numpy()
    return evaluate_reranking(np.asarray(scores)[keep], cand[keep], test, k=10)


def run_seed(seed: int, negatives, ml, results: benchlib.Results) -> None:
    train, test = stratified_split(ml.ratings, 0.25, random_state=seed)
    with benchlib.Timer() as t:
        ease = EASE(lam=500).fit(train)
        cand = retrieve_candidates(ease, sorted(test["user_id"].unique()), 100)
    base = reranking(-cand["retrieval_rank"].to_numpy(), cand, test, 100)
    results.data["rows"].append({"seed": seed, "model": "retrieval order (EASE)", "n_unseen_negatives": None,
                                 "fit_cpu_s": t.cpu, "candidate_recall@100": base["candidate_recall"],
                                 **{f"ndcg@10_N{n}": base["ndcg@10"] for n in DEPTHS},
                                 **{f"recall@10_N{n}": base["recall@10"] for n in DEPTHS}})
    results.save()
    y = click_labels(test)
    for neg in negatives:
        for name, cls in RANKERS.items():
            with benchlib.Timer() as t:
                model = cls(n_unseen_negatives=neg, random_state=seed).fit(train, users=ml.users, items=ml.movies)
            p = model.predict_proba(test)
            s = model.predict_proba(cand)
            row = {"seed": seed, "model": name, "n_unseen_negatives": neg, "fit_cpu_s": t.cpu,
                   "epochs": int(model.n_epochs_), "best_epoch": int(model.best_epoch_),
                   "auc": roc_auc(y, p), "log_loss": log_loss(y, p)}
            for n in DEPTHS:
                r = reranking(s, cand, test, n)
                row[f"ndcg@10_N{n}"], row[f"recall@10_N{n}"] = r["ndcg@10"], r["recall@10"]
            results.data["rows"].append(row)
            results.save()
            print(f"seed {seed} neg {neg} {name:20s} auc {row['auc']:.4f} logloss {row['log_loss']:.4f} "
                  f"ndcg@10(N=100) {row['ndcg@10_N100']:.4f} fit {t.cpu:.1f} s", flush=True)


def _fmt(values, digits: int = 4) -> str:
    v = np.asarray([x for x in values if x is not None and not pd.isna(x)], dtype=float)
    if len(v) == 0:
        return ""
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else f"{v.mean():.{digits}f}"


def markdown(data: dict) -> str:
    rows = pd.DataFrame(data["rows"])
    seeds = sorted(rows["seed"].unique().tolist())
    la = data["load_average"]
    m = data["machine"]
    lines = ["# bench_rankers.py results", "",
             f"Command: `{data['command']}`. Started {data['started']}, finished {data['finished']}.", "",
             f"Machine: {m['cpu']}, {m['cores']} logical cores, {m['ram_gib']} GiB RAM, {m['os']}; "
             f"PyTorch {m['versions'].get('torch')}, NumPy {m['versions'].get('numpy')}; one thread. "
             f"Load average (1, 5, 15 min) {' '.join(map(str, la['start']))} before, "
             f"{' '.join(map(str, la['end']))} after: shared cores, so the fit times are inflated.", "",
             "Protocol (see the script's docstring): MovieLens 100K, `stratified_split(ratings, 0.25, "
             "random_state=seed)`, rankers seeded with the same seed; click = rating >= 4. AUC and log loss on "
             "the held-out *rated* movies; NDCG@10 of re-ordering the first N of `EASE(lam=500)`'s 100 unseen "
             f"candidates per test user (relevant = held-out rated >= 4). Mean ± std (ddof=1) over seeds {seeds}.",
             ""]
    base = rows[rows["n_unseen_negatives"].isna()]
    lines += [f"Retrieval alone (EASE order): NDCG@10 {_fmt(base['ndcg@10_N100'])}, recall@10 "
              f"{_fmt(base['recall@10_N100'])}; share of the relevant held-out movies among the 100 candidates "
              f"{_fmt(base['candidate_recall@100'], 3)}.", ""]
    lines += ["| ranker | unseen negatives per rating | AUC (rated) | log loss (rated) | NDCG@10, N=20 | NDCG@10, N=50 "
              "| NDCG@10, N=100 | recall@10, N=100 | epochs | fit CPU s |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    ranked = rows[rows["n_unseen_negatives"].notna()]
    for (neg, name), g in ranked.groupby(["n_unseen_negatives", "model"], sort=False):
        lines.append(f"| {name} | {int(neg)} | {_fmt(g['auc'])} | {_fmt(g['log_loss'])} | {_fmt(g['ndcg@10_N20'])} | "
                     f"{_fmt(g['ndcg@10_N50'])} | {_fmt(g['ndcg@10_N100'])} | {_fmt(g['recall@10_N100'])} | "
                     f"{_fmt(g['epochs'], 1)} | {_fmt(g['fit_cpu_s'], 1)} |")
    lines += ["", "What crossing buys (paired by seed: each crossing ranker minus the logistic regression "
              "trained on the same split with the same negatives):", "",
              "| ranker | unseen negatives | Δ AUC | Δ log loss | Δ NDCG@10, N=100 |", "|---|---|---|---|---|"]
    for neg, g in ranked.groupby("n_unseen_negatives", sort=False):
        lr = g[g["model"] == "logistic regression"].set_index("seed")
        for name in [n for n in RANKERS if n != "logistic regression"]:
            other = g[g["model"] == name].set_index("seed")
            common = other.index.intersection(lr.index)
            if len(common) == 0:
                continue
            d = {k: (other.loc[common, k] - lr.loc[common, k]).tolist() for k in ("auc", "log_loss", "ndcg@10_N100")}
            lines.append(f"| {name} | {int(neg)} | {_fmt(d['auc'])} | {_fmt(d['log_loss'])} | "
                         f"{_fmt(d['ndcg@10_N100'])} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=benchlib.int_list, default="42,1,2")
    parser.add_argument("--negatives", type=benchlib.int_list, default="0,1,4", help="n_unseen_negatives values")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds, negatives = args.seeds, args.negatives
    ml = load_movielens("ml-100k")
    results = benchlib.Results("rankers", benchlib.command_line(), seeds=seeds, negatives=negatives, rows=[])
    for seed in seeds:
        run_seed(seed, negatives, ml, results)
    results.finish()
    (benchlib.RESULTS / "rankers.md").write_text(markdown(results.data))
    print(markdown(results.data))


if __name__ == "__main__":
    main()
