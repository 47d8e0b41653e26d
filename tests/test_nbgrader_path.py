"""nbgrader on the course's masters: generate_assignment, autograde and export, as documented in
course/grading/nbgrader.py (``python -m course.grading nbgrader``), on lesson 00 with one correct
and one wrong submission; the exported scores are checked. About 40 s on 2 cores.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "grading"))

from builders import replace, solution, write  # noqa: E402

from course.grading.lesson import load_lesson  # noqa: E402
from course.grading.nbgrader import environment  # noqa: E402

LESSON = "00"
WRONG_MEAN = "def mean_of_others(R, user, movie):\n    return float(R[movie].mean())   # peeks at its own rating"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    spec = load_lesson(LESSON)
    base = tmp_path_factory.mktemp("nbgrader")
    subs = base / "submissions"
    write(subs / "alice", spec.file, solution(spec))
    # bob answers 0.1 wrongly, from the student version nbgrader itself hands out (step 1)
    course = base / "course"
    cmd = [sys.executable, "-m", "course.grading", "nbgrader", LESSON, "--course", str(course), "--step", "generate"]
    env = {k: v for k, v in os.environ.items() if k != "PATH"} | {"PATH": "/usr/bin:/bin"}   # no venv on PATH
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    released = nbformat.read(course / "release" / spec.file[:-6] / spec.file, as_version=4)
    replace(released, "ex0_2_answer", spec.by_id()["ex0_2_answer"].master_source)
    replace(released, "ex0_1_answer", WRONG_MEAN)
    write(subs / "bob", "my_copy.ipynb", released)      # renamed: found by content, as course.grading does
    for step in ("collect", "autograde", "export"):
        cmd = [sys.executable, "-m", "course.grading", "nbgrader", LESSON, str(subs), "--course", str(course),
               "--step", step]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{step}: {done.stdout}{done.stderr}"
        assert "$ nbgrader" in done.stdout or step == "collect"
    return course


def _rows(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["student_id" if "student_id" in row else "student"]: row for row in csv.DictReader(handle)}


def test_nbgrader_takes_the_master_as_its_source(course):
    spec = load_lesson(LESSON)
    released = (course / "release" / spec.file[:-6] / spec.file).read_text(encoding="utf-8")
    assert "BEGIN HIDDEN TESTS" not in released and "R[movie].drop(index=user)" not in released
    assert (course / "gradebook.db").is_file() and (course / "nbgrader_config.py").is_file()


def test_exported_scores(course):
    totals = _rows(course / "grades.csv")
    assert float(totals["alice"]["score"]) == 4.0 and float(totals["alice"]["max_score"]) == 4.0
    assert float(totals["bob"]["score"]) == 2.0
    per_exercise = _rows(course / "grades_by_exercise.csv")
    assert per_exercise["alice"] == {"student": "alice", "ex0_1": "2", "ex0_2": "2", "total": "4", "max": "4"}
    assert per_exercise["bob"] == {"student": "bob", "ex0_1": "0", "ex0_2": "2", "total": "2", "max": "4"}


def test_autograded_notebooks_have_the_hidden_tests_back(course):
    nb = nbformat.read(course / "autograded" / "bob" / "00_welcome" / "00_welcome.ipynb", as_version=4)
    hidden = next(c for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("grade_id") == "ex0_1_hidden")
    assert "mean_of_others(X, " in hidden.source
    assert any(o.get("output_type") == "error" for o in hidden.outputs)


def test_environment_puts_this_python_first_on_path():
    env = environment()
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert (Path(sys.executable).parent / "alembic").exists()
    assert env["OMP_NUM_THREADS"] == "1"
