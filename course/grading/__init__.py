"""Student versions of the lessons and robust batch grading of submitted notebooks.

    python -m course.grading student [--out student/]            # learners' copies, no solutions
    python -m course.grading grade LESSON SUBMISSIONS --out DIR  # gradebook.csv + feedback/*.html

The grader reads the nbgrader cell metadata that ``tools/lessons.py`` writes into the master
lessons (grade ids ``exN_M_answer``/``_check``/``_hidden``, ``points``) and scores each graded
cell all or nothing: it passes when it runs without raising. It does not use nbgrader's database:

* every submission is pre-checked (valid JSON, the lesson's notebook found even if renamed, the
  grading metadata present, test cells intact). Locked cells are restored from the master, the
  way nbgrader's ``OverwriteCells`` does, and deleted test cells are put back;
* each submission runs in its own grading subprocess, which starts a fresh kernel through
  :mod:`course.grading.kernel` (address-space, CPU-time and file-size limits set with
  ``setrlimit`` before ``ipykernel`` starts), with a per-cell timeout. When a cell times out or
  the kernel dies, the kernel is stopped and the notebook re-run in a fresh kernel without that
  cell, so the other exercises are still graded; scores come from the kernel's execute replies;
* ``gradebook.csv`` has one row per student, one column per exercise, ``total``, ``max``,
  ``status`` and ``detail``. ``status`` is ``ok`` or a ``; ``-separated list of what happened;
  a submission that could not be graded has an empty ``total`` (never a silent 0).

What is isolated and what is not is documented in :mod:`course.grading.kernel`.
"""

from __future__ import annotations

__all__ = ["LessonSpec", "load_lesson", "student_version", "write_student_versions"]


def __getattr__(name: str):
    # Lazy, so that the grading kernel's launcher (course.grading.kernel) starts without
    # importing nbformat: every second counts when 30 kernels start one after the other.
    if name in __all__:
        from . import lesson

        return getattr(lesson, name)
    raise AttributeError(name)
