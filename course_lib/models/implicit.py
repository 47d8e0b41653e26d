r"""Strong simple baselines for implicit feedback (top-k ranking): item-kNN, implicit ALS, EASE.

All three read only *which* items a user interacted with: the binary matrix
:math:`X \in \{0, 1\}^{|U| \times |I|}` with :math:`x_{ui} = 1` if user :math:`u` rated item
:math:`i` in training (the rating value is ignored). They score every item at once
(``_scores``), so :meth:`~course_lib.models.base.Recommender.recommend` and the ranking
protocols in :mod:`course_lib.evaluate` work unchanged. Their scores are not ratings:
``predict`` returns the raw score, unclipped.

Any neural recommender has to be measured against these (Dacrema et al., RecSys 2019):
on MovieLens 100K, EASE, a closed-form model fitted in a fraction of a second, matches the
best published neural results.
"""

from __future__ import annotations

import numbers

import numba
import numpy as np
import scipy.sparse as sp

from ..compat import FASTMATH
from ..interactions import Interactions
from ..similarities import binary_cosine
from ..validation import check_finite_number, check_positive_int, check_random_state
from .base import Recommender, estimate_known_pairs, pairs_from_scores
from .cholesky import cholesky_in_place

__all__ = ["EASE", "ImplicitALS", "ItemKNN", "binary_matrix"]


def binary_matrix(data: Interactions) -> sp.csr_matrix:
    """The binary interaction matrix :math:`X`, shape ``(n_users, n_items)``, float64 CSR."""
    x = data.matrix.copy()
    x.data = np.ones_like(x.data)
    return x


class _ScoreModel(Recommender):
    """A ranking model: ``_estimate`` reads the score matrix; no clipping to the rating scale."""

    _predicts_ratings = False

    def _estimate(self, u, i):
        return estimate_known_pairs(u, i, pairs_from_scores(self._scores))


class ItemKNN(_ScoreModel):
    r"""Item-based k-NN for implicit feedback: cosine similarity on the binary matrix.

    .. math::
        s_{ij} = \frac{x_{\cdot i}^\top x_{\cdot j}}{\lVert x_{\cdot i}\rVert\,\lVert x_{\cdot j}\rVert},
        \qquad \text{score}(u, j) = \sum_{i \in I_u \cap N_k(j)} s_{ij}

    where :math:`N_k(j)` are the ``k`` items most similar to :math:`j` (itself excluded); the
    similarity is :func:`course_lib.similarities.binary_cosine`.

    Parameters
    ----------
    k : neighbours kept per item (400 is the measured best on MovieLens 100K).
    shrinkage : added to the denominator of the cosine (0 = plain cosine).

    Attributes
    ----------
    similarity_ : pruned item-item similarities, dense, shape ``(n_items, n_items)``; column
        :math:`j` holds the ``k`` neighbours of item :math:`j`.

    References
    ----------
    M. Deshpande and G. Karypis, "Item-based top-N recommendation algorithms", ACM TOIS 22(1), 2004.
    """

    def __init__(self, k: int = 400, shrinkage: float = 0.0):
        self.k = k
        self.shrinkage = shrinkage

    def _fit(self, data: Interactions, validation=None) -> None:
        k = check_positive_int(self.k, "k")
        x = binary_matrix(data)
        sim = binary_cosine(x, self.shrinkage)
        if k < data.n_items - 1:
            # keep the k largest entries of every column (ties: lower index first)
            order = np.argsort(-sim, axis=0, kind="stable")
            drop = order[k:]
            sim[drop, np.arange(data.n_items)[None, :]] = 0.0
        self.similarity_ = sim
        self.x_ = x

    def _scores(self, users):
        return np.asarray(self.x_[np.asarray(users)] @ self.similarity_)


class EASE(_ScoreModel):
    r"""EASE: an item-item linear model with a closed-form solution (Steck 2019).

    It minimises :math:`\lVert X - XB\rVert_F^2 + \lambda \lVert B\rVert_F^2` subject to
    :math:`\operatorname{diag}(B) = 0`. With :math:`P = (X^\top X + \lambda I)^{-1}`:

    .. math::  B = I - P \,\operatorname{diag}(1 / \operatorname{diag}(P)), \qquad
               \text{score}(u, \cdot) = x_u B

    i.e. :math:`B_{ij} = -P_{ij} / P_{jj}` off the diagonal and :math:`B_{jj} = 0`.

    Parameters
    ----------
    lam : the L2 penalty :math:`\lambda` (250-750 on MovieLens 100K; choose it on validation).

    Attributes
    ----------
    B_ : the item-item weights, shape ``(n_items, n_items)``, zero diagonal.

    References
    ----------
    H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019.
    """

    def __init__(self, lam: float = 500.0):
        self.lam = lam

    def _fit(self, data: Interactions, validation=None) -> None:
        lam = check_finite_number(self.lam, "lam", minimum=0, strict=True)
        x = binary_matrix(data)
        g = (x.T @ x).toarray()
        g[np.diag_indices_from(g)] += lam
        p = np.linalg.inv(g)
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        self.B_ = b
        self.x_ = x

    def _scores(self, users):
        return np.asarray(self.x_[np.asarray(users)] @ self.B_)


# ---------------------------------------------------------------------------------------------
# Implicit ALS: the per-row solvers (compiled)
# ---------------------------------------------------------------------------------------------
@numba.njit(cache=True, fastmath=True)
def _exact_row(indptr, indices, Y, G, alpha, scale, zero, row, x, A, b, extra):  # pragma: no cover - compiled
    """Solve row ``row``'s normal equations exactly (Cholesky) into ``x``; ``A``, ``b`` are buffers.

    ``alpha``, ``scale`` (:math:`1 + \\alpha`) and ``zero`` come in the factors' dtype, so that a float32
    model computes in float32. ``extra`` (per row, or empty) is added to the diagonal of ``G``: the
    row's penalty minus the one already in ``G``."""
    f = Y.shape[1]
    for a in range(f):
        for c in range(a + 1):
            A[a, c] = G[a, c]
        b[a] = zero
    if len(extra) > 0:
        for a in range(f):
            A[a, a] += extra[row]
    for q in range(indptr[row], indptr[row + 1]):
        y = Y[indices[q]]
        for a in range(f):
            ya = alpha * y[a]
            for c in range(a + 1):  # the lower triangle of alpha * y y^T
                A[a, c] += ya * y[c]
            b[a] += y[a]
    cholesky_in_place(A, f)  # A = L L^T, L in the lower triangle of A
    for a in range(f):  # L z = (1 + alpha) b
        s = scale * b[a]
        for k in range(a):
            s -= A[a, k] * x[k]
        x[a] = s / A[a, a]
    for a in range(f - 1, -1, -1):  # L^T x = z
        s = x[a]
        for k in range(a + 1, f):
            s -= A[k, a] * x[k]
        x[a] = s / A[a, a]


@numba.njit(cache=True, fastmath=FASTMATH)  # not fastmath=True: see course_lib.compat.FASTMATH
def _cg_row(indptr, indices, Y, G, alpha, scale, zero, row, x, steps, r, p, Ap, extra):  # pragma: no cover - compiled
    """``steps`` conjugate-gradient steps on row ``row``'s normal equations, from the current ``x``
    (``extra`` as in :func:`_exact_row`)."""
    f = Y.shape[1]
    start, end = indptr[row], indptr[row + 1]
    if start == end:
        x[:] = zero
        return
    for a in range(f):  # r = b - A x, with A x = G x + alpha sum_i (y_i . x) y_i
        s = zero
        for c in range(f):
            s += G[a, c] * x[c]
        r[a] = -s
    if len(extra) > 0:
        for a in range(f):
            r[a] -= extra[row] * x[a]
    for q in range(start, end):
        y = Y[indices[q]]
        d = zero
        for a in range(f):
            d += y[a] * x[a]
        coef = scale - alpha * d
        for a in range(f):
            r[a] += coef * y[a]
    rs_old = zero
    for a in range(f):
        p[a] = r[a]
        rs_old += r[a] * r[a]
    if rs_old < 1e-20:
        return
    for _ in range(steps):
        for a in range(f):  # Ap = G p + alpha sum_i (y_i . p) y_i
            s = zero
            for c in range(f):
                s += G[a, c] * p[c]
            Ap[a] = s
        if len(extra) > 0:
            for a in range(f):
                Ap[a] += extra[row] * p[a]
        for q in range(start, end):
            y = Y[indices[q]]
            d = zero
            for a in range(f):
                d += y[a] * p[a]
            d *= alpha
            for a in range(f):
                Ap[a] += d * y[a]
        pap = zero
        for a in range(f):
            pap += p[a] * Ap[a]
        step = rs_old / pap
        rs_new = zero
        for a in range(f):
            x[a] += step * p[a]
            r[a] -= step * Ap[a]
            rs_new += r[a] * r[a]
        if rs_new < 1e-20:
            return
        beta = rs_new / rs_old
        for a in range(f):
            p[a] = r[a] + beta * p[a]
        rs_old = rs_new


#: rows solved by one task of :func:`_als_half` (one set of buffers per task)
_ROWS_PER_TASK = 64


@numba.njit(cache=True, parallel=True)
def _als_half(indptr, indices, Y, G, alpha, scale, zero, X, cg_steps, extra):  # pragma: no cover - compiled
    """Update every row of ``X`` given ``Y``: exact solves (``cg_steps == 0``) or ``cg_steps`` CG steps.

    ``extra``: each row's penalty beyond the one in ``G`` (length ``n_rows``), or empty (every row ``G``'s).

    The rows are cut into fixed tasks of :data:`_ROWS_PER_TASK` shared among Numba's threads; each row
    is computed by the same compiled code whatever the number of threads, so the result is identical
    with one thread or many."""
    f = Y.shape[1]
    n_rows = len(indptr) - 1
    n_tasks = (n_rows + _ROWS_PER_TASK - 1) // _ROWS_PER_TASK
    for task in numba.prange(n_tasks):
        A, b = np.empty((f, f), Y.dtype), np.empty(f, Y.dtype)
        r, p, Ap = np.empty(f, Y.dtype), np.empty(f, Y.dtype), np.empty(f, Y.dtype)
        for row in range(task * _ROWS_PER_TASK, min(n_rows, (task + 1) * _ROWS_PER_TASK)):
            if cg_steps == 0:
                _exact_row(indptr, indices, Y, G, alpha, scale, zero, row, X[row], A, b, extra)
            else:
                _cg_row(indptr, indices, Y, G, alpha, scale, zero, row, X[row], cg_steps, r, p, Ap, extra)


class ImplicitALS(_ScoreModel):
    r"""Implicit ALS / weighted matrix factorisation (Hu, Koren and Volinsky 2008), exact or conjugate-gradient solves.

    Every (user, item) cell counts: preference :math:`p_{ui} = x_{ui}` with confidence
    :math:`c_{ui} = 1 + \alpha x_{ui}`, and the model minimises

    .. math::
        \sum_{u, i} c_{ui} (p_{ui} - p_u^\top q_i)^2 + \lambda \Big(\sum_u \lVert p_u\rVert^2
        + \sum_i \lVert q_i\rVert^2\Big)

    by alternating least squares. For user :math:`u` with items :math:`I_u` (:math:`Q_u` their
    factors, shape :math:`|I_u| \times f`) the items fixed give a ridge regression whose normal
    equations are

    .. math::
        A_u p_u = b_u, \qquad A_u = Q^\top Q + \lambda I + \alpha Q_u^\top Q_u, \qquad
        b_u = (1 + \alpha) Q_u^\top \mathbf 1

    (the :math:`Q^\top Q` trick: :math:`Q^\top Q` is computed once per sweep, so the unobserved
    cells are never enumerated), and symmetrically for the items. Two solvers:

    ``solver="exact"``
        builds :math:`A_u` (:math:`O(|I_u| f^2)`) and solves it by Cholesky (:math:`O(f^3/3)`).
    ``solver="cg"``
        ``cg_steps`` steps of the conjugate gradient method on the same system, started from the
        previous sweep's :math:`p_u` (Takács, Pilászy and Tikk 2011). :math:`A_u` is never formed:
        a step needs one product :math:`A_u d = Q^\top Q d + \alpha Q_u^\top (Q_u d)`, i.e.
        :math:`O(f^2 + |I_u| f)`. With :math:`r = b_u - A_u p_u` and :math:`d = r` initially, each step is

        .. math::
            \gamma = \frac{r^\top r}{d^\top A_u d}, \quad p_u \leftarrow p_u + \gamma d, \quad
            r' = r - \gamma A_u d, \quad d \leftarrow r' + \frac{r'^\top r'}{r^\top r} d .

        A few steps per sweep suffice because each sweep starts close to the solution; the model
        stays within about 1e-3 of the exact one in NDCG (``tests/test_implicit.py``).

    Both run compiled (Numba, ``fastmath``: the sums are reordered for SIMD, so the digits are those
    of the pinned numeric profile; the exact solver agrees with ``np.linalg.solve`` to ~1e-12).

    Compared with the ``implicit`` library: its ``alpha`` is the confidence itself
    (:math:`c_{ui} = \alpha_{\text{implicit}} x_{ui}`, its default solver is CG with 3 steps, float32), so
    ``ImplicitALS(alpha=a)`` is ``implicit.als.AlternatingLeastSquares(alpha=a + 1)``.

    Parameters
    ----------
    n_factors : :math:`f` (32-64).
    alpha : confidence scale :math:`\alpha` (>= 0).
    reg : :math:`\lambda` (> 0).
    n_epochs : alternating sweeps (users then items).
    reg_exponent : :math:`\nu` (>= 0) of the frequency-scaled penalty (Rendle et al. 2022): user
        :math:`u` is penalised by :math:`\lambda_u = \lambda (1 + \alpha |I_u| / |I|)^{\nu}` and item
        :math:`i` by :math:`\lambda (1 + \alpha |U_i| / |U|)^{\nu}`, i.e. :math:`\lambda` times the row's
        total confidence :math:`\sum_i c_{ui} = |I| + \alpha |I_u|` to the power :math:`\nu`, divided by
        that of an empty row. 0 (default): the same :math:`\lambda` for every row (Hu et al.); 1: the
        penalty grows with the row's data, so heavy users and popular items are shrunk as much as the
        rest relative to their data term. Only the diagonal added to :math:`A_u` changes.
    init_std_dev : standard deviation of the initial (normal) factors.
    solver : ``"exact"`` (default) or ``"cg"``.
    cg_steps : conjugate-gradient steps per row and sweep (``solver="cg"``; 3 as ``implicit``).
    dtype : ``"float64"`` (default) or ``"float32"`` (``implicit``'s choice: twice the SIMD width and
        half the memory traffic, about 1.5x faster; NDCG@10 within ~1e-3 on MovieLens 100K).
    n_jobs : threads for the row solves (1: one thread; -1: all of Numba's threads). Rows are
        independent, so the result does not depend on it.
    random_state : seed of the initial factors.

    Attributes
    ----------
    user_factors_ : shape ``(n_users, n_factors)``.  item_factors_ : shape ``(n_items, n_factors)``.

    References
    ----------
    Y. Hu, Y. Koren and C. Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008.
    G. Takács, I. Pilászy and D. Tikk, "Applications of the conjugate gradient method for implicit
    feedback collaborative filtering", RecSys 2011.
    S. Rendle, W. Krichene, L. Zhang and Y. Koren, "Revisiting the Performance of iALS on Item
    Recommendation Benchmarks", RecSys 2022 (the frequency-scaled penalty of ``reg_exponent``).
    """

    def __init__(self, n_factors: int = 32, alpha: float = 3.0, reg: float = 30.0, n_epochs: int = 15,
                 init_std_dev: float = 0.01, *, reg_exponent: float = 0.0, solver: str = "exact", cg_steps: int = 3,
                 dtype: str = "float64", n_jobs: int = 1, random_state: int | None = 0):
        self.n_factors = n_factors
        self.alpha = alpha
        self.reg = reg
        self.n_epochs = n_epochs
        self.reg_exponent = reg_exponent
        self.init_std_dev = init_std_dev
        self.solver = solver
        self.cg_steps = cg_steps
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state

    @staticmethod
    def _solve(x: sp.csr_matrix, fixed: np.ndarray, alpha: float, reg) -> np.ndarray:
        """The textbook exact solve in NumPy (every row's system built, then ``np.linalg.solve``):
        the reference the compiled solvers are tested against. ``reg``: one penalty, or one per row."""
        f = fixed.shape[1]
        gram = fixed.T @ fixed
        n = x.shape[0]
        a = np.broadcast_to(gram, (n, f, f)).copy()
        a[:, np.arange(f), np.arange(f)] += np.broadcast_to(np.asarray(reg, float), (n,))[:, None]
        for row in range(n):  # alpha * Q_u^T Q_u for each row's items (small f x f products)
            q_u = fixed[x.indices[x.indptr[row]:x.indptr[row + 1]]]
            a[row] += alpha * (q_u.T @ q_u)
        b = (1.0 + alpha) * (x @ fixed)
        return np.linalg.solve(a, b[:, :, None])[:, :, 0]

    def _check_solver(self) -> tuple[int, int]:
        """``(cg_steps, threads)``: 0 CG steps means the exact solve."""
        if self.solver not in ("exact", "cg"):
            raise ValueError(f"solver must be 'exact' or 'cg', got {self.solver!r}")
        steps = check_positive_int(self.cg_steps, "cg_steps") if self.solver == "cg" else 0
        if isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, numbers.Integral) or \
                (self.n_jobs < 1 and self.n_jobs != -1):
            raise ValueError(f"n_jobs must be a positive int (threads) or -1 (all), got {self.n_jobs!r}")
        threads = numba.config.NUMBA_NUM_THREADS if self.n_jobs == -1 else min(int(self.n_jobs),
                                                                              numba.config.NUMBA_NUM_THREADS)
        return steps, threads

    def _fit(self, data: Interactions, validation=None) -> None:
        f = check_positive_int(self.n_factors, "n_factors")
        alpha = check_finite_number(self.alpha, "alpha", minimum=0)
        reg = check_finite_number(self.reg, "reg", minimum=0, strict=True)
        n_epochs = check_positive_int(self.n_epochs, "n_epochs")
        nu = check_finite_number(self.reg_exponent, "reg_exponent", minimum=0)
        std = check_finite_number(self.init_std_dev, "init_std_dev", minimum=0, strict=True)
        steps, threads = self._check_solver()
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")
        dt = np.dtype(self.dtype).type
        rng = check_random_state(self.random_state)
        x = binary_matrix(data)
        xt = x.T.tocsr()
        p = rng.normal(0, std, (data.n_users, f)).astype(dt)
        q = rng.normal(0, std, (data.n_items, f)).astype(dt)
        scalars = (dt(alpha), dt(1.0 + alpha), dt(0.0))
        sides = [(x.indptr.astype(np.int64), x.indices.astype(np.int64)),
                 (xt.indptr.astype(np.int64), xt.indices.astype(np.int64))]
        if nu == 0:  # one penalty for all rows: it is in the Gram matrix
            extra = [np.empty(0, dt), np.empty(0, dt)]
        else:  # lambda_u - lambda, added to each row's diagonal
            counts = [np.diff(x.indptr) / data.n_items, np.diff(xt.indptr) / data.n_users]
            extra = [(reg * ((1.0 + alpha * c) ** nu - 1.0)).astype(dt) for c in counts]
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            eye = (reg * np.eye(f)).astype(dt)
            for _ in range(n_epochs):
                _als_half(*sides[0], q, q.T @ q + eye, *scalars, p, steps, extra[0])
                _als_half(*sides[1], p, p.T @ p + eye, *scalars, q, steps, extra[1])
        finally:
            numba.set_num_threads(previous)
        self.user_factors_, self.item_factors_ = p, q

    def _scores(self, users):
        return self.user_factors_[np.asarray(users)] @ self.item_factors_.T
