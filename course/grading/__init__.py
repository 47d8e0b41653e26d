"""Student versions of the lessons and robust batch grading of submitted notebooks.

    python -m course.grading student [--out student/]            # learners' copies, no solutions
    python -m course.grading grade LESSON SUBMISSIONS --out DIR  # gradebook.csv + feedback/*.html
    python -m course.grading nbgrader LESSON SUBMISSIONS         # the same masters graded by nbgrader

The grader reads the nbgrader cell metadata that ``tools/lessons.py`` writes into the master
lessons (grade ids ``exN_M_answer``/``_check``/``_hidden``, ``points``) and scores each graded
cell all or nothing: it passes when it runs to the end without raising. It does not use
nbgrader's database (:mod:`course.grading.nbgrader` is the path for those who do):

* every submission is pre-checked (:mod:`~course.grading.submission`: valid JSON, the lesson's
  notebook found even if renamed, the grading metadata present, test cells intact). Locked cells
  are restored from the master, the way nbgrader's ``OverwriteCells`` does, deleted test cells are
  put back, and the lesson's own code cells run as the master has them (the learner's work is the
  answer cells and the cells they add);
* each submission runs in its own grading subprocess, which starts a fresh kernel through
  :mod:`~course.grading.kernel` (address-space, CPU-time and file-size limits, a trimmed
  environment with the course's numeric profile, at most 1 MiB of output per cell), with a
  per-cell timeout. When a cell times out or the kernel dies, the kernel is stopped and the
  notebook re-run in a fresh kernel without that cell, so the other exercises are still graded.
  Every process the kernel started is killed afterwards (:mod:`~course.grading.processes`);
* in the kernel, :mod:`~course.grading.guard` runs the lesson cells, self-checks and hidden tests
  against pristine builtins, pristine NumPy, pandas, SciPy, ``math``, ``course`` and ``course_lib``
  (whatever learner code rebound, patched or replaced in ``sys.modules`` is undone first, and a
  change while a test runs fails it) and the lesson's own variables, taking only the answer names
  from the learner; answers that pretend to equal anything are refused. A graded cell earns its
  points only when the guard reports, with the run's token, that it ran to the end;
* :mod:`~course.grading.scan` flags learner code that uses interpreter internals (``ctypes``,
  frames, ``exec``, patching modules ...) as ``suspicious code`` for a human to read;
* ``gradebook.csv`` has one row per student, one column per exercise, ``total``, ``max``,
  ``status``, ``detail`` and ``feedback`` (the student's page, named so that no two differ only
  in case). ``status`` is ``ok`` or a ``; ``-separated list of what happened; a submission that
  could not be graded has an empty ``total`` (never a silent 0).

It is not a sandbox: learner code runs as the instructor's user, with their files and network;
see :mod:`course.grading.kernel` for what is isolated and what is not. The strength of the
exercises' tests is checked against typical wrong answers by :mod:`course.grading.strength`.
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
