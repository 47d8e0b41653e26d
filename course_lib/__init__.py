"""course_lib: the small, tested recommender library behind the recsys-course lessons.

The library, laid out as data flows through it: ``data`` (MovieLens, verified and cached, and the
toy table) -> ``split`` -> ``interactions`` (ratings encoded once, shared by every model) ->
``models`` (one contract, :mod:`course_lib.models.base`) -> ``evaluate`` (named protocols) and
``metrics`` -> ``serving``. Also ``sampling`` (negatives), ``similarities``, ``features``,
``sequences``, ``coldstart``, ``compare`` and ``nn_numpy`` (the from-scratch layers).

The teaching side (``setup``, the syllabus, exercises, grading, plots) is the separate package
``course``, which uses this one; this one never imports it.
"""

from __future__ import annotations

__version__ = "0.2.0"
__all__ = ["__version__"]

_MOVED = {"setup", "environment_report", "versions", "reproducibility", "syllabus", "exercises", "plots", "grading"}


def __getattr__(name: str):
    if name in _MOVED:
        raise AttributeError(
            f"course_lib.{name} moved to the teaching package `course`: write `import course` and use "
            f"course.{name} (a lesson starts with `import course; course.setup(seed=42)`)")
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")
