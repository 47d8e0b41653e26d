"""Neural models against strong simple baselines, under the course's three protocols.

    .venv/bin/python benchmarks/bench_ranking.py                   # every section (~10 CPU min)
    .venv/bin/python benchmarks/bench_ranking.py --only rating     # or: full, items, ncf

MovieLens 100K. Sections (one table each, printed as Markdown and written to
``benchmarks/results/ranking.md``):

``rating``  RMSE on a 90/10 random split (``random_split(r, 0.1, random_state=42)``).
``full``    full-ranking top-10 on a per-user stratified 75/25 split (``stratified_split(r, 0.25,
            by="user", random_state=42)``): NDCG, precision, recall and MAP at 10, every model on the
            same split.
``items``   the same on a per-item stratified split (the Microsoft Recommenders benchmark's).
``ncf``     the NCF protocol: leave the last rating of each user out, rank it among 99 sampled
            unrated items, HR@10 and NDCG@10.

Hyperparameters are chosen on a validation split carved from the training part
(``stratified_split(train, 0.25, random_state=1)`` for ranking, a random 10 % for ratings),
never on the test set: the grid for each model is below, and the choice is printed. Neural
models also early-stop on 10 % of their training interactions. Times are CPU seconds of this
process (``time.process_time``, one thread).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

for _key, _value in {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                     "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_BACKEND": "tensorflow"}.items():
    os.environ.setdefault(_key, _value)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import course  # noqa: E402
from course_lib.data import load_movielens  # noqa: E402
from course_lib.evaluate import evaluate_full_ranking, evaluate_ratings, evaluate_sampled  # noqa: E402
from course_lib.models import BaselineOnly, Popularity  # noqa: E402
from course_lib.models.implicit import EASE, ImplicitALS, ItemKNN  # noqa: E402
from course_lib.split import leave_last_out, random_split, stratified_split  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "ranking.md"

GRIDS = {
    "item-kNN": [{"k": k} for k in (100, 200, 400)],
    "EASE": [{"lam": lam} for lam in (250, 500, 750)],
    "implicit ALS": [{"n_factors": f, "alpha": a, "reg": r} for f in (32, 64) for a, r in ((3, 30), (5, 50), (10, 100))],
    "BPR-MF": [{"n_factors": 64, "reg": r, "n_epochs": e} for r in (0.002, 0.01, 0.02) for e in (30, 100, 200)],
    "dot product (softmax)": [{"n_factors": f, "weight_decay": wd, "batch_size": bs, "n_epochs": e}
                              for f, bs in ((64, 1024), (128, 1024), (256, 2048))
                              for wd in (5e-5, 1e-4) for e in (10, 15, 20, 25, 30)],
}
DOT_FIXED = dict(objective="softmax", lr=3e-3, early_stopping=False, progress=False, random_state=0)


def softmax_dot(**p):
    """The tuned dot product: softmax objective, the epoch count chosen on validation NDCG, no early stop.

    Choosing the number of epochs on the validation split and then refitting on *all* the training
    ratings for that many epochs uses every training rating (early stopping inside ``fit`` would hold
    10 % of them out); the validation split is still carved from training data only.
    """
    from course_lib.models.torch_models import DotProduct

    return DotProduct(**DOT_FIXED, **p)


def markdown(table: pd.DataFrame) -> str:
    """A Markdown table (no dependency on ``tabulate``)."""
    cols = [table.index.name or ""] + list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, row in table.iterrows():
        cells = [f"{v:.4f}" if isinstance(v, float) and abs(v) < 10 else (f"{v:.1f}" if isinstance(v, float) else str(v))
                 for v in row]
        lines.append("| " + " | ".join([str(name)] + cells) + " |")
    return "\n".join(lines)


def timed_fit(model, train):
    start = time.process_time()
    model.fit(train)
    return model, time.process_time() - start


def choose(make, grid, train, name):
    """The grid point with the best validation NDCG@10 (validation carved from ``train``)."""
    inner, val = stratified_split(train, 0.25, random_state=1)
    scores = [evaluate_full_ranking(make(**p).fit(inner), val, 10)["ndcg@10"] for p in grid]
    best = grid[int(np.argmax(scores))]
    print(f"  {name}: validation NDCG@10 {[round(s, 4) for s in scores]} -> {best}", flush=True)
    return best


def neural_models(tuned_dot: dict):
    from course_lib.models.keras_models import NeuMF as KerasNeuMF
    from course_lib.models.torch_models import GMF, MLP, DotProduct, NeuMF

    common = dict(batch_size=2048, n_epochs=20, lr=3e-3, progress=False, random_state=0)
    return {
        "dot product, BCE (PyTorch)": lambda: DotProduct(objective="bce", n_factors=64, weight_decay=0, **common),
        "dot product, BPR (PyTorch)": lambda: DotProduct(objective="bpr", n_factors=64, weight_decay=0, **common),
        f"dot product, softmax (PyTorch, tuned {tuned_dot})": lambda: softmax_dot(**tuned_dot),
        "GMF (PyTorch)": lambda: GMF(n_factors=32, **common),
        "MLP (PyTorch)": lambda: MLP(layers=(64, 32, 16), **common),
        "NeuMF (PyTorch)": lambda: NeuMF(n_factors=32, layers=(64, 32, 16), **common),
        "NeuMF (Keras)": lambda: KerasNeuMF(n_factors=32, layers=(64, 32, 16), batch_size=2048, n_epochs=20,
                                            lr=3e-3, random_state=0),
    }


def bpr_mf(**p):
    from course_lib.models.factorization import BPRMF

    return BPRMF(random_state=0, **p)


def full_ranking_section(ratings, by: str, include_neural: bool, choices: dict) -> pd.DataFrame:
    train, test = stratified_split(ratings, 0.25, by=by, random_state=42)
    print(f"full ranking, stratified per {by}: {len(train):,} train, {len(test):,} test", flush=True)
    if not choices:
        choices["item-kNN"] = choose(ItemKNN, GRIDS["item-kNN"], train, "item-kNN")
        choices["EASE"] = choose(EASE, GRIDS["EASE"], train, "EASE")
        choices["implicit ALS"] = choose(ImplicitALS, GRIDS["implicit ALS"], train, "implicit ALS")
        choices["BPR-MF"] = choose(bpr_mf, GRIDS["BPR-MF"], train, "BPR-MF")
    makers = {"popularity": Popularity,
              f"item-kNN {choices['item-kNN']}": lambda: ItemKNN(**choices["item-kNN"]),
              f"implicit ALS {choices['implicit ALS']}": lambda: ImplicitALS(**choices["implicit ALS"]),
              f"EASE {choices['EASE']}": lambda: EASE(**choices["EASE"])}
    makers[f"BPR-MF {choices['BPR-MF']}"] = lambda: bpr_mf(**choices["BPR-MF"])
    if include_neural:
        if "dot" not in choices:
            choices["dot"] = choose(softmax_dot, GRIDS["dot product (softmax)"], train, "dot product (softmax)")
        makers.update(neural_models(choices["dot"]))
    rows = []
    for name, make in makers.items():
        model, seconds = timed_fit(make(), train)
        m = evaluate_full_ranking(model, test, 10)
        rows.append({"model": name, "NDCG@10": m["ndcg@10"], "P@10": m["precision@10"], "R@10": m["recall@10"],
                     "MAP@10": m["map@10"], "fit (s)": seconds})
        print(f"  {name}: NDCG@10 {m['ndcg@10']:.4f} ({seconds:.1f} s)", flush=True)
    return pd.DataFrame(rows).set_index("model")


def ncf_section(ratings, choices: dict) -> pd.DataFrame:
    from course_lib.models.torch_models import GMF, MLP, DotProduct, NeuMF

    train, test = leave_last_out(ratings, 1)
    print(f"NCF protocol (leave last out, 99 negatives): {len(train):,} train, {len(test):,} test", flush=True)
    common = dict(batch_size=2048, n_epochs=20, lr=3e-3, progress=False, random_state=0)
    makers = {"ItemPop": Popularity, f"ItemKNN {choices['item-kNN']}": lambda: ItemKNN(**choices["item-kNN"])}
    makers[f"BPR-MF {choices['BPR-MF']}"] = lambda: bpr_mf(**choices["BPR-MF"])
    makers.update({
        "GMF": lambda: GMF(n_factors=32, **common),
        "MLP": lambda: MLP(layers=(64, 32, 16), **common),
        "NeuMF (no pre-training)": lambda: NeuMF(n_factors=32, layers=(64, 32, 16), **common),
        "dot product, BCE": lambda: DotProduct(objective="bce", n_factors=64, weight_decay=0, **common),
        "dot product, softmax (tuned)": lambda: softmax_dot(**choices["dot"]),
        f"EASE {choices['EASE']}": lambda: EASE(**choices["EASE"]),
        f"implicit ALS {choices['implicit ALS']}": lambda: ImplicitALS(**choices["implicit ALS"]),
    })
    rows, fitted = [], {}
    for name, make in makers.items():
        model, seconds = timed_fit(make(), train)
        fitted[name] = model
        m = evaluate_sampled(model, test, train, n_negatives=99, k=10, random_state=0)
        rows.append({"model": name, "HR@10": m["hr@10"], "NDCG@10": m["ndcg@10"], "fit (s)": seconds})
        print(f"  {name}: HR@10 {m['hr@10']:.4f} NDCG@10 {m['ndcg@10']:.4f} ({seconds:.1f} s)", flush=True)
    # NeuMF with pre-training from the GMF and MLP above (He et al.'s best variant)
    neumf = NeuMF(n_factors=32, layers=(64, 32, 16), pretrained=(fitted["GMF"], fitted["MLP"]),
                  **{**common, "lr": 5e-4})
    model, seconds = timed_fit(neumf, train)
    m = evaluate_sampled(model, test, train, n_negatives=99, k=10, random_state=0)
    rows.append({"model": "NeuMF (pre-trained)", "HR@10": m["hr@10"], "NDCG@10": m["ndcg@10"], "fit (s)": seconds})
    print(f"  NeuMF (pre-trained): HR@10 {m['hr@10']:.4f} NDCG@10 {m['ndcg@10']:.4f}", flush=True)
    return pd.DataFrame(rows).set_index("model")


def rating_section(ratings) -> pd.DataFrame:
    from course_lib.models.keras_models import DotProduct as KerasDotProduct
    from course_lib.models.torch_models import DotProduct

    train, test = random_split(ratings, 0.1, random_state=42)
    print(f"rating, random 90/10: {len(train):,} train, {len(test):,} test", flush=True)
    # hyperparameters on a validation share of train, then refit on all of train for the chosen epochs
    inner, val = random_split(train, 0.1, random_state=1)
    grid = [{"n_factors": f, "weight_decay": wd, "lr": lr, "batch_size": bs}
            for f, wd, lr, bs in ((32, 1e-4, 5e-3, 1024), (64, 2e-4, 2e-3, 512), (64, 1e-4, 3e-3, 1024))]
    scores, epochs = [], []
    for p in grid:
        m = DotProduct(progress=False, random_state=0, n_epochs=30, n_iter_no_change=2, **p).fit(inner, validation=val)
        scores.append(evaluate_ratings(m, val)["rmse"])
        epochs.append(int(m.history_["val_loss"].idxmin()))
    best = int(np.argmin(scores))
    print(f"  dot product: validation RMSE {[round(s, 4) for s in scores]} -> {grid[best]}, {epochs[best]} epochs",
          flush=True)
    makers = {
        "bias baseline (BaselineOnly)": BaselineOnly,
        "dot product (PyTorch), early stopping": lambda: DotProduct(progress=False, random_state=0, n_epochs=30,
                                                                    **grid[best]),
        "dot product (PyTorch), refit on all train": lambda: DotProduct(progress=False, random_state=0,
                                                                        n_epochs=epochs[best], early_stopping=False,
                                                                        **grid[best]),
        "dot product (Keras), early stopping": lambda: KerasDotProduct(random_state=0, n_epochs=30, **grid[best]),
        "dot product (Keras), refit on all train": lambda: KerasDotProduct(random_state=0, n_epochs=epochs[best],
                                                                           early_stopping=False, **grid[best]),
    }
    rows = []
    for name, make in makers.items():
        model, seconds = timed_fit(make(), train)
        m = evaluate_ratings(model, test)
        rows.append({"model": name, "RMSE": m["rmse"], "MAE": m["mae"], "fit (s)": seconds})
        print(f"  {name}: RMSE {m['rmse']:.4f} ({seconds:.1f} s)", flush=True)
    return pd.DataFrame(rows).set_index("model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["rating", "full", "items", "ncf"], action="append")
    args = parser.parse_args()
    sections = args.only or ["rating", "full", "items", "ncf"]
    course.setup(seed=0, torch=True, tensorflow=True)
    ratings = load_movielens("ml-100k").ratings
    out, choices = [], {}
    titles = {"rating": "Rating prediction, random 90/10 split (RMSE)",
              "full": "Full ranking top-10, stratified 75/25 per user",
              "items": "Full ranking top-10, stratified 75/25 per item",
              "ncf": "NCF protocol: leave last out, 99 sampled negatives"}
    for section in sections:
        if section == "rating":
            table = rating_section(ratings)
        elif section == "full":
            table = full_ranking_section(ratings, "user", True, choices)
        elif section == "items":
            table = full_ranking_section(ratings, "item", False, dict(choices) or {})
        else:
            if "dot" not in choices:
                full_ranking_choices = {}
                train, _ = stratified_split(ratings, 0.25, random_state=42)
                full_ranking_choices["item-kNN"] = choose(ItemKNN, GRIDS["item-kNN"], train, "item-kNN")
                full_ranking_choices["EASE"] = choose(EASE, GRIDS["EASE"], train, "EASE")
                full_ranking_choices["implicit ALS"] = choose(ImplicitALS, GRIDS["implicit ALS"], train, "implicit ALS")
                full_ranking_choices["BPR-MF"] = choose(bpr_mf, GRIDS["BPR-MF"], train, "BPR-MF")
                full_ranking_choices["dot"] = choose(softmax_dot, GRIDS["dot product (softmax)"], train, "dot")
                choices.update(full_ranking_choices)
            table = ncf_section(ratings, choices)
        text = f"## {titles[section]}\n\n{markdown(table)}\n"
        print("\n" + text, flush=True)
        out.append(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    header = ("# bench_ranking.py results\n\nMovieLens 100K; hyperparameters chosen on validation splits carved from "
              "training data; times are CPU seconds on one thread of a shared 2-core machine.\n\n")
    RESULTS.write_text(header + "\n".join(out))


if __name__ == "__main__":
    main()
