"""The strength of every exercise's tests: typical wrong answers must earn no point.

The wrong answers live in ``tests/exercise_wrong_answers/NN.py`` (format: ``course/grading/strength.py``).
Each lesson is run once in the grading kernel, with every wrong answer of every exercise replayed
right after that exercise's tests; one test per wrong answer checks it earned nothing. A wrong
answer that a test is known to let through is marked ``weak`` in its file: the test reports it
as an expected failure and fails once the weakness is fixed (then remove the ``weak`` entry).
The whole file re-runs every lesson once (about the time of ``make test``'s nbval pass).

Also: every exercise has wrong answers, the master's own answers pass, and no self-check computes
its expected value in visible code (or is listed in ``REVEALING`` with the reason).
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from course.grading.lesson import load_lesson
from course.grading.strength import probe, revealing_checks
from course.syllabus import ready_lessons

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "tests" / "exercise_wrong_answers"
READY = [lesson.file for lesson in ready_lessons()]

#: Self-checks known to compute their expected value in the visible cell, and why that is so.
#: Strict: a self-check fixed (or newly revealing) fails ``test_self_checks_do_not_show_the_answer``.
REVEALING = {
    "ex5_2_check": "compares with the course's SimpleRNN.step on the same inputs",
    "ex7_2_check": "compares with EASE(lam).fit(...).B_, which the learner can call",
}


def wrong_answers(file: str) -> dict:
    path = FOLDER / f"{file[:2]}.py"
    return runpy.run_path(str(path))["WRONG"] if path.is_file() else {}


def _params():
    for file in READY:
        for exercise, answers in wrong_answers(file).items():
            for k, answer in enumerate(answers):
                yield pytest.param(file, exercise, k, id=f"{exercise}-{k}")


_PROBES: dict[str, object] = {}


def lesson_probe(file: str):
    """One run of ``file`` with all its wrong answers, shared by the tests of that lesson."""
    if file not in _PROBES:
        _PROBES[file] = probe(file, wrong_answers(file))
    return _PROBES[file]


@pytest.mark.parametrize("file", READY)
def test_every_exercise_has_wrong_answers(file):
    spec = load_lesson(file)
    wrong = wrong_answers(file)
    missing = [ex for ex in spec.exercises if len(wrong.get(ex, [])) < 3]
    assert not missing, f"{file}: add at least 3 typical wrong answers for {missing} in {FOLDER.name}/{file[:2]}.py"
    assert set(wrong) <= set(spec.exercises), f"{file}: wrong answers for unknown exercises {set(wrong) - set(spec.exercises)}"


@pytest.mark.parametrize("file, exercise, k", list(_params()))
def test_wrong_answer_earns_nothing(file, exercise, k):
    result = next(r for r in lesson_probe(file).results if r.exercise == exercise and r.index == k)
    answer = result.answer
    counted = [gid for gid in result.passed if answer.target == "all" or gid.endswith("_hidden")]
    if answer.weak:
        assert sorted(counted) == sorted(answer.weak), (
            f"{exercise}: '{answer.why}' was listed as passing {sorted(answer.weak)} but passed {sorted(counted)}: "
            f"a weak test was fixed (or another weakened): update 'weak' in {FOLDER.name}/{file[:2]}.py; "
            f"messages: {result.messages}")
        pytest.xfail("known weak test: " + "; ".join(f"{g}: {why}" for g, why in answer.weak.items()))
    assert not counted, f"{exercise}: the wrong answer '{answer.why}' earned the points of {counted}"


@pytest.mark.parametrize("file", READY)
def test_the_masters_answers_pass_their_tests(file):
    failed = lesson_probe(file).solution_failed
    assert not failed, f"{file}: the master's own answers failed {failed} in the grading kernel"


def test_self_checks_do_not_show_the_answer():
    found = {}
    for file in READY:
        found.update(revealing_checks(load_lesson(file)))
    new = {gid: why for gid, why in found.items() if gid not in REVEALING}
    fixed = sorted(set(REVEALING) - set(found))
    assert not new, f"self-checks that compute the expected value in visible code (the answer to copy): {new}"
    assert not fixed, f"these self-checks no longer reveal the answer: remove them from REVEALING: {fixed}"
