r"""How strong are an exercise's tests? Run typical wrong answers against them.

Every exercise keeps a list of typical wrong answers (a constant, the global mean, an
off-by-one, the textbook variant the lesson warns against, the answer plus one ...) in
``tests/exercise_wrong_answers/NN.py``, next to its lesson's number::

    from course.grading.strength import WrongAnswer as W

    WRONG = {
        "ex2_1": [
            W("mean absolute error instead of RMSE", body="return float(np.mean(np.abs(np.subtract(r, r_hat))))"),
            W("hard-codes the self-check's value", body="return float(np.sqrt(5 / 3))", target="hidden"),
        ],
    }

``body`` replaces the code between the answer cell's ``### BEGIN SOLUTION`` and ``### END
SOLUTION`` markers (indented like them); ``cell`` replaces the whole answer cell. A wrong answer
must earn nothing from the exercise's self-check and hidden tests, or from the hidden tests
alone with ``target="hidden"`` (an answer hard-coding the self-check's own example passes it by
construction). A wrong answer that does earn points exposes a weak test: it is listed with
``weak={"ex3_2_hidden": "why it passes"}`` until the test is fixed, and ``tests/
test_exercise_strength.py`` reports it as an expected failure. The check is strict both ways:
a weak test that gets fixed fails the suite until its ``weak`` entry is removed.

:func:`probe` runs a lesson once, in the grading kernel with its guard (so results are those
the grader would give), and right after each exercise's hidden tests replays, for each wrong
answer, the answer cell with it, the self-check and the hidden tests; then the master's answer
and its tests again, which restores the lesson's state for the cells that follow.

:func:`revealing_checks` reads each self-check for the expected value computed in visible code
(by the library the exercise asks to re-implement, or from the very inputs the answer gets): a
learner can copy that expression as the answer.
"""

from __future__ import annotations

import ast
import copy
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .lesson import LessonSpec, load_lesson
from .plan import ROLE_KEY, build_plan, parse
from .runner import Limits, execute, write_kernelspec


@dataclass
class WrongAnswer:
    why: str
    body: str | None = None          # replaces the solution region of the answer cell
    cell: str | None = None          # replaces the whole answer cell
    weak: dict[str, str] = field(default_factory=dict)   # graded cell -> why it is known to pass
    target: str = "all"              # "all": self-check and hidden tests; "hidden": hidden tests only

    def source(self, master_source: str) -> str:
        if (self.body is None) == (self.cell is None):
            raise ValueError(f"{self.why!r}: give exactly one of body= and cell=")
        if self.cell is not None:
            return self.cell
        lines, out, inside = master_source.splitlines(), [], False
        for line in lines:
            if "### BEGIN SOLUTION" in line:
                inside = True
                indent = line[: len(line) - len(line.lstrip())]
                out += [indent + l if l.strip() else l for l in self.body.strip("\n").splitlines()]
            elif "### END SOLUTION" in line:
                inside = False
            elif not inside:
                out.append(line)
        if not any("### BEGIN SOLUTION" in line for line in lines):
            raise ValueError(f"{self.why!r}: the answer cell has no solution markers; use cell=")
        return "\n".join(out)


PRETENDER = """class _Anything(float):
    \"\"\"Equals, and is close to, anything (the classic way to fool `==` and `abs(a - b) < tol`).\"\"\"
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __le__(self, other): return True
    def __gt__(self, other): return False
    def __ge__(self, other): return True
    def __sub__(self, other): return _Anything(0.0)
    def __rsub__(self, other): return _Anything(0.0)
    def __abs__(self): return _Anything(0.0)
    def __bool__(self): return True
    __hash__ = float.__hash__
"""


def pretender(signature: str, value: str = "_Anything(0.0)") -> WrongAnswer:
    """A wrong answer returning an object that equals anything: ``def <signature>: return <value>``."""
    return WrongAnswer("returns an object that equals anything (defeats == and abs(a - b) < tol)",
                       cell=f"{PRETENDER}\n\ndef {signature}:\n    return {value}")


@dataclass
class ProbeResult:
    exercise: str
    index: int                        # position in the exercise's list of wrong answers
    answer: WrongAnswer
    passed: list[str]                 # graded cells the wrong answer passed
    messages: dict[str, str]          # graded cell -> what it said


@dataclass
class LessonProbe:
    lesson: str
    results: list[ProbeResult]
    solution_failed: list[str]        # graded cells the master's answer did not pass (should be empty)
    notes: list[tuple[str, str]]


def _cell(source: str, role: str, grade_id: str | None = None, kind: str | None = None):
    cell = nbformat.v4.new_code_cell(source)
    if grade_id:
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "grade": kind in ("check", "hidden"),
                                     "solution": kind == "answer", "locked": kind != "answer"}
    cell.metadata[ROLE_KEY] = {"role": role}
    return cell


def probe_notebook(spec: LessonSpec, wrong: dict[str, list[WrongAnswer]]):
    """The master with, after each exercise's last test cell, every wrong answer replayed;
    returns the notebook and ``{cell index: (exercise, answer index or None, grade id)}``."""
    nb = copy.deepcopy(spec.master)
    cells, where = [], {}
    by_exercise: dict[str, dict[str, object]] = {}
    for ec in spec.cells:
        by_exercise.setdefault(ec.exercise, {})[ec.kind] = ec
    last = {}
    for i, cell in enumerate(nb.cells):
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id", "")
        for ec in spec.cells:
            if ec.grade_id == gid:
                last[ec.exercise] = i
    for i, cell in enumerate(nb.cells):
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        kind = next((ec.kind for ec in spec.cells if ec.grade_id == gid), None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata[ROLE_KEY] = {"role": kind if kind in ("answer", "check", "hidden") else "lesson"}
            if kind in ("check", "hidden"):
                where[len(cells)] = (_exercise_of(gid), None, gid)
        cells.append(cell)
        exercise = next((ex for ex, j in last.items() if j == i), None)
        if exercise is None:
            continue
        parts = by_exercise[exercise]
        tests = [parts[k] for k in ("check", "hidden") if k in parts]
        for k, answer in enumerate(wrong.get(exercise, [])):
            cells.append(_cell(answer.source(parts["answer"].master_source), "answer"))
            for ec in tests:
                where[len(cells)] = (exercise, k, ec.grade_id)
                cells.append(_cell(ec.master_source, ec.kind, ec.grade_id, ec.kind))
        if wrong.get(exercise):
            cells.append(_cell(parts["answer"].master_source, "answer"))
            for ec in tests:
                where[len(cells)] = (exercise, None, ec.grade_id)
                cells.append(_cell(ec.master_source, ec.kind, ec.grade_id, ec.kind))
    nb.cells = cells
    for n, cell in enumerate(nb.cells):
        cell["id"] = f"probe-{n:04d}"
    return nb, where


def _exercise_of(grade_id: str) -> str:
    return grade_id.rsplit("_", 1)[0]


def probe(lesson: str | Path, wrong: dict[str, list[WrongAnswer]], limits: Limits | None = None,
          folder: Path | None = None) -> LessonProbe:
    """Run ``lesson`` once with every wrong answer replayed (see the module docstring)."""
    spec = load_lesson(lesson)
    unknown = sorted(set(wrong) - set(spec.exercises))
    if unknown:
        raise ValueError(f"{spec.file} has no exercise {', '.join(unknown)} (it has {', '.join(spec.exercises)})")
    limits = limits or Limits(cell_timeout=300, restarts=0)
    nb, where = probe_notebook(spec, wrong)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(folder or tmp)
        cwd = base / "probe"
        cwd.mkdir(parents=True, exist_ok=True)
        run = execute(nb, cwd, write_kernelspec(base / "kernels", limits), limits, plan=build_plan(nb, spec))
    results: dict[tuple[str, int], ProbeResult] = {}
    solution_failed = []
    for index, (exercise, k, gid) in where.items():
        ok = run.outcome.get(index) == "ok"
        if k is None:
            if not ok:
                solution_failed.append(gid)
            continue
        res = results.setdefault((exercise, k), ProbeResult(exercise, k, wrong[exercise][k], [], {}))
        error = next((o for o in run.nb.cells[index].get("outputs", []) if o.get("output_type") == "error"), {})
        res.messages[gid] = f"{error.get('ename', '')}: {str(error.get('evalue', ''))[:200]}".strip(": ")
        if ok:
            res.passed.append(gid)
    return LessonProbe(spec.file, [results[key] for key in sorted(results)], sorted(set(solution_failed)), run.notes)


# ---------------------------------------------------------------- self-checks that show the answer

_HELPERS = {"check_close", "check_equal", "check_array"}
_COMPARE_METHODS = {"equals", "array_equal", "allclose", "isclose"}
_NEUTRAL_MODULES = {"numpy", "pandas", "math", "builtins", "course.exercises"}


def _names(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _library_names(spec: LessonSpec) -> set[str]:
    """Names the lesson imports from libraries that compute things (not NumPy, pandas, math)."""
    out: set[str] = set()
    for cell in spec.master.cells:
        tree = parse(cell.source) if cell.cell_type == "code" else None
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, ast.Import):
                out |= {a.asname or a.name.split(".")[0] for a in node.names
                        if a.name.split(".")[0] not in _NEUTRAL_MODULES}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] not in _NEUTRAL_MODULES \
                    and node.module != "course.exercises":
                out |= {a.asname or a.name for a in node.names}
    return out


def revealing_checks(spec: LessonSpec) -> dict[str, str]:
    """``{self-check grade id: why}`` for self-checks whose expected value is computed in the
    visible cell, by a library call (the reference the exercise asks to re-implement) or from the
    same inputs the learner's function receives (an expression to copy as the answer)."""
    from .plan import bound_names
    from .scan import lesson_imports

    library = _library_names(spec)
    imported = lesson_imports(spec)
    found: dict[str, str] = {}
    answers = {ec.exercise: set(bound_names(ec.master_source)) for ec in spec.cells if ec.kind == "answer"}
    for ec in spec.cells:
        if ec.kind != "check":
            continue
        tree = parse(ec.master_source)
        if tree is None:
            continue
        mine = answers.get(ec.exercise, set())
        assigned: dict[str, ast.AST] = {}
        derived = set(mine)
        answer_inputs: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in mine:
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    answer_inputs |= _names(arg)
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    for name in _names(target):
                        assigned[name] = stmt.value
                        if _names(stmt.value) & derived:
                            derived.add(name)
        expected = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if name in _HELPERS:
                    args = list(node.args[1:2]) + [k.value for k in node.keywords if k.arg == "expected"]
                    expected += args
                elif name in _COMPARE_METHODS and isinstance(func, ast.Attribute) and _names(func.value) & derived:
                    expected += node.args[:1]
            elif isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(_names(s) & derived for s in sides):
                    expected += [s for s in sides if not _names(s) & derived]
        inputs = (answer_inputs | mine) - imported
        for expr in expected:
            why = _reveals(expr, assigned, library, inputs)
            if why:
                found[ec.grade_id] = why
                break
    return found


def _reveals(expr, assigned, library, inputs, depth: int = 0) -> str | None:
    if depth > 3:
        return None
    for node in ast.walk(expr):
        if isinstance(node, ast.Call):
            root = node.func
            while isinstance(root, (ast.Attribute, ast.Call, ast.Subscript)):
                root = root.func if isinstance(root, ast.Call) else root.value
            if isinstance(root, ast.Name) and root.id in library:
                return f"the expected value is computed by {ast.unparse(node.func)}(...) in the visible cell"
            touched = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & inputs
            if touched:
                return (f"the expected value is computed from the answer's own input {sorted(touched)[0]} in the "
                        f"visible cell ({ast.unparse(node)[:60]})")
    for name in _names(expr):
        if name in assigned and assigned[name] is not expr:
            why = _reveals(assigned[name], assigned, library, inputs, depth + 1)
            if why:
                return why
    return None
