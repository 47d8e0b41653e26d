r"""Similarity between users (or items) computed over what they rated *in common*.

Every function takes a sparse rating matrix :math:`R` whose **rows are the things compared**
(users for user-based k-NN: ``data.matrix``; items for item-based: ``data.matrix.T``) and
returns a dense symmetric ``(n_rows, n_rows)`` array with ones on the diagonal.

For two rows :math:`a, b` let :math:`Y_{ab}` be the columns both rated (the co-ratings) and
:math:`n_{ab} = |Y_{ab}|` the *support*. All measures are built from a handful of sums over
:math:`Y_{ab}`, which in matrix form are products with the binary pattern :math:`B` of
:math:`R` (:math:`B_{xy} = 1` where :math:`R_{xy}` is stored):

.. math::
    n_{ab} = (B B^\top)_{ab}, \quad
    \textstyle\sum_{Y_{ab}} r_a r_b = (R R^\top)_{ab}, \quad
    \textstyle\sum_{Y_{ab}} r_a^2 = (R^{\circ 2} B^\top)_{ab}, \quad
    \textstyle\sum_{Y_{ab}} r_a = (R B^\top)_{ab}.

One Numba pass computes them for all pairs at once: for each row :math:`a`, for each column
:math:`y` it rated, for each later row :math:`b` that rated :math:`y` too, add to the pair's
sums; then apply the measure's formula. That costs :math:`\sum_y |U_y|^2/2` steps instead of
the :math:`|U|^2 |I|` of dense products, and adds every pair's terms in increasing :math:`y`,
exactly the order Surprise adds them: with integer (or half-integer) ratings the sums are
exact anyway, and for real-valued residuals (``pearson_baseline``) the results are
bit-identical too. That matters: a similarity one bit off can swap two tied neighbours and
change a prediction by 0.4.

Pairs with fewer than ``min_support`` co-ratings get similarity 0, as do pairs whose formula
has a zero denominator. The four measures of Surprise (``cosine``, ``msd``, ``pearson``,
``pearson_baseline``) are identical to Surprise's to the last bit; ``adjusted_cosine``
(Sarwar et al. 2001) is the course's addition.

References
----------
B. Sarwar, G. Karypis, J. Konstan, J. Riedl, "Item-based collaborative filtering recommendation
algorithms", WWW 2001. Y. Koren, "Factor in the Neighbors", ACM TKDD 4(1), 2010 (section 2.2).
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

from .validation import check_finite_number, check_positive_int

__all__ = ["SIMILARITIES", "adjusted_cosine", "binary_cosine", "cosine", "msd", "pearson", "pearson_baseline",
           "similarity_matrix"]

#: the names :func:`similarity_matrix` (and the k-NN models' ``sim`` parameter) accept
SIMILARITIES = ("cosine", "msd", "pearson", "pearson_baseline", "adjusted_cosine")


_MEASURE_CODE = {"cosine": 0, "msd": 1, "pearson": 2, "pearson_baseline": 3, "adjusted_cosine": 0}


@numba.njit(cache=True)
def _formula(measure, n, prod, sq_a, sq_b, sum_a, sum_b, sq_diff, shrinkage):  # pragma: no cover - compiled
    """One pair's similarity from its co-rating sums, with Surprise's exact arithmetic."""
    if measure == 0:                                     # cosine (of ratings or centred ratings)
        den = np.sqrt(sq_a * sq_b)
        return prod / den if den != 0 else 0.0
    if measure == 1:                                     # msd
        return 1 / (sq_diff / n + 1)
    if measure == 2:                                     # pearson
        num = n * prod - sum_a * sum_b
        den = np.sqrt((n * sq_a - sum_a ** 2) * (n * sq_b - sum_b ** 2))
        return num / den if den != 0 else 0.0
    den = np.sqrt(sq_a * sq_b)                           # pearson_baseline, shrunk
    rho = prod / den if den != 0 else 0.0
    return rho * ((n - 1) / (n - 1 + shrinkage))


@numba.njit(cache=True)
def _similarity_loop(row_ptr, row_col, row_val, col_ptr, col_row, col_val, n_rows, measure, min_support,
                     shrinkage):  # pragma: no cover - compiled
    sim = np.zeros((n_rows, n_rows))
    n = np.zeros(n_rows, dtype=np.int64)      # the sums of pair (a, b), for the current a and every b
    prod, sq_a, sq_b = np.zeros(n_rows), np.zeros(n_rows), np.zeros(n_rows)
    sum_a, sum_b, sq_diff = np.zeros(n_rows), np.zeros(n_rows), np.zeros(n_rows)
    cursor = col_ptr[:-1].copy()              # where row a sits in each column's (sorted) list of rows
    for a in range(n_rows):
        for p in range(row_ptr[a], row_ptr[a + 1]):       # the columns y that a rated, ascending
            y, va = row_col[p], row_val[p]
            cursor[y] += 1
            for q in range(cursor[y], col_ptr[y + 1]):    # the rows b > a that rated y too
                b, vb = col_row[q], col_val[q]
                n[b] += 1
                if measure == 1:                          # msd needs only the squared differences
                    sq_diff[b] += (va - vb) * (va - vb)
                else:
                    prod[b] += va * vb
                    sq_a[b] += va * va
                    sq_b[b] += vb * vb
                    if measure == 2:                      # pearson also needs the plain sums
                        sum_a[b] += va
                        sum_b[b] += vb
        sim[a, a] = 1.0
        for b in range(a + 1, n_rows):
            if n[b] >= min_support:
                s = _formula(measure, n[b], prod[b], sq_a[b], sq_b[b], sum_a[b], sum_b[b], sq_diff[b], shrinkage)
                sim[a, b] = s
                sim[b, a] = s
            n[b] = 0
            prod[b] = sq_a[b] = sq_b[b] = sum_a[b] = sum_b[b] = sq_diff[b] = 0.0
    return sim


def _as_csr(R) -> sp.csr_matrix:
    if not sp.issparse(R):
        R = sp.csr_matrix(np.asarray(R, dtype=float))
    R = sp.csr_matrix(R, dtype=np.float64, copy=True)
    R.sum_duplicates()  # also sorts the column indices
    return R


def _similarity(R, name: str, min_support: int, values=None, shrinkage: float = 0.0) -> np.ndarray:
    r"""Run the one-pass co-rating loop for measure ``name`` on the rows of ``R``.

    For each row :math:`a`, for each column :math:`y` it rated (ascending), for each later row
    :math:`b > a` that rated :math:`y` too, add to the pair's sums (``n``, :math:`\sum v_a v_b`,
    :math:`\sum v_a^2`, ...); then turn row :math:`a`'s sums into similarities. Every pair's terms
    are added in increasing :math:`y`, Surprise's order. ``values`` (aligned with ``R``'s stored
    entries in sorted CSR order) replaces the ratings, e.g. by centred ratings.
    Cost: :math:`\sum_y |U_y|^2 / 2` steps, where :math:`|U_y|` is the number of rows that rated :math:`y`.
    """
    min_support = check_positive_int(min_support, "min_support")
    V = _as_csr(R)
    if values is not None:
        V = sp.csr_matrix((np.asarray(values, dtype=np.float64), V.indices, V.indptr), shape=V.shape)
    C = V.tocsc()
    C.sort_indices()
    i64 = np.int64
    return _similarity_loop(V.indptr.astype(i64), V.indices.astype(i64), V.data, C.indptr.astype(i64),
                            C.indices.astype(i64), C.data, V.shape[0], _MEASURE_CODE[name], min_support,
                            float(shrinkage))


def cosine(R, min_support: int = 1) -> np.ndarray:
    r"""Cosine similarity of raw ratings over the co-ratings.

    .. math:: \operatorname{cos}(a, b) = \frac{\sum_{y \in Y_{ab}} r_{ay} r_{by}}
              {\sqrt{\sum_{y \in Y_{ab}} r_{ay}^2 \cdot \sum_{y \in Y_{ab}} r_{by}^2}}
    """
    return _similarity(R, "cosine", min_support)


def msd(R, min_support: int = 1) -> np.ndarray:
    r"""Mean-squared-difference similarity: one over one plus the mean squared difference.

    .. math:: \operatorname{msd}(a, b) = \frac{1}{n_{ab}} \sum_{y \in Y_{ab}} (r_{ay} - r_{by})^2,
              \qquad \operatorname{sim}(a, b) = \frac{1}{\operatorname{msd}(a, b) + 1}

    Identical users over their co-ratings get 1; the similarity is always positive.
    """
    return _similarity(R, "msd", min_support)


def pearson(R, min_support: int = 1) -> np.ndarray:
    r"""Pearson correlation over the co-ratings, each side centred by its mean *over the co-ratings*.

    .. math:: \rho(a, b) = \frac{\sum_{Y_{ab}} (r_{ay} - \bar r_a)(r_{by} - \bar r_b)}
              {\sqrt{\sum_{Y_{ab}} (r_{ay} - \bar r_a)^2 \sum_{Y_{ab}} (r_{by} - \bar r_b)^2}}
              = \frac{n \sum r_a r_b - \sum r_a \sum r_b}
              {\sqrt{(n \sum r_a^2 - (\sum r_a)^2)(n \sum r_b^2 - (\sum r_b)^2)}}

    with :math:`n = n_{ab}`. The right-hand form (Surprise's) only needs the sums, exact for
    integer ratings. A zero denominator (a constant side) gives 0.
    """
    return _similarity(R, "pearson", min_support)


def pearson_baseline(R, global_mean: float, b_rows: np.ndarray, b_cols: np.ndarray, min_support: int = 1,
                     shrinkage: float = 100) -> np.ndarray:
    r"""Pearson correlation of baseline residuals, shrunk towards 0 when the support is small.

    With the baseline :math:`b_{xy} = \mu + b_x + b_y` (e.g. from
    :func:`course_lib.models.baselines.baseline_als`):

    .. math:: \hat\rho_{ab} = \frac{\sum_{Y_{ab}} (r_{ay} - b_{ay})(r_{by} - b_{by})}
              {\sqrt{\sum_{Y_{ab}} (r_{ay} - b_{ay})^2 \sum_{Y_{ab}} (r_{by} - b_{by})^2}},
              \qquad \operatorname{sim}(a, b) = \frac{n_{ab} - 1}{n_{ab} - 1 + \lambda}\,\hat\rho_{ab}

    where :math:`\lambda` is ``shrinkage`` (Koren 2010, eq. 2). Pairs need at least 2
    co-ratings (``min_support`` is raised to 2, as in Surprise).
    """
    V = _as_csr(R)
    b_rows, b_cols = np.asarray(b_rows, dtype=np.float64), np.asarray(b_cols, dtype=np.float64)
    rows = np.repeat(np.arange(V.shape[0]), np.diff(V.indptr))
    residual = V.data - ((global_mean + b_cols[V.indices]) + b_rows[rows])  # Surprise's grouping
    min_support = max(2, check_positive_int(min_support, "min_support"))
    shrinkage = check_finite_number(shrinkage, "shrinkage", minimum=0)
    return _similarity(V, "pearson_baseline", min_support, residual, shrinkage)


def adjusted_cosine(R, min_support: int = 1) -> np.ndarray:
    r"""Cosine of ratings centred by the mean of the *other* side (Sarwar et al. 2001).

    For item-based k-NN (rows = items, columns = users) each rating is centred by its user's
    mean :math:`\bar r_u` over all their ratings, which removes each user's generosity:

    .. math:: \operatorname{adjcos}(i, j) = \frac{\sum_{u \in U_{ij}} (r_{ui} - \bar r_u)(r_{uj} - \bar r_u)}
              {\sqrt{\sum_{u \in U_{ij}} (r_{ui} - \bar r_u)^2 \sum_{u \in U_{ij}} (r_{uj} - \bar r_u)^2}}

    For user-based k-NN it is the mirror image (ratings centred by item means). Unlike Pearson,
    the centre is the same for both rows and does not depend on the pair.
    """
    V = _as_csr(R)
    counts = np.bincount(V.indices, minlength=V.shape[1])
    col_mean = np.bincount(V.indices, weights=V.data, minlength=V.shape[1]) / np.maximum(counts, 1)
    return _similarity(V, "adjusted_cosine", min_support, V.data - col_mean[V.indices])


def similarity_matrix(R, name: str = "msd", *, min_support: int = 1, shrinkage: float = 100,
                      baseline: tuple[float, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Dispatch by name: one of :data:`SIMILARITIES`.

    ``baseline = (global_mean, b_rows, b_cols)`` is required for ``"pearson_baseline"``.
    """
    if name not in SIMILARITIES:
        raise ValueError(f"unknown similarity {name!r}: choose one of {', '.join(map(repr, SIMILARITIES))}")
    min_support = check_positive_int(min_support, "min_support")
    if name == "pearson_baseline":
        if baseline is None:
            raise ValueError("pearson_baseline needs baseline=(global_mean, b_rows, b_cols)")
        shrinkage = check_finite_number(shrinkage, "shrinkage", minimum=0)
        return pearson_baseline(R, *baseline, min_support=min_support, shrinkage=shrinkage)
    return {"cosine": cosine, "msd": msd, "pearson": pearson, "adjusted_cosine": adjusted_cosine}[name](R, min_support)


def binary_cosine(x, shrinkage: float = 0.0) -> np.ndarray:
    r"""Item-item cosine on *who* interacted (implicit feedback), the one used by every item-based ranker.

    With :math:`X \in \{0,1\}^{|U| \times |I|}` the binary interaction matrix (any stored value
    counts as 1) and :math:`c_{ij} = x_{\cdot i}^\top x_{\cdot j}` the number of users of both:

    .. math::  s_{ij} = \frac{c_{ij}}{\lVert x_{\cdot i} \rVert\, \lVert x_{\cdot j} \rVert + \beta + 10^{-12}}, \qquad s_{ii} = 0

    :math:`\beta` (``shrinkage``) pulls similarities built on few co-occurrences towards 0; the
    :math:`10^{-12}` keeps items nobody interacted with at 0. Unlike :func:`cosine` it looks at the
    whole columns, not only at co-ratings (on binary data the two differ). Dense ``(n_items, n_items)``.
    Used by ``ItemKNN``, ``LastItemKNN`` and the explanations of ``MovieRecommender``.
    """
    beta = check_finite_number(shrinkage, "shrinkage", minimum=0)
    b = sp.csr_matrix(x, dtype=np.float64, copy=True)
    b.data[:] = 1.0
    co = (b.T @ b).toarray()
    norms = np.sqrt(np.diag(co))
    sim = co / (np.outer(norms, norms) + beta + 1e-12)
    np.fill_diagonal(sim, 0.0)
    return sim
