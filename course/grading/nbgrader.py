"""Grading with nbgrader instead of the course's grader, from the same master notebooks.

For an instructor who already runs nbgrader (0.9.6 is in the course's environment). The master
lessons carry nbgrader's cell metadata (written by ``tools/lessons.py tidy``), so nbgrader takes
them as its *source* notebooks as they are::

    .venv/bin/python -m course.grading nbgrader 03 path/to/submissions --course grading/work/nbgrader
    make nbgrader LESSON=03 SUBMISSIONS=path/to/folder-or.zip

does, in ``--course`` (nbgrader's course directory):

1. writes ``nbgrader_config.py`` if missing (course directory root, per-cell timeout
   ``Execute.timeout``) and copies the master to ``source/<lesson stem>/<lesson file>``;
2. ``nbgrader generate_assignment <stem> --force`` (the student version in ``release/``, the
   gradebook database ``gradebook.db``);
3. copies each student's notebook to ``submitted/<student>/<stem>/<lesson file>``, found the way
   ``course.grading grade`` finds it (a folder per student or an LMS zip, renamed notebooks);
4. ``nbgrader autograde <stem> --create --force`` (``autograded/``);
5. ``nbgrader export`` to ``grades.csv`` (nbgrader's totals) and, from the gradebook database,
   ``grades_by_exercise.csv`` (one column per exercise, as the course's ``gradebook.csv``).

``--step generate|collect|autograde|export`` runs one step. Every command is printed, so it can
be re-run by hand. nbgrader's traps this avoids: its commands need the environment's ``bin``
folder on ``PATH`` (``autograde`` runs ``alembic`` as a program: "No such file or directory:
'alembic'" otherwise), the layout ``source/<assignment>/<notebook>`` and
``submitted/<student>/<assignment>/<notebook>``, and the kernel the masters name
(``recsys-course``, installed with the numeric profile by ``make kernel`` or
:func:`course.reproducibility.install_kernel`, here if missing); the kernel runs with the
course's numeric environment.

What nbgrader does not do that ``course.grading grade`` does: tests run in the learner's
namespace (a learner who rebinds ``abs`` or patches NumPy can pass them; see
:mod:`course.grading.guard`), no memory limit, no cleanup of processes a submission starts, no
output cap, and a submission that failed to grade looks like a 0.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..reproducibility import numeric_environment
from .lesson import load_lesson
from .submission import NotGraded, choose_notebook, discover, extract_zip, unique_names

STEPS = ("generate", "collect", "autograde", "export")
CONFIG = '''# Written by `python -m course.grading nbgrader` (recsys-course). Edit freely: it is rewritten
# only when missing.
c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "recsys-course"
c.Execute.timeout = {timeout}
'''


def environment() -> dict[str, str]:
    """The environment nbgrader's commands need: this Python's ``bin`` first on ``PATH`` (for
    ``alembic``), and the course's numeric environment for the kernels they start."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, *[p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir]])
    env.update(numeric_environment())
    return env


def nbgrader(course: Path, *args: str, log=print) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in the course directory; raise with nbgrader's last lines on failure."""
    command = [str(Path(sys.executable).parent / "nbgrader"), *args]
    log("$ " + " ".join(["nbgrader", *args]))
    proc = subprocess.run(command, cwd=course, env=environment(), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"nbgrader {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return proc


def _ensure_kernel(name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        if name == "recsys-course":
            from ..reproducibility import install_kernel

            install_kernel()


def setup_course(course: Path, lesson: str, timeout: int = 120) -> tuple[Path, str]:
    """The course directory with the master as nbgrader's source; returns it and the assignment."""
    spec = load_lesson(lesson)
    course = Path(course).resolve()
    stem = spec.file[:-6]
    (course / "source" / stem).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(spec.path, course / "source" / stem / spec.file)
    config = course / "nbgrader_config.py"
    if not config.exists():
        config.write_text(CONFIG.format(root=str(course), timeout=timeout), encoding="utf-8")
    _ensure_kernel((spec.master.metadata.get("kernelspec") or {}).get("name", "python3"))
    return course, stem


def collect(course: Path, lesson: str, submissions: Path, log=print) -> dict[str, str]:
    """Copy each student's notebook into ``submitted/<student>/<stem>/``; ``{student: id}``."""
    spec = load_lesson(lesson)
    stem = spec.file[:-6]
    submissions = Path(submissions)
    root = extract_zip(submissions, course / "unzipped") if submissions.is_file() else submissions
    subs = discover(root, spec.file)
    ids = unique_names([s.student for s in subs])
    for sub in subs:
        try:
            nb_path = _chosen(sub, spec)
        except NotGraded as exc:
            log(f"  {sub.student}: not collected ({exc.status}: {exc.detail})")
            continue
        target = course / "submitted" / ids[sub.student] / stem
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copyfile(nb_path, target / spec.file)
    log(f"collected {len(subs)} submission(s) into {course.name}/submitted/")
    return ids


def _chosen(sub, spec) -> Path:
    nb, used, _ = choose_notebook(sub, spec)
    return next(p for p in sub.files if p.name == used)


def export_by_exercise(course: Path, lesson: str, path: Path | None = None) -> Path:
    """``grades_by_exercise.csv`` from nbgrader's gradebook: student, one column per exercise, total, max."""
    from nbgrader.api import Gradebook, MissingEntry

    spec = load_lesson(lesson)
    stem = spec.file[:-6]
    exercises = list(spec.exercises)
    path = Path(path or Path(course) / "grades_by_exercise.csv")
    rows = []
    with Gradebook(f"sqlite:///{Path(course).resolve() / 'gradebook.db'}") as gb:
        for submission in gb.assignment_submissions(stem):
            points = dict.fromkeys(exercises, 0.0)
            try:
                notebook = gb.find_submission_notebook(stem, stem, submission.student_id)
            except MissingEntry:
                continue
            for grade in notebook.grades:
                exercise = grade.name.rsplit("_", 1)[0]
                if exercise in points:
                    points[exercise] += grade.score or 0.0
            rows.append([submission.student_id, *(f"{points[e]:g}" for e in exercises), f"{sum(points.values()):g}",
                         f"{spec.max_points:g}"])
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *exercises, "total", "max"])
        writer.writerows(sorted(rows))
    return path


def run(lesson: str, submissions: Path | None, course: Path, steps=STEPS, timeout: int = 120, log=print) -> Path:
    """The whole path (or some ``steps``); returns the course directory."""
    course, stem = setup_course(course, lesson, timeout)
    if "generate" in steps:
        nbgrader(course, "generate_assignment", stem, "--force", log=log)
    if "collect" in steps:
        if submissions is None:
            raise ValueError("collect needs the submissions (a folder with one subfolder per student, or a zip)")
        collect(course, lesson, submissions, log=log)
    if "autograde" in steps:
        nbgrader(course, "autograde", stem, "--create", "--force", log=log)
    if "export" in steps:
        nbgrader(course, "export", "--to", str(course / "grades.csv"), log=log)
        export_by_exercise(course, lesson)
        log(f"{course.name}/grades.csv (nbgrader's totals) and {course.name}/grades_by_exercise.csv")
    return course
