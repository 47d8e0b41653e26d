"""Student versions and batch grading (course.grading), on submissions built from lesson 02.

One batch of fixture submissions (tests/fixtures/grading/builders.py) is graded once per session:
the solution scores full marks, the untouched student version 0, wrong answers partial marks,
and every broken submission lands in the gradebook with its status. ~2-3 min on 2 cores.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "grading"))

from builders import build_submissions, solution, student  # noqa: E402

from course.grading.__main__ import main as cli_main  # noqa: E402
from course.grading.batch import grade  # noqa: E402
from course.grading.lesson import load_lesson, student_version, write_student_versions  # noqa: E402
from course.grading.runner import Limits, execute, write_kernelspec  # noqa: E402
from course.grading.submission import discover, extract_zip, prepare  # noqa: E402
from course.syllabus import ready_lessons  # noqa: E402

LESSON = "02"
READY = [lesson.file for lesson in ready_lessons()]


def _solution_lines(source: str, begin: str, end: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and len(line.strip()) > 3:
            lines.append(line.strip())
    return lines


# ---------------------------------------------------------------- student versions


@pytest.mark.parametrize("file", READY)
def test_student_version_holds_no_solution_and_no_hidden_test(file):
    master = nbformat.read(ROOT / "notebooks" / file, as_version=4)
    nb = student_version(master)
    text = "\n".join(cell.source for cell in nb.cells)
    # lines of the master outside the exercises may legitimately repeat a solution line
    outside = {line.strip() for cell in master.cells if "nbgrader" not in cell.metadata
               for line in cell.source.splitlines()}
    secret = []
    for cell in master.cells:
        secret += _solution_lines(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
        secret += _solution_lines(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
    secret = [line for line in secret if line not in outside]
    student_lines = {line.strip() for line in text.splitlines()}
    leaked = [line for line in secret if line in student_lines]
    assert not leaked, f"{file}: solution or hidden-test code in the student version: {leaked[:3]}"
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta and cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{file}: outputs left in {meta['grade_id']}"
        if meta and (meta.get("grade") or meta.get("locked")):
            assert cell.metadata.get("deletable") is False
    kept = sum(bool(c.get("outputs")) for c in nb.cells if "nbgrader" not in c.metadata)
    total = sum(bool(c.get("outputs")) for c in master.cells if "nbgrader" not in c.metadata)
    assert kept == total, "outputs of the lesson's own cells (figures, tables) must stay"
    if any("### BEGIN SOLUTION" in c.source for c in master.cells):
        assert "raise NotImplementedError()" in text


def test_student_cli_writes_copies_and_keeps_a_learners_work(tmp_path):
    out = tmp_path / "student"
    cmd = ["student", "00", "--out", str(out)]
    subprocess.run([sys.executable, "-m", "course.grading", *cmd], check=True, cwd=ROOT, capture_output=True)
    copy = out / "00_welcome.ipynb"
    assert copy.is_file() and (out / "README.md").is_file()
    nb = nbformat.read(copy, as_version=4)
    nb.cells[0].source = "my notes"
    nbformat.write(nb, copy)
    assert cli_main(cmd) == 0
    assert nbformat.read(copy, as_version=4).cells[0].source == "my notes"
    assert cli_main(cmd + ["--force"]) == 0
    assert nbformat.read(copy, as_version=4).cells[0].source != "my notes"


def test_write_student_versions_covers_every_ready_lesson(tmp_path):
    written = write_student_versions(tmp_path)
    assert sorted(p.name for p in written) == sorted(READY)


# ---------------------------------------------------------------- batch grading


@pytest.fixture(scope="module")
def spec():
    return load_lesson(LESSON)


@pytest.fixture(scope="module")
def graded(spec, tmp_path_factory):
    base = tmp_path_factory.mktemp("grading")
    expected = build_submissions(base / "submissions", spec)
    out = base / "out"
    limits = Limits(cell_timeout=20, memory_mb=4096, restarts=2)
    results = grade(LESSON, base / "submissions", out, limits, jobs=2, wall=600, log=lambda *a: None)
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    return {"expected": expected, "rows": rows, "results": results, "out": out}


CASES = ["solution", "untouched", "wrong", "renamed_lost_metadata", "edited_tests", "loop_and_memory",
         "kernel_dies", "invalid_json", "missing"]


@pytest.mark.parametrize("student_name", CASES)
def test_gradebook_row(graded, spec, student_name):
    exp, row = graded["expected"][student_name], graded["rows"][student_name]
    assert row["status"] == exp["status"], row["detail"]
    assert row["max"] == f"{spec.max_points:g}"
    if "total" in exp:
        assert row["total"] == ("" if exp["total"] is None else f"{exp['total']:g}")
    if "points" in exp:
        assert {ex: float(row[ex]) for ex in spec.exercises} == exp["points"]
        assert float(row["total"]) == sum(exp["points"].values())
    if exp.get("total") is None and "points" not in exp:
        assert all(row[ex] == "" for ex in spec.exercises), "an ungraded submission must not show zeros"
        assert row["detail"], "an ungraded submission says why"


def test_every_case_is_in_the_gradebook(graded):
    assert sorted(graded["rows"]) == sorted(graded["expected"]) == sorted(CASES)


def test_gradebook_columns_and_no_machine_paths(graded, spec):
    text = (graded["out"] / "gradebook.csv").read_text(encoding="utf-8")
    header = text.splitlines()[0].split(",")
    assert header == ["student", *spec.exercises, "total", "max", "status", "detail"]
    for fragment in (str(graded["out"]), str(ROOT), os.path.expanduser("~"), "/tmp/", sys.prefix):
        assert fragment not in text


def test_partial_scores_are_genuine_and_explained(graded):
    rows = graded["rows"]
    assert "ran longer than 20 s" in rows["loop_and_memory"]["detail"]
    assert "MemoryError" in rows["loop_and_memory"]["detail"]
    assert "re-ran the notebook in a fresh kernel" in rows["kernel_dies"]["detail"]
    assert "ex2_1_check" in rows["edited_tests"]["detail"]


def test_feedback_pages(graded, spec):
    hidden = [line for c in spec.cells if c.kind == "hidden"
              for line in _solution_lines(c.master_source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")]
    for name in CASES:
        page = (graded["out"] / "feedback" / f"{name}.html").read_text(encoding="utf-8")
        assert "Total:" in page
        assert not any(line in page for line in hidden), f"hidden test code in {name}'s feedback"
    wrong = (graded["out"] / "feedback" / "wrong.html").read_text(encoding="utf-8")
    assert "Hint:" in wrong and "✘ Exercise 2.1" in wrong  # the self-check's message reaches the learner
    assert "not graded" in (graded["out"] / "feedback" / "missing.html").read_text(encoding="utf-8")


def test_graded_notebooks_kept_for_review(graded):
    nb = nbformat.read(graded["out"] / "graded" / "edited_tests.ipynb", as_version=4)
    check = next(c for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("grade_id") == "ex2_1_check")
    assert check.source.startswith("# Self-check") and "check_close" in check.source


# ---------------------------------------------------------------- pieces, without a lesson run


def test_kernel_is_limited_and_sees_a_trimmed_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTRUCTOR_SECRET_TOKEN", "s3cret")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os, resource\nprint(resource.getrlimit(resource.RLIMIT_AS)[0] // 2**20)"),
        nbformat.v4.new_code_cell("print(os.environ.get('INSTRUCTOR_SECRET_TOKEN'))"),
        nbformat.v4.new_code_cell("x = bytearray(3 * 2**30)"),
        nbformat.v4.new_code_cell("print('still alive')"),
    ])
    limits = Limits(cell_timeout=60, memory_mb=1024)
    run = execute(nb, tmp_path, write_kernelspec(tmp_path / "kernels", limits), limits)
    texts = ["".join(o.get("text", "") for o in c.outputs) for c in run.nb.cells]
    assert texts[0].strip() == "1024"
    assert texts[1].strip() == "None"
    assert run.outcome[2] == "error" and run.nb.cells[2].outputs[-1]["ename"] == "MemoryError"
    assert run.outcome[3] == "ok" and texts[3].strip() == "still alive"


def test_lms_zip_with_flat_files(tmp_path, spec):
    archive = tmp_path / "download.zip"
    sol = nbformat.writes(solution(spec))
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("smithalice_123_456_02_baselines_and_evaluation.ipynb", sol)
        zf.writestr("jonesbob_789_012_02_baselines_and_evaluation-1.ipynb", nbformat.writes(student(spec)))
        zf.writestr("__MACOSX/._smithalice_123_456_02_baselines_and_evaluation.ipynb", "junk")
        zf.writestr("../escape.ipynb", sol)
    root = extract_zip(archive, tmp_path / "unzipped")
    subs = discover(root, spec.file)
    assert [s.student for s in subs] == ["jonesbob_789_012", "smithalice_123_456"]
    assert not (tmp_path / "escape.ipynb").exists()
    prepared = prepare(subs[1], spec)
    assert [flag for flag, _ in prepared.notes] == ["renamed notebook"]


def test_zip_of_student_folders(tmp_path, spec):
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("course/ana/02_baselines_and_evaluation.ipynb", nbformat.writes(solution(spec)))
        zf.writestr("course/ben/notes.txt", "nothing")
    subs = discover(extract_zip(archive, tmp_path / "unzipped"), spec.file)
    assert [(s.student, len(s.files)) for s in subs] == [("ana", 1), ("ben", 0)]


@pytest.mark.parametrize("content, status", [
    ("", "invalid notebook"),
    ("[1, 2, 3]", "invalid notebook"),
    ('{"cells": "none"}', "invalid notebook"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "source": ["x = 1"]}]}',
     "ok"),
])
def test_precheck_of_odd_files(tmp_path, spec, content, status):
    from course.grading.submission import NotGraded, Submission

    path = tmp_path / spec.file
    path.write_text(content)
    try:
        prepared = prepare(Submission("x", [path]), spec)
    except NotGraded as exc:
        assert exc.status == status and exc.detail
    else:
        assert status == "ok"
        ids = [(c.metadata.get("nbgrader") or {}).get("grade_id") for c in prepared.nb.cells]
        assert {c.grade_id for c in spec.cells if c.kind != "answer"} <= set(ids)  # tests put back


def test_duplicated_test_cells_cannot_add_points(spec):
    nb = solution(spec)
    check = next(c for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("grade_id") == "ex2_1_check")
    nb.cells.append(nbformat.from_dict(json.loads(json.dumps(check))))
    from course.grading.submission import restore

    restore(nb, spec)
    ids = [(c.metadata.get("nbgrader") or {}).get("grade_id") for c in nb.cells]
    assert ids.count("ex2_1_check") == 1


def test_cli_help(capsys):
    with pytest.raises(SystemExit):
        cli_main(["grade", "--help"])
    out = capsys.readouterr().out
    assert re.search(r"--timeout", out) and "--memory-mb" in out and "--jobs" in out
