"""Prose follows the outputs: a measured number quoted in a lesson's markdown is shown by that lesson.

A number written with a decimal point (a metric, an error, a weight) in a markdown cell must

* round from a number shown in one of the notebook's outputs (to the digits quoted: ``0.472`` is
  backed by an output ``0.4719``), or appear in its code (a hyperparameter the lesson sets), or
* be the difference or ratio of two backed numbers quoted in the same cell ("0.9442 and 0.9403 ...
  within 0.004 of each other"), or
* be marked as a reference in the same sentence: another lesson (``lesson 07``), a paper
  (``et al.``, ``(Rendle 2020)``), a benchmark file or the README (``benchmarks/...``), or a link.

A time (``0.3 s``, ``40 ms``) or a speed ratio (``11x``, ``10 times faster``) changes from run to run,
so no compared output can show it: it always needs a reference (the README's performance table, a
benchmark file), or the lesson shows the timing in an uncompared cell and says so.

Math (``$...$``), code spans that hold no reference, exercise headings and the further-reading section are
not prose claims. The test lists every unbacked number with its cell and sentence.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from course.syllabus import ready_lessons

ROOT = Path(__file__).resolve().parents[1]
LESSON_PATHS = [ROOT / "notebooks" / lesson.file for lesson in ready_lessons()]

DECIMAL = r"\d[\d,]*\.\d+"
CLAIM = re.compile(  # times and speeds first: "0.3 s" is a time, not the number 0.3
    rf"(?<![\w.\-/^_])(?P<time>\d+(?:\.\d+)?)(?:\s?(?:ms|seconds?)|\s+s)\b(?![-\w])"   # 0.3 s, 40 ms
    rf"|(?<![\w.\-/^_])(?P<speed>\d+(?:\.\d+)?(?:\s?[-–]\s?\d+(?:\.\d+)?)?)\s?(?:×|x\b|times (?:faster|slower))"  # 11x, 10-50 times faster
    rf"|(?<![\w.\-/^_])(?P<num>{DECIMAL})(?![\w]|\.\d)"                              # 0.472, 1,234.5
)
REFERENCE = re.compile(
    r"\blessons?\s+\d{1,2}\b|\bbenchmarks?\b|README|\bet al\b|\]\(|https?://|\bpublished\b|\bpaper\b"
    r"|\b[A-Z][a-z]+(?: and [A-Z][a-z]+)? \(?(?:19|20)\d\d\)?",
    re.IGNORECASE)
NUMBER_IN_OUTPUT = re.compile(r"[-+−]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _text(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _outputs_text(nb) -> str:
    chunks = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            if "text" in out:
                chunks.append("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
            for mime, data in out.get("data", {}).items():
                if mime.startswith("text/"):
                    chunks.append("".join(data) if isinstance(data, list) else data)
    return " ".join(" ".join(chunks).split())


def _shown_numbers(nb) -> list[float]:
    """Every number in the notebook's outputs and code."""
    values = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        chunks = [_text(cell)]
        for out in cell.get("outputs", []):
            if "text" in out:
                chunks.append("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
            for mime, data in out.get("data", {}).items():
                if mime.startswith("text/"):
                    chunks.append("".join(data) if isinstance(data, list) else data)
        for chunk in chunks:
            for token in NUMBER_IN_OUTPUT.findall(chunk):
                try:
                    values.append(abs(float(token.replace(",", "").replace("−", "-"))))
                except ValueError:
                    pass
    return values


def _backed(quoted: str, shown) -> bool:
    value = abs(float(re.split(r"\s?[-–]\s?", quoted)[-1].replace(",", "")))
    decimals = len(quoted.split(".")[1]) if "." in quoted else 0
    half = 0.5 * 10 ** -decimals + 1e-9
    return any(abs(x - value) <= half for x in shown)


def _derived(quoted: str, operands: list[float]) -> bool:
    """``quoted`` is the difference or the ratio of two of ``operands`` (to its printed digits)."""
    pairs = [(a, b) for a in operands for b in operands if a != b]
    return _backed(quoted, [abs(a - b) for a, b in pairs] + [a / b for a, b in pairs if b])


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?:;])\s+(?=[A-Z*(\[`])|\n\s*[-*]\s+|\n\n", text) if s.strip()]


def unbacked_claims(nb) -> list[str]:
    """``"cell N: 0.472 in '...sentence...'"`` for every quoted number neither shown nor referenced."""
    shown = _shown_numbers(nb)
    outputs = _outputs_text(nb)
    problems = []
    further_reading = False
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown" or "navigation" in cell.get("metadata", {}).get("tags", []):
            continue
        text = _text(cell)
        if re.match(r"\s*#{1,3}\s*(Further reading|References)", text, re.I):
            further_reading = True
        elif re.match(r"\s*#{1,2}\s", text):
            further_reading = False
        if further_reading:
            continue
        claims = []  # (quoted, sentence) that need backing
        for sentence in _sentences(text):
            if REFERENCE.search(sentence) or re.match(r"\s*#+\s*Exercise", sentence):
                continue
            prose = re.sub(r"\$\$.*?\$\$|\$[^$\n]*\$|`[^`]*`", " ", sentence, flags=re.S)
            for m in CLAIM.finditer(prose):
                if m.group("num"):
                    claims.append((m.group("num"), True, sentence))
                elif " ".join(m.group(0).split()) not in outputs:
                    # a time or a speed changes from run to run: shown verbatim ("under 10 ms: True") or cited
                    claims.append((m.group("time") or m.group("speed"), False, sentence))
        # operands of a worked computation: backed numbers of the cell, and the numbers of its formulas
        operands = [abs(float(q.replace(",", ""))) for q, number, _ in claims if number and _backed(q, shown)]
        for math in re.findall(r"\$\$.*?\$\$|\$[^$\n]*\$", text, flags=re.S):
            operands += [float(x) for x in re.findall(r"(?<![\w^_{])\d+(?:\.\d+)?", math)]
        for quoted, number, sentence in claims:
            if not number or not (_backed(quoted, shown) or _derived(quoted, operands)):
                problems.append(f"cell {index}: {quoted} in {' '.join(sentence.split())[:160]!r}")
    return problems


@pytest.mark.parametrize("path", LESSON_PATHS, ids=[p.name for p in LESSON_PATHS])
def test_quoted_numbers_come_from_outputs_or_references(path):
    problems = unbacked_claims(json.loads(path.read_text()))
    assert not problems, ("numbers quoted in the prose that no output of the lesson shows and no reference "
                          "backs (fix the prose, or cite lesson NN / the paper / the benchmark file):\n"
                          + "\n".join(problems))


def test_the_prose_check_catches_a_stale_number():
    nb = {"cells": [
        {"cell_type": "code", "source": "print(round(x, 4))", "outputs": [{"output_type": "stream", "text": "0.3491\n"}]},
        {"cell_type": "markdown", "source": "The model reaches 0.349, and 0.3491 to four decimals.", "metadata": {}},
        {"cell_type": "code", "source": "print(y)", "outputs": [{"output_type": "stream", "text": "0.9442 0.9403\n"}]},
        {"cell_type": "markdown", "source": "ALS 0.9442 and SGD 0.9403 are within 0.004; not 0.006.", "metadata": {}},
        {"cell_type": "markdown", "source": "It reaches 0.359 here.", "metadata": {}},
        {"cell_type": "markdown", "source": "Lesson 07 reports 0.472.", "metadata": {}},
        {"cell_type": "markdown", "source": "Fitting takes 0.3 s.", "metadata": {}},
        {"cell_type": "markdown", "source": "A paper (Rendle et al. 2020) reports 0.725 and $x = 0.5$.", "metadata": {}},
    ]}
    problems = unbacked_claims(nb)
    assert [p.split(":")[0] + ":" + p.split(":")[1].split(" in ")[0] for p in problems] == \
        ["cell 3: 0.006", "cell 4: 0.359", "cell 6: 0.3"]


SPREADS = ROOT / "benchmarks" / "results" / "spreads.json"


def test_the_spreads_benchmark_reruns_the_lessons_own_split():
    """Lessons quote benchmarks/results/spreads.md as "the same comparison on other splits": its seed 42 must
    still be the lesson's split, so every seed-42 number it measured is one the lesson prints (to 3 or 4
    decimals; whole numbers as they are). A re-executed lesson whose numbers moved makes it stale."""
    derived = ("minus", "first day", "rank among")          # computed from printed numbers, not printed themselves
    controls = {("08-image", "attention, neither genres nor image (8 epochs)")}   # benchmark-only controls
    runs = [r for r in json.loads(SPREADS.read_text())["runs"]
            if r["seed"] == 42 and not any(d in r["metric"] for d in derived)
            and (r["section"], r["model"]) not in controls]
    assert runs, "benchmarks/results/spreads.json has no seed-42 rows: run benchmarks/bench_spreads.py"
    shown: dict[str, set] = {}
    stale = []
    for r in runs:
        lesson = "11" if r["model"].startswith("AutoRec") else r["section"][:2]
        if lesson not in shown:   # a section is named after its lesson's number: "04-models" -> 04_*.ipynb
            nb = json.loads(next(p for p in LESSON_PATHS if p.name.startswith(lesson + "_")).read_text())
            shown[lesson] = set(re.findall(r"\d+(?:\.\d+)?", _outputs_text(nb)))
        v = r["value"]
        forms = {f"{v:.0f}"} if float(v).is_integer() else {f"{v:.4f}", f"{v:.3f}", f"{round(v, 3):.4f}", f"{v:g}"}
        if not forms & shown[lesson]:
            stale.append(f"{r['section']} / {r['model']} / {r['metric']}: {v:.4f} not printed by lesson {lesson}")
    assert not stale, "re-run benchmarks/bench_spreads.py (or fix the lesson):\n" + "\n".join(stale)
