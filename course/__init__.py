"""course: the teaching side of recsys-course (the recommender library itself is ``course_lib``).

Start every lesson with::

    import course
    course.setup(seed=42)

Modules: ``reproducibility`` (``setup`` and the numeric profile), ``syllabus`` (the lesson
list), ``exercises`` (self-check helpers of the exercise cells), ``plots`` (the figure style) and
``grading`` (learners' copies and batch grading: ``python -m course.grading``). This package may
import ``course_lib``; ``course_lib`` never imports it.

``import course`` loads nothing heavy (not even NumPy): the numeric profile of
:mod:`course.reproducibility` must be able to act before the numerical libraries load.
"""

from __future__ import annotations

__all__ = ["environment_report", "setup", "versions"]


def __getattr__(name: str):
    if name in __all__:
        from . import reproducibility

        return getattr(reproducibility, name)
    raise AttributeError(f"module 'course' has no attribute {name!r}")
