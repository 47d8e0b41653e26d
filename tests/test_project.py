"""Project invariants: the three dependency files agree; every lesson is executed, navigable and gradable."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from course.syllabus import LESSONS, ready_lessons  # noqa: E402

LESSON_PATHS = [ROOT / "notebooks" / lesson.file for lesson in ready_lessons()]


def _pins() -> dict[str, Requirement]:
    from freeze import read_pins

    out = {}
    for line in read_pins(ROOT / "requirements.txt"):
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate():
            out[req.name.lower().replace("_", "-")] = req
    return out


def test_requirements_are_exact_pins():
    for name, req in _pins().items():
        assert len(req.specifier) == 1 and next(iter(req.specifier)).operator == "==", f"{name} is not pinned"
    assert str(_pins()["torch"].specifier) == "==2.13.0"


def test_pyproject_dependencies_are_satisfied_by_the_pins():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = _pins()
    for dep in map(Requirement, deps):
        if dep.marker is not None and not dep.marker.evaluate():
            continue
        name = dep.name.lower().replace("_", "-")
        assert name in pins, f"{name} is in pyproject.toml but not pinned in requirements.txt"
        version = next(iter(pins[name].specifier)).version
        assert dep.specifier.contains(version, prereleases=True), f"{name}=={version} violates {dep.specifier}"


def test_environment_yml_installs_the_same_pins():
    from freeze import read_pins

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section == read_pins(ROOT / "requirements.txt")


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    for name, req in _pins().items():
        if name in ("pip", "setuptools", "wheel"):
            continue
        pinned = next(iter(req.specifier)).version
        assert version(name).split("+")[0] == pinned, f"{name}: installed {version(name)}, pinned {pinned}"


def test_syllabus_files_are_numbered_in_order():
    for position, lesson in enumerate(LESSONS):
        assert lesson.number == position and lesson.file.startswith(f"{position:02d}_")
    assert [lesson.file for lesson in ready_lessons()][:3] == [lesson.file for lesson in LESSONS[:3]]


@pytest.mark.parametrize("path", LESSON_PATHS, ids=[p.name for p in LESSON_PATHS])
def test_lesson_is_executed_in_order(path):
    nb = json.loads(path.read_text())
    counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert counts and None not in counts, "some code cells were never executed: run make notebooks"
    assert counts == list(range(1, len(counts) + 1)), "cells were executed out of order or not from a fresh kernel"
    assert nb["metadata"]["kernelspec"]["name"] == "recsys-course"


@pytest.mark.parametrize("path", LESSON_PATHS, ids=[p.name for p in LESSON_PATHS])
def test_lesson_outputs_have_no_machine_paths_or_errors(path):
    text = path.read_text()
    for pattern in (str(ROOT), r"/root/", r"/home/\w+/", r"/tmp/ipykernel_\d+"):
        assert not re.search(re.escape(pattern) if pattern == str(ROOT) else pattern, text), f"{pattern} in outputs"
    nb = json.loads(text)
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
              if o["output_type"] == "error" or o.get("name") == "stderr"]
    assert not errors, f"{path.name} has error or stderr output: {errors[:1]}"
    ignored = sum("NBVAL_IGNORE_OUTPUT" in "".join(c["source"]) or "NBVAL_SKIP" in "".join(c["source"])
                  for c in nb["cells"] if c["cell_type"] == "code")
    assert ignored <= 3, f"{ignored} cells are excluded from nbval"


@pytest.mark.parametrize("path", LESSON_PATHS, ids=[p.name for p in LESSON_PATHS])
def test_lesson_navigation_and_exercise_metadata_are_current(path):
    import nbformat
    from lessons import SYLLABUS_HEADING, WELCOME, apply_exercise_metadata, navigation_markdown, welcome_syllabus

    nb = nbformat.read(path, as_version=4)
    nav = navigation_markdown(path.name)
    assert nb.cells[0].source == nav and nb.cells[-1].source == nav, "stale navigation: run tools/lessons.py tidy"
    for target in re.findall(r"\]\(([^)#]+)", nav):
        assert (path.parent / target).is_file(), f"broken navigation link {target}"
    if path.name == WELCOME:  # lesson 00's syllabus table is generated from course/syllabus.py, like the README's
        syllabus = [c.source for c in nb.cells if c.source.startswith(SYLLABUS_HEADING + "\n")]
        assert syllabus == [welcome_syllabus()], "lesson 00's syllabus is stale: run tools/lessons.py tidy"
    before = [c.metadata.get("nbgrader") for c in nb.cells]
    problems = apply_exercise_metadata(nb)
    assert not problems, problems
    assert before == [c.metadata.get("nbgrader") for c in nb.cells], "nbgrader metadata is stale: run tidy"


@pytest.mark.parametrize("path", LESSON_PATHS, ids=[p.name for p in LESSON_PATHS])
def test_lesson_has_no_empty_or_placeholder_cells(path):
    """A learner sees every cell: no empty cells, no leftover '[nav]' or 'TODO' markdown (lesson 11 had two)."""
    import nbformat
    from lessons import placeholder_problems

    problems = placeholder_problems(nbformat.read(path, as_version=4))
    assert not problems, problems


@pytest.mark.parametrize("path", LESSON_PATHS, ids=[p.name for p in LESSON_PATHS])
def test_lesson_starts_with_the_setup_cell(path):
    nb = json.loads(path.read_text())
    first_code = next("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "course.setup(seed=" in first_code


def test_frameworks_stay_in_their_rooms():
    code = ("import sys, course_lib, course_lib.models, course_lib.evaluate, course_lib.split, course_lib.metrics;"
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_readme_syllabus_is_current():
    from lessons import README, SYLLABUS_END, SYLLABUS_START, syllabus_table

    text = README.read_text()
    block = text[text.index(SYLLABUS_START) + len(SYLLABUS_START):text.index(SYLLABUS_END)]
    assert block.strip() == syllabus_table(), "README syllabus is stale: run tools/lessons.py readme"


def test_welcome_syllabus_lists_every_planned_lesson():
    nb = json.loads((ROOT / "notebooks" / "00_welcome.ipynb").read_text())
    syllabus = next("".join(c["source"]) for c in nb["cells"] if "".join(c["source"]).startswith("## Syllabus"))
    for lesson in LESSONS:
        listed = f"| [{lesson.label}]({lesson.file}) |" in syllabus or f"| {lesson.label} |" in syllabus  # linked once written
        assert listed, f"00_welcome's syllabus lacks {lesson.label}"


def _module_files(package: str):
    return sorted((ROOT / package).rglob("*.py"))


def test_course_lib_never_imports_the_teaching_package():
    import ast

    for path in _module_files("course_lib"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            assert not any(n == "course" or n.startswith("course.") for n in names), \
                f"{path.relative_to(ROOT)} imports the teaching package: course_lib must not depend on course"


def test_no_module_uses_a_private_name_of_another_module():
    """A private name (``_name``) that a course module defines is used only inside that module: modules talk
    to each other through public names. (Private names of third-party libraries are not checked here.)"""
    import ast

    trees = {path: ast.parse(path.read_text()) for package in ("course_lib", "course") for path in _module_files(package)}

    def private_definitions(tree) -> set[str]:
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
        return {n for n in names if n.startswith("_") and not n.startswith("__")}

    defined = {path: private_definitions(tree) for path, tree in trees.items()}
    everywhere = set().union(*defined.values())
    problems = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                names = [a.name for a in node.names]
            elif isinstance(node, ast.Attribute) and not (isinstance(node.value, ast.Name)
                                                          and node.value.id in ("self", "cls")):
                names = [node.attr]
            else:
                continue
            for name in names:
                if name in everywhere and name not in defined[path]:
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {name}, private to another module")
    assert not problems, "\n".join(problems)


def test_no_python_file_uses_an_undefined_name():
    """pyflakes finds no undefined name in the library, the teaching package, the tools, the benchmarks
    or the tests: such a name passes every import and fails only when its line runs (a benchmark's
    ``NameError`` went unnoticed until the benchmark was re-run)."""
    from pyflakes import api, messages, reporter

    class Collect(reporter.Reporter):
        def __init__(self):
            self.found = []

        def flake(self, message):
            if isinstance(message, (messages.UndefinedName, messages.UndefinedLocal, messages.UndefinedExport)):
                self.found.append(str(message))

        def syntaxError(self, filename, msg, lineno, offset, text):
            self.found.append(f"{filename}:{lineno}: {msg}")

        def unexpectedError(self, filename, msg):
            self.found.append(f"{filename}: {msg}")

    found = Collect()
    folders = ("course_lib", "course", "tools", "benchmarks", "tests")
    files = sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py") if ".ipynb_checkpoints" not in p.parts)
    assert len(files) > 100
    for path in files:
        api.check(path.read_text(), str(path.relative_to(ROOT)), found)
    assert not found.found, "\n".join(found.found)
