"""Self-check helpers for the exercises' visible test cells.

A visible test cell calls these helpers with the learner's answer and the expected value. On
success they print one line starting with ``✔``; on failure they raise :class:`ExerciseError`
(an ``AssertionError``, so nbgrader scores the cell as failed) whose message says what is
wrong and, where one is given, a hint. They never read the learner's globals: the test cell
passes everything explicitly.

    check_close(r_hat, 3.5, what="the mean-centred prediction for Ana and Fargo",
                hint="Did you divide by the sum of |similarities|?")
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["ExerciseError", "check", "check_array", "check_close", "check_equal", "passed"]


class ExerciseError(AssertionError):
    """The answer is not right yet; the message says why."""

    def _render_traceback_(self) -> list[str]:
        # Jupyter shows the learner the verdict and the hint, not the checker's internals.
        return [str(self)]


def _fail(what: str, problem: str, hint: str | None) -> None:
    message = f"✘ {what}: {problem}"
    if hint:
        message += f"\n  Hint: {hint}"
    raise ExerciseError(message)


def passed(what: str) -> None:
    """Print the success line for ``what``."""
    print(f"✔ {what}: correct")


def check(condition: bool, what: str, problem: str, hint: str | None = None) -> None:
    """Fail with ``problem`` unless ``condition`` holds (no success line: combine with :func:`passed`)."""
    if not condition:
        _fail(what, problem, hint)


def _not_attempted(value, what: str) -> None:
    if value is None or value is Ellipsis:
        _fail(what, "no answer yet (the value is None)", "Write your answer between the markers and run that cell.")


def check_close(actual, expected: float, *, what: str, atol: float = 1e-6, hint: str | None = None,
                quiet: bool = False) -> None:
    """Check that a number equals ``expected`` within ``atol``."""
    _not_attempted(actual, what)
    try:
        value = float(actual)
    except (TypeError, ValueError):
        _fail(what, f"expected a number, got {type(actual).__name__}", hint)
    if not np.isfinite(value):
        _fail(what, f"got {value}, expected a finite number near {expected:.6g}", hint)
    if abs(value - expected) > atol:
        _fail(what, f"got {value:.6g}, expected {expected:.6g} (tolerance {atol:g})", hint)
    if not quiet:
        passed(what)


def check_equal(actual, expected, *, what: str, hint: str | None = None, quiet: bool = False) -> None:
    """Check that ``actual == expected`` (lists, tuples, sets, strings, integers)."""
    _not_attempted(actual, what)
    if isinstance(expected, (list, tuple)) and isinstance(actual, np.ndarray):
        actual = actual.tolist()
    if type(expected) in (list, tuple) and type(actual) in (list, tuple):
        actual, expected = list(actual), list(expected)
    if actual != expected:
        _fail(what, f"got {actual!r}, expected {expected!r}", hint)
    if not quiet:
        passed(what)


def check_array(actual, expected, *, what: str, atol: float = 1e-6, hint: str | None = None,
                extra: Callable[[np.ndarray], str | None] | None = None, quiet: bool = False) -> None:
    """Check an array's shape first, then its values (to ``atol``), with a precise message.

    ``extra`` may inspect the learner's array and return a hint for a typical mistake
    (e.g. ``"your similarity matrix is not symmetric"``), or ``None``.
    """
    _not_attempted(actual, what)
    try:
        arr = np.asarray(actual, dtype=float)
    except (TypeError, ValueError):
        _fail(what, f"expected an array of numbers, got {type(actual).__name__}", hint)
    exp = np.asarray(expected, dtype=float)
    if arr.shape != exp.shape:
        _fail(what, f"shape {arr.shape}, expected {exp.shape}", hint)
    if np.isnan(arr).any() and not np.isnan(exp).any():
        _fail(what, f"{int(np.isnan(arr).sum())} entries are NaN", hint)
    close = np.isclose(arr, exp, atol=atol, rtol=0, equal_nan=True)
    if not close.all():
        where = tuple(int(x) for x in np.argwhere(~close)[0])
        specific = extra(arr) if extra else None
        _fail(what, f"{int((~close).sum())} of {arr.size} entries differ; first at index {where}: "
                    f"got {arr[where]:.6g}, expected {exp[where]:.6g}", specific or hint)
    if not quiet:
        passed(what)
