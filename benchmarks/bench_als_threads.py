"""Implicit ALS with more than one thread (issue 22, item 1: "multithreaded fitting optional and documented").

    .venv/bin/python benchmarks/bench_als_threads.py                 # ML-100K and 1M synthetic, 1 and 2 threads
    .venv/bin/python benchmarks/bench_als_threads.py --sizes 100k    # ML-100K only

``ImplicitALS(n_jobs=...)`` solves the rows of a half-sweep in fixed tasks of 64 rows shared among
Numba's threads; every row is computed by the same compiled code whatever the thread count, so the
factors must be the same bits with 1 thread or many. This script measures, on this machine, the
wall-clock fit time with ``n_jobs=1`` and ``n_jobs=2`` (best of ``--repeats``, the runs interleaved so
that they meet the same load) for the exact and the conjugate-gradient solvers, and checks that the
factors are identical. BLAS stays on one thread (``OMP/MKL/OPENBLAS_NUM_THREADS=1``): only the row
solves are threaded; the Gram matrix :math:`Y^\\top Y` (one BLAS call per half-sweep) is not.

Settings: the issue's (64 factors, alpha 3, regularisation 30, 15 sweeps). Data: ML-100K's ratings;
1M: the synthetic ratings of ``bench_scaling.py`` (same seeded generator). Writes
``benchmarks/results/als_threads.json`` and ``als_threads.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

benchlib.single_thread()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from course_lib.data import load_movielens  # noqa: E402
from course_lib.models import ImplicitALS  # noqa: E402

SETTINGS = {"n_factors": 64, "alpha": 3.0, "reg": 30.0, "n_epochs": 15}


def ratings_of(size: str) -> pd.DataFrame:
    if size == "100k":
        return load_movielens("ml-100k").ratings
    from bench_scaling import dataset

    u, i, r = dataset(size)
    return pd.DataFrame({"user_id": u, "item_id": i, "rating": r})


def rows_for(size: str, repeats: int) -> list[dict]:
    ratings = ratings_of(size)
    rows = []
    for solver, dtype in (("exact", "float64"), ("cg", "float64"), ("cg", "float32")):
        make = {jobs: (lambda jobs=jobs: ImplicitALS(**SETTINGS, solver=solver, dtype=dtype, n_jobs=jobs))
                for jobs in (1, 2)}
        for model in make.values():  # compile outside the clock
            model().fit(ratings.iloc[:2000])
        best = {1: None, 2: None}
        factors = {}
        for _ in range(repeats):
            for jobs in (1, 2):
                with benchlib.Timer() as t:
                    model = make[jobs]().fit(ratings)
                if best[jobs] is None or t.wall < best[jobs][0]:
                    best[jobs] = (t.wall, t.cpu)
                factors[jobs] = (model.user_factors_, model.item_factors_)
        same = all(np.array_equal(a, b) for a, b in zip(factors[1], factors[2]))
        row = {"data": size, "n_ratings": len(ratings), "solver": solver, "dtype": dtype,
               "wall_1_thread_s": best[1][0], "wall_2_threads_s": best[2][0],
               "cpu_1_thread_s": best[1][1], "cpu_2_threads_s": best[2][1],
               "speed_up": best[1][0] / best[2][0], "identical_factors": same,
               "load_average": benchlib.load_average()}
        print(row, flush=True)
        rows.append(row)
    return rows


def markdown(data: dict) -> str:
    lines = ["# Implicit ALS with two threads (issue 22)", "",
             f"Command: `{data['command']}`. Started {data['started']}, finished {data['finished']}.",
             f"Machine: {data['machine']['cpu']}, {data['machine']['cores']} cores; load averages at start "
             f"{data['load_average']['start']}, end {data['load_average']['end']}.", "",
             f"Settings: {SETTINGS}; BLAS on one thread; wall-clock seconds of `fit`, best of {data['repeats']} "
             "interleaved runs; `n_jobs` threads for the row solves.", "",
             "| data | ratings | solver | dtype | 1 thread (s) | 2 threads (s) | speed-up | CPU 1 / 2 threads (s) "
             "| identical factors |", "|---|---|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        lines.append(f"| {r['data']} | {r['n_ratings']:,} | {r['solver']} | {r['dtype']} | {r['wall_1_thread_s']:.3f} "
                     f"| {r['wall_2_threads_s']:.3f} | {r['speed_up']:.2f}x | {r['cpu_1_thread_s']:.3f} / "
                     f"{r['cpu_2_threads_s']:.3f} | {'yes' if r['identical_factors'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1M", help="100k (ML-100K), 1M (synthetic)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = benchlib.Results("als_threads", benchlib.command_line(), repeats=args.repeats, rows=[])
    for size in args.sizes.split(","):
        results.data["rows"] += rows_for(size, args.repeats)
        results.save()
    results.finish()
    (benchlib.RESULTS / "als_threads.md").write_text(markdown(results.data))
    print(markdown(results.data))


if __name__ == "__main__":
    main()
