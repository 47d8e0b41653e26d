r"""Spark's ALS objective on one machine, in NumPy: the reference Spark MLlib's ALS is checked against.

Spark's ALS (see :mod:`course_lib.distributed.spark_als`) minimises, without biases,

.. math::
    \sum_{(u,i) \in \mathcal K} c_{ui}\,(x_{ui} - p_u^\top q_i)^2
      + \lambda \Big(\sum_u n_u \lVert p_u \rVert^2 + \sum_i n_i \lVert q_i \rVert^2\Big)

explicit: :math:`x_{ui} = r_{ui}`, :math:`c_{ui} = 1`, the sum over the observed ratings
:math:`\mathcal K`; implicit (Hu et al. 2008): the sum over *every* cell, :math:`x_{ui} = 1` on
observed cells and 0 elsewhere, :math:`c_{ui} = 1 + \alpha` on observed cells and 1 elsewhere.
:math:`n_u` and :math:`n_i` count the observed ratings of the user and item (ALS-WR). Each
half-step solves, for every user at once (``Q_u``: the factors of the user's items, shape
:math:`n_u \times f`):

.. math::
    \text{explicit: } p_u = (Q_u^\top Q_u + \lambda n_u I)^{-1} Q_u^\top r_u, \qquad
    \text{implicit: } p_u = (Q^\top Q + \alpha Q_u^\top Q_u + \lambda n_u I)^{-1} (1 + \alpha) Q_u^\top \mathbf 1 .

The code shares nothing with Spark (float64 throughout, its own initialisation: Gaussian factor
vectors scaled to unit length, like Spark's but drawn by NumPy), so agreement after convergence
tests Spark's objective rather than its implementation.

Reference: Y. Zhou, D. Wilkinson, R. Schreiber and R. Pan, "Large-Scale Parallel Collaborative
Filtering for the Netflix Prize", AAIM 2008; Y. Hu, Y. Koren and C. Volinsky, ICDM 2008.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..validation import check_finite_number, check_positive_int, check_ratings

__all__ = ["ALSWRFactors", "als_wr"]


class ALSWRFactors(NamedTuple):
    """Fitted factors: ``user_ids`` ``(n_users,)`` and ``item_ids`` ``(n_items,)`` (raw ids, order of
    first appearance), ``P`` ``(n_users, f)``, ``Q`` ``(n_items, f)``; scores are ``P @ Q.T``."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    P: np.ndarray
    Q: np.ndarray


def _half_step(x: sp.csr_matrix, fixed: np.ndarray, reg: float, implicit: bool, alpha: float) -> np.ndarray:
    """Solve every row's regularised least squares given the other side's factors ``fixed``."""
    n, f = x.shape[0], fixed.shape[1]
    counts = np.diff(x.indptr)
    a = np.broadcast_to(fixed.T @ fixed if implicit else np.zeros((f, f)), (n, f, f)).copy()
    for row in range(n):
        q_u = fixed[x.indices[x.indptr[row]:x.indptr[row + 1]]]
        a[row] += (alpha if implicit else 1.0) * (q_u.T @ q_u)
    a += (reg * counts)[:, None, None] * np.eye(f)[None]
    b = (1.0 + alpha) * (x @ fixed) if implicit else x @ fixed  # x holds ones (implicit) or the ratings
    return np.linalg.solve(a, b[:, :, None])[:, :, 0]


def _unit_gaussian(rng: np.random.Generator, n: int, f: int) -> np.ndarray:
    z = rng.normal(size=(n, f))
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def als_wr(train: pd.DataFrame, *, n_factors: int = 10, reg: float = 0.1, n_epochs: int = 15,
           implicit: bool = False, alpha: float = 1.0, random_state: int = 0) -> ALSWRFactors:
    r"""Fit the ALS-WR objective above by alternating exact solves (users, then items, per epoch).

    Parameters mean what they mean in :func:`~course_lib.distributed.spark_als.fit_spark_als`;
    with ``implicit`` the rating values are ignored (every training pair counts as :math:`x_{ui} = 1`).
    """
    check_ratings(train, name="training ratings")
    f = check_positive_int(n_factors, "n_factors")
    n_epochs = check_positive_int(n_epochs, "n_epochs")
    reg = check_finite_number(reg, "reg", minimum=0, strict=True)
    alpha = check_finite_number(alpha, "alpha", minimum=0)
    u, user_ids = pd.factorize(train["user_id"])
    i, item_ids = pd.factorize(train["item_id"])
    values = np.ones(len(train)) if implicit else train["rating"].to_numpy(dtype=float)
    x = sp.csr_matrix((values, (u, i)), shape=(len(user_ids), len(item_ids)))
    xt = x.T.tocsr()
    rng = np.random.default_rng(random_state)
    p = _unit_gaussian(rng, len(user_ids), f)
    q = _unit_gaussian(rng, len(item_ids), f)
    for _ in range(n_epochs):
        p = _half_step(x, q, reg, implicit, alpha)
        q = _half_step(xt, p, reg, implicit, alpha)
    return ALSWRFactors(np.asarray(user_ids), np.asarray(item_ids), p, q)
