r"""The in-place Cholesky factorisation shared by the compiled normal-equation solvers.

Implicit ALS (:mod:`course_lib.models.implicit`) solves :math:`A x = b` for every user and item,
and Bayesian MF (:mod:`course_lib.models.bayesian`) draws from :math:`\mathcal N(A^{-1} b, A^{-1})`;
both start by factorising the small symmetric positive-definite :math:`A` (shape ``(k, k)``):

.. math::  A = L L^\top, \qquad
           L_{jj} = \sqrt{A_{jj} - \textstyle\sum_{m<j} L_{jm}^2}, \qquad
           L_{aj} = \bigl(A_{aj} - \textstyle\sum_{m<j} L_{am} L_{jm}\bigr) / L_{jj} \quad (a > j).

The function is inlined into its callers at Numba's IR level (``inline="always"``), so each caller
compiles it with its own flags (implicit ALS with ``fastmath``, Bayesian MF without): sharing the
source changes no bit of either. Numba's on-disk cache checks only the caller's file, so after
editing this one, clear the ``__pycache__`` folders of its callers (or touch their files).

Reference: G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., algorithm 4.2.1.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["cholesky_in_place"]


@numba.njit(cache=True, inline="always")
def cholesky_in_place(A, k):  # pragma: no cover - compiled
    """Overwrite the lower triangle of ``A[:k, :k]`` with :math:`L` (:math:`A = L L^\\top`); only the
    lower triangle is read. The upper triangle is left as it was."""
    for j in range(k):
        s = A[j, j]
        for m in range(j):
            s -= A[j, m] * A[j, m]
        d = np.sqrt(s)
        A[j, j] = d
        for a in range(j + 1, k):
            s = A[a, j]
            for m in range(j):
                s -= A[a, m] * A[j, m]
            A[a, j] = s / d
