"""Wall time of grading 30 submissions of a lesson with ``course.grading`` (the bar: < 5 min per lesson).

    .venv/bin/python benchmarks/bench_grading.py                      # every ready lesson, 30 each, 2 at a time
    .venv/bin/python benchmarks/bench_grading.py --lessons 00 02 03   # some lessons (the others' rows are kept)
    .venv/bin/python benchmarks/bench_grading.py --lessons 02 --n 30 --jobs 2

For each lesson, the submissions are built from its master (tests/fixtures/grading/builders.py): a
third the solution, a third the untouched student version, a third with the first typical wrong
answer of every exercise (tests/exercise_wrong_answers/NN.py), each in its own folder, as an
instructor would unpack them. Each one is pre-checked, run top to bottom in a fresh
memory-limited kernel with the guard (course/grading/guard.py) and scored; the time includes the
gradebook and the feedback pages. The floor is the lesson's own run time (one kernel per
submission) times 30 divided by ``--jobs``: a lesson that runs 60 s alone cannot be graded 30
times in 5 minutes on 2 cores this way.

Results: benchmarks/results/grading.json (one row per lesson, with the load average before and
after and the CPU seconds) and grading.md (the table); rows of lessons not re-run are kept.
"""

from __future__ import annotations

import argparse
import csv
import json
import runpy
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "grading"))

from benchlib import RESULTS, command_line, load_average, machine, now, single_thread  # noqa: E402

single_thread()

import nbformat  # noqa: E402
from builders import replace, solution, student  # noqa: E402

from course.grading.batch import grade  # noqa: E402
from course.grading.lesson import load_lesson  # noqa: E402
from course.grading.runner import Limits  # noqa: E402
from course.syllabus import ready_lessons  # noqa: E402

BAR = 300.0


def first_wrong_answers(spec) -> dict[str, str]:
    """``{answer grade id: source}``: the first typical wrong answer of every exercise."""
    path = ROOT / "tests" / "exercise_wrong_answers" / f"{spec.file[:2]}.py"
    wrong = runpy.run_path(str(path))["WRONG"] if path.is_file() else {}
    out = {}
    for cell in spec.cells:
        if cell.kind == "answer" and wrong.get(cell.exercise):
            out[cell.grade_id] = wrong[cell.exercise][0].source(cell.master_source)
    return out


def bench_lesson(lesson: str, n: int, jobs: int, timeout: int) -> dict:
    spec = load_lesson(lesson)
    wrong = first_wrong_answers(spec)
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "submissions"
        for k in range(n):
            kind = ("solution", "untouched", "wrong")[k % 3]
            nb = solution(spec) if kind != "untouched" else student(spec)
            if kind == "wrong":
                for gid, src in wrong.items():
                    replace(nb, gid, src)
            folder = subs / f"student{k:02d}_{kind}"
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / spec.file)
        load_before = load_average()
        start = time.perf_counter()
        results = grade(lesson, subs, Path(tmp) / "out", Limits(cell_timeout=timeout), jobs=jobs, log=lambda *a: None)
        seconds = time.perf_counter() - start
        with open(Path(tmp) / "out" / "gradebook.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    cpu = sum(r.get("cpu_seconds", 0.0) for r in results)
    totals = {kind: sorted({r["total"] for r in rows if r["student"].endswith(kind)}) for kind in ("solution", "untouched", "wrong")}
    for_30 = seconds * 30 / len(rows)
    return {"lesson": spec.file, "submissions": len(rows), "jobs": jobs, "seconds": round(seconds, 1),
            "seconds_per_submission": round(seconds / len(rows), 2), "seconds_for_30": round(for_30, 1),
            "cpu_seconds": round(cpu, 1), "statuses": sorted({r["status"] for r in rows}), "totals": totals,
            "max": f"{spec.max_points:g}", "under_5_min": for_30 < BAR,
            "load_average": {"start": load_before, "end": load_average()}, "measured": now()}


def write_markdown(data: dict, path: Path) -> None:
    lines = ["# Grading throughput", "",
             f"30 submissions per lesson (a third solutions, a third untouched, a third wrong), graded by "
             f"`course.grading` with {data['jobs']} at a time on {data['machine']['cores']} cores "
             f"({data['machine']['cpu']}). The bar: under 5 minutes per lesson. Commands: "
             + ", ".join(f"`{c}`" for c in dict.fromkeys(r.get("command", "") for r in data["lessons"].values()) if c)
             + ".", "",
             *([data["note"], ""] if data.get("note") else []),
             "| lesson | submissions | wall s | s / submission | for 30, s | CPU s | load avg (1 min) start → end "
             "| under 5 min | measured |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in sorted(data["lessons"].values(), key=lambda r: r["lesson"]):
        load = row["load_average"]
        for_30 = row.get("seconds_for_30", row["seconds"])
        extrapolated = "" if row["submissions"] == 30 else " (extrapolated)"
        lines.append(f"| {row['lesson'][:-6]} | {row['submissions']} | {row['seconds']:.0f} | "
                     f"{row['seconds_per_submission']:.1f} | {for_30:.0f}{extrapolated} | "
                     f"{row['cpu_seconds']:.0f} | {load['start'][0] if load['start'] else '?'} → "
                     f"{load['end'][0] if load['end'] else '?'} | {'yes' if row['under_5_min'] else '**no**'} | "
                     f"{row['measured']} |")
    missing = [lesson.file for lesson in ready_lessons() if lesson.file not in data["lessons"]]
    runs = {}
    notebooks = RESULTS / "notebooks.json"
    if notebooks.is_file():
        runs = json.loads(notebooks.read_text()).get("seconds", {})
    lines += ["", "Every submission runs the whole lesson in its own kernel, so the lesson's own run time × 30 / jobs "
              "is a floor. Floors from the run times in benchmarks/results/notebooks.json (one kernel, idle machine):", "",
              "| lesson | run time s | floor for 30, s | measured here |", "| --- | --- | --- | --- |"]
    for lesson in ready_lessons():   # matched by name: lessons get renumbered
        seconds = next((v for k, v in runs.items() if k[3:] == lesson.file[3:]), None)
        floor = f"{seconds * 30 / data['jobs']:.0f}" if seconds else "?"
        lines.append(f"| {lesson.file[:-6]} | {seconds if seconds else '?'} | {floor} | "
                     f"{'no' if lesson.file in missing else 'yes'} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lessons", nargs="*", default=None, help="lesson numbers (default: every ready lesson)")
    parser.add_argument("--lesson", help=argparse.SUPPRESS)   # the old single-lesson option
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--report-only", action="store_true", help="rewrite grading.md from grading.json, run nothing")
    parser.add_argument("--note", help="a sentence for the report (e.g. what code state was measured)")
    args = parser.parse_args()
    lessons = args.lessons or ([args.lesson] if args.lesson else [lesson.file[:2] for lesson in ready_lessons()])
    path = RESULTS / "grading.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.update({"benchmark": "grading", "command": command_line(), "machine": machine(), "jobs": args.jobs})
    data.setdefault("lessons", {})
    if args.note:
        data["note"] = args.note
    if args.report_only:
        write_markdown(data, path.with_suffix(".md"))
        return
    for lesson in lessons:
        row = bench_lesson(lesson, args.n, args.jobs, args.timeout)
        row["command"] = " ".join(part for part in command_line().split(" --note")[:1])
        data["lessons"][row["lesson"]] = row
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n")
        write_markdown(data, path.with_suffix(".md"))
        print(f"{row['lesson']}: {row['submissions']} submissions in {row['seconds']:.0f} s (for 30: {row['seconds_for_30']:.0f} s) "
              f"({row['seconds_per_submission']:.1f} s each, {args.jobs} at a time; load {row['load_average']['start']} "
              f"-> {row['load_average']['end']}); totals {row['totals']} of {row['max']}; statuses {row['statuses']}; "
              f"under 5 minutes: {'yes' if row['under_5_min'] else 'NO'}", flush=True)


if __name__ == "__main__":
    main()
