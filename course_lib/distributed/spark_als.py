r"""Spark MLlib's ALS fitted on a pandas split, answering like the course's models (raw ids, pandas).

Spark's ALS (``pyspark.ml.recommendation.ALS``) alternates exact least-squares solves over
blocks of users and items spread over the cluster. With the items fixed, user :math:`u`'s
factor solves (ALS-WR: the penalty grows with :math:`n_u`, the user's number of ratings):

.. math::
    p_u = \big(Q_u^\top Q_u + \lambda\, n_u I\big)^{-1} Q_u^\top r_u
    \qquad\text{(explicit; } Q_u \text{: the factors of } u\text{'s items, shape } n_u \times f)

and for implicit feedback (Hu, Koren and Volinsky 2008; :math:`c_{ui} = 1 + \alpha r_{ui}`),

.. math::
    p_u = \big(Q^\top Q + \alpha\, Q_u^\top Q_u + \lambda\, n_u I\big)^{-1} (1 + \alpha)\, Q_u^\top \mathbf 1 ,

then the same for the items. Compared with the course's models, fitted with the same
``n_factors``, ``reg`` and ``n_epochs``:

* explicit: :class:`course_lib.models.ALS` has the same weighted penalty :math:`\lambda n_u`, but
  also learns biases, :math:`\hat r_{ui} = \mu + b_u + b_i + p_u^\top q_i`; Spark's model is
  :math:`\hat r_{ui} = p_u^\top q_i` (``center=True`` here fits :math:`r_{ui} - \mu` and adds
  :math:`\mu` back, the closest Spark gets);
* implicit: :class:`course_lib.models.ImplicitALS` penalises with a plain :math:`\lambda`; Spark
  with :math:`\lambda n_u` (and :math:`\lambda n_i` for items) here too. The two agree exactly only
  when every user and every item has the same count :math:`n`, with Spark's
  ``reg`` :math:`= \lambda / n` (tested); on MovieLens, counts vary over two orders of magnitude;
* initialisation: Spark draws each factor vector from a Gaussian and scales it to unit length,
  seeded per block (so results depend on ``seed`` *and* the number of blocks); the course draws
  :math:`\mathcal N(0, \sigma^2)` entries;
* precision: Spark stores factors in float32 and solves in float64 (Cholesky); the course works
  in float64.

Usage::

    with spark_session() as spark:
        als = fit_spark_als(spark, train, n_factors=20, reg=0.1, n_epochs=15)
        als.test(test)                        # test rows + est (clipped), was_impossible
        evaluate_ratings(als, test)           # course_lib.evaluate: {'rmse': ..., 'mae': ...}
        als.top_k(test.user_id.unique(), 10)  # {user_id: [10 item_ids, best first]}, seen excluded

Reference: Y. Zhou, D. Wilkinson, R. Schreiber and R. Pan, "Large-Scale Parallel Collaborative
Filtering for the Netflix Prize", AAIM 2008 (ALS-WR); Y. Hu, Y. Koren and C. Volinsky,
"Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008; Apache Spark's
"Collaborative Filtering" guide (spark.apache.org/docs/latest/ml-collaborative-filtering.html).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..validation import check_finite_number, check_positive_int, check_ratings
from .spark import from_spark, jvm_cpu_seconds, to_spark

if TYPE_CHECKING:
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import SparkSession

__all__ = ["SparkALS", "fit_spark_als"]


@dataclass(eq=False)
class SparkALS:
    """A fitted Spark ALS with the course's vocabulary: ``test`` and ``top_k`` keyed by raw ids.

    Attributes
    ----------
    model : the ``pyspark.ml.recommendation.ALSModel`` (its ids are the inner indices below).
    params : the settings it was fitted with.
    user_ids, item_ids : raw id of each inner index, shapes ``(n_users,)`` and ``(n_items,)``.
    user_factors, item_factors : the factors collected from Spark as float64 arrays, shapes
        ``(n_users, f)`` and ``(n_items, f)`` (Spark computed them in float32).
    offset : added to every prediction (the training mean with ``center=True``, else 0).
    global_mean, rating_scale : of the training ratings (fallback for unknown ids; clipping).
    fit_seconds : wall-clock seconds of ``ALS.fit`` (Spark's jobs, not the hand-over from pandas).
    fit_cpu_seconds : CPU seconds the JVM spent in ``ALS.fit``, all threads (``None`` off Linux).
    """

    model: "ALSModel"
    params: dict[str, Any]
    user_ids: np.ndarray
    item_ids: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    offset: float
    global_mean: float
    rating_scale: tuple[float, float]
    fit_seconds: float
    fit_cpu_seconds: float | None
    _seen: sp.csr_matrix = field(repr=False)
    _spark: "SparkSession" = field(repr=False)

    def _codes(self, ids: np.ndarray, vocabulary: np.ndarray) -> np.ndarray:
        return pd.Index(vocabulary).get_indexer(ids)

    def test(self, ratings: pd.DataFrame, *, clip: bool = True) -> pd.DataFrame:
        """Predict every row of ``ratings`` (user_id, item_id[, rating]) with Spark's ``model.transform``.

        Returns a copy of ``ratings`` with ``est`` (clipped to the training rating scale when
        ``clip``, as the course's models do) and ``was_impossible`` (user or item unknown to
        training: Spark's cold-start prediction is NaN, replaced by the training mean).
        """
        check_ratings(ratings, name="test ratings", columns=("user_id", "item_id"), allow_duplicates=True)
        if self.params["implicit"]:
            raise ValueError("test() predicts ratings; an implicit ALS scores preferences: use top_k()")
        encoded = pd.DataFrame({
            "user_id": self._codes(ratings["user_id"].to_numpy(), self.user_ids),
            "item_id": self._codes(ratings["item_id"].to_numpy(), self.item_ids),
            "row": np.arange(len(ratings), dtype=np.int64).astype(np.int32),
        })
        predicted = from_spark(self.model.transform(to_spark(self._spark, encoded, ("user_id", "item_id", "row")))
                               .select("row", "prediction")).sort_values("row")
        est = predicted["prediction"].to_numpy(dtype=float) + self.offset
        impossible = ~np.isfinite(est)
        est = np.where(impossible, self.global_mean, est)
        if clip:
            est = np.clip(est, *self.rating_scale)
        out = ratings.copy()
        out["est"] = est
        out["was_impossible"] = impossible
        return out

    def score_items(self, user_ids) -> np.ndarray:
        """Scores :math:`p_u^\\top q_i` (+ offset) of every item for known users, shape ``(len(user_ids), n_items)``."""
        codes = self._codes(np.asarray(list(user_ids)), self.user_ids)
        if (codes < 0).any():
            raise KeyError(f"unknown user ids: {np.asarray(list(user_ids))[codes < 0][:5].tolist()}")
        return self.user_factors[codes] @ self.item_factors.T + self.offset

    def top_k(self, users, k: int = 10, *, exclude_seen: bool = True, batch_size: int = 512) -> dict:
        """``{user_id: [k item_ids, best first]}`` for the users known to training (others are left out).

        Scores every item with the collected factors (a matrix product, in batches of users) and
        leaves out each user's training items when ``exclude_seen``, as
        ``course_lib.evaluate.top_k`` does; ties go to the item seen first in training. (Spark's
        ``model.recommendForUserSubset`` ranks on the cluster but cannot leave out seen items.)
        """
        k = check_positive_int(k, "k")
        users = np.asarray(list(users))
        codes = self._codes(users, self.user_ids)
        known = codes >= 0
        out: dict = {}
        for start in range(0, int(known.sum()), batch_size):
            chunk = codes[known][start:start + batch_size]
            scores = self.user_factors[chunk] @ self.item_factors.T
            if exclude_seen:
                seen = self._seen[chunk].tocoo()
                scores[seen.row, seen.col] = -np.inf
            order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            for user, row, top in zip(users[known][start:start + batch_size].tolist(), scores, order):
                out[user] = self.item_ids[top[np.isfinite(row[top])]].tolist()
        return out


def _factors(frame, n: int, rank: int) -> np.ndarray:
    """Spark's ``userFactors``/``itemFactors`` (id, features) as an ``(n, rank)`` array indexed by id."""
    out = np.zeros((n, rank))
    for row in frame.collect():
        out[row["id"]] = row["features"]
    return out


def fit_spark_als(
    spark: "SparkSession",
    train: pd.DataFrame,
    *,
    n_factors: int = 20,
    reg: float = 0.1,
    n_epochs: int = 15,
    implicit: bool = False,
    alpha: float = 1.0,
    center: bool = False,
    nonnegative: bool = False,
    n_blocks: int = 2,
    random_state: int = 0,
) -> SparkALS:
    r"""Fit ``pyspark.ml.recommendation.ALS`` on training ratings (user_id, item_id, rating).

    Parameters
    ----------
    spark : a session from :func:`course_lib.distributed.spark.start_spark`.
    train : the training ratings; raw ids of any type (encoded to 0..n-1 for Spark, which needs 32-bit ints).
    n_factors : Spark's ``rank`` :math:`f`.
    reg : Spark's ``regParam`` :math:`\lambda`; Spark multiplies it by each user's (item's) number
        of ratings (ALS-WR), in both the explicit and the implicit model.
    n_epochs : Spark's ``maxIter`` (one iteration = users then items, as the course's epochs).
    implicit : Spark's ``implicitPrefs``; the ratings are then replaced by 1 (which items a user
        rated, as :class:`course_lib.models.ImplicitALS` reads them), so :math:`c_{ui} = 1 + \alpha`.
    alpha : the confidence scale :math:`\alpha` (implicit only).
    center : explicit only: fit :math:`r_{ui} - \mu` and add the training mean :math:`\mu` back (Spark has no biases).
    nonnegative : Spark's non-negative least squares (NNLS) instead of Cholesky.
    n_blocks : Spark's ``numUserBlocks`` and ``numItemBlocks`` (Spark's default, 10, is for clusters;
        the initial factors are drawn per block, so results depend on it).
    random_state : Spark's ``seed``.

    Returns
    -------
    :class:`SparkALS`; ``coldStartStrategy`` is ``"nan"`` and :meth:`SparkALS.test` replaces NaN by the mean.
    """
    from pyspark.ml.recommendation import ALS

    check_ratings(train, name="training ratings")
    n_factors = check_positive_int(n_factors, "n_factors")
    n_epochs = check_positive_int(n_epochs, "n_epochs")
    n_blocks = check_positive_int(n_blocks, "n_blocks")
    reg = check_finite_number(reg, "reg", minimum=0, strict=True)
    alpha = check_finite_number(alpha, "alpha", minimum=0)
    random_state = check_positive_int(random_state, "random_state", minimum=0)
    if center and implicit:
        raise ValueError("center=True shifts explicit ratings by their mean; an implicit ALS reads only which "
                         "items were rated: pass one of center=True, implicit=True")
    u_codes, user_ids = pd.factorize(train["user_id"], sort=False)
    i_codes, item_ids = pd.factorize(train["item_id"], sort=False)
    r = train["rating"].to_numpy(dtype=float)
    global_mean = float(r.mean())
    offset = global_mean if center else 0.0
    target = np.ones_like(r) if implicit else r - offset
    frame = pd.DataFrame({"user_id": u_codes.astype(np.int32), "item_id": i_codes.astype(np.int32), "rating": target})
    ratings = to_spark(spark, frame).cache()
    ratings.count()  # read the hand-over file now, so that fit_seconds times ALS alone
    als = ALS(rank=n_factors, maxIter=n_epochs, regParam=reg, implicitPrefs=implicit, alpha=alpha,
              nonnegative=nonnegative, numUserBlocks=n_blocks, numItemBlocks=n_blocks, seed=random_state,
              userCol="user_id", itemCol="item_id", ratingCol="rating", coldStartStrategy="nan",
              checkpointInterval=10)
    cpu_before, start = jvm_cpu_seconds(spark), time.perf_counter()
    model = als.fit(ratings)
    fit_seconds, cpu_after = time.perf_counter() - start, jvm_cpu_seconds(spark)
    fit_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    ratings.unpersist()
    n_users, n_items = len(user_ids), len(item_ids)
    seen = sp.csr_matrix((np.ones(len(r), dtype=np.int8), (u_codes, i_codes)), shape=(n_users, n_items))
    params = dict(n_factors=n_factors, reg=reg, n_epochs=n_epochs, implicit=implicit, alpha=alpha, center=center,
                  nonnegative=nonnegative, n_blocks=n_blocks, random_state=random_state)
    return SparkALS(
        model=model, params=params, user_ids=np.asarray(user_ids), item_ids=np.asarray(item_ids),
        user_factors=_factors(model.userFactors, n_users, n_factors),
        item_factors=_factors(model.itemFactors, n_items, n_factors),
        offset=offset, global_mean=global_mean, rating_scale=(float(r.min()), float(r.max())),
        fit_seconds=fit_seconds, fit_cpu_seconds=fit_cpu, _seen=seen, _spark=spark,
    )
