"""Wall time of grading 30 submissions of one lesson with ``course.grading`` (the issue's bar: < 5 min).

    .venv/bin/python benchmarks/bench_grading.py                  # lesson 02, 30 submissions, 2 at a time
    .venv/bin/python benchmarks/bench_grading.py --lesson 00 --n 30 --jobs 2

The submissions are built from the lesson's master (tests/fixtures/grading/builders.py): a third
the solution, a third the untouched student version, a third with known-wrong answers, each in
its own folder, as an instructor would unpack them. Each one is pre-checked, run top to bottom in
a fresh memory-limited kernel and scored; the time includes the gradebook and feedback pages.
The floor is the lesson's own run time (one kernel per submission) divided by ``--jobs``.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

for _key, _value in {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                     "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}.items():
    os.environ.setdefault(_key, _value)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "grading"))

import nbformat  # noqa: E402
from builders import WRONG_02, replace, solution, student  # noqa: E402

from course.grading.batch import grade  # noqa: E402
from course.grading.lesson import load_lesson  # noqa: E402
from course.grading.runner import Limits  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lesson", default="02")
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=120)
    args = parser.parse_args()
    spec = load_lesson(args.lesson)
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "submissions"
        for k in range(args.n):
            kind = ("solution", "untouched", "wrong")[k % 3]
            nb = solution(spec) if kind != "untouched" else student(spec)
            if kind == "wrong":
                for gid, src in WRONG_02.items():
                    if any(c.grade_id == gid for c in spec.cells):
                        replace(nb, gid, src)
            folder = subs / f"student{k:02d}_{kind}"
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / spec.file)
        start = time.perf_counter()
        results = grade(args.lesson, subs, Path(tmp) / "out", Limits(cell_timeout=args.timeout), jobs=args.jobs, log=lambda *a: None)
        seconds = time.perf_counter() - start
        with open(Path(tmp) / "out" / "gradebook.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    cpu = sum(r.get("cpu_seconds", 0.0) for r in results)
    statuses = sorted({r["status"] for r in rows})
    totals = sorted({r["total"] for r in rows})
    load = os.getloadavg()[0]
    print(f"{spec.file}: graded {len(rows)} submissions in {seconds:.0f} s "
          f"({seconds / len(rows):.1f} s each, {args.jobs} at a time, {os.cpu_count()} CPUs, load {load:.1f} at the end)")
    print(f"statuses: {statuses}; totals: {totals}")
    print(f"CPU used by the grading workers and their kernels: {cpu:.0f} s ({cpu / len(rows):.1f} s a submission); "
          f"on {args.jobs} otherwise idle cores that is about {cpu / args.jobs:.0f} s of wall time")
    print("under 5 minutes:", "yes" if seconds < 300 else "NO")


if __name__ == "__main__":
    main()
