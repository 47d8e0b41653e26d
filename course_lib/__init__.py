"""course_lib: the small, tested library behind the recsys-course lessons.

Start every lesson with::

    import course_lib
    course_lib.setup(seed=42)

Modules, named as the lessons name the ideas: ``data`` (MovieLens and the toy table),
``split``, ``interactions`` (the encoded ratings), ``metrics``, ``evaluate``, ``models``,
``plots`` and ``exercises`` (self-check helpers).

``import course_lib`` loads nothing heavy (not even NumPy): the numeric profile of
:mod:`course_lib.reproducibility` must be able to act before the numerical libraries load.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["environment_report", "setup", "versions", "__version__"]


def __getattr__(name: str):
    if name in ("environment_report", "setup", "versions"):
        from . import reproducibility

        return getattr(reproducibility, name)
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")
