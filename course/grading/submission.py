"""Finding each student's notebook in a folder or LMS zip, and making it gradable.

``prepare`` is the pre-check: the notebook must be valid JSON and be the lesson's notebook
(found by name, else by content when renamed); exercise cells that lost their nbgrader
metadata are recognised by their source; locked cells (prompts, visible and hidden tests) are
replaced by the master's, and deleted ones are put back, as nbgrader's ``OverwriteCells`` does.
:func:`align` then does the same for the lesson's own code cells (the learner's work is in the
answer cells and in cells they add, which are kept), and marks every code cell with its role
for the grading kernel's guard (:mod:`course.grading.plan`).

:func:`unique_names` gives every student a file name that no other student's name equals even
ignoring case (feedback pages, graded notebooks and working folders of "Case Collide" and
"case_collide" would overwrite each other on macOS and Windows otherwise).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .lesson import LessonSpec

IGNORED = ("__MACOSX", ".ipynb_checkpoints", ".DS_Store")


class NotGraded(Exception):
    """The submission cannot be graded; ``status`` goes to the gradebook."""

    def __init__(self, status: str, detail: str):
        super().__init__(f"{status}: {detail}")
        self.status, self.detail = status, detail


@dataclass
class Submission:
    student: str
    files: list[Path]       # every notebook the student handed in (may be empty)
    others: list[str] = field(default_factory=list)   # names of other files, for the report


@dataclass
class Prepared:
    nb: nbformat.NotebookNode
    used: str                                   # file name that was graded
    notes: list[tuple[str, str]]                # (flag, detail)


def _visible(path: Path) -> bool:
    return not any(part in IGNORED or part.startswith(".") for part in path.parts)


def extract_zip(archive: Path, target: Path) -> Path:
    """Unpack an LMS download safely (no absolute paths, no ``..``); return its root folder."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = Path(info.filename)
            if info.is_dir() or name.is_absolute() or ".." in name.parts or not _visible(name):
                continue
            dest = target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
    entries = [p for p in target.iterdir() if _visible(p.relative_to(target))]
    if len(entries) == 1 and entries[0].is_dir():   # a zip of one folder holding the submissions
        inner = [p for p in entries[0].iterdir() if _visible(p.relative_to(target))]
        if any(p.is_dir() for p in inner) or len(inner) > 1:
            return entries[0]
    return target


def _flat_key(name: str, lesson_file: str) -> str:
    """Student key of a file in a flat LMS download, e.g. ``smith_123_02_baselines.ipynb``."""
    stem = name[:-6] if name.endswith(".ipynb") else name
    lesson_stem = lesson_file[:-6]
    for marker in (lesson_stem, lesson_stem.split("_", 1)[0] + "_"):
        pos = stem.find(marker)
        if pos > 0:
            return stem[:pos].rstrip("_- ")
    return stem.split("_", 1)[0] if "_" in stem else stem


def discover(root: Path, lesson_file: str) -> list[Submission]:
    """One :class:`Submission` per student folder, or per student key among loose notebooks."""
    subs: dict[str, Submission] = {}
    for entry in sorted(root.iterdir()):
        if not _visible(entry.relative_to(root)):
            continue
        if entry.is_dir():
            files = sorted((p for p in entry.rglob("*.ipynb") if _visible(p.relative_to(entry))),
                           key=lambda p: (len(p.parts), str(p)))
            others = sorted(p.name for p in entry.rglob("*") if p.is_file() and p.suffix != ".ipynb")
            subs[entry.name] = Submission(entry.name, files, others)
        elif entry.suffix == ".ipynb":
            key = _flat_key(entry.name, lesson_file)
            subs.setdefault(key, Submission(key, [])).files.append(entry)
    return [subs[k] for k in sorted(subs)]


def _read(path: Path) -> nbformat.NotebookNode:
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise NotGraded("invalid notebook", f"{path.name} is not valid JSON ({_short(exc)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotGraded("invalid notebook", f"{path.name} is JSON but not a notebook (no list of cells)")
    try:
        if isinstance(data.get("nbformat"), int) and data["nbformat"] < 4:
            nb = nbformat.reads(text, as_version=4)   # an old format: let nbformat convert it
        else:
            nb = nbformat.from_dict(_repaired(data))  # tolerate missing keys instead of rejecting
    except Exception as exc:  # noqa: BLE001 - any reader failure means "not a notebook we can read"
        raise NotGraded("invalid notebook", f"{path.name} cannot be read as a notebook ({_short(exc)})") from None
    return nb


def _repaired(data: dict) -> dict:
    """The notebook with the keys the grader relies on (outputs are cleared before running anyway)."""
    cells = []
    for cell in data["cells"]:
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type") if cell.get("cell_type") in ("code", "markdown", "raw") else "raw"
        source = cell.get("source", "")
        source = source if isinstance(source, str) else "".join(map(str, source or []))
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        fixed = {"cell_type": kind, "source": source, "metadata": meta}
        if kind == "code":
            fixed.update(outputs=[], execution_count=None)
        cells.append(fixed)
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return {"nbformat": 4, "nbformat_minor": 4, "metadata": meta, "cells": cells}


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__


def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _likeness(nb, spec: LessonSpec) -> int:
    """How many of the lesson's exercise cells this notebook holds (by grade id or source)."""
    ids = {_grade_id(c) for c in nb.cells}
    sources = {c.source.strip() for c in nb.cells}
    return sum(1 for c in spec.cells
               if c.grade_id in ids or c.master_source.strip() in sources or c.student_source.strip() in sources)


def choose_notebook(sub: Submission, spec: LessonSpec) -> tuple[nbformat.NotebookNode, str, list]:
    notes = []
    exact = [p for p in sub.files if p.name == spec.file]
    if exact:
        if len(sub.files) > 1:
            notes.append(("", f"graded {spec.file}; ignored {len(sub.files) - 1} other notebook(s)"))
        return _read(exact[0]), exact[0].name, notes
    best, invalid, unrelated = None, [], []
    for path in sub.files:
        try:
            nb = _read(path)
        except NotGraded as exc:
            invalid.append(exc.detail)
            continue
        score = _likeness(nb, spec)
        if score and (best is None or score > best[0]):
            best = (score, nb, path.name)
        elif not score:
            unrelated.append(path.name)
    if best:
        notes.append(("renamed notebook", f"graded {best[2]} (expected {spec.file})"))
        return best[1], best[2], notes
    if invalid:
        raise NotGraded("invalid notebook", "; ".join(invalid))
    if unrelated:
        raise NotGraded("missing notebook", f"no {spec.file}; {', '.join(unrelated)} hold none of its exercises")
    extra = f" (found only: {', '.join(sub.others[:5])})" if sub.others else ""
    raise NotGraded("missing notebook", f"no notebook in the submission{extra}")


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()
    return ""


def restore(nb: nbformat.NotebookNode, spec: LessonSpec) -> list[tuple[str, str]]:
    """Identify the exercise cells in ``nb`` and restore the locked ones from the master, in place."""
    notes: list[tuple[str, str]] = []
    # 1. metadata that is not the master's cannot award points: drop it (keep the first of duplicates)
    known, seen = spec.by_id(), set()
    for cell in nb.cells:
        gid = _grade_id(cell)
        if "nbgrader" in cell.metadata and (gid not in known or gid in seen):
            del cell.metadata["nbgrader"]
        elif gid:
            seen.add(gid)
    position = {gid: i for i, c in enumerate(nb.cells) if (gid := _grade_id(c))}
    lost, edited, deleted = [], [], []
    for ec in spec.cells:  # 2. cells that lost their metadata, recognised by their source
        if ec.grade_id in position:
            continue
        targets = {ec.master_source.strip(), ec.student_source.strip()}
        match = None
        for i, cell in enumerate(nb.cells):
            if "nbgrader" in cell.metadata or cell.cell_type != ec.cell_type:
                continue
            if cell.source.strip() in targets:
                match = i
                break
            line = _first_line(ec.master_source)
            if ec.kind == "answer" and line and "###" not in line and _first_line(cell.source) == line:
                match = i
                break
        if match is not None:
            nb.cells[match].metadata["nbgrader"] = copy.deepcopy(ec.metadata)
            position[ec.grade_id] = match
            lost.append(ec.grade_id)
    # 3. locked cells: restore the master's source; put deleted ones back in place
    for ec in spec.cells:
        if ec.kind == "answer":
            if ec.grade_id not in position:
                notes.append(("", f"{ec.grade_id}: answer cell not identified (its code still runs)"))
            continue
        i = position.get(ec.grade_id)
        if i is not None:
            cell = nb.cells[i]
            current = cell.source.strip()
            if ec.kind in ("check", "hidden") and (current not in (ec.master_source.strip(), ec.student_source.strip())
                                                    or cell.cell_type != ec.cell_type):
                edited.append(ec.grade_id)
            if cell.cell_type != ec.cell_type:
                cell = nb.cells[i] = _new_cell(ec)
            cell.source = ec.master_source
            cell.metadata["nbgrader"] = copy.deepcopy(ec.metadata)
            continue
        after = _insert_after(nb, spec, ec, position)
        nb.cells.insert(after + 1, _new_cell(ec))
        position = {gid: j for j, c in enumerate(nb.cells) if (gid := _grade_id(c))}
        if ec.kind in ("check", "hidden"):
            deleted.append(ec.grade_id)
    if lost:
        notes.append(("metadata restored", "grading metadata missing, recognised by source: " + ", ".join(lost)))
    if edited:
        notes.append(("tests restored", "edited test cells replaced by the originals: " + ", ".join(edited)))
    if deleted:
        notes.append(("tests restored", "deleted test cells put back: " + ", ".join(deleted)))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notes


def _new_cell(ec):
    maker = nbformat.v4.new_code_cell if ec.cell_type == "code" else nbformat.v4.new_markdown_cell
    return maker(ec.master_source, metadata={"nbgrader": copy.deepcopy(ec.metadata)})


def _insert_after(nb, spec: LessonSpec, ec, position: dict[str, int]) -> int:
    """Index after which a deleted cell goes: after the previous exercise cell that is present."""
    order = [c.grade_id for c in spec.cells]
    for gid in reversed(order[: order.index(ec.grade_id)]):
        if gid in position:
            return position[gid]
    return len(nb.cells) - 1


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def align(nb: nbformat.NotebookNode, spec: LessonSpec) -> list[tuple[str, str]]:
    """Rebuild ``nb`` on the master's skeleton, in place; return notes.

    Exercise cells (already restored by :func:`restore`) and the learner's own cells are kept;
    every code cell of the lesson itself is the master's: an edited one is replaced by the
    original, a deleted one is put back. Lesson cells are recognised by cell id, else by source;
    a cell recognised by neither is the learner's and keeps its place after the cell that
    precedes it. Markdown cells other than exercise prompts are the learner's too (notes).
    Every cell gets a fresh id and its role (``lesson``, ``answer``, ``check``, ``hidden``,
    ``student``) in ``metadata["course_grading"]``, which the grader alone writes.
    """
    from .plan import ROLE_KEY

    master = spec.master.cells
    kinds = {c.grade_id: c.kind for c in spec.cells}
    by_gid = {gid: j for j, c in enumerate(master) if (gid := _grade_id(c)) in kinds}
    lesson = [j for j, c in enumerate(master) if c.cell_type == "code" and _grade_id(c) not in kinds]
    by_id = {master[j].get("id"): j for j in lesson if master[j].get("id")}
    by_source: dict[str, list[int]] = defaultdict(list)
    for j in lesson:
        by_source[_norm(master[j].source)].append(j)
    matched: dict[int, int] = {}          # master index -> index in nb
    cells = list(nb.cells)
    for k, cell in enumerate(cells):      # pass 1: grade ids and cell ids
        gid = _grade_id(cell)
        j = by_gid.get(gid) if gid in kinds else (by_id.get(cell.get("id")) if cell.cell_type == "code" else None)
        if j is not None and j not in matched:
            matched[j] = k
    taken = set(matched.values())
    edited = [j for j, k in matched.items() if j in by_id.values() and _norm(cells[k].source) != _norm(master[j].source)]
    for k, cell in enumerate(cells):      # pass 2: lesson cells by source (ids lost, e.g. an LMS export)
        if k in taken or cell.cell_type != "code" or _grade_id(cell):
            continue
        free = [j for j in by_source.get(_norm(cell.source), []) if j not in matched]
        if free:
            matched[free[0]] = k
            taken.add(k)
    where = {k: j for j, k in matched.items()}
    anchored: dict[int, list] = defaultdict(list)
    last = -1
    for k, cell in enumerate(cells):
        if k in where:
            last = where[k]
        else:
            anchored[last].append(cell)
    out = [(cell, "student") for cell in anchored[-1]]
    restored = []
    for j, mcell in enumerate(master):
        gid = _grade_id(mcell)
        if gid in kinds:
            if j in matched:
                out.append((cells[matched[j]], kinds[gid]))
        elif j in lesson:
            out.append((copy.deepcopy(mcell), "lesson"))
            if j not in matched:
                restored.append(j)
        out.extend((cell, "student") for cell in anchored[j])
    for n, (cell, role) in enumerate(out):
        cell["id"] = f"graded-{n:04d}"
        cell.metadata.pop(ROLE_KEY, None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata[ROLE_KEY] = {"role": role}
    nb.cells = [cell for cell, _ in out]
    nb.nbformat, nb.nbformat_minor = 4, max(int(nb.get("nbformat_minor", 0) or 0), 5)
    notes = []
    changed = sorted(set(edited) | set(restored))
    if changed:
        notes.append(("lesson cells restored", f"{len(changed)} lesson code cell(s) edited or deleted were run as the "
                      "lesson has them (put your own code in new cells)"))
    return notes


def prepare(sub: Submission, spec: LessonSpec) -> Prepared:
    nb, used, notes = choose_notebook(sub, spec)
    notes += restore(nb, spec)
    if not any(_grade_id(c) for c in nb.cells):
        raise NotGraded("invalid notebook", "no exercise cell could be identified")
    notes += align(nb, spec)
    return Prepared(nb, used, notes)


_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def safe_name(student: str) -> str:
    """A file-name stem for ``student``: letters, digits, ``.``, ``_`` and ``-`` only, at most 80
    characters, never a name Windows reserves (``CON``, ``NUL`` ...)."""
    text = unicodedata.normalize("NFKC", student)
    name = re.sub(r"[^\w.-]+", "_", text).strip("._")[:80].strip("._") or "student"
    return f"_{name}" if name.split(".")[0].lower() in _RESERVED else name


def unique_names(students: list[str]) -> dict[str, str]:
    """A file-name stem per student, distinct from every other even ignoring case.

    Stems are given in sorted order of the students; a stem that collides (case-insensitively)
    with an earlier one gets ``-2``, ``-3`` ...: ``"Case Collide"`` -> ``Case_Collide`` and
    ``"case_collide"`` -> ``case_collide-2``.
    """
    used: set[str] = set()
    out: dict[str, str] = {}
    for student in sorted(students):
        base = candidate = safe_name(student)
        n = 1
        while candidate.casefold() in used:
            n += 1
            candidate = f"{base}-{n}"
        used.add(candidate.casefold())
        out[student] = candidate
    return out
