"""What the numeric profile costs in lesson time (issue 15): each lesson with and without it.

    .venv/bin/python benchmarks/bench_profile_cost.py 05 07 08      # some lessons
    .venv/bin/python benchmarks/bench_profile_cost.py --rounds 2 07  # profile, native, native, profile

The numeric profile (``course/reproducibility.py``) pins every library to the code an AVX2 CPU
selects and MKL to its vendor-independent branch; ``COURSE_NUMERIC_PROFILE=native`` lets each library
pick its fastest code for this CPU. Each lesson is executed from a fresh kernel exactly as
``tools/portability.py`` executes it (one thread, the course's kernel environment), alternating the two
conditions in the order profile, native, native, profile, ... so that a drift of the machine's speed
falls on both. Wall-clock seconds and the CPU seconds of the kernel and its children are recorded.
Run it on an otherwise idle machine. Writes ``benchmarks/results/profile_cost.{json,md}``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import benchlib  # noqa: E402
from portability import execute_copy, setting_environment  # noqa: E402

from course.syllabus import ready_lessons  # noqa: E402

CONDITIONS = {"profile": True, "native": False}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(lesson_file: str, profile: bool, tmp: Path) -> dict:
    """Wall and CPU seconds of one fresh-kernel execution (the CPU of every process it started)."""
    env = setting_environment("host", profile=profile)
    cpu, wall = _children_cpu(), time.perf_counter()
    executed = execute_copy(lesson_file, tmp / f"{int(profile)}-{lesson_file}", env, timeout=900)
    return {"wall": round(time.perf_counter() - wall, 1), "cells": round(executed, 1),
            "cpu": round(_children_cpu() - cpu, 1), "load": benchlib.load_average()}


def write_markdown(data: dict, path: Path) -> None:
    lines = ["# What the numeric profile costs in lesson time", "",
             f"`{data['command']}` on {data['machine']['cpu']} ({data['machine']['cores']} cores), "
             f"{data['started']} to {data['finished'] or 'unfinished'}, load average at start "
             f"{data['load_average']['start']}. Each lesson executed from a fresh kernel with the numeric "
             "profile and with `COURSE_NUMERIC_PROFILE=native` (each library's fastest code for this CPU), "
             "alternately; seconds of its cells (wall) and CPU seconds of the kernel (median over rounds).", "",
             "| lesson | profile: cells s | native: cells s | profile: CPU s | native: CPU s | CPU ratio |",
             "|---|---|---|---|---|---|"]
    total = {"profile": 0.0, "native": 0.0}
    for lesson, runs in data["lessons"].items():
        med = {c: {k: statistics.median(r[k] for r in runs[c]) for k in ("cells", "cpu")}
               for c in CONDITIONS if runs.get(c)}
        if len(med) < 2:
            continue
        for c in CONDITIONS:
            total[c] += med[c]["cpu"]
        ratio = med["profile"]["cpu"] / med["native"]["cpu"] if med["native"]["cpu"] else float("nan")
        lines.append(f"| {lesson} | {med['profile']['cells']:.1f} | {med['native']['cells']:.1f} | "
                     f"{med['profile']['cpu']:.1f} | {med['native']['cpu']:.1f} | {ratio:.2f} |")
    if total["native"]:
        lines += ["", f"Total CPU: {total['profile']:.1f} s with the profile, {total['native']:.1f} s native "
                      f"(ratio {total['profile'] / total['native']:.2f})."]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers (default: every ready lesson)")
    parser.add_argument("--rounds", type=int, default=1, help="executions per condition and lesson")
    args = parser.parse_args(argv)
    lessons = [le for le in ready_lessons() if not args.lessons or f"{le.number:02d}" in args.lessons]
    results = benchlib.Results("profile_cost", benchlib.command_line(), lessons={})
    order = []
    for i in range(args.rounds):  # profile, native, native, profile, ...
        order += list(CONDITIONS) if i % 2 == 0 else list(reversed(CONDITIONS))
    with tempfile.TemporaryDirectory() as tmp:
        for lesson in lessons:
            runs = results.data["lessons"].setdefault(lesson.file, {c: [] for c in CONDITIONS})
            for condition in order:
                row = measure(lesson.file, CONDITIONS[condition], Path(tmp))
                runs[condition].append(row)
                results.save()
                print(f"{lesson.file:<42} {condition:<8} cells {row['cells']:6.1f} s  cpu {row['cpu']:6.1f} s",
                      flush=True)
    results.finish()
    write_markdown(results.data, results.path.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
