r"""Bayesian matrix factorisation with biases, sampled by Gibbs sampling (BPMF, Salakhutdinov & Mnih 2008).

The model is biased matrix factorisation (:class:`~course_lib.models.factorization.BiasedMF`'s
:math:`\hat r_{ui} = \mu + b_u + b_i + q_i^\top p_u`) made Bayesian: instead of one point estimate
of the parameters, a Markov chain draws samples from their posterior, and the prediction is the
average of the samples' predictions. Regularisation is not tuned by hand: the priors' means and
covariances are themselves drawn from their posteriors (Normal-Wishart hyperpriors), so every
user and item direction gets the shrinkage the data support.

Write :math:`x_u = (p_u, b_u) \in \mathbb{R}^{k+1}` and :math:`v_i = (q_i, b_i)`. Then
:math:`r_{ui} - \mu - b_i = (q_i, 1)^\top x_u` is linear in :math:`x_u` (and symmetrically in
:math:`v_i`), which is what makes every conditional Gaussian:

.. math::
    r_{ui} \sim \mathcal{N}\big(\mu + b_u + b_i + q_i^\top p_u,\; \alpha^{-1}\big), \qquad
    x_u \sim \mathcal{N}(\mu_U, \Lambda_U^{-1}), \qquad v_i \sim \mathcal{N}(\mu_V, \Lambda_V^{-1}),

    (\mu_U, \Lambda_U) \sim \mathcal{N}\big(\mu_0, (\beta_0 \Lambda_U)^{-1}\big)\,\mathcal{W}(W_0, \nu_0), \qquad
    \alpha \sim \mathrm{Gamma}(a_0, b_0)

(:math:`\mu` is the training mean, :math:`\mu_0 = 0`, :math:`W_0 = I`, :math:`\nu_0` the dimension, :math:`k + 1`).

One Gibbs sweep draws, in this order:

1. the user hyperparameters given the :math:`n` user vectors (mean :math:`\bar x`, scatter :math:`S`):
   :math:`\Lambda_U \sim \mathcal{W}(W^*, \nu_0 + n)` with
   :math:`(W^*)^{-1} = W_0^{-1} + n S + \frac{\beta_0 n}{\beta_0 + n} (\mu_0 - \bar x)(\mu_0 - \bar x)^\top`,
   then :math:`\mu_U \sim \mathcal{N}\big(\frac{\beta_0 \mu_0 + n \bar x}{\beta_0 + n}, ((\beta_0 + n) \Lambda_U)^{-1}\big)`;
2. every user vector, independently given the items, with :math:`\tilde q_i = (q_i, 1)`:

   .. math::
       \Lambda_u^* = \Lambda_U + \alpha \sum_{i \in I_u} \tilde q_i \tilde q_i^\top, \qquad
       x_u \sim \mathcal{N}\Big(\Lambda_u^{*-1}\big(\Lambda_U \mu_U + \alpha \sum_{i \in I_u} \tilde q_i (r_{ui} - \mu - b_i)\big),\;
       \Lambda_u^{*-1}\Big)

   (a Cholesky factor :math:`\Lambda_u^* = L L^\top` gives the mean by two triangular solves and the
   sample as :math:`L^{-\top}(L^{-1} b + z)`, :math:`z \sim \mathcal{N}(0, I)`);
3. the same two steps for the items (:math:`\tilde p_u = (p_u, 1)`, target :math:`r_{ui} - \mu - b_u`);
4. the noise precision :math:`\alpha \sim \mathrm{Gamma}\big(a_0 + N/2,\; b_0 + \tfrac12 \sum (r_{ui} - \hat r_{ui})^2\big)`.

``implicit=True`` makes it a Bayesian SVD++ (Koren 2008): the user part becomes
:math:`p_u + z_u` with :math:`z_u = |I_u|^{-1/2} \sum_{j \in I_u} y_j`, :math:`I_u` the items the user
rated *in training* (nothing from the test ratings), :math:`y_j \sim \mathcal{N}(\mu_W, \Lambda_W^{-1})`
with their own Normal-Wishart hyperprior. Steps 2 and 3 then use :math:`q_i^\top (p_u + z_u)`, and a
fifth step draws the :math:`y_j` one item after the other. :math:`y_j` enters the rating
:math:`(u, i)` through :math:`c_u q_i^\top y_j` (:math:`c_u = |I_u|^{-1/2}`) for every user who rated
:math:`j`, so with :math:`G_u = \sum_{i \in I_u} q_i q_i^\top` and the residual sums
:math:`g_u = \sum_{i \in I_u} q_i e_{ui}`:

.. math::
    \Lambda_j^* = \Lambda_W + \alpha \sum_{u \ni j} c_u^2 G_u, \qquad
    y_j \sim \mathcal{N}\Big(\Lambda_j^{*-1}\big(\Lambda_W \mu_W + \alpha \sum_{u \ni j} c_u (g_u + c_u G_u y_j^{\mathrm{old}})\big),\;
    \Lambda_j^{*-1}\Big),

after which :math:`g_u \mathrel{-}= c_u G_u (y_j - y_j^{\mathrm{old}})` for those users: a sweep stays
:math:`O(|R|\,k^2)` instead of SVD++'s :math:`O(k \sum_u |I_u|^2)`.

After ``burn_in`` sweeps every sweep's parameters are kept, and

.. math::  \hat r_{ui} = \mu + \frac1S \sum_{s=1}^S \big(b_u^{(s)} + b_i^{(s)} + q_i^{(s)\top} p_u^{(s)}\big).

The average of products is not the product of averages: the kept samples are stored
(``user_samples_`` holds :math:`p_u^{(s)}`, or :math:`p_u^{(s)} + z_u^{(s)}` with ``implicit``;
``item_samples_``). A sweep costs :math:`O(|R|\,(k+1)^2 + (|U|+|I|)(k+1)^3)`, the
per-row systems being built and solved in one compiled (Numba) pass.

References
----------
R. Salakhutdinov, A. Mnih, "Bayesian Probabilistic Matrix Factorization using Markov Chain Monte
Carlo", ICML 2008. S. Rendle, L. Zhang, Y. Koren, "On the Difficulty of Evaluating Baselines",
arXiv:1905.01395, 2019 (Bayesian MF with biases, and Bayesian SVD++, as strong rating baselines).
Y. Koren, "Factorization Meets the Neighborhood", KDD 2008 (SVD++'s implicit feedback).
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp
from scipy.stats import wishart

from ..interactions import HeldOut, Interactions
from ..validation import check_finite_number, check_positive_int, check_random_state
from .base import Recommender
from .cholesky import cholesky_in_place
from .training import run_epochs

__all__ = ["BayesianMF"]


@numba.njit(cache=True, inline="always")
def _draw_gaussian(A, b, z, w, x):  # pragma: no cover - compiled
    r"""Overwrite ``x`` with a draw from :math:`\mathcal N(A^{-1} b, A^{-1})`, given ``z`` standard normals.

    Only the lower triangle of ``A`` is read; it is overwritten by its Cholesky factor :math:`L`
    (:math:`A = L L^\top`). Then :math:`w = L^{-1} b + z` and :math:`x = L^{-\top} w`."""
    K = len(b)
    cholesky_in_place(A, K)
    for a in range(K):
        v = b[a]
        for m in range(a):
            v -= A[a, m] * w[m]
        w[a] = v / A[a, a]
    for a in range(K):
        w[a] += z[a]
    for a in range(K - 1, -1, -1):
        v = w[a]
        for m in range(a + 1, K):
            v -= A[m, a] * x[m]
        x[a] = v / A[a, a]


@numba.njit(cache=True, inline="always")
def _load_prior(Lam, Lam_mu, A, b):  # pragma: no cover - compiled
    """Start a row's posterior at its prior: the lower triangle of ``A`` := ``Lam``, ``b`` := ``Lam_mu``."""
    for a in range(len(b)):
        b[a] = Lam_mu[a]
        for m in range(a + 1):
            A[a, m] = Lam[a, m]


@numba.njit(cache=True)
def _sample_rows(indptr, indices, target, F, alpha, Lam, Lam_mu, Z):  # pragma: no cover - compiled
    r"""One Gibbs draw of every row vector: row ``s`` observes columns ``indices[indptr[s]:indptr[s+1]]``
    with features ``F[col]`` and targets ``target[p]``; prior precision ``Lam`` and ``Lam_mu = Lam @ mu``;
    ``Z`` standard normals ``(n_rows, K)``. Returns the samples ``(n_rows, K)``."""
    n_rows, K = Z.shape
    X = np.empty((n_rows, K))
    A = np.empty((K, K))
    b = np.empty(K)
    w = np.empty(K)
    for s in range(n_rows):
        _load_prior(Lam, Lam_mu, A, b)
        for p in range(indptr[s], indptr[s + 1]):
            f = F[indices[p]]
            t = alpha * target[p]
            for a in range(K):
                fa = alpha * f[a]
                b[a] += f[a] * t
                for c in range(a + 1):
                    A[a, c] += fa * f[c]
        _draw_gaussian(A, b, Z[s], w, X[s])
    return X


@numba.njit(cache=True)
def _sample_implicit(indptr, indices, c, G, g, Y, alpha, Lam, Lam_mu, Z):  # pragma: no cover - compiled
    r"""One Gibbs draw of every implicit vector :math:`y_j`, one item after the other, in place in ``Y``.

    Item ``j`` is in the implicit set of users ``indices[indptr[j]:indptr[j+1]]``; ``c[u]`` is
    :math:`|I_u|^{-1/2}`, ``G[u]`` :math:`= \sum_{i \in I_u} q_i q_i^\top` and ``g[u]``
    :math:`= \sum_{i \in I_u} q_i e_{ui}` with the current residuals :math:`e_{ui}`; ``g`` is kept
    up to date after every draw (:math:`g_u \mathrel{-}= c_u G_u \Delta y_j`)."""
    n_rows, K = Z.shape
    A = np.empty((K, K))
    b = np.empty(K)
    w = np.empty(K)
    d = np.empty(K)
    y = np.empty(K)
    for j in range(n_rows):
        _load_prior(Lam, Lam_mu, A, b)
        for p in range(indptr[j], indptr[j + 1]):
            u = indices[p]
            cu = c[u]
            ac = alpha * cu
            ac2 = ac * cu
            for a in range(K):
                v = 0.0
                for m in range(K):
                    v += G[u, a, m] * Y[j, m]
                b[a] += ac * (g[u, a] + cu * v)
                for m in range(a + 1):
                    A[a, m] += ac2 * G[u, a, m]
        _draw_gaussian(A, b, Z[j], w, y)
        for a in range(K):
            d[a] = y[a] - Y[j, a]
            Y[j, a] = y[a]
        for p in range(indptr[j], indptr[j + 1]):
            u = indices[p]
            cu = c[u]
            for a in range(K):
                v = 0.0
                for m in range(K):
                    v += G[u, a, m] * d[m]
                g[u, a] -= cu * v


@numba.njit(cache=True)
def _user_grams(indptr, indices, target, Q):  # pragma: no cover - compiled
    """Per user ``G[u] = sum_i q_i q_i^T`` and ``g[u] = sum_i q_i target`` over the user's CSR row."""
    n_rows, k = len(indptr) - 1, Q.shape[1]
    G = np.zeros((n_rows, k, k))
    g = np.zeros((n_rows, k))
    for s in range(n_rows):
        for p in range(indptr[s], indptr[s + 1]):
            q = Q[indices[p]]
            t = target[p]
            for a in range(k):
                g[s, a] += q[a] * t
                for m in range(k):
                    G[s, a, m] += q[a] * q[m]
    return G, g


def _sample_hyper(X: np.ndarray, beta_0: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""Draw :math:`(\mu, \Lambda)` from their Normal-Wishart posterior given the rows of ``X``
    (prior :math:`\mu_0 = 0`, :math:`W_0 = I`, :math:`\nu_0 = K`, :math:`\beta_0`)."""
    n, K = X.shape
    x_bar = X.mean(axis=0)
    S = (X - x_bar).T @ (X - x_bar) / n
    W_inv = np.eye(K) + n * S + (beta_0 * n / (beta_0 + n)) * np.outer(x_bar, x_bar)
    W = np.linalg.inv(W_inv)
    W = (W + W.T) / 2
    Lam = np.atleast_2d(wishart(df=K + n, scale=W).rvs(random_state=rng))
    beta = beta_0 + n
    L = np.linalg.cholesky(beta * Lam)  # mu ~ N(n x_bar / beta, (beta Lam)^{-1}), mu_0 = 0
    return n * x_bar / beta + np.linalg.solve(L.T, rng.standard_normal(K)), Lam


class BayesianMF(Recommender):
    r"""Bayesian biased matrix factorisation by Gibbs sampling (BPMF with biases); the module docstring
    gives the model and the sampler's conditionals.

    .. math::
        \hat r_{ui} = \mu + \frac1S \sum_{s=1}^S \big(b_u^{(s)} + b_i^{(s)} + q_i^{(s)\top} p_u^{(s)}\big)

    Each of the ``n_epochs`` Gibbs sweeps draws the hyperparameters, every user vector
    :math:`(p_u, b_u)`, every item vector :math:`(q_i, b_i)` and the noise precision :math:`\alpha`;
    the sweeps after the first ``burn_in`` are averaged. There is no learning rate and no
    regularisation weight to tune: the prior covariances are sampled. A chain is not stopped early (the
    prediction is the average over all kept sweeps); ``fit(train, validation=val)`` records the
    validation RMSE of the running average after every sweep, which is how ``n_epochs`` and ``burn_in``
    are chosen.

    Parameters
    ----------
    n_factors : :math:`k` (10).
    n_epochs : Gibbs sweeps in all (200), burn-in included.
    burn_in : sweeps discarded before averaging (50; < ``n_epochs``).
    beta_0 : :math:`\beta_0`, the prior's pseudo-count for the hyper-mean (2.0).
    alpha_a, alpha_b : :math:`a_0, b_0`, shape and rate of the Gamma prior of :math:`\alpha` (1.0, 1.0).
    implicit : add SVD++'s implicit feedback :math:`z_u` from the items each user rated in training (False).
    init_std_dev : standard deviation of the initial factors (0.1; biases start at 0).
    progress : show a tqdm progress bar over sweeps.
    random_state : an int (0), ``None`` or a NumPy ``Generator``; every draw comes from it.

    Attributes
    ----------
    user_samples_ : :math:`p_u^{(s)}` (:math:`p_u^{(s)} + z_u^{(s)}` with ``implicit``), ``(S, n_users, k)``;
    item_samples_ : :math:`q_i^{(s)}`, ``(S, n_items, k)``
    (``S = n_epochs - burn_in``);
    user_factors_, item_factors_ : the means of ``user_samples_`` and ``item_samples_``, ``(n_users, k)`` /
    ``(n_items, k)``;
    b_u_, b_i_ : posterior means of the biases, ``(n_users,)`` / ``(n_items,)``;
    implicit_factors_ : posterior mean of :math:`y_j`, ``(n_items, k)`` (zeros without ``implicit``);
    alpha_ : the noise precision of every sweep, ``(n_epochs,)``;
    history_ : DataFrame indexed by ``epoch`` (the sweep): ``train_loss`` (squared errors of the sweep's
    sample), ``train_rmse``, ``alpha`` and, with validation ratings, ``val_rmse`` (of the running average
    after the burn-in, of the sweep's sample before); n_epochs_ and best_epoch_ (both the last sweep: the
    model kept is the average of every sweep after the burn-in).

    References
    ----------
    R. Salakhutdinov, A. Mnih, "Bayesian Probabilistic Matrix Factorization using Markov Chain Monte
    Carlo", ICML 2008. S. Rendle, L. Zhang, Y. Koren, "On the Difficulty of Evaluating Baselines", 2019.
    Y. Koren, "Factorization Meets the Neighborhood", KDD 2008.
    """

    def __init__(self, n_factors: int = 10, n_epochs: int = 200, burn_in: int = 50, *, beta_0: float = 2.0,
                 alpha_a: float = 1.0, alpha_b: float = 1.0, implicit: bool = False, init_std_dev: float = 0.1,
                 progress: bool = False, random_state=0):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.burn_in = burn_in
        self.beta_0 = beta_0
        self.alpha_a = alpha_a
        self.alpha_b = alpha_b
        self.implicit = implicit
        self.init_std_dev = init_std_dev
        self.progress = progress
        self.random_state = random_state

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        k = check_positive_int(self.n_factors, "n_factors")
        n_epochs = check_positive_int(self.n_epochs, "n_epochs")
        burn_in = self.burn_in
        if isinstance(burn_in, (bool, np.bool_)) or not isinstance(burn_in, (int, np.integer)) or not 0 <= burn_in < n_epochs:
            raise ValueError(f"burn_in must be an integer in [0, n_epochs) = [0, {n_epochs}), got {burn_in!r}")
        beta_0 = check_finite_number(self.beta_0, "beta_0", minimum=0, strict=True)
        a_0 = check_finite_number(self.alpha_a, "alpha_a", minimum=0, strict=True)
        b_0 = check_finite_number(self.alpha_b, "alpha_b", minimum=0, strict=True)
        std = check_finite_number(self.init_std_dev, "init_std_dev", minimum=0)
        rng = check_random_state(self.random_state)

        u, i, r = data.u.astype(np.int64), data.i.astype(np.int64), data.r.astype(float)
        mu, K, n_r = data.global_mean, k + 1, len(r)
        by_user = sp.csr_matrix((np.arange(n_r) + 1.0, (u, i)), shape=(data.n_users, data.n_items))
        by_item = by_user.T.tocsr()
        rows_u = by_user.data.astype(np.int64) - 1  # rating row of each CSR entry, user-major
        rows_i = by_item.data.astype(np.int64) - 1  # and item-major
        ip_u, ix_u = by_user.indptr.astype(np.int64), by_user.indices.astype(np.int64)
        ip_i, ix_i = by_item.indptr.astype(np.int64), by_item.indices.astype(np.int64)

        X = np.hstack([rng.normal(0, std, (data.n_users, k)), np.zeros((data.n_users, 1))])  # (p_u, b_u)
        Y = np.hstack([rng.normal(0, std, (data.n_items, k)), np.zeros((data.n_items, 1))])  # (q_i, b_i)
        implicit = bool(self.implicit)
        W = np.zeros((data.n_items, k))  # y_j, the implicit vectors
        c = 1.0 / np.sqrt(np.maximum(np.diff(ip_u), 1))  # |I_u|^{-1/2}
        pattern = sp.csr_matrix((np.ones(n_r), ix_u, ip_u), shape=(data.n_users, data.n_items))
        Z_u = np.zeros((data.n_users, k))  # z_u = |I_u|^{-1/2} sum_{j in I_u} y_j
        alpha = 1.0
        kept_x, kept_y, kept_w, alphas = [], [], [], []
        val_sum = None if validation is None else np.zeros(len(validation.r))
        low, high = data.rating_scale

        def effective(X):
            """(p_u + z_u, b_u): the user part of every prediction."""
            return np.hstack([X[:, :k] + Z_u, X[:, k:]]) if implicit else X

        def predict_pairs(X, Y, uu, ii):
            return np.einsum("ij,ij->i", X[uu, :k], Y[ii, :k]) + X[uu, k] + Y[ii, k]

        def sweep(e):
            nonlocal X, Y, Z_u, alpha
            mu_U, Lam_U = _sample_hyper(X, beta_0, rng)
            F = np.hstack([Y[:, :k], np.ones((data.n_items, 1))])
            target = r - mu - Y[i, k] - (np.einsum("ij,ij->i", Y[i, :k], Z_u[u]) if implicit else 0.0)
            X = _sample_rows(ip_u, ix_u, target[rows_u], F, alpha, Lam_U, Lam_U @ mu_U,
                             rng.standard_normal((data.n_users, K)))
            mu_V, Lam_V = _sample_hyper(Y, beta_0, rng)
            F = np.hstack([effective(X)[:, :k], np.ones((data.n_users, 1))])
            Y = _sample_rows(ip_i, ix_i, (r - mu - X[u, k])[rows_i], F, alpha, Lam_V, Lam_V @ mu_V,
                             rng.standard_normal((data.n_items, K)))
            if implicit:
                err = r - mu - predict_pairs(effective(X), Y, u, i)
                G, g = _user_grams(ip_u, ix_u, err[rows_u], np.ascontiguousarray(Y[:, :k]))
                mu_W, Lam_W = _sample_hyper(W, beta_0, rng)
                _sample_implicit(ip_i, ix_i, c, G, g, W, alpha, Lam_W, Lam_W @ mu_W, rng.standard_normal((data.n_items, k)))
                Z_u = c[:, None] * (pattern @ W)
            X_eff = effective(X)
            err = r - mu - predict_pairs(X_eff, Y, u, i)
            sse = float(err @ err)
            alpha = float(rng.gamma(a_0 + n_r / 2, 1.0 / (b_0 + sse / 2)))
            alphas.append(alpha)
            if e >= burn_in:
                kept_x.append(X_eff)
                kept_y.append(Y)
                if implicit:
                    kept_w.append(W.copy())
            finite = np.isfinite(X_eff).all() and np.isfinite(Y).all()
            return {"train_loss": sse if finite else float("nan"), "train_rmse": np.sqrt(sse / n_r), "alpha": alpha}

        def validate():
            est = mu + predict_pairs(effective(X), Y, validation.u, validation.i)
            if kept_x:  # kept_x[-1] is X: add this sweep to the running sum
                val_sum[:] += est
                est = val_sum / len(kept_x)
            return {"val_rmse": float(np.sqrt(np.mean((validation.r - np.clip(est, low, high)) ** 2)))}

        if validation is not None and ((validation.u < 0) | (validation.i < 0)).any():
            known = (validation.u >= 0) & (validation.i >= 0)
            validation = HeldOut(validation.u[known], validation.i[known], validation.r[known])
            val_sum = np.zeros(len(validation.r))
        self.history_, _ = run_epochs(
            n_epochs, sweep, validate=None if validation is None else validate, monitor="val_rmse",
            progress=self.progress, desc="BayesianMF", tol=0.0,
            diverged=lambda e, loss: "(NaN or infinite values in the samples). Check the ratings for extreme values.")
        self.n_epochs_ = self.best_epoch_ = len(self.history_)  # the model is the average up to the last sweep
        self.alpha_ = np.array(alphas)
        xs, ys = np.stack(kept_x), np.stack(kept_y)
        self.user_samples_, self.item_samples_ = xs[:, :, :k].copy(), ys[:, :, :k].copy()
        self.user_factors_, self.item_factors_ = self.user_samples_.mean(axis=0), self.item_samples_.mean(axis=0)
        self.b_u_, self.b_i_ = xs[:, :, k].mean(axis=0), ys[:, :, k].mean(axis=0)
        self.implicit_factors_ = np.mean(kept_w, axis=0) if implicit else np.zeros((data.n_items, k))

    def _dots(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """The sample average of :math:`q_i^\\top p_u` for known pairs (in chunks: bounded memory)."""
        out = np.empty(len(u))
        step = max(1, 2_000_000 // max(1, self.user_samples_.shape[0] * self.user_samples_.shape[2]))
        for start in range(0, len(u), step):
            uu, ii = u[start:start + step], i[start:start + step]
            out[start:start + step] = np.einsum("sjk,sjk->j", self.user_samples_[:, uu], self.item_samples_[:, ii])
        return out / self.user_samples_.shape[0]

    def _estimate(self, u, i):
        u, i = np.asarray(u, dtype=np.int64), np.asarray(i, dtype=np.int64)
        known_u, known_i = u >= 0, i >= 0
        uu, ii = np.where(known_u, u, 0), np.where(known_i, i, 0)
        est = self.global_mean_ + np.where(known_u, self.b_u_[uu], 0.0) + np.where(known_i, self.b_i_[ii], 0.0)
        both = np.flatnonzero(known_u & known_i)
        est[both] += self._dots(u[both], i[both])
        return est, np.zeros(len(u), dtype=bool)

    def _scores(self, users):
        users = np.asarray(users)
        S = self.user_samples_.shape[0]
        dots = sum(self.user_samples_[s, users] @ self.item_samples_[s].T for s in range(S)) / S
        return (self.global_mean_ + self.b_u_[users])[:, None] + self.b_i_[None, :] + dots

    def _fallback_scores(self, user_ids):
        r"""A new user is ranked by :math:`\mu + b_i` (no user part), as it is predicted."""
        return np.broadcast_to(self.global_mean_ + self.b_i_, (len(user_ids), self.data_.n_items))
