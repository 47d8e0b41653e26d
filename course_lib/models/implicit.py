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

import numpy as np
import scipy.sparse as sp

from ..interactions import Interactions
from ..similarities import binary_cosine
from ..validation import check_finite_number, check_positive_int, check_random_state
from .base import Recommender

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
        u, i = np.asarray(u, dtype=np.int64), np.asarray(i, dtype=np.int64)
        impossible = (u < 0) | (i < 0)
        est = np.zeros(len(u))
        ok = ~impossible
        if ok.any():
            users, inverse = np.unique(u[ok], return_inverse=True)
            est[ok] = self._scores(users)[inverse, i[ok]]
        return est, impossible


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


class ImplicitALS(_ScoreModel):
    r"""Implicit ALS / weighted matrix factorisation (Hu, Koren and Volinsky 2008).

    Every (user, item) cell counts: preference :math:`p_{ui} = x_{ui}` with confidence
    :math:`c_{ui} = 1 + \alpha x_{ui}`, and the model minimises

    .. math::
        \sum_{u, i} c_{ui} (p_{ui} - p_u^\top q_i)^2 + \lambda \Big(\sum_u \lVert p_u\rVert^2
        + \sum_i \lVert q_i\rVert^2\Big)

    by alternating exact least-squares solves. For user :math:`u` with items :math:`I_u`
    (:math:`Q_u` their factors, shape :math:`|I_u| \times f`):

    .. math::  p_u = \big(Q^\top Q + \alpha Q_u^\top Q_u + \lambda I\big)^{-1} (1 + \alpha) Q_u^\top \mathbf 1

    (the :math:`Q^\top Q` trick: the unobserved cells are never enumerated), and symmetrically
    for items.

    Parameters
    ----------
    n_factors : :math:`f` (32-64).
    alpha : confidence scale :math:`\alpha`.
    reg : :math:`\lambda`.
    n_epochs : alternating sweeps (users then items).
    init_std_dev : standard deviation of the initial factors.
    random_state : seed of the initial factors.

    Attributes
    ----------
    user_factors_ : shape ``(n_users, n_factors)``.  item_factors_ : shape ``(n_items, n_factors)``.

    References
    ----------
    Y. Hu, Y. Koren and C. Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008.
    """

    def __init__(self, n_factors: int = 32, alpha: float = 3.0, reg: float = 30.0, n_epochs: int = 15,
                 init_std_dev: float = 0.01, random_state: int | None = 0):
        self.n_factors = n_factors
        self.alpha = alpha
        self.reg = reg
        self.n_epochs = n_epochs
        self.init_std_dev = init_std_dev
        self.random_state = random_state

    @staticmethod
    def _solve(x: sp.csr_matrix, fixed: np.ndarray, alpha: float, reg: float) -> np.ndarray:
        """Exact least-squares solve of every row of ``x`` given the other side's factors ``fixed``."""
        f = fixed.shape[1]
        gram = fixed.T @ fixed + reg * np.eye(f)
        n = x.shape[0]
        a = np.broadcast_to(gram, (n, f, f)).copy()
        for row in range(n):  # alpha * Q_u^T Q_u for each row's items (small f x f products)
            q_u = fixed[x.indices[x.indptr[row]:x.indptr[row + 1]]]
            a[row] += alpha * (q_u.T @ q_u)
        b = (1.0 + alpha) * (x @ fixed)
        return np.linalg.solve(a, b[:, :, None])[:, :, 0]

    def _fit(self, data: Interactions, validation=None) -> None:
        f = check_positive_int(self.n_factors, "n_factors")
        alpha = check_finite_number(self.alpha, "alpha", minimum=0)
        reg = check_finite_number(self.reg, "reg", minimum=0, strict=True)
        n_epochs = check_positive_int(self.n_epochs, "n_epochs")
        std = check_finite_number(self.init_std_dev, "init_std_dev", minimum=0, strict=True)
        rng = check_random_state(self.random_state)
        x = binary_matrix(data)
        xt = x.T.tocsr()
        p = rng.normal(0, std, (data.n_users, f))
        q = rng.normal(0, std, (data.n_items, f))
        for _ in range(n_epochs):
            p = self._solve(x, q, alpha, reg)
            q = self._solve(xt, p, alpha, reg)
        self.user_factors_, self.item_factors_ = p, q

    def _scores(self, users):
        return self.user_factors_[np.asarray(users)] @ self.item_factors_.T
