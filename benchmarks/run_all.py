"""Run every benchmark, then write results/summary.md and the README's "Performance" section.

    .venv/bin/python benchmarks/run_all.py                          # everything (~45-60 min on 2 idle cores)
    .venv/bin/python benchmarks/run_all.py --quick                  # ~6 min; writes results/quick/
    .venv/bin/python benchmarks/run_all.py --only surprise,seeds    # some stages (then the report)
    .venv/bin/python benchmarks/run_all.py --only report            # just regenerate the report

Stages, in order (each one a subprocess with the course's one-thread environment; a failing or
timed-out stage is recorded and the next one still runs, and every benchmark writes its JSON as
it goes, so partial results survive):

==============  ===============================================================  ===========================
stage           full run                                                         ``--quick``
==============  ===============================================================  ===========================
``surprise``    bench_surprise.py: 5 folds, SVD++ on 5, PyTorch/Keras included   2 folds, no SVD++, no neural
``seeds``       bench_seeds.py: 5 seeds x per-user/per-item                      2 seeds, PyTorch on 1
``epochs``      bench_factorization.py --epochs-only --json (5 rounds)           2 rounds
``scaling``     bench_scaling.py: 100k, 1M, 10M (10M last, 600 s per run)        100k and 1M
``ranking``     bench_ranking.py (tuned single seed; writes results/ranking.md)  skipped
``best_topn``   bench_best_topn.py: the best top-10 model, tuned per seed, 3      1 seed, small grids, 3
                seeds (~10 CPU min)                                              Mult-VAE epochs
``best_rmse``   bench_best_rmse.py: Bayesian SVD++ and a ridge blend, tuned      fold 1 only
                per fold on validation, 5 folds (~15 CPU min)
``peers``       bench_peers.py: implicit ALS and cornac BPR next to the course   ML-100K ALS only
                (100k, 1M, 10M ALS + BPR; ~40 min). Needs the peers'
                install (requirements-peers.txt, or PEERS_SITE=DIR of a
                ``pip install --target``); without it the stage is skipped
``als_threads`` bench_als_threads.py: ImplicitALS n_jobs=1 vs 2, 100k and 1M     100k, one repeat
``ncf``         bench_ncf.py: GMF and NeuMF tuned (36 settings), 3 seeds         skipped
``spreads``     bench_spreads.py: lessons 02-16's comparisons, 5 split seeds     seeds 42 and 1
``features``    bench_features_sequences.py (lessons 08-09 models, 3 seeds)      skipped
``sequential``  bench_sequential.py: SASRec/BERT4Rec vs lesson 09, 3 seeds       skipped
``ann``         bench_ann.py: 1M synthetic items + MovieLens (~35 min)           100,000 items (results/quick/)
``two_stage``   bench_two_stage.py: two towers x 3 seeds, ANN, pipeline latency  1 seed, no Keras
``notebooks``   bench_notebooks.py: every lesson, fresh kernel, one thread       skipped (kept as measured)
``report``      report.py: results/summary.md + README section                   summary only (no README)
==============  ===============================================================  ===========================

``--quick`` writes its JSON and summary to benchmarks/results/quick/ (``BENCH_RESULTS``), so a
quick run never overwrites the full results. Stage logs go to ``--logs`` (default
$TMPDIR/course_bench_logs/) and a record of the stages (status, seconds, load average) to
results/run_all.json (results/quick/run_all.json for ``--quick``).
Run it on an otherwise idle machine; the load average is recorded in every results file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

HERE = Path(__file__).resolve().parent
STAGES = ["surprise", "seeds", "epochs", "scaling", "ranking", "best_topn", "best_rmse", "peers", "ncf", "spreads",
          "features", "sequential", "ann", "two_stage", "notebooks", "report"]
#: exit status of bench_peers.py when implicit or cornac is not installed (the stage is then skipped)
MISSING_PEERS = 3


def commands(quick: bool) -> dict[str, list[str] | None]:
    py = [sys.executable]
    if quick:
        return {
            "surprise": py + [str(HERE / "bench_surprise.py"), "--folds", "2", "--svdpp-folds", "0", "--no-neural"],
            "seeds": py + [str(HERE / "bench_seeds.py"), "--seeds", "42,1", "--torch-seeds", "1", "--reuse-dot"],
            "epochs": py + [str(HERE / "bench_factorization.py"), "--epochs-only", "--json", "--repeats", "2"],
            "scaling": py + [str(HERE / "bench_scaling.py"), "--sizes", "100k,1M", "--timeout", "300"],
            "ranking": None,
            "best_topn": py + [str(HERE / "bench_best_topn.py"), "--seeds", "42", "--quick"],
            "best_rmse": py + [str(HERE / "bench_best_rmse.py"), "--folds", "1"],
            "peers": py + [str(HERE / "bench_peers.py"), "--sizes", "100k", "--no-bpr"],
            "als_threads": py + [str(HERE / "bench_als_threads.py"), "--sizes", "100k", "--repeats", "1"],
            "ncf": None,
            "spreads": py + [str(HERE / "bench_spreads.py"), "--seeds", "42,1"],
            "features": None,
            "sequential": None,
            "ann": py + [str(HERE / "bench_ann.py"), "--quick"],
            "two_stage": py + [str(HERE / "bench_two_stage.py"), "--quick"],
            "notebooks": None,
            "report": py + [str(HERE / "report.py"), "--no-readme", "--command",
                            ".venv/bin/python benchmarks/run_all.py --quick"],
        }
    return {
        "surprise": py + [str(HERE / "bench_surprise.py")],
        "seeds": py + [str(HERE / "bench_seeds.py")],
        "epochs": py + [str(HERE / "bench_factorization.py"), "--epochs-only", "--json"],
        "scaling": py + [str(HERE / "bench_scaling.py"), "--sizes", "100k,1M,10M", "--timeout", "600"],
        "ranking": py + [str(HERE / "bench_ranking.py")],
        "best_topn": py + [str(HERE / "bench_best_topn.py")],
        "best_rmse": py + [str(HERE / "bench_best_rmse.py")],
        "peers": py + [str(HERE / "bench_peers.py")],
        "als_threads": py + [str(HERE / "bench_als_threads.py")],
        "ncf": py + [str(HERE / "bench_ncf.py")],
        "spreads": py + [str(HERE / "bench_spreads.py")],
        "features": py + [str(HERE / "bench_features_sequences.py")],
        "sequential": py + [str(HERE / "bench_sequential.py")],
        "ann": py + [str(HERE / "bench_ann.py")],
        "two_stage": py + [str(HERE / "bench_two_stage.py")],
        "notebooks": py + [str(HERE / "bench_notebooks.py")],
        "report": py + [str(HERE / "report.py"), "--command", ".venv/bin/python benchmarks/run_all.py"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run (a few minutes) into results/quick/")
    parser.add_argument("--only", default=None, help=f"comma-separated stages among {','.join(STAGES)} "
                        "(the report always runs last unless --no-report)")
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--stage-timeout", type=float, default=3600, help="seconds before a stage is killed")
    parser.add_argument("--logs", type=Path, default=Path(tempfile.gettempdir()) / "course_bench_logs",
                        help="where the stage logs go (default: outside the repository)")
    args = parser.parse_args()

    wanted = STAGES if args.only is None else [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(wanted) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {sorted(unknown)}; choose among {STAGES}")
    if not args.no_report and "report" not in wanted:
        wanted.append("report")
    env = {**os.environ, **benchlib.SINGLE_THREAD_ENV}
    env.setdefault("COURSE_DATA_MIRROR", os.environ.get("COURSE_DATA_MIRROR", ""))
    if not env["COURSE_DATA_MIRROR"]:
        env.pop("COURSE_DATA_MIRROR")
    results = benchlib.DEFAULT_RESULTS
    if args.quick:
        results = benchlib.DEFAULT_RESULTS / "quick"
        env["BENCH_RESULTS"] = str(results)
    results.mkdir(parents=True, exist_ok=True)
    args.logs.mkdir(parents=True, exist_ok=True)
    record = {"command": benchlib.command_line(), "started": benchlib.now(), "quick": args.quick, "stages": {}}
    cmds = commands(args.quick)
    status = 0
    for stage in [s for s in STAGES if s in wanted]:
        cmd = cmds[stage]
        if cmd is None:
            record["stages"][stage] = {"status": "skipped in --quick"}
            print(f"== {stage}: skipped in --quick", flush=True)
            continue
        log = args.logs / f"{stage}{'-quick' if args.quick else ''}.log"
        print(f"== {stage}: {' '.join(Path(c).name if i < 2 else c for i, c in enumerate(cmd))}  (log: {log})",
              flush=True)
        start, load = time.perf_counter(), benchlib.load_average()
        with open(log, "w") as out:
            try:
                rc = subprocess.run(cmd, cwd=benchlib.ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    timeout=args.stage_timeout).returncode
                state = "ok" if rc == 0 else f"failed (exit {rc})"
                if stage == "peers" and rc == MISSING_PEERS:
                    state = "skipped: implicit / cornac not installed (benchmarks/requirements-peers.txt)"
            except subprocess.TimeoutExpired:
                state = f"killed after {args.stage_timeout:.0f} s"
        seconds = time.perf_counter() - start
        record["stages"][stage] = {"status": state, "seconds": round(seconds, 1), "load_average_start": load,
                                   "load_average_end": benchlib.load_average(), "log": str(log)}
        print(f"   {state} in {seconds:.0f} s", flush=True)
        if state != "ok" and not state.startswith("skipped"):
            status = 1
            print("   last lines of the log:\n   " + "\n   ".join(log.read_text().splitlines()[-5:]), flush=True)
        record["finished"] = benchlib.now()
        (results / "run_all.json").write_text(json.dumps(record, indent=2) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
