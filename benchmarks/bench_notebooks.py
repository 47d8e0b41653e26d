"""Execution time of every lesson from a fresh kernel, on one thread, as CI runs them.

    .venv/bin/python benchmarks/bench_notebooks.py            # all lessons that exist
    .venv/bin/python benchmarks/bench_notebooks.py 03 04      # some, by number

Executes copies (the committed notebooks are not touched), prints a table, and writes
benchmarks/results/notebooks.json, which `tools/lessons.py readme` reads for the README's
"time to run" column. Run it on an otherwise idle machine: a busy second core slows everything.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import benchlib  # noqa: E402

from lessons import NOTEBOOKS, execute  # noqa: E402

from course.syllabus import ready_lessons  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "notebooks.json"


def main(argv: list[str]) -> int:
    known = {f"{lesson.number:02d}" for lesson in ready_lessons()}
    unknown = [arg for arg in argv if arg not in known]
    if unknown:  # "--help" or a typo must not rewrite the results with no lesson run
        print(__doc__.strip().splitlines()[0] + "\n\nusage: bench_notebooks.py [NN ...]  (lesson numbers: "
              f"{' '.join(sorted(known))}); not a lesson: {' '.join(unknown)}", file=sys.stderr)
        return 2
    lessons = [lesson for lesson in ready_lessons() if not argv or f"{lesson.number:02d}" in argv]
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"seconds": {}}
    seconds = previous.get("seconds", {})
    loads = previous.get("load_average_per_lesson", {})
    load_start = benchlib.load_average()
    with tempfile.TemporaryDirectory() as tmp:
        for lesson in lessons:
            copy = Path(tmp) / lesson.file
            shutil.copy(NOTEBOOKS / lesson.file, copy)
            # run next to the real notebooks so relative paths behave the same
            target = NOTEBOOKS / f".bench-{lesson.file}"
            shutil.copy(copy, target)
            try:
                loads[lesson.file] = benchlib.load_average()
                seconds[lesson.file] = round(execute(target), 1)
            finally:
                target.unlink(missing_ok=True)
            print(f"{lesson.label:<55} {seconds[lesson.file]:6.1f} s", flush=True)
    total = sum(seconds.get(lesson.file, 0.0) for lesson in ready_lessons())
    print(f"{'total':<55} {total:6.1f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": f"{platform.machine()}, {platform.python_version()}, one thread per kernel",
        "command": "benchmarks/bench_notebooks.py", "seconds": seconds, "total_seconds": round(total, 1),
        # added by the benchmark suite (issue 10); tools/lessons.py reads only "seconds"
        "last_run": {"at": benchlib.now(), "lessons": [lesson.file for lesson in lessons]}
        if lessons else previous.get("last_run"),
        "machine_details": benchlib.machine(),
        "load_average": {"start": load_start, "end": benchlib.load_average()},
        "load_average_per_lesson": loads,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset (lessons.execute sets one thread)"),
    }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
