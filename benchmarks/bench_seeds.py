"""Top-10 ranking over several split seeds: mean, spread, min and max, fixed hyperparameters.

    .venv/bin/python benchmarks/bench_seeds.py                  # 5 seeds, per-user and per-item (~3 CPU min)
    .venv/bin/python benchmarks/bench_seeds.py --seeds 42,1     # quick

Protocol: MovieLens 100K, stratified 75/25 split (``course_lib.split.stratified_split(ratings,
0.25, by=..., random_state=seed)``) per user and per item (the Microsoft Recommenders
benchmark's), seen items removed, every test user ranked over the whole catalogue
(``evaluate_full_ranking``, k=10): precision, recall, NDCG and MAP at 10, catalogue coverage of the
top-10 lists, fit CPU seconds. The first seed, 42, is bench_ranking.py's split.

Hyperparameters are FIXED, not re-tuned per seed: the ones bench_ranking.py chose on its
validation split, read from the per-user table of benchmarks/results/ranking.md (item-kNN k, EASE
lambda, implicit ALS factors/alpha/reg, BPR-MF factors/reg/epochs, and the softmax dot product's
size, weight decay, batch size and epoch count), and the models are built with bench_ranking.py's
own factories (``bpr_mf``, ``softmax_dot``), so seed 42 reproduces its per-user numbers.

Why: on 943 users a single split's NDCG@10 moves by about +-0.01 from seed to seed, so
single-split differences smaller than that are noise; the std column shows it per model.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

benchlib.single_thread()

from course_lib.data import load_movielens  # noqa: E402
from course_lib.evaluate import evaluate_full_ranking  # noqa: E402
from course_lib.models import EASE, ImplicitALS, ItemKNN, Popularity  # noqa: E402
from course_lib.split import stratified_split  # noqa: E402

METRICS = {"ndcg@10": "NDCG@10", "precision@10": "P@10", "recall@10": "R@10", "map@10": "MAP@10",
           "coverage": "coverage", "fit_cpu_s": "fit s"}
#: used only if results/ranking.md cannot be read
DEFAULT_CHOICES = {"item-kNN": {"k": 200}, "EASE": {"lam": 500}, "implicit ALS": {"n_factors": 32, "alpha": 3, "reg": 30},
                   "BPR-MF": {}}


def ranking_choices() -> tuple[dict, str]:
    """The hyperparameters bench_ranking.py chose, parsed from its per-user table in results/ranking.md.

    Keys: item-kNN, EASE, implicit ALS, BPR-MF and dot (the softmax dot product; absent if not found).
    """
    path = benchlib.DEFAULT_RESULTS / "ranking.md"
    choices, source = dict(DEFAULT_CHOICES), "defaults (results/ranking.md not found)"
    if path.is_file():
        text = path.read_text().split("## Full ranking top-10, stratified 75/25 per user")[-1].split("\n## ")[0]
        for name in DEFAULT_CHOICES:
            m = re.search(r"\| " + re.escape(name) + r" (\{[^}]*\})", text)
            if m:
                choices[name] = ast.literal_eval(m.group(1))
        m = re.search(r"dot product, softmax \(PyTorch, tuned (\{[^}]*\})\)", text)
        if m:
            choices["dot"] = ast.literal_eval(m.group(1))
        source = "benchmarks/results/ranking.md (bench_ranking.py's validation choice, per-user table)"
    return choices, source


stats = benchlib.stats   # mean, std (ddof=1), min, max, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=benchlib.int_list, default="42,1,2,3,4")
    parser.add_argument("--torch-seeds", type=int, default=None, help="run the PyTorch model on the first N seeds only")
    parser.add_argument("--by", default="user,item")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--reuse-dot", action="store_true", help=argparse.SUPPRESS)  # kept for old command lines
    args = parser.parse_args()
    seeds = args.seeds
    torch_seeds = seeds if args.torch_seeds is None else seeds[:args.torch_seeds]

    import bench_ranking  # the lead's model factories (softmax_dot, bpr_mf), so the models are built identically

    import course

    course.setup(seed=0, torch=not args.no_torch)
    ratings = load_movielens("ml-100k").ratings
    choices, source = ranking_choices()
    hyper = {k: choices[k] for k in ("item-kNN", "EASE", "implicit ALS", "BPR-MF")}
    makers = {"popularity": Popularity,
              "item-kNN": lambda: ItemKNN(**choices["item-kNN"]),
              "EASE": lambda: EASE(**choices["EASE"]),
              "implicit ALS": lambda: ImplicitALS(**choices["implicit ALS"]),
              "BPR-MF": lambda: bench_ranking.bpr_mf(**choices["BPR-MF"])}
    if not args.no_torch and "dot" in choices:
        hyper["dot product (softmax)"] = {**choices["dot"], **{k: v for k, v in bench_ranking.DOT_FIXED.items()
                                                                 if k in ("lr", "objective")}}
        makers["dot product, softmax (PyTorch)"] = lambda: bench_ranking.softmax_dot(**choices["dot"])
    elif not args.no_torch:
        print("  no tuned softmax dot product in results/ranking.md: the PyTorch model is left out", flush=True)
    res = benchlib.Results("seeds", benchlib.command_line(), dataset="ml-100k", seeds=seeds, torch_seeds=torch_seeds,
                           protocol="stratified_split(ratings, 0.25, by=BY, random_state=SEED); full ranking, k=10",
                           hyperparameters=hyper, hyperparameter_source=source, runs=[], summary={})
    for by in args.by.split(","):
        for seed in seeds:
            train, test = stratified_split(ratings, 0.25, by=by, random_state=seed)
            for name, make in makers.items():
                if "PyTorch" in name and seed not in torch_seeds:
                    continue
                start = time.process_time()
                model = make().fit(train)
                fit = time.process_time() - start
                m = evaluate_full_ranking(model, test, 10)
                row = {"by": by, "seed": seed, "model": name, "fit_cpu_s": fit,
                       **{k: float(m[k]) for k in METRICS if k in m}, "load_average": benchlib.load_average()}
                res.data["runs"].append(row)
                print(f"  {by:<4} seed {seed:>2} {name:<32} NDCG@10 {row['ndcg@10']:.4f}  fit {fit:6.2f} s", flush=True)
            res.data["summary"] = summary(res.data["runs"])
            res.save()
    res.finish()
    print(markdown(res.data))


def summary(runs: list[dict]) -> dict:
    out: dict = {}
    for by in dict.fromkeys(r["by"] for r in runs):
        out[by] = {}
        for name in dict.fromkeys(r["model"] for r in runs if r["by"] == by):
            rows = [r for r in runs if r["by"] == by and r["model"] == name]
            out[by][name] = {k: stats([r[k] for r in rows]) for k in METRICS}
    return out


def markdown(data: dict) -> str:
    parts = []
    for by, models in data["summary"].items():
        lines = [f"Stratified 75/25 per {by}; mean ± std over seeds [min, max]", "",
                 "| model | seeds | " + " | ".join(METRICS.values()) + " |", "|---" * (len(METRICS) + 2) + "|"]
        for name, s in models.items():
            cells = []
            for k in METRICS:
                st = s[k]
                if k == "fit_cpu_s":
                    cells.append(f"{st['mean']:.2f} ± {st['std']:.2f}")
                else:
                    cells.append(f"{st['mean']:.4f} ± {st['std']:.4f} [{st['min']:.4f}, {st['max']:.4f}]")
            lines.append(f"| {name} | {s['ndcg@10']['n']} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


if __name__ == "__main__":
    main()
