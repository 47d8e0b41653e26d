"""course_lib: the small, tested library behind the recsys-course lessons.

Start every lesson with::

    import course_lib
    course_lib.setup(seed=42)

Modules, named as the lessons name the ideas: ``data`` (MovieLens and the toy table),
``split``, ``interactions`` (the encoded ratings), ``metrics``, ``evaluate``, ``models``,
``plots`` and ``exercises`` (self-check helpers).
"""

from .reproducibility import environment_report, setup, versions

__version__ = "0.1.0"
__all__ = ["environment_report", "setup", "versions", "__version__"]
