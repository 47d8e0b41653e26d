"""The encoded container and the self-check helpers."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.data import toy_ratings
from course.exercises import ExerciseError, check_array, check_close, check_equal
from course_lib.interactions import Interactions, UnknownIdError


def test_interactions_encode_in_order_of_appearance():
    toy = toy_ratings().sample(frac=1, random_state=0)
    data = Interactions.from_ratings(toy)
    assert data.user_ids[0] == toy.user_id.iloc[0] and data.item_ids[0] == toy.item_id.iloc[0]
    assert data.matrix.shape == (5, 6) and data.matrix.nnz == 24
    u, i = data.user_index(1), data.item_index(1)
    assert data.matrix[u, i] == 5.0
    assert data.encode_users([1, 99]).tolist() == [u, -1]
    assert data.global_mean == pytest.approx(toy.rating.mean())
    assert data.rating_scale == (1.0, 5.0)
    order = data.user_major_order()
    assert (np.diff(data.u[order]) >= 0).all()
    with pytest.raises(UnknownIdError, match="item 7 is not in the training data"):
        data.item_index(7)
    assert "24 ratings, 5 users, 6 items, density 80.00%" in repr(data)


def test_check_close(capsys):
    check_close(3.5, 3.5, what="Exercise 1.1")
    assert capsys.readouterr().out == "✔ Exercise 1.1: correct\n"
    with pytest.raises(ExerciseError, match=r"✘ Exercise 1.1: got 3, expected 3.5 .*\n  Hint: divide"):
        check_close(3, 3.5, what="Exercise 1.1", hint="divide")
    with pytest.raises(ExerciseError, match="no answer yet"):
        check_close(None, 3.5, what="Exercise 1.1")
    with pytest.raises(ExerciseError, match="expected a number, got str"):
        check_close("x", 3.5, what="Exercise 1.1")


def test_check_array_and_equal():
    with pytest.raises(ExerciseError, match=r"shape \(2,\), expected \(3,\)"):
        check_array([1, 2], [1, 2, 3], what="E")
    not_symmetric = lambda a: "your matrix is not symmetric" if not np.allclose(a, a.T) else None  # noqa: E731
    with pytest.raises(ExerciseError, match="Hint: your matrix is not symmetric"):
        check_array([[1, 2], [3, 1]], [[1, 2], [2, 1]], what="E", extra=not_symmetric)
    check_array(np.eye(2), np.eye(2), what="E", quiet=True)
    check_equal((1, 2), [1, 2], what="E", quiet=True)
    with pytest.raises(ExerciseError, match=r"got \[2, 1\], expected \[1, 2\]"):
        check_equal([2, 1], [1, 2], what="E")


def test_rating_orders_equal_a_stable_argsort():
    from course_lib.interactions import _stable_order

    rng = np.random.default_rng(0)
    for n in (7, 65_536, 70_000):
        codes = rng.integers(0, n, 20_000)
        assert np.array_equal(_stable_order(codes, n), np.argsort(codes, kind="stable"))
