"""A master lesson's exercises (read from nbgrader metadata) and its student version."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..syllabus import NOTEBOOKS, LESSONS, ready_lessons

GRADE_ID = re.compile(r"^(ex\d+_\d+)_(prompt|answer|check|hidden)$")
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
HIDDEN_NOTE = "# (the hidden tests run when your notebook is graded)"


@dataclass(frozen=True)
class ExerciseCell:
    """One cell of an exercise in the master notebook."""

    grade_id: str
    exercise: str          # "ex2_1"
    kind: str              # prompt | answer | check | hidden
    cell_type: str
    points: float          # 0 for prompt and answer cells
    master_source: str     # with the solution / hidden tests
    student_source: str    # as the learner receives it
    metadata: dict = field(hash=False, compare=False)


@dataclass
class LessonSpec:
    """A lesson's master notebook and the exercise cells found in it (in notebook order)."""

    file: str
    path: Path
    master: nbformat.NotebookNode
    cells: list[ExerciseCell]

    @property
    def exercises(self) -> dict[str, float]:
        """``{exercise: points}`` in notebook order (the gradebook's columns)."""
        out: dict[str, float] = {}
        for c in self.cells:
            out[c.exercise] = out.get(c.exercise, 0) + c.points
        return out

    @property
    def max_points(self) -> float:
        return sum(self.exercises.values())

    def by_id(self) -> dict[str, ExerciseCell]:
        return {c.grade_id: c for c in self.cells}


def resolve_lesson(name: str | Path, folder: Path = NOTEBOOKS) -> Path:
    """A lesson by file name, stem, number (``2``, ``02``) or path."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.is_file():
        return path.resolve()
    text = str(name)
    for lesson in LESSONS:
        stem = lesson.file[:-6]
        if text in (lesson.file, stem) or (text.isdigit() and int(text) == lesson.number):
            candidate = folder / lesson.file
            if candidate.is_file():
                return candidate
            raise FileNotFoundError(f"lesson {text!r}: {lesson.file} is not written yet")
    raise FileNotFoundError(f"no lesson {text!r}; ready lessons: "
                            + ", ".join(lesson.file for lesson in ready_lessons(folder)))


def _student_source(cell) -> str:
    nb = nbformat.v4.new_notebook(cells=[copy.deepcopy(cell)])
    return student_version(nb).cells[0].source


def load_lesson(name: str | Path, folder: Path = NOTEBOOKS) -> LessonSpec:
    path = resolve_lesson(name, folder)
    master = nbformat.read(path, as_version=4)
    cells = []
    for cell in master.cells:
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        m = GRADE_ID.match(meta.get("grade_id", ""))
        if not m:
            continue
        points = float(meta.get("points", 0) or 0) if meta.get("grade") else 0.0
        cells.append(ExerciseCell(meta["grade_id"], m.group(1), m.group(2), cell.cell_type, points,
                                  cell.source, _student_source(cell), dict(meta)))
    if not any(c.points for c in cells):
        raise ValueError(f"{path.name} has no graded cells: run tools/lessons.py tidy on it")
    return LessonSpec(path.name, path, master, cells)


def _clear_hidden(source: str) -> str:
    lines, out, hidden = source.splitlines(), [], False
    for line in lines:
        if "### BEGIN HIDDEN TESTS" in line:
            hidden = True
            out.append(HIDDEN_NOTE)
        elif "### END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def _clear_solution(source: str, stub: str) -> str:
    lines, out, inside = source.splitlines(), [], False
    for line in lines:
        if "### BEGIN SOLUTION" in line:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + s for s in stub.splitlines())
        elif "### END SOLUTION" in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def student_version(master: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The learner's copy: solutions replaced by a stub, hidden tests removed, the outputs of
    exercise cells cleared, prompt and test cells locked. Other cells keep their outputs, so the
    learner sees the lesson's figures and tables without running it first.

    Same result as nbgrader's ClearSolutions + ClearHiddenTests + LockCells + ClearOutput
    restricted to exercise cells (written out here so that it needs no nbgrader configuration).
    """
    nb = copy.deepcopy(master)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        src = cell.source
        if cell.cell_type == "code" and "### BEGIN SOLUTION" in src:
            cell.source = _clear_solution(src, CODE_STUB)
        elif cell.cell_type == "markdown" and "### BEGIN SOLUTION" in src:
            cell.source = _clear_solution(src, "YOUR ANSWER HERE")
        if "### BEGIN HIDDEN TESTS" in cell.source:
            cell.source = _clear_hidden(cell.source)
        if not meta:
            continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if meta.get("locked") or meta.get("grade"):
            cell.metadata["deletable"] = False
            if not meta.get("solution"):
                cell.metadata["editable"] = False
    return nb


def write_student_versions(out: Path, folder: Path = NOTEBOOKS, lessons: list[str] | None = None,
                           force: bool = False) -> list[Path]:
    """Write the student version of every ready lesson (or of ``lessons``) into ``out``.

    An existing copy is a learner's work: it is kept unless ``force``. Returns the files written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = lessons or [lesson.file for lesson in ready_lessons(folder)]
    written = []
    for name in files:
        path = resolve_lesson(name, folder)
        nb = student_version(nbformat.read(path, as_version=4))
        target = out / path.name
        if target.exists() and not force:
            continue
        nbformat.write(nb, target)
        written.append(target)
    readme = out / "README.md"
    readme.write_text(
        "# Your copies of the lessons\n\n"
        "Generated by `python -m course.grading student` from `notebooks/`. Regenerating adds\n"
        "new lessons and keeps the copies you have (`--force` replaces them with fresh ones).\n"
        "Exercise cells hold `raise NotImplementedError()`: replace it with your answer and run the\n"
        "`# Self-check` cell below it. The solutions are in `notebooks/`.\n", encoding="utf-8")
    return written
