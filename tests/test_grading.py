"""Student versions and batch grading (course.grading), on submissions built from lesson 02.

One batch of fixture submissions (tests/fixtures/grading/builders.py) is graded once per module:
the solution scores full marks, the untouched student version 0, wrong answers partial marks,
every broken submission lands in the gradebook with its status, and crafted submissions that
shadow builtins, patch NumPy, math or course.exercises (before or while the tests run), return
objects that equal anything, hook IPython or disable the tests earn nothing; detached processes
are gone afterwards, a 1 GB print is cut, names differing only in case get distinct files.
About 3-4 min on 2 cores.
"""

from __future__ import annotations

import csv
import json
import os
import re
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "grading"))

from builders import SLEEPS, build_submissions, solution, student  # noqa: E402

from course.grading.__main__ import main as cli_main  # noqa: E402
from course.grading.batch import grade  # noqa: E402
from course.grading.lesson import load_lesson, student_version, write_student_versions  # noqa: E402
from course.grading.plan import lesson_facts  # noqa: E402
from course.grading.runner import Limits, execute, write_kernelspec  # noqa: E402
from course.grading.scan import findings, lesson_imports  # noqa: E402
from course.grading.submission import discover, extract_zip, prepare, unique_names  # noqa: E402
from course.reproducibility import numeric_environment  # noqa: E402
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
CRAFTED = ["shadowed_builtins", "patched_libraries", "patched_during_test", "pretending_answers", "ipython_hooks",
           "tests_never_run", "detached_and_loud", "Case Collide", "case_collide"]


def _sleepers() -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if any(f"sleep {n}" in cmd for n in SLEEPS):
            found.append(cmd)
    return found


@pytest.mark.parametrize("student_name", CASES + CRAFTED)
def test_gradebook_row(graded, spec, student_name):
    exp, row = graded["expected"][student_name], graded["rows"][student_name]
    if student_name in CRAFTED:   # their answers come from the lesson: an answer cell may also raise
        flags, wanted = set(row["status"].split("; ")), set(exp["status"].split("; "))
        assert wanted <= flags and flags - wanted <= {"cell error"}, (row["status"], row["detail"])
    else:
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
    assert sorted(graded["rows"]) == sorted(graded["expected"]) == sorted(CASES + CRAFTED)


def test_gradebook_columns_and_no_machine_paths(graded, spec):
    text = (graded["out"] / "gradebook.csv").read_text(encoding="utf-8")
    header = text.splitlines()[0].split(",")
    assert header == ["student", *spec.exercises, "total", "max", "status", "detail", "feedback"]
    for fragment in (str(graded["out"]), str(ROOT), os.path.expanduser("~"), "/tmp/", sys.prefix):
        assert fragment not in text


def _first(spec, kind: str) -> str:
    """The grade id of the lesson's first exercise cell of ``kind`` (check, hidden, answer)."""
    return next(c.grade_id for c in spec.cells if c.kind == kind)


def test_partial_scores_are_genuine_and_explained(graded, spec):
    rows = graded["rows"]
    assert "ran longer than 20 s" in rows["loop_and_memory"]["detail"]
    assert "MemoryError" in rows["loop_and_memory"]["detail"]
    assert "re-ran the notebook in a fresh kernel" in rows["kernel_dies"]["detail"]
    assert _first(spec, "check") in rows["edited_tests"]["detail"]


def test_feedback_pages(graded, spec):
    hidden = [line for c in spec.cells if c.kind == "hidden"
              for line in _solution_lines(c.master_source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")]
    for name in CASES + CRAFTED:
        page = (graded["out"] / "feedback" / graded["rows"][name]["feedback"]).read_text(encoding="utf-8")
        assert "Total:" in page
        assert not any(line in page for line in hidden), f"hidden test code in {name}'s feedback"
    wrong = (graded["out"] / "feedback" / "wrong.html").read_text(encoding="utf-8")
    assert "✘ " in wrong  # the self-check's message reaches the learner
    assert "not graded" in (graded["out"] / "feedback" / "missing.html").read_text(encoding="utf-8")


def test_graded_notebooks_kept_for_review(graded, spec):
    nb = nbformat.read(graded["out"] / "graded" / "edited_tests.ipynb", as_version=4)
    gid = _first(spec, "check")
    check = next(c for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("grade_id") == gid)
    assert check.source == spec.by_id()[gid].master_source and check.source.startswith("# Self-check")
    text = json.dumps(nb)
    assert "application/x.course-grading+json" not in text and "course.grading.guard" not in text


# ---------------------------------------------------------------- what the crafted submissions tried


def test_tampering_is_undone_and_reported(graded, spec):
    rows = graded["rows"]
    for name in ("patched_libraries", "ipython_hooks"):
        assert "undone before this cell" in rows[name]["detail"], rows[name]["detail"]
    for what in ("builtins.abs", "numpy.allclose", "math.isclose", "course.exercises.check_close", "sys.modules['numpy']"):
        assert what in rows["patched_libraries"]["detail"], what
    assert "shell.set_custom_exc" in rows["ipython_hooks"]["detail"]
    during = rows["patched_during_test"]["detail"]
    assert "while the test ran" in during and "check_close" in during
    results = {r["student"]: r for r in graded["results"]}
    messages = {rec["grade_id"]: rec["message"] for rec in results["pretending_answers"]["records"]}
    assert "AnswerTypeError" in messages[_first(spec, "hidden")] and "Anything" in messages[_first(spec, "check")]
    assert "suspicious code" not in rows["solution"]["status"] and rows["solution"]["detail"] == ""


def test_no_process_is_left_behind(graded):
    assert not _sleepers(), "processes started by a submission survived its grading"
    detail = graded["rows"]["detached_and_loud"]["detail"]
    assert "os.system" in detail or "fork" in detail   # flagged for review, graded all the same


def test_a_gigabyte_of_output_is_cut(graded):
    path = graded["out"] / "graded" / "detached_and_loud.ipynb"
    assert path.stat().st_size < 4 * 2**20, f"{path.stat().st_size} bytes"
    nb = nbformat.read(path, as_version=4)
    loud = next(c for c in nb.cells if c.cell_type == "code" and "one gigabyte" in c.source)
    text = "".join(o.get("text", "") for o in loud.outputs)
    assert "[output truncated" in text and 0 < len(text) < 1.1 * 2**20


def test_names_that_differ_only_in_case_get_distinct_files(graded, spec):
    rows, out, most = graded["rows"], graded["out"], f"{spec.max_points:g}"
    files = {rows[name]["feedback"] for name in ("Case Collide", "case_collide")}
    assert files == {"Case_Collide.html", "case_collide-2.html"}
    for folder, suffix in (("feedback", ".html"), ("graded", ".ipynb")):
        stems = [p.name[: -len(suffix)].casefold() for p in (out / folder).iterdir()]
        assert len(stems) == len(set(stems)), f"{folder}/ has names equal but for case"
    works = [p.name.casefold() for p in (out / "work").iterdir()]
    assert len(works) == len(set(works))
    assert f"Total: 0 / {most}" in (out / "feedback" / "Case_Collide.html").read_text(encoding="utf-8")
    assert f"Total: {most} / {most}" in (out / "feedback" / "case_collide-2.html").read_text(encoding="utf-8")


def test_unique_names():
    names = unique_names(["Case Collide", "case_collide", "CASE COLLIDE", "con", "é" * 200, "", "a/b"])
    assert len({n.casefold() for n in names.values()}) == len(names)
    assert names["Case Collide"] == "CASE_COLLIDE" or names["CASE COLLIDE"] == "CASE_COLLIDE"
    assert names["con"] == "_con" and len(names["é" * 200]) <= 80 and names[""] == "student" and "/" not in names["a/b"]


# ---------------------------------------------------------------- the static review of learner code


def test_the_masters_answers_are_not_flagged():
    for file in READY:
        spec = load_lesson(file)
        imported = lesson_imports(spec)
        for cell in spec.cells:
            if cell.kind == "answer":
                assert findings(cell.master_source, imported) == [], f"{file} {cell.grade_id}"


def test_the_scan_flags_tricks_but_not_jupyter_syntax():
    imported = {"np", "math"}
    assert findings("%timeit np.sum([1])\n!pip list\nx = np.ones(3)", imported) == []
    assert [w for _, w in findings("%%time\nimport ctypes", imported)] == ["imports ctypes (raw memory)"]
    found = [w for _, w in findings("f = getattr(np, 'all' + 'close')\nexec('x = 1')\nmath.pi = 3", imported)]
    assert found == ["calls getattr with a computed name", "calls exec", "changes math.pi (an imported module or class)"]


def test_answer_names_are_what_the_answer_cells_bind():
    answers, imports = lesson_facts(load_lesson("03"))
    assert answers == ("pearson_similarity", "predict_all_users", "predict_item_based")
    assert "numpy" in imports and "course.exercises" in imports and not any("torch" in m for m in imports)


# ---------------------------------------------------------------- pieces, without a lesson run


def test_kernel_is_limited_and_sees_a_trimmed_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTRUCTOR_SECRET_TOKEN", "s3cret")
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    profile = sorted(numeric_environment())
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os, resource\nprint(resource.getrlimit(resource.RLIMIT_DATA)[0] // 2**20)"),
        nbformat.v4.new_code_cell("print(os.environ.get('INSTRUCTOR_SECRET_TOKEN'))"),
        nbformat.v4.new_code_cell("x = bytearray(3 * 2**30)"),
        nbformat.v4.new_code_cell("print('still alive')"),
        nbformat.v4.new_code_cell(f"import json\nprint(json.dumps({{k: os.environ.get(k) for k in {profile!r}}}))"),
        # 6 GiB of address space mapped read-only, as PyPI's CUDA build of PyTorch maps its libraries
        # (4.5 GB with TensorFlow on import): not memory the kernel allocates, so not refused
        nbformat.v4.new_code_cell("import mmap\nm = mmap.mmap(-1, 6 * 2**30, prot=mmap.PROT_READ)\nprint(len(m) // 2**30)"),
    ])
    limits = Limits(cell_timeout=60, memory_mb=1024)
    run = execute(nb, tmp_path, write_kernelspec(tmp_path / "kernels", limits), limits)
    texts = ["".join(o.get("text", "") for o in c.outputs) for c in run.nb.cells]
    assert texts[0].strip() == "1024"
    assert texts[1].strip() == "None"
    assert run.outcome[2] == "error" and run.nb.cells[2].outputs[-1]["ename"] == "MemoryError"
    assert run.outcome[3] == "ok" and texts[3].strip() == "still alive"
    # the course's numeric profile, as make test and the course kernel have it (one thread, not 7)
    assert json.loads(texts[4]) == numeric_environment()
    assert run.outcome[5] == "ok" and texts[5].strip() == "6"


def test_output_is_capped_in_the_kernel_and_in_the_grader(tmp_path):
    """1 GiB printed at once, 30 MB in small prints (with the kernel's cap switched off) and 20 MB
    written to file descriptor 1: the notebook keeps about 64 KiB per cell and the grader's memory
    barely grows (it would by gigabytes if it kept what the kernel sends)."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('print("x" * 2**30)'),
        nbformat.v4.new_code_cell("import sys\nsys.stdout.write = type(sys.stdout).write.__get__(sys.stdout)\n"
                                  "for _ in range(30_000):\n    print('y' * 1000)"),
        nbformat.v4.new_code_cell('import os\nos.write(1, b"z" * 20_000_000)'),
        nbformat.v4.new_code_cell('print("after")'),
    ])
    limits = Limits(cell_timeout=120, memory_mb=4096, output_kb=64)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run = execute(nb, tmp_path, write_kernelspec(tmp_path / "kernels", limits), limits)
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    sizes = [len(json.dumps(c.outputs)) for c in run.nb.cells]
    assert all(size < 80 * 1024 for size in sizes[:3]), sizes
    assert all("[output truncated" in "".join(o.get("text", "") for o in c.outputs) for c in run.nb.cells[:3])
    assert run.outcome == {0: "ok", 1: "ok", 2: "ok", 3: "ok"}
    assert "after" in run.nb.cells[3].outputs[0]["text"]
    assert grew_mb < 300, f"the grader's memory grew by {grew_mb:.0f} MB"


def test_a_kernel_that_fails_to_start_is_started_again(tmp_path):
    """A kernel can fail to start (two starting at once can pick the same port): the grader starts
    another instead of failing the submission. Here the first start exits at once."""
    limits = Limits(cell_timeout=60, startup_timeout=60)
    kernels = write_kernelspec(tmp_path / "kernels", limits)
    script = tmp_path / "flaky_kernel.py"
    script.write_text("import os, runpy, sys\nflag = sys.argv.pop(1)\nif not os.path.exists(flag):\n"
                      "    open(flag, 'w').close()\n    sys.exit(3)\n"
                      "runpy.run_module('course.grading.kernel', run_name='__main__')\n")
    spec_file = kernels / "course-grading" / "kernel.json"
    spec = json.loads(spec_file.read_text())
    spec["argv"] = [sys.executable, str(script), str(tmp_path / "started-once"), *spec["argv"][3:]]
    spec_file.write_text(json.dumps(spec))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    run = execute(nb, tmp_path, kernels, limits)
    assert run.outcome == {0: "ok"} and run.nb.cells[0].outputs[0]["text"].strip() == "42"
    assert any("did not start" in text for _, text in run.notes)


def test_detached_processes_of_a_kernel_are_killed(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import subprocess, os\n"
        f"subprocess.Popen(['sleep', '{SLEEPS[0]}'], start_new_session=True)\n"
        f"os.system('nohup setsid sleep {SLEEPS[1]} > /dev/null 2>&1 &')")])
    limits = Limits(cell_timeout=60)
    run = execute(nb, tmp_path, write_kernelspec(tmp_path / "kernels", limits), limits)
    assert run.outcome == {0: "ok"}
    assert not _sleepers()


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
    gid = _first(spec, "check")
    check = next(c for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("grade_id") == gid)
    nb.cells.append(nbformat.from_dict(json.loads(json.dumps(check))))
    from course.grading.submission import restore

    restore(nb, spec)
    ids = [(c.metadata.get("nbgrader") or {}).get("grade_id") for c in nb.cells]
    assert ids.count(gid) == 1


def test_cli_help(capsys):
    with pytest.raises(SystemExit):
        cli_main(["grade", "--help"])
    out = capsys.readouterr().out
    assert re.search(r"--timeout", out) and "--memory-mb" in out and "--jobs" in out
