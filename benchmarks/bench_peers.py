"""Peers: the course's implicit ALS and BPR-MF next to ``implicit`` and ``cornac``, measured in the same run.

    .venv/bin/python -m pip install -r benchmarks/requirements-peers.txt     # once (or, outside the venv:
    .venv/bin/python -m pip install --target /tmp/peers_site -r benchmarks/requirements-peers.txt
    #  then PEERS_SITE=/tmp/peers_site, or PYTHONPATH=/tmp/peers_site, when running the script)
    .venv/bin/python benchmarks/bench_peers.py                               # ALS 100k/1M/10M + BPR
    .venv/bin/python benchmarks/bench_peers.py --sizes 100k                  # ML-100K only: ALS + BPR (10 min wall at load 14, 2 cores)
    .venv/bin/python benchmarks/bench_peers.py --sizes 100k --no-bpr         # ML-100K ALS only (~1 min)

Writes ``benchmarks/results/peers.json`` (envelope of benchlib: machine, load averages at the start,
the end and for every row) and ``peers.md``.

Protocol. One thread everywhere (``OMP/MKL/OPENBLAS_NUM_THREADS=1``, ``num_threads=1`` for both
peers), the course's numeric profile (``course.reproducibility``) for every library alike. Times are
CPU seconds of this process (``time.process_time``) for ``fit`` alone, the best of ``--repeats`` (3)
fits; wall seconds are recorded too. Accuracy: NDCG@10 and precision@10 of full ranking on the
Microsoft Recommenders per-user stratified 75/25 split of MovieLens 100K
(``course_lib.split.stratified_split(ratings, 0.25, random_state=42)``), every model scored by the
same code (the peers' factors are copied into a course model, so seen items are excluded alike).

ALS (the issue's settings): 64 factors, regularisation 30, 15 iterations. Confidence: the course's
:math:`c_{ui} = 1 + \\alpha x_{ui}` with ``alpha=3`` is ``implicit``'s :math:`c_{ui} = \\alpha x_{ui}`
with ``alpha=4`` (same objective); ``implicit`` at ``alpha=3`` (the literal setting) is also
measured, next to the course at ``alpha=2``. ``implicit``'s default solver is conjugate gradient
with 3 steps in float32; the course's ``ImplicitALS(solver="cg", dtype="float32")`` is the same
algorithm. On the synthetic 1M and 10M ratings of ``bench_scaling.py`` (same seeded generator) there
is no held-out signal to rank, so accuracy is the value of the training objective reached (the
course's loss of both models' factors; equal objectives, equal models).

BPR: ``cornac.models.BPR`` with the Microsoft Recommenders benchmark's settings (k=200, 100
iterations, lr 0.01, lambda 0.001) and the course's ``BPRMF`` with the same settings (``fast=True``,
epoch sampling) in float64 and in float32 (cornac's precision): the time ratio at equal work, the three
fits interleaved (cornac, float64, float32, repeated), so that they meet the same load. Every BPR fit is
timed alone: cornac's ``Dataset`` and the course's ``Interactions`` are built outside the clock. Then
both validation-tuned: each grid point fitted on ``stratified_split(train, 0.25,
random_state=1)`` (validation carved from the training part only), the best refitted on all of train.
The course's grid is tuned twice, with ``sampling="epoch", lr_schedule="linear"`` and with the defaults'
``"bootstrap"`` and ``"constant"`` (what the two options add), and the chosen setting is refitted with
each option switched back (which option does the work); ``bench_ranking.py``'s choice and the defaults
(with and without ``fast``) are measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

benchlib.single_thread()
from course.reproducibility import numeric_environment  # noqa: E402

for _k, _v in numeric_environment().items():
    os.environ.setdefault(_k, _v)

if os.environ.get("PEERS_SITE"):  # a ``pip install --target`` directory holding implicit and cornac
    sys.path.append(os.environ["PEERS_SITE"])

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from course_lib.data import load_movielens  # noqa: E402
from course_lib.evaluate import evaluate_full_ranking  # noqa: E402
from course_lib.interactions import Interactions  # noqa: E402
from course_lib.models import BPRMF, ImplicitALS  # noqa: E402
from course_lib.split import stratified_split  # noqa: E402

ALS_COMMON = dict(n_factors=64, reg=30.0, n_epochs=15)
#: BPR grids (validation NDCG@10 chooses, one fit per point); the course's uses its sampling and schedule options.
#: Kept small (16 and 8 points) so that the whole BPR part runs in a few minutes on one core.
BPR_GRID = [dict(n_factors=f, n_epochs=100, lr=lr, reg=reg, reg_bias=rb, sampling="epoch", lr_schedule="linear", fast=True)
            for f in (64, 128) for lr in (0.05, 0.1) for reg in (0.01, 0.03) for rb in (0.0, 0.01)]
#: the same grid with the sampling and the step of the defaults (bootstrap, constant): what the two options add
BPR_GRID_OLD = [{**p, "sampling": "bootstrap", "lr_schedule": "constant"} for p in BPR_GRID]
#: the course's BPR-MF as ``bench_ranking.py``'s validation chose it (bootstrap sampling, constant step): the "before"
BPR_RANKING_CHOICE = dict(n_factors=64, reg=0.02, n_epochs=200)
CORNAC_BENCH = dict(k=200, max_iter=100, learning_rate=0.01, lambda_reg=0.001)
CORNAC_GRID = [dict(k=k, max_iter=100, learning_rate=lr, lambda_reg=reg)
               for k in (64, 200) for lr in (0.01, 0.05) for reg in (0.001, 0.01)]


#: exit status when implicit or cornac is not installed
MISSING_PEERS = 3


def peer_versions() -> dict:
    """The peers' versions; exits with the way to install them when they are missing."""
    import importlib.util
    from importlib.metadata import version

    missing = [p for p in ("implicit", "cornac") if importlib.util.find_spec(p) is None]
    if missing:  # exit status 3: run_all.py records the stage as skipped, not failed
        print(f"bench_peers.py needs {' and '.join(missing)}: .venv/bin/python -m pip install -r "
              "benchmarks/requirements-peers.txt (or pip install --target DIR, then PEERS_SITE=DIR)", file=sys.stderr)
        sys.exit(MISSING_PEERS)
    return {p: version(p) for p in ("implicit", "cornac")}


def best_of(repeats: int, fit):
    """``(model, best CPU s, its wall s)`` over ``repeats`` fresh fits."""
    best = None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        model = fit()
        c, w = time.process_time() - c, time.perf_counter() - w
        if best is None or c < best[1]:
            best = (model, c, w)
    return best


# -- ALS ---------------------------------------------------------------------------------------
def implicit_als(x: sp.csr_matrix, alpha: float, use_cg: bool):
    from implicit.cpu.als import AlternatingLeastSquares

    def fit():
        model = AlternatingLeastSquares(factors=64, regularization=30.0, alpha=alpha, iterations=15, use_cg=use_cg,
                                        num_threads=1, random_state=0)
        model.fit(x, show_progress=False)
        return model.user_factors.astype(np.float64), model.item_factors.astype(np.float64)

    return fit


def objective(x: sp.csr_matrix, p: np.ndarray, q: np.ndarray, alpha: float, reg: float) -> float:
    r"""The course's loss :math:`\sum_{u,i} c_{ui}(x_{ui} - p_u^\top q_i)^2 + \lambda(\lVert P\rVert^2 + \lVert Q\rVert^2)`,
    without enumerating the zeros: :math:`\sum_{u,i} (p_u^\top q_i)^2 = \operatorname{tr}(P^\top P\, Q^\top Q)`."""
    coo = x.tocoo()
    s = np.einsum("ij,ij->i", p[coo.row], q[coo.col])
    every = float(np.sum((p.T @ p) * (q.T @ q)))
    observed = float(np.sum((1 + alpha) * (1 - s) ** 2 - s ** 2))
    return every + observed + reg * float((p * p).sum() + (q * q).sum())


def als_rows(size: str, repeats: int) -> list[dict]:
    if size == "100k":
        ratings = load_movielens("ml-100k").ratings
        train, test = stratified_split(ratings, 0.25, random_state=42)
        data = Interactions.from_ratings(train)
    else:
        from bench_scaling import dataset
        import pandas as pd

        u, i, r = dataset(size)
        data, test = Interactions.from_ratings(pd.DataFrame({"user_id": u, "item_id": i, "rating": r})), None
    x = data.matrix.copy()
    x.data = np.ones_like(x.data)
    x32 = x.astype(np.float32)
    shell = ImplicitALS(n_factors=64, n_epochs=1).fit(data)  # scores the peers' factors with the course's code
    runs = [("course ImplicitALS, CG, float32, alpha=3", "course", dict(solver="cg", dtype="float32", alpha=3.0)),
            ("course ImplicitALS, CG, float64, alpha=3", "course", dict(solver="cg", alpha=3.0)),
            ("implicit ALS, CG (default, float32), alpha=4 (= course alpha 3)", "implicit", (4.0, True)),
            ("course ImplicitALS, CG, float32, alpha=2", "course", dict(solver="cg", dtype="float32", alpha=2.0)),
            ("implicit ALS, CG (default, float32), alpha=3 (= course alpha 2)", "implicit", (3.0, True))]
    if size != "10M":  # the exact solves cost O(nnz f^2 + n f^3) per sweep: minutes at 10M
        runs += [("course ImplicitALS, exact (Cholesky), float64, alpha=3", "course", dict(alpha=3.0)),
                 ("implicit ALS, exact (use_cg=False), alpha=4 (= course alpha 3)", "implicit", (4.0, False))]
    rows = []
    ImplicitALS(n_factors=4, n_epochs=1, solver="cg", dtype="float32").fit(data)  # Numba loads from its cache here
    ImplicitALS(n_factors=4, n_epochs=1, solver="cg").fit(data)
    ImplicitALS(n_factors=4, n_epochs=1).fit(data)
    for name, lib, spec in runs:
        load = benchlib.load_average()
        if lib == "course":
            model, cpu, wall = best_of(repeats, lambda: ImplicitALS(**ALS_COMMON, **spec).fit(data))
            p, q, alpha = model.user_factors_.astype(np.float64), model.item_factors_.astype(np.float64), spec["alpha"]
        else:
            (p, q), cpu, wall = best_of(repeats, implicit_als(x32, *spec))
            alpha = spec[0] - 1.0
        row = {"size": size, "model": name, "library": lib, "alpha_course": alpha, "fit_cpu_s": cpu, "fit_wall_s": wall,
               "objective": objective(x, p, q, alpha, 30.0), "load_average": load}
        if test is not None:
            shell.user_factors_, shell.item_factors_ = p, q
            m = evaluate_full_ranking(shell, test, 10)
            row.update(ndcg10=m["ndcg@10"], precision10=m["precision@10"], recall10=m["recall@10"])
        rows.append(row)
        print(f"  ALS {size:>4} {name:<66} fit {cpu:7.3f} s CPU  "
              + (f"NDCG@10 {row['ndcg10']:.4f}" if "ndcg10" in row else f"objective {row['objective']:.6g}"), flush=True)
    return rows


def als_ratios(rows: list[dict]) -> list[dict]:
    """course / implicit CPU-time ratios (<= 1: the course is at least as fast) and accuracy gaps, per size."""
    pairs = [("course ImplicitALS, CG, float32, alpha=3", "implicit ALS, CG (default, float32), alpha=4 (= course alpha 3)"),
             ("course ImplicitALS, CG, float64, alpha=3", "implicit ALS, CG (default, float32), alpha=4 (= course alpha 3)"),
             ("course ImplicitALS, CG, float32, alpha=2", "implicit ALS, CG (default, float32), alpha=3 (= course alpha 2)"),
             ("course ImplicitALS, exact (Cholesky), float64, alpha=3",
              "implicit ALS, exact (use_cg=False), alpha=4 (= course alpha 3)")]
    out = []
    for size in dict.fromkeys(r["size"] for r in rows):
        by = {r["model"]: r for r in rows if r["size"] == size}
        for ours, theirs in pairs:
            if ours in by and theirs in by:
                a, b = by[ours], by[theirs]
                entry = {"size": size, "course": ours, "peer": theirs, "time_ratio": a["fit_cpu_s"] / b["fit_cpu_s"],
                         "objective_rel_diff": (a["objective"] - b["objective"]) / b["objective"]}
                if "ndcg10" in a:
                    entry["ndcg10_diff"] = a["ndcg10"] - b["ndcg10"]
                out.append(entry)
    return out


# -- BPR ---------------------------------------------------------------------------------------
def cornac_bpr(train, **params):
    """A fitted cornac BPR, returned as a course BPRMF holding its factors (scored by the course's code)."""
    from cornac.data import Dataset
    from cornac.models import BPR

    shell = BPRMF(n_factors=params["k"], n_epochs=1).fit(train)
    data = shell.data_
    triples = list(zip(data.user_ids[data.u].tolist(), data.item_ids[data.i].tolist(), [1.0] * data.n_ratings))
    dataset = Dataset.from_uir(triples, seed=123)
    model = BPR(seed=123, verbose=False, num_threads=1, **params)
    model.fit(dataset)
    users = np.array([dataset.uid_map[u] for u in data.user_ids])
    items = np.array([dataset.iid_map[i] for i in data.item_ids])
    shell.user_factors_ = model.u_factors[users].astype(np.float64)
    shell.item_factors_ = model.i_factors[items].astype(np.float64)
    shell.b_i_ = model.i_biases[items].astype(np.float64)
    return shell


def timed_cornac(train, params):
    """cornac's fit alone (its dataset built outside the clock)."""
    from cornac.data import Dataset
    from cornac.models import BPR

    data = BPRMF(n_epochs=1).fit(train).data_
    triples = list(zip(data.user_ids[data.u].tolist(), data.item_ids[data.i].tolist(), [1.0] * data.n_ratings))
    dataset = Dataset.from_uir(triples, seed=123)
    return lambda: BPR(seed=123, verbose=False, num_threads=1, **params).fit(dataset)


def choose(make, grid, train):
    inner, val = stratified_split(train, 0.25, random_state=1)
    scores = [evaluate_full_ranking(make(inner, p), val, 10)["ndcg@10"] for p in grid]
    return grid[int(np.argmax(scores))], [round(s, 4) for s in scores]


def interleaved_best(repeats: int, fits: dict) -> dict:
    """``{name: (result, best CPU s, its wall s)}``: every fit of ``fits`` once per round, ``repeats`` rounds,
    so that the compared fits meet the same load (the machine's load drifts within minutes)."""
    best: dict = {}
    for _ in range(repeats):
        for name, fit in fits.items():
            w, c = time.perf_counter(), time.process_time()
            result = fit()
            c, w = time.process_time() - c, time.perf_counter() - w
            if name not in best or c < best[name][1]:
                best[name] = (result, c, w)
    return best


EQUAL_COURSE = "course BPRMF, the same settings (fast, epoch sampling)"
EQUAL_COURSE32 = "course BPRMF, the same settings in float32 (fast, epoch sampling, dtype='float32')"
EQUAL_CORNAC = "cornac BPR, Recommenders benchmark settings"
TUNED_COURSE = "course BPRMF, validation-tuned"
TUNED_COURSE32 = "course BPRMF, validation-tuned, refitted in float32"
TUNED_CORNAC = "cornac BPR, validation-tuned"


def bpr_rows(repeats: int) -> tuple[list[dict], dict]:
    ratings = load_movielens("ml-100k").ratings
    train, test = stratified_split(ratings, 0.25, random_state=42)
    data = Interactions.from_ratings(train)  # outside the clock, as cornac's Dataset
    same = dict(n_factors=CORNAC_BENCH["k"], n_epochs=CORNAC_BENCH["max_iter"], lr=CORNAC_BENCH["learning_rate"],
                reg=CORNAC_BENCH["lambda_reg"], reg_bias=CORNAC_BENCH["lambda_reg"], init_std_dev=0.0015,
                sampling="epoch", fast=True)
    for warm in (dict(fast=True, sampling="epoch"), dict(fast=True, dtype="float32"), {}):  # Numba's cache loads
        BPRMF(n_epochs=1, **warm).fit(data)
    course_choice, course_scores = choose(lambda d, p: BPRMF(random_state=0, **p).fit(d), BPR_GRID, train)
    print(f"  BPR course: validation NDCG@10 {course_scores} -> {course_choice}", flush=True)
    old_choice, old_scores = choose(lambda d, p: BPRMF(random_state=0, **p).fit(d), BPR_GRID_OLD, train)
    print(f"  BPR course, old options: validation NDCG@10 {old_scores} -> {old_choice}", flush=True)
    cornac_choice, cornac_scores = choose(lambda d, p: cornac_bpr(d, **p), CORNAC_GRID, train)
    print(f"  BPR cornac: validation NDCG@10 {cornac_scores} -> {cornac_choice}", flush=True)
    equal = [(EQUAL_CORNAC, "cornac", CORNAC_BENCH), (EQUAL_COURSE, "course", same),
             (EQUAL_COURSE32, "course", {**same, "dtype": "float32"})]
    runs = [(TUNED_CORNAC, "cornac", cornac_choice),
            (TUNED_COURSE, "course", course_choice),
            (TUNED_COURSE32, "course", {**course_choice, "dtype": "float32"}),
            ("course BPRMF, validation-tuned on the same grid with bootstrap sampling and a constant step", "course",
             old_choice),
            ("course BPRMF, the tuned choice with bootstrap sampling", "course", {**course_choice, "sampling": "bootstrap"}),
            ("course BPRMF, the tuned choice with a constant step", "course", {**course_choice, "lr_schedule": "constant"}),
            ("course BPRMF, the tuned choice with both old options", "course",
             {**course_choice, "sampling": "bootstrap", "lr_schedule": "constant"}),
            ("course BPRMF, bench_ranking.py's validation choice (bootstrap, constant step)", "course", BPR_RANKING_CHOICE),
            ("course BPRMF, defaults", "course", {}),
            ("course BPRMF, defaults with fast=True", "course", dict(fast=True))]

    def fitter(lib, params):
        if lib == "course":
            return lambda: BPRMF(random_state=0, **params).fit(data)
        return timed_cornac(train, params)

    rows = []

    def record(name, lib, params, model, cpu, wall, load):
        if lib == "cornac":
            model = cornac_bpr(train, **params)  # the same seed: the fitted model, as a course model to score
        m = evaluate_full_ranking(model, test, 10)
        rows.append({"model": name, "library": lib, "params": params, "fit_cpu_s": cpu, "fit_wall_s": wall,
                     "ndcg10": m["ndcg@10"], "precision10": m["precision@10"], "recall10": m["recall@10"],
                     "load_average": load})
        print(f"  BPR {name:<58} fit {cpu:7.3f} s CPU  NDCG@10 {m['ndcg@10']:.4f}  R@10 {m['recall@10']:.4f}", flush=True)

    load = benchlib.load_average()
    best = interleaved_best(repeats, {name: fitter(lib, params) for name, lib, params in equal})
    for name, lib, params in equal:
        record(name, lib, params, *best[name], load)
    for name, lib, params in runs:
        load = benchlib.load_average()
        record(name, lib, params, *best_of(repeats, fitter(lib, params)), load)
    choices = {"course": {"choice": course_choice, "validation_ndcg10": course_scores, "grid": BPR_GRID},
               "course_old_options": {"choice": old_choice, "validation_ndcg10": old_scores, "grid": BPR_GRID_OLD},
               "cornac": {"choice": cornac_choice, "validation_ndcg10": cornac_scores, "grid": CORNAC_GRID}}
    return rows, choices


def bpr_ratios(rows: list[dict]) -> list[dict]:
    """course / cornac CPU-time ratios (<= 1: the course is at least as fast) and NDCG@10 differences."""
    by = {r["model"]: r for r in rows}
    out = []
    for ours, theirs in [(EQUAL_COURSE, EQUAL_CORNAC), (EQUAL_COURSE32, EQUAL_CORNAC), (TUNED_COURSE, TUNED_CORNAC),
                         (TUNED_COURSE32, TUNED_CORNAC)]:
        if ours in by and theirs in by:
            a, b = by[ours], by[theirs]
            out.append({"course": ours, "peer": theirs, "time_ratio": a["fit_cpu_s"] / b["fit_cpu_s"],
                        "ndcg10_diff": a["ndcg10"] - b["ndcg10"]})
    return out


def markdown(data: dict) -> str:
    lines = [f"# Peers: implicit and cornac in the same run (`{data['command']}`)", "",
             f"Started {data['started']}, finished {data['finished']}; load average (1, 5, 15 min) at the start "
             f"{data['load_average']['start']}, at the end {data['load_average']['end']}.",
             f"Machine: {data['machine']['cpu']}, {data['machine']['cores']} logical cores, "
             f"{data['machine']['ram_gib']} GiB; {data['machine']['os']}; versions {data['machine']['versions']}; "
             f"peers {data['peers']}; one thread; the course's numeric profile for every library.", "",
             "## Implicit ALS (64 factors, reg 30, 15 iterations; best CPU seconds of "
             f"{data['repeats']} fits)", "",
             "| data | model | fit CPU s | NDCG@10 | P@10 | R@10 | objective | load (1 min) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in data["als"]:
        ndcg = f"{r['ndcg10']:.4f}" if "ndcg10" in r else ""
        p10 = f"{r['precision10']:.4f}" if "precision10" in r else ""
        r10 = f"{r['recall10']:.4f}" if "recall10" in r else ""
        lines.append(f"| {r['size']} | {r['model']} | {r['fit_cpu_s']:.3f} | {ndcg} | {p10} | {r10} | {r['objective']:.6g} | "
                     f"{r['load_average'][0] if r['load_average'] else ''} |")
    lines += ["", "Ratios (course / peer CPU time: <= 1.0 means the course is at least as fast):", "",
              "| data | course | peer | time ratio | NDCG@10 difference | objective rel. difference |",
              "| --- | --- | --- | --- | --- | --- |"]
    for r in data["als_ratios"]:
        diff = f"{r['ndcg10_diff']:+.4f}" if "ndcg10_diff" in r else ""
        lines.append(f"| {r['size']} | {r['course']} | {r['peer']} | {r['time_ratio']:.2f} | {diff} | "
                     f"{r['objective_rel_diff']:+.1e} |")
    if data.get("bpr"):
        lines += ["", f"## BPR (MovieLens 100K, per-user stratified 75/25, seed 42; best CPU of {data['repeats']} fits)", "",
                  "| model | parameters | fit CPU s | NDCG@10 | P@10 | R@10 | load (1 min) |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in data["bpr"]:
            lines.append(f"| {r['model']} | `{r['params']}` | {r['fit_cpu_s']:.3f} | {r['ndcg10']:.4f} | "
                         f"{r['precision10']:.4f} | {r['recall10']:.4f} | {r['load_average'][0] if r['load_average'] else ''} |")
        lines += ["", "Ratios (course / cornac CPU time: <= 1.0 means the course is at least as fast; the three "
                  "equal-settings fits interleaved):", "",
                  "| course | peer | time ratio | NDCG@10 difference |", "| --- | --- | --- | --- |"]
        for r in data.get("bpr_ratios", []):
            lines.append(f"| {r['course']} | {r['peer']} | {r['time_ratio']:.2f} | {r['ndcg10_diff']:+.4f} |")
        c = data["bpr_choices"]
        lines += ["", f"Validation NDCG@10 (course grid, in order): {c['course']['validation_ndcg10']}",
                  f"Validation NDCG@10 (the same grid, bootstrap and constant step): "
                  f"{c['course_old_options']['validation_ndcg10']}",
                  f"Validation NDCG@10 (cornac grid, in order): {c['cornac']['validation_ndcg10']}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1M,10M", help="ALS data: 100k (ML-100K split), 1M, 10M (synthetic)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-bpr", action="store_true")
    args = parser.parse_args()
    import course

    course.setup(seed=0)
    res = benchlib.Results("peers", benchlib.command_line(), peers=peer_versions(), repeats=args.repeats,
                           numeric_profile={k: os.environ.get(k) for k in numeric_environment()}, als=[], als_ratios=[],
                           bpr=[], bpr_choices={}, bpr_ratios=[])
    for size in args.sizes.split(","):
        res.data["als"] += als_rows(size.strip(), args.repeats)
        res.data["als_ratios"] = als_ratios(res.data["als"])
        res.save()
    if not args.no_bpr:
        res.data["bpr"], res.data["bpr_choices"] = bpr_rows(args.repeats)
        res.data["bpr_ratios"] = bpr_ratios(res.data["bpr"])
    res.finish()
    text = markdown(res.data)
    (benchlib.RESULTS / "peers.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
