"""DistributedDataParallel on CPU: 2 processes vs 1 with the same global batch (equivalence and speed).

    .venv/bin/python benchmarks/bench_ddp.py            # ~5 min on 2 cores

Protocol: MovieLens 100K, 80/20 ``random_split`` (seed 42), the training ratings;
``course_lib.distributed.ddp.train_dot_product`` (``DotProductNet`` with biases, MSE, Adam
lr 0.01, seed 0), the same global batch for 1 and 2 processes, one torch thread per process.
For each setting: the loss of every global batch and the final weights of the 1- and 2-process
runs (max absolute and relative difference), and the wall-clock time of the training loop
(``train_seconds``: after every process is up) and of the whole call (process start included);
each run ``--repeats`` times, alternating 1 and 2 processes, best time kept; plus one process
with 2 torch threads. The load average is recorded before every run: the machine is shared.

Per step, DDP all-reduces the gradient of every parameter, here dense embedding tables of
``(n_users + n_items) x (f + 1)`` floats, whatever the batch size; the compute grows with the
batch. The settings vary both, to show where 2 processes pay off.

Results: ``results/ddp.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

benchlib.single_thread()

import numpy as np  # noqa: E402

SETTINGS = [
    dict(n_factors=32, global_batch=1024, n_epochs=3),
    dict(n_factors=32, global_batch=16384, n_epochs=10),
    dict(n_factors=256, global_batch=16384, n_epochs=5),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from course_lib.data import load_movielens
    from course_lib.distributed.ddp import train_dot_product
    from course_lib.split import random_split

    train, _ = random_split(load_movielens("ml-100k").ratings, 0.2, random_state=42)
    res = benchlib.Results("ddp", benchlib.command_line(), n_ratings=len(train), rows=[])
    for setting in SETTINGS:
        runs: dict = {}
        for _ in range(args.repeats):
            for world, threads in ((1, 1), (2, 1), (1, 2)):
                load = benchlib.load_average()
                run = train_dot_product(train, n_processes=world, torch_threads=threads, lr=0.01, seed=0, **setting)
                key = f"{world}x{threads}"
                best = runs.get(key)
                if best is None or run.train_seconds < best["run"].train_seconds:
                    runs[key] = {"run": run, "load_average": load}
        one, two = runs["1x1"]["run"], runs["2x1"]["run"]
        diff = np.abs(two.losses - one.losses)
        weights = max(float(np.abs(two.weights[k] - one.weights[k]).max()) for k in one.weights)
        row = {
            **setting, "steps": len(one.losses),
            "allreduce_floats_per_step": (one.n_users + one.n_items) * (setting["n_factors"] + 1) + 1,
            "first_loss": float(one.losses[0]), "last_loss": float(one.losses[-1]),
            "max_abs_loss_diff": float(diff.max()), "max_rel_loss_diff": float((diff / one.losses).max()),
            "max_abs_weight_diff": weights,
            "same_loss_bits": bool(np.array_equal(one.losses, two.losses)),
            "train_s": {k: v["run"].train_seconds for k, v in runs.items()},
            "total_s": {k: v["run"].total_seconds for k, v in runs.items()},
            "load_average": {k: v["load_average"] for k, v in runs.items()},
        }
        row["speedup_2proc_vs_1"] = row["train_s"]["1x1"] / row["train_s"]["2x1"]
        row["speedup_1proc_2threads_vs_1"] = row["train_s"]["1x1"] / row["train_s"]["1x2"]
        res.data["rows"].append(row)
        res.save()
        print({k: row[k] for k in ("n_factors", "global_batch", "steps", "max_abs_loss_diff", "max_rel_loss_diff",
                                   "max_abs_weight_diff", "train_s", "speedup_2proc_vs_1",
                                   "speedup_1proc_2threads_vs_1")}, flush=True)
    res.finish()


if __name__ == "__main__":
    main()
