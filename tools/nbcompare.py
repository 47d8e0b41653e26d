"""Compare a notebook's outputs with another run's, the way nbval does, exactly or with a tolerance.

Used by ``tools/portability.py`` (exact: which cells differ under an emulated CPU) and by
``conftest.py`` in tolerant mode (``make test TOLERANT=1``), for machines the numeric profile
cannot pin (macOS on Apple silicon, Windows, aarch64), where trained models agree with the committed
outputs only to a few units in the last printed digit.

The exact comparison follows nbval 0.11: streams are coalesced (``\\r`` progress lines collapsed),
outputs are flattened by MIME type, the sanitize patterns of ``tests/nbval_sanitize.cfg`` are
applied, and images, metadata, tracebacks and widget ids are not compared. Cells marked
``NBVAL_IGNORE_OUTPUT`` / ``NBVAL_SKIP`` (comments or tags) and reference cells never executed are
skipped.

The tolerant comparison (:func:`tolerant_equal`) accepts two texts that differ only in numbers
written with a decimal point, each pair within ``max(atol, rtol * |value|)`` (defaults 0.005 and 1 %),
and in the spaces that pad table columns. Everything else must be equal: words, integers (counts,
ranks, epochs), the number and order of values. So 0.349 against 0.347 passes, a metric moving by 0.01
fails, and so does a changed ranking or a changed count.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from nbval.plugin import coalesce_streams, find_comment_markers, find_metadata_tags, get_sanitize_patterns

ROOT = Path(__file__).resolve().parents[1]
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
SKIP_KEYS = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
             "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"}
ATOL, RTOL = 0.005, 0.01

_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w])")


def sanitize_patterns(path: Path = SANITIZE) -> list[tuple[str, str]]:
    return get_sanitize_patterns(path.read_text()) if path.is_file() else []


def _sanitize(value, patterns):
    if not isinstance(value, str):
        return value
    for regex, replace in patterns:
        value = re.sub(regex, replace, value)
    return value


def flatten(outputs, patterns) -> dict[str, list]:
    """nbval's view of a cell's outputs: ``{key or MIME type: [sanitized values, in order]}``."""
    out = defaultdict(list)
    for output in coalesce_streams([o.copy() if hasattr(o, "copy") else o for o in outputs]):
        if output.get("output_type") == "stream":
            out[output["name"]].append(_sanitize(output["text"], patterns))
            continue
        for key, value in output.items():
            if key in SKIP_KEYS:
                continue
            if key == "data":
                for mime, data in value.items():
                    if mime not in SKIP_KEYS:
                        out[mime].append(_sanitize(data if isinstance(data, str) else "".join(data), patterns))
            else:
                out[key].append(_sanitize(value, patterns))
    return dict(out)


def is_compared(cell) -> bool:
    """True for a code cell whose outputs nbval compares (executed, not ignored or skipped)."""
    if cell.cell_type != "code" or cell.get("execution_count") is None:
        return False
    options = dict(find_metadata_tags(cell.metadata))
    options.update(dict(find_comment_markers(cell.source)))
    return options.get("check", True) is not False and not options.get("skip")


def _split(text: str) -> tuple[list[str], list[str]]:
    parts = _NUMBER.split(text)
    numbers = _NUMBER.findall(text)
    return [re.sub(r"[ \t]+", " ", p) for p in parts], numbers


def tolerant_equal(ref: str, test: str, atol: float = ATOL, rtol: float = RTOL) -> bool:
    """True when ``test`` equals ``ref`` except for decimal numbers within tolerance (see the module)."""
    if ref == test:
        return True
    pairs = _number_pairs(ref, test)
    if pairs is None:
        return False
    for a, b in pairs:
        if a == b:
            continue
        if not any(c in a + b for c in ".eE"):  # integers: counts, ranks, epochs must agree
            return False
        x, y = float(a), float(b)
        if abs(x - y) > max(atol, rtol * max(abs(x), abs(y))):
            return False
    return True


def max_difference(ref: str, test: str) -> float | None:
    """The largest absolute difference between corresponding numbers, when only numbers differ."""
    pairs = _number_pairs(ref, test)
    if pairs is None:
        return None
    return max((abs(float(a) - float(b)) for a, b in pairs), default=0.0)


def _number_pairs(ref, test) -> list[tuple[str, str]] | None:
    """The corresponding numbers of two texts that differ only in their numbers; None otherwise."""
    if not isinstance(ref, str) or not isinstance(test, str):
        return None
    ref_text, ref_nums = _split(ref)
    test_text, test_nums = _split(test)
    if ref_text != test_text or len(ref_nums) != len(test_nums):
        return None
    return list(zip(ref_nums, test_nums))


def compare_cell(ref_outputs, test_outputs, patterns, tolerant: bool = False) -> str | None:
    """``None`` when nbval would accept ``test_outputs`` for ``ref_outputs``; else a one-line reason."""
    ref, test = flatten(ref_outputs, patterns), flatten(test_outputs, patterns)
    if set(ref) != set(test):
        return f"output kinds differ: {sorted(ref)} vs {sorted(test)}"
    for key in ref:
        if len(ref[key]) != len(test[key]):
            return f"{key}: {len(ref[key])} outputs vs {len(test[key])}"
        for a, b in zip(ref[key], test[key]):
            if a == b or (tolerant and tolerant_equal(a, b)):
                continue
            diff = max_difference(a, b)
            where = f"numbers differ by up to {diff:.3g}" if diff is not None else "text differs"
            return f"{key}: {where}: {_first_difference(a, b)}"
    return None


def _first_difference(a: str, b: str, width: int = 40) -> str:
    a, b = str(a), str(b)
    n = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    lo = max(0, n - width // 2)
    clip = lambda s: s[lo:lo + width].replace("\n", "⏎")  # noqa: E731
    return f"{clip(a)!r} -> {clip(b)!r}"


def compare_notebooks(reference, executed, tolerant: bool = False) -> dict[int, str]:
    """``{cell number: reason}`` for every compared cell of ``reference`` whose outputs differ in ``executed``.

    Cells are numbered as nbval numbers them (``Cell N`` = the N-th code cell, from 0).
    """
    patterns = sanitize_patterns()
    ref_cells = [c for c in reference.cells if c.cell_type == "code"]
    test_cells = [c for c in executed.cells if c.cell_type == "code"]
    if len(ref_cells) != len(test_cells):
        return {-1: f"{len(ref_cells)} code cells vs {len(test_cells)}"}
    problems = {}
    for number, (ref, test) in enumerate(zip(ref_cells, test_cells)):
        if not is_compared(ref):
            continue
        reason = compare_cell(ref.get("outputs", []), test.get("outputs", []), patterns, tolerant)
        if reason:
            problems[number] = reason
    return problems


def install_tolerant_comparison() -> None:
    """Make nbval accept outputs that differ from the committed ones only within :func:`tolerant_equal`.

    nbval's own comparison runs first; when it fails, each committed output whose text is tolerantly
    equal to the new one is replaced by the new one, and nbval compares again (so its report of a real
    difference is unchanged). Also a pytest plugin: ``pytest -p nbcompare`` with ``COURSE_NBVAL_TOLERANT=1``.
    """
    import copy

    from nbval.plugin import IPyNbCell

    if getattr(IPyNbCell.compare_outputs, "tolerant", False):
        return
    exact = IPyNbCell.compare_outputs

    def compare(self, test, ref, skip_compare=None):
        if exact(self, test, ref, skip_compare):
            return True
        ref = copy.deepcopy(ref)
        for r, t in zip(ref, test):
            if r.get("output_type") != t.get("output_type"):
                continue
            if r.get("output_type") == "stream" and r.get("name") == t.get("name"):
                if tolerant_equal(self.sanitize(r["text"]), self.sanitize(t["text"])):
                    r["text"] = t["text"]
            for mime, value in r.get("data", {}).items():
                other = t.get("data", {}).get(mime)
                if isinstance(value, str) and isinstance(other, str) and tolerant_equal(
                        self.sanitize(value), self.sanitize(other)):
                    r["data"][mime] = other
        return exact(self, test, ref, skip_compare)

    compare.tolerant = True
    IPyNbCell.compare_outputs = compare


def pytest_configure(config):  # pragma: no cover - exercised through a pytest subprocess
    import os

    if os.environ.get("COURSE_NBVAL_TOLERANT", "") not in ("", "0"):
        install_tolerant_comparison()
