"""What the grader tells the grading kernel's guard (:mod:`course.grading.guard`) about a notebook.

For every code cell of a prepared submission, its *role*: ``lesson``, ``check`` and ``hidden``
cells are the master's (the guard runs the master's code for them against pristine state);
``answer`` and ``student`` cells are the learner's (they run as written). Besides, the lesson's
*answer names* (what the master's answer cells bind, e.g. ``count_ratings``: the only names the
master cells take from the learner's namespace) and the protected modules the lesson imports
(loaded when the kernel starts, before any learner code can patch them).

The plan goes to the kernel as a JSON file that the guard deletes after reading it, with a
random token: a test passes only when a report carrying that token comes back.
"""

from __future__ import annotations

import ast
import json
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .guard import PROTECTED
from .lesson import LessonSpec

ROLE_KEY = "course_grading"
MASTER_ROLES = ("lesson", "check", "hidden")
LEARNER_ROLES = ("answer", "student")
#: Modules that pull in PyTorch, TensorFlow or Keras are not loaded early, so that
#: ``course.setup`` still configures those frameworks before they start.
_LATE = ("torch", "keras", "tensorflow")


def parse(source: str) -> ast.Module | None:
    """The cell's code as a Python syntax tree (IPython magics translated), or ``None``."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


class _Bindings(ast.NodeVisitor):
    """Names bound at a cell's top level (not inside functions, lambdas or class bodies)."""

    def __init__(self):
        self.names: list[str] = []

    def _add(self, name: str) -> None:
        if name not in self.names:
            self.names.append(name)

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._add(node.id)

    def visit_FunctionDef(self, node):
        self._add(node.name)
        for item in node.decorator_list + node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(item)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._add(node.name)
        for item in node.decorator_list + node.bases:
            self.visit(item)

    def visit_Lambda(self, node):
        return

    def _comprehension(self, node):
        # its loop variables are its own; only ``:=`` binds in the cell's scope
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self._add(sub.target.id)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Import(self, node):
        for alias in node.names:
            self._add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node):
        for alias in node.names:
            if alias.name != "*":
                self._add(alias.asname or alias.name)

    def visit_ExceptHandler(self, node):
        if node.name:
            self._add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node):
        if node.name:
            self._add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node):
        if node.name:
            self._add(node.name)

    def visit_MatchMapping(self, node):
        if node.rest:
            self._add(node.rest)
        self.generic_visit(node)


def bound_names(source: str) -> list[str]:
    tree = parse(source)
    if tree is None:
        return []
    visitor = _Bindings()
    visitor.visit(tree)
    return visitor.names


def loaded_names(source: str) -> set[str]:
    tree = parse(source)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} if tree else set()


def imported_modules(source: str) -> list[str]:
    """Modules the cell imports (``from a import b`` gives ``a`` and ``a.b``, which may be a submodule)."""
    tree = parse(source)
    out: list[str] = []
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append(node.module)
            out += [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
    return list(dict.fromkeys(out))


@lru_cache(maxsize=32)
def _lesson_facts(path: str, mtime: float) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from .lesson import load_lesson

    spec = load_lesson(path)
    answers: list[str] = []
    for cell in spec.cells:
        if cell.kind == "answer":
            answers += [n for n in bound_names(cell.master_source) if n not in answers]
    imports: list[str] = []
    for cell in spec.master.cells:
        if cell.cell_type == "code":
            imports += [m for m in imported_modules(cell.source)
                        if m.split(".")[0] in PROTECTED and not any(x in m for x in _LATE) and m not in imports]
    return tuple(answers), tuple(imports)


def lesson_facts(spec: LessonSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(answer names, protected modules to import early)`` of a lesson."""
    return _lesson_facts(str(spec.path), Path(spec.path).stat().st_mtime)


@dataclass
class Plan:
    token: str
    roles: dict[int, str]          # code cell index -> role
    cells: dict[int, dict]         # master code cells: kind, grade_id, source, binds, reads_answers
    answers: tuple[str, ...]
    imports: tuple[str, ...]

    def is_master(self, index: int) -> bool:
        return self.roles.get(index) in MASTER_ROLES

    def write(self, path: Path) -> Path:
        data = {"token": self.token, "answers": list(self.answers), "imports": list(self.imports),
                "protect": list(PROTECTED), "cells": {str(i): c for i, c in self.cells.items()}}
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    def call(self, index: int, dirty: bool, checkpoint: bool) -> str:
        """The code sent to the kernel instead of master cell ``index``."""
        return (f"__import__('course.grading.guard', fromlist=['run']).run({index}, dirty={dirty}, "
                f"checkpoint={checkpoint})")


def build_plan(nb, spec: LessonSpec) -> Plan:
    """The plan of a prepared notebook (roles from :func:`course.grading.submission.align`)."""
    answers, imports = lesson_facts(spec)
    roles: dict[int, str] = {}
    cells: dict[int, dict] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        role = (cell.metadata.get(ROLE_KEY) or {}).get("role", "student")
        roles[i] = role
        if role in MASTER_ROLES:
            gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
            cells[i] = {"kind": role, "grade_id": gid if role != "lesson" else None, "source": cell.source,
                        "binds": bound_names(cell.source),
                        "reads_answers": bool(loaded_names(cell.source) & set(answers))}
    return Plan(secrets.token_hex(16), roles, cells, answers, imports)
