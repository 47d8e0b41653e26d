"""Lesson maintenance: nbgrader metadata, navigation cells, execution with CI's settings, checks.

    python tools/lessons.py refresh [NOTEBOOK ...]   # metadata + navigation + execute (default: all)
    python tools/lessons.py execute NOTEBOOK ...     # execute in place only
    python tools/lessons.py tidy [NOTEBOOK ...]      # metadata + navigation, no execution
    python tools/lessons.py check [NOTEBOOK ...]     # report convention problems (exit 1 if any)
    python tools/lessons.py readme                   # rewrite the README's syllabus table

``make notebooks`` runs ``refresh`` on every lesson. Executing here uses the same environment
variables as ``make test`` (``course.reproducibility.numeric_environment()``: threads, seeds
and the numeric profile), so committed outputs match what nbval re-computes in CI.

Exercise markers (see CONTRIBUTING.md) become nbgrader cell metadata:

* a markdown cell that starts ``### Exercise N.M`` is the locked prompt of exercise N.M;
* a code cell holding ``### BEGIN SOLUTION`` is its answer cell;
* a code cell whose first line is ``# Self-check (P points)`` is its visible, graded test;
* a code cell whose first line is ``# Hidden tests (P points)`` holds ``### BEGIN HIDDEN TESTS``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
sys.path.insert(0, str(ROOT))

from course.reproducibility import numeric_environment  # noqa: E402
from course.syllabus import LESSONS, ready_lessons  # noqa: E402

KERNELSPEC = {"name": "recsys-course", "display_name": "Python 3 (recsys-course)", "language": "python"}
EXERCISE_HEADING = re.compile(r"^#{2,4}\s*Exercise\s+(\d+)\.(\d+)")
POINTS = re.compile(r"^#\s*(Self-check|Hidden tests)\s*\((\d+(?:\.\d+)?)\s*points?\)", re.I)
NAV_TAG = "navigation"


def _nbgrader(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return meta


def apply_exercise_metadata(nb) -> list[str]:
    """Set nbgrader metadata from the markers; return the problems found (empty if none)."""
    problems, current, seen_ids = [], None, set()
    for index, cell in enumerate(nb.cells):
        src = cell.source
        first = src.lstrip().splitlines()[0] if src.strip() else ""
        cell.metadata.pop("nbgrader", None)
        if cell.cell_type == "markdown":
            m = EXERCISE_HEADING.match(src.lstrip())
            if m:
                current = f"ex{m.group(1)}_{m.group(2)}"
                cell.metadata["nbgrader"] = _nbgrader(f"{current}_prompt", locked=True)
            elif NAV_TAG not in cell.metadata.get("tags", []) and src.lstrip().startswith("## "):
                current = None  # a new section ends the exercise
            continue
        if cell.cell_type != "code":
            continue
        m = POINTS.match(first)
        grade_id = None
        if "### BEGIN SOLUTION" in src:
            if current is None:
                problems.append(f"cell {index}: a solution cell outside an '### Exercise N.M' section")
                continue
            grade_id = f"{current}_answer"
            cell.metadata["nbgrader"] = _nbgrader(grade_id, solution=True)
        elif m:
            if current is None:
                problems.append(f"cell {index}: a test cell outside an '### Exercise N.M' section")
                continue
            hidden = m.group(1).lower().startswith("hidden")
            if hidden != ("### BEGIN HIDDEN TESTS" in src):
                problems.append(f"cell {index}: '# Hidden tests' cells (only) must hold ### BEGIN HIDDEN TESTS")
            grade_id = f"{current}_{'hidden' if hidden else 'check'}"
            points = float(m.group(2))
            cell.metadata["nbgrader"] = _nbgrader(grade_id, grade=True, locked=True,
                                                  points=int(points) if points.is_integer() else points)
        if grade_id:
            if grade_id in seen_ids:
                problems.append(f"cell {index}: grade_id {grade_id} appears twice")
            seen_ids.add(grade_id)
    answers = {g[:-7] for g in seen_ids if g.endswith("_answer")}
    checks = {g[:-6] for g in seen_ids if g.endswith("_check")}
    hidden = {g[:-7] for g in seen_ids if g.endswith("_hidden")}
    for ex in sorted(answers):
        if ex not in checks:
            problems.append(f"{ex}: no '# Self-check' cell")
        if ex not in hidden:
            problems.append(f"{ex}: no '# Hidden tests' cell")
    if len(answers) < 2:
        problems.append(f"only {len(answers)} exercise(s): each lesson needs two or more")
    return problems


PLACEHOLDER = re.compile(r"\[[^\]]*\]|(?:TODO|TBD|FIXME|XXX)\b.*", re.IGNORECASE | re.DOTALL)


def placeholder_problems(nb) -> list[str]:
    """Cells a learner would see as leftovers: empty cells, or a markdown cell that is only a placeholder
    such as ``[nav]`` or ``TODO``."""
    problems = []
    for index, cell in enumerate(nb.cells):
        text = cell.source.strip()
        if not text:
            problems.append(f"cell {index}: an empty {cell.cell_type} cell")
        elif cell.cell_type == "markdown" and PLACEHOLDER.fullmatch(text):
            problems.append(f"cell {index}: a placeholder left in the lesson: {text[:40]!r}")
    return problems


def navigation_markdown(file: str) -> str:
    """The prev / syllabus / next line for lesson ``file`` (links only to lessons that exist)."""
    ready = ready_lessons(NOTEBOOKS)
    names = [lesson.file for lesson in ready]
    pos = names.index(file)
    parts = []
    parts.append(f"[◀ {ready[pos - 1].label}]({ready[pos - 1].file})" if pos > 0 else "◀ (start)")
    parts.append("[Syllabus](00_welcome.ipynb#Syllabus)")
    parts.append(f"[{ready[pos + 1].label} ▶]({ready[pos + 1].file})" if pos + 1 < len(ready) else "(end) ▶")
    return " | ".join(parts)


def apply_navigation(nb, file: str) -> None:
    """Make the first and last cells the navigation line (insert or update; idempotent)."""
    text = navigation_markdown(file)

    def nav_cell():
        return nbformat.v4.new_markdown_cell(text, metadata={"tags": [NAV_TAG]})

    for pos in (0, -1):
        if nb.cells and NAV_TAG in nb.cells[pos].metadata.get("tags", []):
            nb.cells[pos].source = text
        elif pos == 0:
            nb.cells.insert(0, nav_cell())
        else:
            nb.cells.append(nav_cell())


WELCOME = "00_welcome.ipynb"
SYLLABUS_HEADING = "## Syllabus"


def welcome_syllabus() -> str:
    """Lesson 00's syllabus cell: every lesson of course/syllabus.py, linked when its notebook exists."""
    rows = [SYLLABUS_HEADING, "", "| lesson | what it teaches | tools |", "| --- | --- | --- |"]
    for lesson in LESSONS:
        label = f"[{lesson.label}]({lesson.file})" if (NOTEBOOKS / lesson.file).is_file() else lesson.label
        rows.append(f"| {label} | {lesson.teaches} | {lesson.frameworks} |")
    rows += ["", "Lessons that are not in your `notebooks/` folder yet are still being written; the navigation",
             "links at the top and bottom of each lesson only point to lessons that exist."]
    return "\n".join(rows)


def apply_syllabus(nb, file: str) -> None:
    """Rewrite lesson 00's ``## Syllabus`` cell from course/syllabus.py (the README's table has the same source)."""
    if file != WELCOME:
        return
    cells = [c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith(SYLLABUS_HEADING + "\n")]
    if len(cells) != 1:
        raise ValueError(f"{file}: expected one markdown cell starting with {SYLLABUS_HEADING!r}, found {len(cells)}")
    cells[0].source = welcome_syllabus()


def execute(path: Path, timeout: int = 600) -> float:
    """Run ``path`` top to bottom in a fresh kernel with CI's environment; write outputs in place."""
    from nbclient import NotebookClient

    os.environ.update(numeric_environment())
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata["kernelspec"] = KERNELSPEC
    nbformat.write(nb, path)
    return seconds


def tidy(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # execution timestamps only add noise to diffs
        cell.metadata.pop("execution", None)
    problems = apply_exercise_metadata(nb) + placeholder_problems(nb)
    apply_navigation(nb, path.name)
    apply_syllabus(nb, path.name)
    nb.metadata["kernelspec"] = KERNELSPEC
    nbformat.write(nb, path)
    return problems


README = ROOT / "README.md"
TIMES = ROOT / "benchmarks" / "results" / "notebooks.json"
SYLLABUS_START, SYLLABUS_END = "<!-- syllabus:start -->", "<!-- syllabus:end -->"


def syllabus_table() -> str:
    """The README's syllabus: every lesson that exists, with its measured time to run."""
    import json

    seconds = json.loads(TIMES.read_text())["seconds"] if TIMES.is_file() else {}
    rows = ["| lesson | what it teaches | frameworks | time to run |", "| --- | --- | --- | --- |"]
    for lesson in ready_lessons(NOTEBOOKS):
        time_to_run = f"{seconds[lesson.file]:.0f} s" if lesson.file in seconds else "not measured"
        rows.append(f"| [{lesson.label}](notebooks/{lesson.file}) | {lesson.teaches} | {lesson.frameworks} "
                    f"| {time_to_run} |")
    return "\n".join(rows)


def update_readme() -> bool:
    """Rewrite the syllabus block of README.md; return True if it changed."""
    text = README.read_text()
    start, end = text.index(SYLLABUS_START) + len(SYLLABUS_START), text.index(SYLLABUS_END)
    new = text[:start] + "\n" + syllabus_table() + "\n" + text[end:]
    README.write_text(new)
    return new != text


def _targets(args: list[str]) -> list[Path]:
    if args:
        return [Path(a).resolve() for a in args]
    return [NOTEBOOKS / lesson.file for lesson in ready_lessons(NOTEBOOKS)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["refresh", "execute", "tidy", "check", "readme"])
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args(argv)
    known = {lesson.file for lesson in LESSONS}
    status = 0
    if args.command == "readme":
        print("README.md syllabus " + ("updated" if update_readme() else "already current"))
        return 0
    for path in _targets(args.notebooks):
        if path.name not in known:
            print(f"{path.name}: not in course/syllabus.py's LESSONS; add it there first")
            status = 1
            continue
        if args.command in ("refresh", "tidy"):
            for problem in tidy(path):
                print(f"{path.name}: {problem}")
                status = 1
        if args.command in ("refresh", "execute"):
            seconds = execute(path)
            print(f"{path.name}: executed in {seconds:.1f} s")
        if args.command == "check":
            nb = nbformat.read(path, as_version=4)
            for problem in apply_exercise_metadata(nb) + placeholder_problems(nb):
                print(f"{path.name}: {problem}")
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
