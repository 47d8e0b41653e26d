"""Self-attention (SASRec, BERT4Rec) against lesson 09's next-item models, under two protocols (issue 20).

    .venv/bin/python benchmarks/bench_sequential.py                      # seeds 0 1 2, every model
    .venv/bin/python benchmarks/bench_sequential.py --seeds 0 --models SASRec BERT4Rec
    .venv/bin/python benchmarks/bench_sequential.py --tune --models SASRec Caser   # the GRID on validation
    .venv/bin/python benchmarks/bench_sequential.py --tune --models SASRec --variants "lr 3e-3"
    .venv/bin/python benchmarks/bench_sequential.py --report             # rewrite the Markdown from the JSON

MovieLens 100K, ``leave_last_out(ratings, 1)``: each user's last rating (by time) is the test item,
the rest is training. The split is fixed; the seeds are the models' ``random_state`` (weights,
shuffling, masks, dropout, the early-stopping users).

Hyperparameters: each network is tested with the setting of ``GRID`` named in ``CHOSEN``, every
keyword argument written out (the library defaults, which lessons 09 and 10 print, are not relied
on). ``--tune`` fits every setting of ``GRID`` on the training part minus each user's last training
item (``leave_last_out(train, 1)``) and ranks that item (full ranking, model seed = the first seed):
the test items play no part in the choice. ``CHOSEN`` is the best validation NDCG@10 among the
settings that fit in the CPU budget; the report checks it against the stored validation runs.
Inside ``fit``, early stopping holds out one more item per user (``hold_out_last_items``).

Protocols, both on the same fitted models:

``full``     :func:`course_lib.evaluate.evaluate_next_item`: the test item ranked among *all* items
             the user has not rated in training; HR@10 and NDCG@10 (the protocol of lesson 09).
``sampled``  :func:`course_lib.evaluate.evaluate_sampled` with ``n_negatives=100``: the test item
             ranked among 100 items drawn uniformly from those the user never rated (the protocol of
             the SASRec paper; BERT4Rec's draws by popularity). The negatives are drawn once
             (``random_state=0``), so every model faces the same ones.

Times are CPU seconds of this process (``time.process_time``) with one thread, on a shared machine
whose load averages are recorded. Targets (issue 20): SASRec's mean full-ranking NDCG@10 exceeds the
best of lesson 09's networks (GRU4Rec, LSTMRec, Caser) by more than the seeds' spread (the sum of the
two standard deviations, ``ddof=1``); each network fits in <= 60 s CPU.

Results: ``benchmarks/results/sequential.{json,md}``; several processes may run at once (``--models``,
``--seeds``): each merges its rows into the JSON under a file lock.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

benchlib.single_thread()
import os  # noqa: E402

from course.reproducibility import numeric_environment  # noqa: E402

os.environ.update(numeric_environment())  # the lessons' numeric profile, before NumPy and PyTorch load

import numpy as np  # noqa: E402

import course  # noqa: E402
from course_lib.data import load_movielens  # noqa: E402
from course_lib.evaluate import evaluate_next_item, evaluate_sampled  # noqa: E402
from course_lib.models import LastItemKNN, Popularity  # noqa: E402
from course_lib.split import leave_last_out  # noqa: E402

NAME = "sequential"
LESSON_09 = ("GRU4Rec", "LSTMRec", "Caser")
ATTENTION = ("SASRec", "BERT4Rec")
BUDGET_CPU_S = 60.0
#: published figures (ML-1M, leave-one-out, 100 sampled negatives): a scale, not the same data
PAPERS = {
    "SASRec (Kang and McAuley 2018, Table III, ML-1M, 100 uniform negatives)": {"hr@10": 0.8245, "ndcg@10": 0.5905},
    "BERT4Rec (Sun et al. 2019, Table 2, ML-1M, 100 popularity-sampled negatives)": {"hr@10": 0.6970,
                                                                                    "ndcg@10": 0.4818},
}
#: hyperparameters tried on validation (``--tune``): each user's last *training* item, full ranking, model
#: seed = the first seed. Every setting is written out in full, so the test runs do not depend on the
#: library's defaults (lessons 09 and 10 print results with those; changing them is not this script's job).
_GRU = dict(max_len=20, n_factors=64, hidden_size=64, n_epochs=6, batch_size=128, lr=5e-3, dropout=0.2,
            mask_seen=True)
_CASER = dict(max_len=5, n_factors=64, n_h=16, n_v=4, n_epochs=3, batch_size=1024, lr=1e-2, dropout=0.5)
_SASREC = dict(max_len=50, n_factors=64, n_blocks=2, n_heads=1, n_epochs=10, batch_size=128, lr=1e-3,
               dropout=0.2, mask_seen=True)
_BERT = dict(max_len=100, n_factors=64, n_blocks=2, n_heads=2, n_epochs=30, batch_size=64, lr=1e-3, dropout=0.2,
             mask_prob=0.2, mask_seen=True)
GRID = {
    "GRU4Rec": {
        "library default": _GRU,
    },
    "LSTMRec": {
        "library default": _GRU,
    },
    "Caser": {
        "library default (L 5, 3 epochs, lr 1e-2)": _CASER,
        "L 10": {**_CASER, "max_len": 10},
    },
    "SASRec": {
        "library default (max_len 50, lr 1e-3, 10 epochs)": _SASREC,
        "lesson 10 (max_len 20, lr 5e-3, 5 epochs)": {**_SASREC, "max_len": 20, "lr": 5e-3, "n_epochs": 5},
        "lr 3e-3, 7 epochs": {**_SASREC, "lr": 3e-3, "n_epochs": 7},
        "lr 5e-3, batch 256, 7 epochs": {**_SASREC, "lr": 5e-3, "batch_size": 256, "n_epochs": 7},
        "batch 32, lr 1e-3, 6 epochs": {**_SASREC, "batch_size": 32, "n_epochs": 6},
        "max_len 20, batch 64, lr 3e-3, 8 epochs": {**_SASREC, "max_len": 20, "batch_size": 64, "lr": 3e-3,
                                                    "n_epochs": 8},
    },
    "BERT4Rec": {
        "lesson 10 (max_len 20, lr 5e-3, batch 128, 6 epochs)": {**_BERT, "max_len": 20, "lr": 5e-3,
                                                                 "batch_size": 128, "n_epochs": 6},
    },
}
#: the setting each network is tested with: the best on validation among those within the CPU budget
CHOSEN = {
    "GRU4Rec": "library default",
    "LSTMRec": "library default",
    "Caser": "library default (L 5, 3 epochs, lr 1e-2)",
    "SASRec": "max_len 20, batch 64, lr 3e-3, 8 epochs",
    "BERT4Rec": "lesson 10 (max_len 20, lr 5e-3, batch 128, 6 epochs)",
}
#: validation runs made before this script could store them (same protocol: ``fit(inner)``, seed 0,
#: ``evaluate_next_item(model, val, 10)``), by a scratch copy of ``run_one``; not re-run to save CPU time
EARLIER_VALIDATION = {
    "SASRec": {
        "library default (max_len 50, lr 1e-3, 10 epochs)": {
            "full hr@10": 0.1474, "full ndcg@10": 0.0731, "fit cpu (s)": 78.8, "epochs": 10,
            "best epoch": 10, "note": "val loss still falling at epoch 10 (7.23 -> 5.98); over the 60 s budget"},
        "lr 3e-3, 7 epochs": {"full hr@10": 0.1771, "full ndcg@10": 0.0902, "fit cpu (s)": 56.4, "epochs": 7,
                              "best epoch": 7, "note": "val loss still falling at epoch 7 (5.91 -> 5.86)"},
        "lr 5e-3, batch 256, 7 epochs": {"full hr@10": 0.1739, "full ndcg@10": 0.0891, "fit cpu (s)": 62.5,
                                         "epochs": 7, "best epoch": 7,
                                         "note": "val loss still falling at epoch 7; over the 60 s budget"},
    },
    "GRU4Rec": {  # bench_features_sequences.py's validation of GRU4Rec (same split and protocol, seed 0)
        "library default": {"full hr@10": 0.2216, "full ndcg@10": 0.1146, "fit cpu (s)": float("nan"), "epochs": 6,
                            "note": "measured by bench_features_sequences.py --tune, which chose these defaults"},
    },
}


def hyperparameters(name: str) -> dict:
    """The keyword arguments a network is tested with (``GRID[name][CHOSEN[name]]``); none for the baselines."""
    return dict(GRID[name][CHOSEN[name]]) if name in CHOSEN else {}


def model(name: str, seed: int, **kw):
    if name == "popularity":
        return Popularity()
    if name == "similar to last":
        return LastItemKNN(1)
    if name == "similar to last 3":
        return LastItemKNN(3)
    from course_lib.models import torch_models

    return getattr(torch_models, name)(random_state=seed, **kw)


def run_one(name: str, seed: int, train, test, sampled: bool = True, **kw) -> dict:
    """Fit ``name`` on ``train`` (CPU and wall seconds) and rank each user's ``test`` item: full ranking and,
    when ``sampled``, among the same 100 sampled negatives for every model."""
    course.setup(seed=seed, torch=True)
    m = model(name, seed, **kw)
    with benchlib.Timer() as t:
        m.fit(train)
    full = evaluate_next_item(m, test, 10)
    out = {"full hr@10": full["hr@10"], "full ndcg@10": full["ndcg@10"]}
    if sampled:
        s = evaluate_sampled(m, test, train, n_negatives=100, k=10, random_state=0)
        out.update({"sampled hr@10": s["hr@10"], "sampled ndcg@10": s["ndcg@10"]})
    return {**out, "fit cpu (s)": t.cpu, "fit wall (s)": t.wall, "epochs": getattr(m, "n_epochs_", None),
            "best epoch": getattr(m, "best_epoch_", None), "load": benchlib.load_average()}


def summarise(runs: list[dict]) -> dict:
    out = {}
    for key in runs[0]:
        values = [r.get(key) for r in runs]
        if key in ("load", "seed", "variant", "hyperparameters") or any(v is None or isinstance(v, str) for v in values):
            continue
        v = np.asarray(values, dtype=float)
        out[key] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                    "min": float(v.min()), "max": float(v.max()), "runs": v.tolist()}
    return out


def targets(summary: dict) -> dict:
    nets = {k: summary[k] for k in LESSON_09 if k in summary}
    out = {}
    if "SASRec" in summary and nets:
        best = max(nets, key=lambda k: nets[k]["full ndcg@10"]["mean"])
        s, b = summary["SASRec"]["full ndcg@10"], nets[best]["full ndcg@10"]
        gap, spread = s["mean"] - b["mean"], s["std"] + b["std"]
        out["sasrec_beats_lesson_09"] = {"best lesson 09 network": best, "gap": gap, "spread": spread,
                                         "sasrec min": s["min"], "best max": b["max"], "met": bool(gap > spread)}
    for name in LESSON_09 + ATTENTION:
        if name in summary:
            worst = summary[name]["fit cpu (s)"]["max"]
            out[f"{name} fit <= {BUDGET_CPU_S:.0f} s CPU"] = {"slowest fit": worst, "met": bool(worst <= BUDGET_CPU_S)}
    return out


def validation_table(data: dict) -> dict:
    """The validation runs of the JSON and of ``EARLIER_VALIDATION``, by model, in ``GRID`` order."""
    out: dict = {}
    for name in [*LESSON_09, *ATTENTION]:
        runs = {**EARLIER_VALIDATION.get(name, {}), **data.get("validation", {}).get(name, {})}
        if runs:
            out[name] = runs
    return out


def chosen_is_best(data: dict) -> dict:
    """For each network tuned on validation: is ``CHOSEN`` the best setting within the CPU budget?"""
    out = {}
    for name, runs in validation_table(data).items():
        fits = {v: r for v, r in runs.items() if r["fit cpu (s)"] <= BUDGET_CPU_S}
        if not fits or CHOSEN.get(name) not in runs:
            continue
        best = max(fits, key=lambda v: fits[v]["full ndcg@10"])
        out[name] = {"best within budget": best, "chosen": CHOSEN[name], "met": best == CHOSEN[name]}
    return out


def _cell(stats: dict, digits: int) -> str:
    if stats["std"] == 0.0 and len(stats["runs"]) == 1:
        return f"{stats['mean']:.{digits}f}"
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def report(data: dict) -> str:
    cols = ["full hr@10", "full ndcg@10", "sampled hr@10", "sampled ndcg@10", "fit cpu (s)", "epochs"]
    lines = ["# bench_sequential.py results", "",
             f"Command: `{data['command']}`  ", f"Started {data['started']}, finished {data.get('finished')}.  ",
             f"Machine: {data['machine']['cpu']}, {data['machine']['cores']} logical cores, "
             f"{data['machine']['ram_gib']} GiB; {data['machine']['os']}; threads {data['machine']['threads']}; "
             + ", ".join(f"{k} {v}" for k, v in data["machine"]["versions"].items()) + ".  ",
             f"Load average (1, 5, 15 min): {data['load_average']['start']} at the start, "
             f"{data['load_average']['end']} at the end (a shared machine: CPU times are inflated under load).", "",
             "MovieLens 100K, `leave_last_out(ratings, 1)` (943 test users, one item each). Model seeds "
             f"{data['seeds']}; mean ± standard deviation (ddof=1) over the seeds; the non-neural baselines are "
             "deterministic. **full**: the test item ranked among all items the user has not rated "
             "(`evaluate_next_item`); **sampled**: among 100 uniformly drawn unrated items, the same draw for "
             "every model (`evaluate_sampled(..., n_negatives=100, random_state=0)`).", "",
             "| model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, stats in data["results"].items():
        cells = []
        for c in cols:
            if c not in stats:
                cells.append("")
            else:
                cells.append(_cell(stats[c], 1 if "(s)" in c else 0 if c == "epochs" else 3))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    grouped: dict = {}
    for name, runs in data["runs"].items():
        for r in runs:
            if r.get("note"):
                grouped.setdefault(r["note"], []).append(f"{name} seed {r['seed']}")
    notes = [f"- {', '.join(which)}: {note}" for note, which in grouped.items()]
    if notes:
        lines += ["", "Runs with a note:", "", *notes]
    lines += ["", "## Targets", ""]
    for name, t in data.get("targets", {}).items():
        status = "**met**" if t["met"] else "**not met**"
        details = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in t.items() if k != "met")
        lines.append(f"- {name}: {status} ({details})")
    lines += ["", "Published figures for scale (ML-1M, not ML-100K; leave-one-out, 100 sampled negatives):", ""]
    lines += [f"- {k}: HR@10 {v['hr@10']}, NDCG@10 {v['ndcg@10']}" for k, v in PAPERS.items()]
    validation = validation_table(data)
    if validation:
        lines += ["", "## Hyperparameters: chosen on validation", "",
                  "Each user's last *training* item (`leave_last_out(train, 1)` on the training part only; the test "
                  "items are never seen), full ranking over the unrated items, one run each with model seed 0 "
                  "(`--tune`). Inside `fit`, early stopping holds out one more item per user (the library's "
                  "`hold_out_last_items`). **chosen**: the setting the test runs above use (`CHOSEN`), the best "
                  f"validation NDCG@10 among the settings that fit in {BUDGET_CPU_S:.0f} s CPU.", "",
                  "| model | setting | val hr@10 | val ndcg@10 | fit cpu (s) | epochs (best) | |",
                  "|---|---|---|---|---|---|---|"]
        for name, variants in validation.items():
            for variant, r in variants.items():
                chosen = "**chosen**" if CHOSEN.get(name) == variant else ""
                mark = " ".join(x for x in (chosen, r.get("note", "")) if x)
                epochs = f"{r['epochs']}" + (f" ({r['best epoch']})" if r.get("best epoch") is not None else "")
                lines.append(f"| {name} | {variant} | {r['full hr@10']:.4f} | {r['full ndcg@10']:.4f} | "
                             f"{r['fit cpu (s)']:.1f} | {epochs} | {mark} |")
        lines += ["", "Settings of the test runs (keyword arguments passed explicitly; `random_state` = the seed):", ""]
        lines += [f"- {name}: `{GRID[name][CHOSEN[name]]}`" for name in CHOSEN]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def locked(path: Path):
    """Hold an exclusive lock next to ``path`` (several runs of this script may merge into one file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def merge(path: Path, command: str, runs: dict, validation: dict) -> dict:
    """Add this process's runs (replacing the same model and seed) to the JSON at ``path``; rewrite the report."""
    with locked(path):
        data = json.loads(path.read_text()) if path.exists() else {
            "benchmark": NAME, "command": command, "started": benchlib.now(), "machine": benchlib.machine(),
            "load_average": {"start": benchlib.load_average()}, "runs": {}, "validation": {}}
        for name, by_seed in runs.items():
            merged = {str(r["seed"]): r for r in data["runs"].get(name, [])}
            merged.update({str(r["seed"]): r for r in by_seed})
            data["runs"][name] = [merged[k] for k in sorted(merged, key=int)]
        for name, variants in validation.items():
            data.setdefault("validation", {}).setdefault(name, {}).update(variants)
        order = ["popularity", "similar to last", "similar to last 3", *LESSON_09, *ATTENTION]
        data["runs"] = {k: data["runs"][k]
                        for k in sorted(data["runs"], key=lambda k: order.index(k) if k in order else 99)}
        data["results"] = {k: summarise(v) for k, v in data["runs"].items()}
        data["seeds"] = sorted({r["seed"] for v in data["runs"].values() for r in v})
        data["targets"] = targets(data["results"])
        data["targets"].update({f"{k} tested with its best validation setting": v
                                for k, v in chosen_is_best(data).items()})
        data["load_average"]["end"] = benchlib.load_average()
        data["finished"] = benchlib.now()
        data["command"] = command if command not in data["command"] else data["command"]
        path.write_text(json.dumps(data, indent=1, default=float) + "\n")
        path.with_suffix(".md").write_text(report(data))
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--models", nargs="*", default=["popularity", "similar to last", "similar to last 3",
                                                         *LESSON_09, *ATTENTION])
    parser.add_argument("--tune", action="store_true",
                        help="score the GRID settings of --models on validation (no test runs)")
    parser.add_argument("--variants", nargs="*", default=None,
                        help="with --tune: only the settings whose name contains one of these strings")
    parser.add_argument("--report", action="store_true", help="only rewrite the Markdown from the JSON")
    args = parser.parse_args()
    path = benchlib.RESULTS / f"{NAME}.json"
    if args.report:
        path.with_suffix(".md").write_text(report(json.loads(path.read_text())))
        return
    command = benchlib.command_line()
    ml = load_movielens("ml-100k")
    train, test = leave_last_out(ml.ratings, 1)
    if args.tune:
        inner, val = leave_last_out(train, 1)
        data = None
        for name in [m for m in args.models if m in GRID]:
            for variant, kw in GRID[name].items():
                if args.variants and not any(v in variant for v in args.variants):
                    continue
                r = dict(run_one(name, args.seeds[0], inner, val, sampled=False, **kw), hyperparameters=kw)
                data = merge(path, command, {}, {name: {variant: r}})
                print(f"  validation {name} {variant}: NDCG {r['full ndcg@10']:.4f} fit {r['fit cpu (s)']:.1f}s CPU "
                      f"({r['epochs']} epochs, best {r['best epoch']}, load {r['load']})", flush=True)
        if data is not None:
            print(report(data))
        return
    for name in args.models:
        seeds = args.seeds if name in LESSON_09 + ATTENTION else [0]  # the baselines are deterministic
        for seed in seeds:
            started = time.perf_counter()
            kw = hyperparameters(name)
            r = dict(run_one(name, seed, train, test, **kw), seed=seed, variant=CHOSEN.get(name), hyperparameters=kw)
            data = merge(path, command, {name: [r]}, {})
            print(f"  seed {seed} {name}: full NDCG {r['full ndcg@10']:.4f}, sampled NDCG {r['sampled ndcg@10']:.4f}, "
                  f"fit {r['fit cpu (s)']:.1f} s CPU ({time.perf_counter() - started:.0f} s wall, load "
                  f"{r['load']})", flush=True)
    print(report(data))


if __name__ == "__main__":
    main()
