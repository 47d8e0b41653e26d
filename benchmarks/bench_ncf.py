"""The NCF networks of lesson 07 tuned with the baselines' effort, then tested on three split seeds.

    .venv/bin/python benchmarks/bench_ncf.py                     # GMF and NeuMF (~15 CPU min)
    .venv/bin/python benchmarks/bench_ncf.py --models NeuMF --seeds 42

Lesson 07 trains GMF, MLP and NeuMF once, for the NCF paper's short budget, and finds them below
EASE and implicit ALS while their validation losses are still falling; it says that table cannot
tell whether the networks are worse or only under-trained. This benchmark gives two of them the
treatment the baselines got in bench_ranking.py:

* **Tuning**, on seed 42's per-user stratified 75/25 split (lesson 07's), with the validation split
  bench_ranking.py uses for every model (``stratified_split(train, 0.25, random_state=1)``): a grid of
  n_factors {16, 32, 64} x weight decay {0, 1e-5, 1e-4} x epochs {5, 10, 20, 40}, BCE with 4
  sampled negatives, batches of 2,048, Adam at 3e-3, no early stopping (the number of epochs is a grid
  dimension, so the refit uses every training interaction), 36 points per model, chosen by
  validation NDCG@10 (the softmax dot product got 30, implicit ALS 6, EASE 3, BPR-MF 9).
* **Test**, with that setting fixed, on split seeds 42, 1 and 2 (bench_seeds.py's first three), each
  model refitted on the whole training part (random_state 0), next to ``EASE(lam=500)`` and
  ``ImplicitALS(n_factors=64, alpha=3, reg=30)`` (bench_ranking.py's choices) on the same splits:
  NDCG@10 mean ± std and the paired differences.

Results: ``results/ncf.json`` and ``results/ncf.md``. Never run by the tests.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

benchlib.single_thread()

import os  # noqa: E402

from course.reproducibility import numeric_environment  # noqa: E402

for _key, _value in numeric_environment().items():
    os.environ.setdefault(_key, _value)

from course_lib.data import load_movielens  # noqa: E402
from course_lib.evaluate import evaluate_full_ranking  # noqa: E402
from course_lib.models import EASE, ImplicitALS  # noqa: E402
from course_lib.split import stratified_split  # noqa: E402

GRID = [{"n_factors": f, "weight_decay": wd, "n_epochs": e}
        for f, wd, e in itertools.product((16, 32, 64), (0.0, 1e-5, 1e-4), (5, 10, 20, 40))]
FIXED = dict(batch_size=2048, lr=3e-3, n_negatives=4, early_stopping=False, progress=False, random_state=0)
LESSON_COMMON = dict(batch_size=2048, n_epochs=6, lr=3e-3, progress=False, random_state=0)   # lesson 07's cell


def lesson_model(name: str):
    """The network exactly as lesson 07 trains it: 6 epochs, early stopping on 10 % (NeuMF without pre-training)."""
    from course_lib.models.torch_models import GMF, NeuMF

    if name == "GMF":
        return GMF(n_factors=32, **LESSON_COMMON)
    return NeuMF(n_factors=32, layers=(64, 32, 16), **LESSON_COMMON)


def make(name: str, **p):
    from course_lib.models.torch_models import GMF, NeuMF

    if name == "GMF":
        return GMF(**FIXED, **p)
    return NeuMF(layers=(2 * p["n_factors"], p["n_factors"], p["n_factors"] // 2), **FIXED, **p)


stats = benchlib.stats   # mean, std (ddof=1), min, max, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="GMF,NeuMF")
    parser.add_argument("--seeds", type=benchlib.int_list, default="42,1,2")
    args = parser.parse_args()
    import course

    course.setup(seed=0, torch=True)
    ratings = load_movielens("ml-100k").ratings
    res = benchlib.Results("ncf", benchlib.command_line(), dataset="ml-100k", grid=GRID, fixed=FIXED, seeds=args.seeds,
                           tuning=[], choice={}, test=[])
    train, _ = stratified_split(ratings, 0.25, random_state=42)
    inner, val = stratified_split(train, 0.25, random_state=1)
    for name in args.models.split(","):
        for p in GRID:
            start = time.process_time()
            ndcg = float(evaluate_full_ranking(make(name, **p).fit(inner), val, 10)["ndcg@10"])
            res.data["tuning"].append({"model": name, **p, "val_ndcg@10": ndcg, "fit_cpu_s": time.process_time() - start})
            print(f"  {name} {p}: validation NDCG@10 {ndcg:.4f}", flush=True)
            res.save()
        rows = [r for r in res.data["tuning"] if r["model"] == name]
        best = max(rows, key=lambda r: r["val_ndcg@10"])
        res.data["choice"][name] = {k: best[k] for k in ("n_factors", "weight_decay", "n_epochs")}
        print(f"  {name}: chosen {res.data['choice'][name]}", flush=True)
    for seed in args.seeds:
        tr, te = stratified_split(ratings, 0.25, random_state=seed)
        models = {"EASE": EASE(lam=500), "implicit ALS": ImplicitALS(n_factors=64, alpha=3, reg=30)}
        for name in args.models.split(","):
            models[f"{name}, tuned"] = make(name, **res.data["choice"][name])
            models[f"{name}, lesson 07's budget"] = lesson_model(name)
        for label, model in models.items():
            start = time.process_time()
            model.fit(tr)
            fit = time.process_time() - start
            ndcg = float(evaluate_full_ranking(model, te, 10)["ndcg@10"])
            res.data["test"].append({"seed": seed, "model": label, "ndcg@10": ndcg, "fit_cpu_s": fit})
            print(f"  seed {seed} {label}: NDCG@10 {ndcg:.4f} ({fit:.1f} s)", flush=True)
            res.save()
    res.finish()
    text = markdown(res.data)
    res.path.with_suffix(".md").write_text(text)
    print(text)


def markdown(data: dict) -> str:
    lines = ["# bench_ncf.py results", "", "Command: `" + data["command"] + "`; see the script's docstring for the "
             "protocol. Load average " + f"{data['load_average']['start']} at start, {data['load_average']['end']} at end.", "",
             "## Tuning on seed 42's validation split (NDCG@10)", "",
             "| model | n_factors | weight decay | epochs | validation NDCG@10 | fit CPU s |", "|---|---|---|---|---|---|"]
    for r in data["tuning"]:
        lines.append(f"| {r['model']} | {r['n_factors']} | {r['weight_decay']:g} | {r['n_epochs']} | {r['val_ndcg@10']:.4f} | "
                     f"{r['fit_cpu_s']:.1f} |")
    lines += ["", "Chosen: " + "; ".join(f"{k} {v}" for k, v in data["choice"].items()), "",
              f"## Test, split seeds {data['seeds']} (NDCG@10, mean ± std (ddof=1) [min, max])", "",
              "| model | NDCG@10 | fit CPU s |", "|---|---|---|"]
    test = data["test"]
    names = list(dict.fromkeys(r["model"] for r in test))
    for name in names:
        s = stats([r["ndcg@10"] for r in test if r["model"] == name])
        f = stats([r["fit_cpu_s"] for r in test if r["model"] == name])
        lines.append(f"| {name} | {s['mean']:.4f} ± {s['std']:.4f} [{s['min']:.4f}, {s['max']:.4f}] | {f['mean']:.1f} |")
    lines += ["", "Paired differences (a minus b on the same split):", "", "| a | b | mean ± std [min, max] | same sign on every seed |",
              "|---|---|---|---|"]
    by = {(r["seed"], r["model"]): r["ndcg@10"] for r in test}
    seeds = sorted({r["seed"] for r in test})
    for a in [n for n in names if "tuned" in n]:
        for b in ["EASE", "implicit ALS", a.replace("tuned", "lesson 07's budget")]:
            d = [by[(s, a)] - by[(s, b)] for s in seeds if (s, a) in by and (s, b) in by]
            if d:
                st = stats(d)
                same = all(x > 0 for x in d) or all(x < 0 for x in d)
                lines.append(f"| {a} | {b} | {st['mean']:+.4f} ± {st['std']:.4f} [{st['min']:+.4f}, {st['max']:+.4f}] | "
                             f"{'yes' if same else 'no'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
