r"""Matrix factorisation: truncated SVD, biased MF by SGD (= Surprise's ``SVD``), ALS, NMF, BPR-MF.

Every model here approximates the user x item rating matrix
:math:`R \in \mathbb{R}^{|U| \times |I|}` by a product of two thin matrices,

.. math::  R \approx P Q^\top, \qquad P \in \mathbb{R}^{|U| \times k},\; Q \in \mathbb{R}^{|I| \times k},

so a rating is predicted by a dot product of a user vector :math:`p_u` (row of ``user_factors_``)
and an item vector :math:`q_i` (row of ``item_factors_``), usually plus biases:
:math:`\hat r_{ui} = \mu + b_u + b_i + q_i^\top p_u`.

=====================  ======================================================================
``PureSVD``            truncated SVD :math:`R_c \approx U_k \Sigma_k V_k^\top` of the centred,
                       zero-imputed matrix (``scipy.sparse.linalg.svds``)
``BiasedMF``           SGD on the observed ratings only (Funk 2006, Koren et al. 2009).
                       **With its defaults it is Surprise's ``SVD``, bit for bit.**
``FunkSVD``            ``BiasedMF(biased=False)``: no biases, = Surprise's ``SVD(biased=False)``
``ALS``                alternating ridge regressions in closed form (weighted-lambda)
``NMF``                non-negative factors, multiplicative updates; = Surprise's ``NMF``
``BPRMF``              implicit feedback: Bayesian personalised ranking with sampled negatives
=====================  ======================================================================

The SGD loops are compiled with Numba (``cache=True``). The exact loop keeps Surprise's
arithmetic order (Numba without ``fastmath`` never reorders floating-point operations), which
is what bit-identity needs; ``BiasedMF(fast=True)`` lets the compiler vectorise the dot product
(``fastmath``), which changes the last bits and runs about twice as fast.

Training is reported, not hidden: ``history_`` holds the loss of every epoch (and the
validation RMSE when ``fit(train, validation=...)`` is given or ``early_stopping`` carves a
``validation_fraction``), training stops early on request (:mod:`course_lib.models.training`),
and a loss that becomes NaN or infinite raises :class:`DivergenceError`.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

from ..interactions import HeldOut, Interactions
from ..sampling import pair_keys, sample_unseen
from ..validation import check_finite_number, check_positive_int, check_random_state
from .base import Recommender
from .training import DivergenceError, check_early_stopping, run_epochs, split_validation

__all__ = ["ALS", "BPRMF", "BiasedMF", "DivergenceError", "FunkSVD", "NMF", "PureSVD"]


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def exact_dots(P: np.ndarray, Q: np.ndarray, u: np.ndarray, i: np.ndarray) -> np.ndarray:
    """``np.dot(Q[i], P[u])`` pair by pair, as Surprise's ``estimate`` computes it (same bits)."""
    return np.fromiter((np.dot(Q[b], P[a]) for a, b in zip(u.tolist(), i.tolist())), dtype=np.float64, count=len(u))


class FactorModel(Recommender):
    """Shared machinery: the epoch loop (:func:`~course_lib.models.training.run_epochs`) with validation
    RMSE, early stopping and divergence checks. Subclasses define ``_state_names`` (the learned arrays)."""

    _state_names: tuple[str, ...] = ("user_factors_", "item_factors_", "b_u_", "b_i_")

    def _check_common(self) -> tuple[int, int, int | None]:
        n_factors = check_positive_int(self.n_factors, "n_factors")
        n_epochs = check_positive_int(self.n_epochs, "n_epochs")
        return n_factors, n_epochs, check_early_stopping(self)

    def _split_for_validation(self, data: Interactions, validation: HeldOut | None, patience: int | None,
                              rng) -> tuple[np.ndarray, HeldOut | None]:
        """Training rows and validation ratings: ``fit``'s ``validation``, or with early stopping and none
        given, a random ``validation_fraction`` of the training ratings (then left out of training)."""
        return split_validation(data, validation, patience, self.validation_fraction, _generator(rng))

    def _normal_init(self):
        """``(init_mean, init_std, rng)``: the checked parameters of Surprise's normal initialisation of
        the factors and its RandomState (``random_state`` as Surprise reads it)."""
        return (check_finite_number(self.init_mean, "init_mean"),
                check_finite_number(self.init_std_dev, "init_std_dev", minimum=0),
                check_random_state(self.random_state, legacy=True))

    def _training_rows(self, data: Interactions, validation: HeldOut | None, patience: int | None, rng):
        """Zero biases, the validation split (drawn after the factors, Surprise's order of draws) and the
        training rows user by user: ``(validation, u, i, r)``."""
        self.b_u_ = np.zeros(data.n_users)
        self.b_i_ = np.zeros(data.n_items)
        idx, validation = self._split_for_validation(data, validation, patience, rng)
        order = idx[user_major(data, idx)]
        return validation, data.u[order], data.i[order], data.r[order]

    def _run_epochs(self, n_epochs: int, patience: int | None, epoch_fn, validation, desc: str) -> None:
        """Call ``epoch_fn(epoch) -> (loss, train_rmse or None)`` up to ``n_epochs`` times, keeping score."""
        def epoch(e):
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported by run_epochs
                loss, train_rmse = epoch_fn(e)
            if not all(np.isfinite(getattr(self, n)).all() for n in self._state_names):
                loss = float("nan")
            row = {"train_loss": float(loss)}
            if train_rmse is not None:
                row["train_rmse"] = float(train_rmse)
            return row

        self.history_, self.best_epoch_ = run_epochs(
            n_epochs, epoch, validate=None if validation is None else lambda: self._validate(validation),
            monitor="val_rmse" if self.predicts_ratings else "val_loss",
            patience=patience, snapshot=lambda: {n: getattr(self, n).copy() for n in self._state_names},
            restore=lambda state: [setattr(self, n, v) for n, v in state.items()], progress=self.progress,
            desc=type(self).__name__, tol=0.0,
            diverged=lambda e, loss: f"(NaN or infinite values in the factors). Lower the learning rate "
                                     f"(now {self._lr_text()}) or raise the regularisation.")
        self.n_epochs_ = len(self.history_)

    def _lr_text(self) -> str:
        return repr(getattr(self, "lr_all", getattr(self, "lr", None)))

    def _fallback_scores(self, user_ids):
        r"""A new user of a biased rating model is ranked by :math:`\mu + b_i` (no user part), as it is predicted."""
        if self.predicts_ratings and getattr(self, "biased", True) and np.any(self.b_i_):
            return np.broadcast_to(self.global_mean_ + self.b_i_, (len(user_ids), self.data_.n_items))
        return super()._fallback_scores(user_ids)

    def _validate(self, validation: HeldOut) -> dict[str, float]:
        """The validation RMSE of the current parameters (rating models)."""
        est, impossible = self._validation_estimate(validation.u, validation.i)
        pred = self._finish(np.asarray(est, float), np.asarray(impossible, bool))
        return {"val_rmse": float(np.sqrt(np.mean((validation.r - pred) ** 2)))}

    def _validation_estimate(self, u, i):
        """Estimates used for the per-epoch validation RMSE (vectorised; may differ in the last bits)."""
        return self._estimate(u, i)


def user_major(data: Interactions, idx: np.ndarray) -> np.ndarray:
    """Positions in ``idx`` (training rows) visiting them user by user, training order within a user."""
    if len(idx) == data.n_ratings:
        return data.user_major_order()
    return np.argsort(data.u[idx], kind="stable")


def _generator(rng) -> np.random.Generator:
    """A Generator derived from a RandomState (the twins of Surprise draw from RandomState)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng.randint(0, 2**31 - 1))


# ---------------------------------------------------------------------------------------------
# Truncated SVD of the imputed matrix
# ---------------------------------------------------------------------------------------------
class PureSVD(Recommender):
    r"""Truncated SVD of the centred rating matrix, missing entries imputed by the baseline.

    .. math::
        R_c = U \Sigma V^\top \approx U_k \Sigma_k V_k^\top, \qquad
        \hat r_{ui} = b_{ui} + (U_k \Sigma_k V_k^\top)_{ui}

    with :math:`U_k \in \mathbb{R}^{|U| \times k}`, :math:`\Sigma_k = \mathrm{diag}(\sigma_1 \ge
    \dots \ge \sigma_k)`, :math:`V_k \in \mathbb{R}^{|I| \times k}`. :math:`R_c` holds
    :math:`r_{ui} - b_{ui}` where a rating exists and 0 elsewhere, i.e. every missing rating is
    *imputed* as the baseline :math:`b_{ui}` (``center``: ``"global"`` :math:`\mu`, ``"user"``
    :math:`\bar r_u`, ``"item"`` :math:`\bar r_i`, or ``"none"``: 0, Cremonesi et al.'s PureSVD
    for ranking). Plain SVD needs a complete matrix: it fits the ~94 % imputed zeros as much as
    the real ratings, which is why SGD on the observed entries (:class:`BiasedMF`) predicts better.

    Parameters
    ----------
    n_factors : rank :math:`k` (< min(n_users, n_items)).
    center : ``"user"`` (default), ``"item"``, ``"global"`` or ``"none"``.
    random_state : seeds ARPACK's starting vector, so the result is reproducible.

    Attributes
    ----------
    U_ : ``(n_users, k)``; s_ : ``(k,)``, descending; Vt_ : ``(k, n_items)``;
    user_factors_ = ``U_ * sqrt(s_)``, item_factors_ = ``Vt_.T * sqrt(s_)`` (so
    ``user_factors_ @ item_factors_.T`` is the low-rank part);
    offset_user_, offset_item_ : the baseline split as ``b_ui = offset_user_[u] + offset_item_[i]``.

    References
    ----------
    P. Cremonesi, Y. Koren, R. Turrin, "Performance of recommender algorithms on top-n recommendation
    tasks", RecSys 2010. B. Sarwar et al., "Application of dimensionality reduction in recommender
    systems", WebKDD 2000.
    """

    def __init__(self, n_factors: int = 20, center: str = "user", random_state=0):
        self.n_factors = n_factors
        self.center = center
        self.random_state = random_state

    def _fit(self, data: Interactions, validation=None) -> None:
        if self.center not in ("user", "item", "global", "none"):
            raise ValueError(f"center must be 'user', 'item', 'global' or 'none', got {self.center!r}")
        k = check_positive_int(self.n_factors, "n_factors")
        if k >= min(data.n_users, data.n_items):
            raise ValueError(f"n_factors must be smaller than min(n_users, n_items) = {min(data.n_users, data.n_items)}, got {k}")
        off_u, off_i = np.zeros(data.n_users), np.zeros(data.n_items)
        if self.center == "global":
            off_u[:] = data.global_mean
        elif self.center == "user":
            off_u = np.bincount(data.u, weights=data.r, minlength=data.n_users) / data.user_counts()
        elif self.center == "item":
            off_i = np.bincount(data.i, weights=data.r, minlength=data.n_items) / data.item_counts()
        rc = sp.csr_matrix((data.r - off_u[data.u] - off_i[data.i], (data.u, data.i)), shape=(data.n_users, data.n_items))
        from scipy.sparse.linalg import svds

        v0 = check_random_state(self.random_state, legacy=True).uniform(-1, 1, min(rc.shape))
        U, s, Vt = svds(rc, k=k, v0=v0)
        order = np.argsort(-s, kind="stable")
        U, s, Vt = U[:, order], s[order], Vt[order]
        signs = np.sign(Vt[np.arange(k), np.argmax(np.abs(Vt), axis=1)])  # fix the sign ambiguity
        self.U_, self.s_, self.Vt_ = U * signs, s, Vt * signs[:, None]
        self.user_factors_ = self.U_ * np.sqrt(s)
        self.item_factors_ = self.Vt_.T * np.sqrt(s)
        self.offset_user_, self.offset_item_ = off_u, off_i

    def _estimate(self, u, i):
        u, i = np.asarray(u), np.asarray(i)
        known = (u >= 0) & (i >= 0)
        uu, ii = np.where(known, u, 0), np.where(known, i, 0)
        est = self.offset_user_[uu] + self.offset_item_[ii] + np.einsum("ij,ij->i", self.user_factors_[uu], self.item_factors_[ii])
        return est, ~known

    def _scores(self, users):
        users = np.asarray(users)
        return self.offset_user_[users][:, None] + self.offset_item_[None, :] + self.user_factors_[users] @ self.item_factors_.T


# ---------------------------------------------------------------------------------------------
# Biased MF by SGD (Surprise's SVD)
# ---------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def _sgd_epoch_exact(us, is_, rs, mu, bu, bi, P, Q, lr_bu, lr_bi, lr_pu, lr_qi,
                     reg_bu, reg_bi, reg_pu, reg_qi, biased):  # pragma: no cover - compiled
    """One SGD epoch in Surprise's exact arithmetic order; returns the sum of squared errors."""
    n_factors = P.shape[1]
    sse = 0.0
    for k in range(len(rs)):
        u = us[k]
        i = is_[k]
        dot = 0.0
        for f in range(n_factors):
            dot += Q[i, f] * P[u, f]
        err = rs[k] - (mu + bu[u] + bi[i] + dot)
        sse += err * err
        if biased:
            bu[u] += lr_bu * (err - reg_bu * bu[u])
            bi[i] += lr_bi * (err - reg_bi * bi[i])
        for f in range(n_factors):
            puf = P[u, f]
            qif = Q[i, f]
            P[u, f] += lr_pu * (err * qif - reg_pu * puf)
            Q[i, f] += lr_qi * (err * puf - reg_qi * qif)
    return sse


@numba.njit(cache=True, fastmath=True)
def _sgd_epoch_fast(us, is_, rs, mu, bu, bi, P, Q, lr_bu, lr_bi, lr_pu, lr_qi,
                    reg_bu, reg_bi, reg_pu, reg_qi, biased):  # pragma: no cover - compiled
    """The same epoch with reassociation allowed: a SIMD dot product and fused updates."""
    n_factors = P.shape[1]
    sse = 0.0
    a_p = 1.0 - lr_pu * reg_pu
    a_q = 1.0 - lr_qi * reg_qi
    for k in range(len(rs)):
        p = P[us[k]]
        q = Q[is_[k]]
        dot = 0.0
        for f in range(n_factors):
            dot += q[f] * p[f]
        err = rs[k] - (mu + bu[us[k]] + bi[is_[k]] + dot)
        sse += err * err
        if biased:
            bu[us[k]] += lr_bu * (err - reg_bu * bu[us[k]])
            bi[is_[k]] += lr_bi * (err - reg_bi * bi[is_[k]])
        ep = lr_pu * err
        eq = lr_qi * err
        for f in range(n_factors):
            pf = p[f]
            qf = q[f]
            p[f] = a_p * pf + ep * qf
            q[f] = a_q * qf + eq * pf
    return sse


class BiasedMF(FactorModel):
    r"""Biased matrix factorisation trained by SGD; **with the defaults, Surprise's ``SVD`` bit for bit**.

    .. math::
        \hat r_{ui} = \mu + b_u + b_i + q_i^\top p_u, \qquad
        \min_{b, P, Q} \sum_{(u,i) \in \mathcal{K}} (r_{ui} - \hat r_{ui})^2
            + \lambda \left(b_u^2 + b_i^2 + \lVert p_u \rVert^2 + \lVert q_i \rVert^2\right)

    For each observed rating, with :math:`e_{ui} = r_{ui} - \hat r_{ui}` and step :math:`\gamma`:

    .. math::
        b_u \leftarrow b_u + \gamma (e_{ui} - \lambda b_u), \quad
        b_i \leftarrow b_i + \gamma (e_{ui} - \lambda b_i), \quad
        p_u \leftarrow p_u + \gamma (e_{ui} q_i - \lambda p_u), \quad
        q_i \leftarrow q_i + \gamma (e_{ui} p_u - \lambda q_i)

    (both factor updates use the old :math:`p_u, q_i`). Exactly as Surprise: ``P`` is drawn from
    ``RandomState(random_state).normal(init_mean, init_std_dev)`` first, then ``Q``; biases start
    at 0; each epoch visits the ratings user by user (``Interactions.user_major_order``).
    ``predict``/``test`` take the dot products with ``np.dot`` pair by pair, as Surprise does, so
    the estimates are Surprise's to the last bit; ``recommend`` scores every item with one matrix
    product (equal to ~1e-15). ``FunkSVD`` is the unbiased variant.

    Parameters
    ----------
    n_factors, n_epochs : :math:`k` (100) and passes over the data (20).
    lr_all, reg_all : :math:`\gamma` (0.005) and :math:`\lambda` (0.02) for every parameter;
        ``lr_bu, lr_bi, lr_pu, lr_qi, reg_bu, reg_bi, reg_pu, reg_qi`` override them one by one.
    init_mean, init_std_dev : the normal initialisation of the factors (0, 0.1).
    biased : learn :math:`\mu, b_u, b_i` (True) or predict :math:`q_i^\top p_u` alone.
    fast : use the ``fastmath`` loop (reordered sums: same result to ~1e-12, not bit for bit).
    shuffle : visit the ratings in a new random order every epoch (not Surprise's behaviour).
    early_stopping : hold out ``validation_fraction`` of the training ratings (unless
        ``fit(train, validation=val)`` gives validation ratings), stop after ``n_iter_no_change``
        epochs without a better validation RMSE and keep the best epoch's parameters (False).
    validation_fraction, n_iter_no_change : 0.1 and 5.
    progress : show a tqdm progress bar over epochs.
    random_state : an int (0), ``None`` or a ``RandomState`` (Surprise's generator, so the same int
        gives Surprise's ``SVD(random_state=...)`` factors).

    Attributes
    ----------
    user_factors_ : :math:`p_u`, ``(n_users, k)``;  item_factors_ : :math:`q_i`, ``(n_items, k)``;
    b_u_ : ``(n_users,)``; b_i_ : ``(n_items,)`` (zeros when ``biased=False``);
    history_ : DataFrame indexed by ``epoch``: ``train_loss`` (squared errors summed during the epoch
    plus the regularisation at its end), ``train_rmse`` (from the same running errors), ``val_rmse``
    with validation ratings; n_epochs_, best_epoch_.

    References
    ----------
    S. Funk, "Netflix Update: Try This at Home", 2006. Y. Koren, R. Bell, C. Volinsky,
    "Matrix Factorization Techniques for Recommender Systems", IEEE Computer 42(8), 2009.
    """

    _state_names = ("user_factors_", "item_factors_", "b_u_", "b_i_")

    def __init__(self, n_factors: int = 100, n_epochs: int = 20, lr_all: float = 0.005, reg_all: float = 0.02, *,
                 biased: bool = True, init_mean: float = 0.0, init_std_dev: float = 0.1,
                 lr_bu: float | None = None, lr_bi: float | None = None, lr_pu: float | None = None,
                 lr_qi: float | None = None, reg_bu: float | None = None, reg_bi: float | None = None,
                 reg_pu: float | None = None, reg_qi: float | None = None, fast: bool = False,
                 shuffle: bool = False, early_stopping: bool = False, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 5, progress: bool = False, random_state=0):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr_all = lr_all
        self.reg_all = reg_all
        self.biased = biased
        self.init_mean = init_mean
        self.init_std_dev = init_std_dev
        self.lr_bu = lr_bu
        self.lr_bi = lr_bi
        self.lr_pu = lr_pu
        self.lr_qi = lr_qi
        self.reg_bu = reg_bu
        self.reg_bi = reg_bi
        self.reg_pu = reg_pu
        self.reg_qi = reg_qi
        self.fast = fast
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _rates(self) -> tuple[list[float], list[float]]:
        lr_all = check_finite_number(self.lr_all, "lr_all", minimum=0, strict=True)
        reg_all = check_finite_number(self.reg_all, "reg_all", minimum=0)
        lrs = [lr_all if v is None else check_finite_number(v, n, minimum=0, strict=True)
               for n, v in (("lr_bu", self.lr_bu), ("lr_bi", self.lr_bi), ("lr_pu", self.lr_pu), ("lr_qi", self.lr_qi))]
        regs = [reg_all if v is None else check_finite_number(v, n, minimum=0)
                for n, v in (("reg_bu", self.reg_bu), ("reg_bi", self.reg_bi), ("reg_pu", self.reg_pu), ("reg_qi", self.reg_qi))]
        return lrs, regs

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        n_factors, n_epochs, patience = self._check_common()
        lrs, regs = self._rates()
        init_mean, init_std, rng = self._normal_init()
        self.user_factors_ = rng.normal(init_mean, init_std, size=(data.n_users, n_factors))
        self.item_factors_ = rng.normal(init_mean, init_std, size=(data.n_items, n_factors))
        validation, us, is_, rs = self._training_rows(data, validation, patience, rng)
        biased = bool(self.biased)
        mu = data.global_mean if biased else 0.0
        loop = _sgd_epoch_fast if self.fast else _sgd_epoch_exact
        n = len(rs)

        def epoch(_):
            if self.shuffle:
                perm = rng.permutation(n)
                sse = loop(us[perm], is_[perm], rs[perm], mu, self.b_u_, self.b_i_, self.user_factors_,
                           self.item_factors_, *lrs, *regs, biased)
            else:
                sse = loop(us, is_, rs, mu, self.b_u_, self.b_i_, self.user_factors_, self.item_factors_, *lrs, *regs,
                           biased)
            P, Q = self.user_factors_, self.item_factors_
            return (sse + regs[0] * self.b_u_ @ self.b_u_ + regs[1] * self.b_i_ @ self.b_i_
                    + regs[2] * np.einsum("ij,ij->", P, P) + regs[3] * np.einsum("ij,ij->", Q, Q)), np.sqrt(sse / n)

        self._run_epochs(n_epochs, patience, epoch, validation, type(self).__name__)

    def _estimate(self, u, i):
        u, i = np.asarray(u), np.asarray(i)
        known_u, known_i = u >= 0, i >= 0
        both = known_u & known_i
        dots = np.zeros(len(u))
        dots[both] = exact_dots(self.user_factors_, self.item_factors_, u[both], i[both])
        if self.biased:
            est = self.global_mean_ + np.where(known_u, self.b_u_[np.where(known_u, u, 0)], 0.0)
            est = est + np.where(known_i, self.b_i_[np.where(known_i, i, 0)], 0.0)
            return est + dots, np.zeros(len(u), dtype=bool)
        return dots, ~both

    def _validation_estimate(self, u, i):
        known_u, known_i = u >= 0, i >= 0
        uu, ii = np.where(known_u, u, 0), np.where(known_i, i, 0)
        dots = np.where(known_u & known_i, np.einsum("ij,ij->i", self.user_factors_[uu], self.item_factors_[ii]), 0.0)
        if self.biased:
            return (self.global_mean_ + np.where(known_u, self.b_u_[uu], 0.0) + np.where(known_i, self.b_i_[ii], 0.0)
                    + dots, np.zeros(len(u), dtype=bool))
        return dots, ~(known_u & known_i)

    def _scores(self, users):
        users = np.asarray(users)
        scores = self.user_factors_[users] @ self.item_factors_.T
        if self.biased:
            scores = scores + (self.global_mean_ + self.b_u_[users])[:, None] + self.b_i_[None, :]
        return scores


class FunkSVD(BiasedMF):
    r"""Unbiased matrix factorisation :math:`\hat r_{ui} = q_i^\top p_u` by SGD (Funk 2006).

    ``BiasedMF`` with ``biased=False``: identical to Surprise's ``SVD(biased=False)``. An unknown
    user or item makes the prediction impossible (global mean fallback).
    """

    def __init__(self, n_factors: int = 100, n_epochs: int = 20, lr_all: float = 0.005, reg_all: float = 0.02, *,
                 biased: bool = False, init_mean: float = 0.0, init_std_dev: float = 0.1,
                 lr_bu: float | None = None, lr_bi: float | None = None, lr_pu: float | None = None,
                 lr_qi: float | None = None, reg_bu: float | None = None, reg_bi: float | None = None,
                 reg_pu: float | None = None, reg_qi: float | None = None, fast: bool = False,
                 shuffle: bool = False, early_stopping: bool = False, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 5, progress: bool = False, random_state=0):
        super().__init__(n_factors, n_epochs, lr_all, reg_all, biased=biased, init_mean=init_mean,
                         init_std_dev=init_std_dev, lr_bu=lr_bu, lr_bi=lr_bi, lr_pu=lr_pu, lr_qi=lr_qi,
                         reg_bu=reg_bu, reg_bi=reg_bi, reg_pu=reg_pu, reg_qi=reg_qi, fast=fast, shuffle=shuffle,
                         early_stopping=early_stopping, validation_fraction=validation_fraction,
                         n_iter_no_change=n_iter_no_change, progress=progress, random_state=random_state)


# ---------------------------------------------------------------------------------------------
# ALS
# ---------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def _gram_stack(indptr, indices, X, lam):  # pragma: no cover - compiled
    """``A[s] = X[S_s].T @ X[S_s] + lam[s] I`` for every row ``s`` of a CSR pattern (S_s = its columns)."""
    n_rows, k = len(indptr) - 1, X.shape[1]
    A = np.zeros((n_rows, k, k))
    for s in range(n_rows):
        for p in range(indptr[s], indptr[s + 1]):
            x = X[indices[p]]
            for a in range(k):
                xa = x[a]
                for b in range(a + 1):
                    A[s, a, b] += xa * x[b]
        for a in range(k):
            A[s, a, a] += lam[s]
            for b in range(a):
                A[s, b, a] = A[s, a, b]
    return A


def _ridge_side(pattern: sp.csr_matrix, target: sp.csr_matrix, X: np.ndarray, lam: np.ndarray) -> np.ndarray:
    r"""Solve every row's ridge regression at once: :math:`(X_S^\top X_S + \lambda_s I)\, w_s = X_S^\top y_s`.

    ``pattern`` (rows x cols CSR) gives each row's observed columns :math:`S`; ``target`` holds
    :math:`y` on the same pattern. The right-hand sides of all rows are one sparse product
    ``target @ X``; ``np.linalg.solve`` solves the whole stack of k x k systems in one call.
    """
    A = _gram_stack(pattern.indptr.astype(np.int64), pattern.indices.astype(np.int64), X, lam)
    b = np.asarray(target @ X)
    return np.linalg.solve(A, b[:, :, None])[:, :, 0]


class ALS(FactorModel):
    r"""Alternating least squares for explicit ratings, with biases and weighted-lambda regularisation.

    .. math::
        \min \sum_{(u,i) \in \mathcal{K}} (r_{ui} - \mu - b_u - b_i - q_i^\top p_u)^2
          + \lambda \Big(\sum_u n_u (\lVert p_u \rVert^2 + b_u^2) + \sum_i n_i (\lVert q_i \rVert^2 + b_i^2)\Big)

    With the items fixed, each user's problem is a ridge regression with features
    :math:`\tilde q_i = (q_i, 1)` and target :math:`r_{ui} - \mu - b_i`, solved in closed form:

    .. math::  (p_u, b_u) = \big(\tilde Q_u^\top \tilde Q_u + \lambda n_u I\big)^{-1} \tilde Q_u^\top (r_u - \mu - b_{I_u})

    then the same for the items with the users fixed. The Gram matrices of all users are built in
    one compiled pass over the ratings and the stack of small systems is solved in one
    ``np.linalg.solve`` call.

    Parameters
    ----------
    n_factors (20), n_epochs (15), reg :math:`\lambda` (0.1), init_std_dev (0.1),
    early_stopping, validation_fraction, n_iter_no_change, progress, random_state : as in :class:`BiasedMF`.

    Attributes
    ----------
    user_factors_ ``(n_users, k)``, item_factors_ ``(n_items, k)``, b_u_, b_i_, history_ (``train_loss`` = the objective above,
    ``train_rmse``, ``val_rmse``), n_epochs_, best_epoch_.

    References
    ----------
    Y. Zhou, D. Wilkinson, R. Schreiber, R. Pan, "Large-scale Parallel Collaborative Filtering for
    the Netflix Prize", AAIM 2008. Y. Hu, Y. Koren, C. Volinsky, ICDM 2008 (the implicit variant).
    """

    _state_names = ("user_factors_", "item_factors_", "b_u_", "b_i_")

    def __init__(self, n_factors: int = 20, n_epochs: int = 15, reg: float = 0.1, *, init_std_dev: float = 0.1,
                 early_stopping: bool = False, validation_fraction: float = 0.1, n_iter_no_change: int = 5,
                 progress: bool = False, random_state=0):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.reg = reg
        self.init_std_dev = init_std_dev
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _lr_text(self) -> str:
        return "n/a: ALS has no learning rate; check the data for extreme values"

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        n_factors, n_epochs, patience = self._check_common()
        reg = check_finite_number(self.reg, "reg", minimum=0, strict=True)
        std = check_finite_number(self.init_std_dev, "init_std_dev", minimum=0)
        rng = check_random_state(self.random_state, legacy=True)
        self.user_factors_ = rng.normal(0, std, size=(data.n_users, n_factors))
        self.item_factors_ = rng.normal(0, std, size=(data.n_items, n_factors))
        self.b_u_ = np.zeros(data.n_users)
        self.b_i_ = np.zeros(data.n_items)
        idx, validation = self._split_for_validation(data, validation, patience, rng)
        u, i, r = data.u[idx], data.i[idx], data.r[idx]
        mu = data.global_mean
        shape = (data.n_users, data.n_items)
        mask_ui = sp.csr_matrix((np.ones(len(r)), (u, i)), shape=shape)
        mask_iu = mask_ui.T.tocsr()  # CSR keeps columns sorted: the same pattern as the targets below
        # weighted lambda; a user or item without training ratings (held out for validation) gets
        # lambda * 1, so its system stays solvable (its factors and bias are then 0)
        n_u = np.maximum(np.bincount(u, minlength=data.n_users), 1).astype(float)
        n_i = np.maximum(np.bincount(i, minlength=data.n_items), 1).astype(float)
        ones_u, ones_i = np.ones((data.n_users, 1)), np.ones((data.n_items, 1))

        def epoch(_):
            y = r - mu - self.b_i_[i]
            w = _ridge_side(mask_ui, sp.csr_matrix((y, (u, i)), shape=shape), np.hstack([self.item_factors_, ones_i]), reg * n_u)
            self.user_factors_, self.b_u_ = w[:, :-1].copy(), w[:, -1].copy()
            y = r - mu - self.b_u_[u]
            w = _ridge_side(mask_iu, sp.csr_matrix((y, (i, u)), shape=shape[::-1]), np.hstack([self.user_factors_, ones_u]), reg * n_i)
            self.item_factors_, self.b_i_ = w[:, :-1].copy(), w[:, -1].copy()
            P, Q = self.user_factors_, self.item_factors_
            err = r - (mu + self.b_u_[u] + self.b_i_[i] + np.einsum("ij,ij->i", P[u], Q[i]))
            sse = float(err @ err)
            return sse + reg * (n_u @ (np.einsum("ij,ij->i", P, P) + self.b_u_ ** 2)
                                + n_i @ (np.einsum("ij,ij->i", Q, Q) + self.b_i_ ** 2)), np.sqrt(sse / len(r))

        self._run_epochs(n_epochs, patience, epoch, validation, "ALS")

    def _estimate(self, u, i):
        u, i = np.asarray(u), np.asarray(i)
        known_u, known_i = u >= 0, i >= 0
        uu, ii = np.where(known_u, u, 0), np.where(known_i, i, 0)
        est = self.global_mean_ + np.where(known_u, self.b_u_[uu], 0.0) + np.where(known_i, self.b_i_[ii], 0.0)
        est = est + np.where(known_u & known_i, np.einsum("ij,ij->i", self.user_factors_[uu], self.item_factors_[ii]), 0.0)
        return est, np.zeros(len(u), dtype=bool)

    def _scores(self, users):
        users = np.asarray(users)
        return (self.global_mean_ + self.b_u_[users])[:, None] + self.b_i_[None, :] + self.user_factors_[users] @ self.item_factors_.T


# ---------------------------------------------------------------------------------------------
# NMF
# ---------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def _nmf_epoch(us, is_, rs, mu, bu, bi, P, Q, n_u, n_i, lr_bu, lr_bi, reg_bu, reg_bi, reg_pu, reg_qi,
               biased, user_num, user_denom, item_num, item_denom):  # pragma: no cover - compiled
    """One epoch of Surprise's NMF (same order of operations); returns the sum of squared errors."""
    n_factors = P.shape[1]
    user_num[:, :] = 0.0
    user_denom[:, :] = 0.0
    item_num[:, :] = 0.0
    item_denom[:, :] = 0.0
    sse = 0.0
    for k in range(len(rs)):
        u = us[k]
        i = is_[k]
        r = rs[k]
        dot = 0.0
        for f in range(n_factors):
            dot += Q[i, f] * P[u, f]
        est = mu + bu[u] + bi[i] + dot
        err = r - est
        sse += err * err
        if biased:
            bu[u] += lr_bu * (err - reg_bu * bu[u])
            bi[i] += lr_bi * (err - reg_bi * bi[i])
        for f in range(n_factors):
            user_num[u, f] += Q[i, f] * r
            user_denom[u, f] += Q[i, f] * est
            item_num[i, f] += P[u, f] * r
            item_denom[i, f] += P[u, f] * est
    for u in range(P.shape[0]):
        for f in range(n_factors):
            if P[u, f] != 0:
                user_denom[u, f] += n_u[u] * reg_pu * P[u, f]
                P[u, f] *= user_num[u, f] / user_denom[u, f]
    for i in range(Q.shape[0]):
        for f in range(n_factors):
            if Q[i, f] != 0:
                item_denom[i, f] += n_i[i] * reg_qi * Q[i, f]
                Q[i, f] *= item_num[i, f] / item_denom[i, f]
    return sse


class NMF(FactorModel):
    r"""Non-negative matrix factorisation :math:`R \approx W H` with :math:`W = P \ge 0`, :math:`H = Q^\top \ge 0`.

    .. math::
        \hat r_{ui} = q_i^\top p_u, \qquad
        p_{uf} \leftarrow p_{uf} \frac{\sum_{i \in I_u} q_{if} r_{ui}}
                                      {\sum_{i \in I_u} q_{if} \hat r_{ui} + \lambda_u |I_u| p_{uf}}, \qquad
        q_{if} \leftarrow q_{if} \frac{\sum_{u \in U_i} p_{uf} r_{ui}}
                                      {\sum_{u \in U_i} p_{uf} \hat r_{ui} + \lambda_i |U_i| q_{if}}

    Multiplicative updates keep non-negative factors non-negative (Luo et al. 2014), so every
    factor adds to a rating, never subtracts: parts-based, easier to read. Same algorithm,
    defaults and operation order as Surprise's ``NMF`` (so the same numbers for the same
    ``random_state``). ``biased=True`` adds SGD-learned biases (and may give negative residuals).

    Parameters
    ----------
    n_factors (15), n_epochs (50), reg_pu, reg_qi (0.06), biased (False), reg_bu, reg_bi (0.02),
    lr_bu, lr_bi (0.005), init_low, init_high (0, 1: the uniform initialisation),
    early_stopping, validation_fraction, n_iter_no_change, progress, random_state.

    Attributes
    ----------
    user_factors_ :math:`W` ``(n_users, k)`` and item_factors_ :math:`H^\top` ``(n_items, k)``,
    non-negative; b_u_, b_i_; history_ (``train_loss`` =
    squared errors of the epoch plus the weighted regularisation), n_epochs_, best_epoch_.

    References
    ----------
    X. Luo, M. Zhou, Y. Xia, Q. Zhu, "An efficient non-negative matrix-factorization-based approach
    to collaborative filtering for recommender systems", IEEE TII 10(2), 2014.
    D. Lee, H. S. Seung, "Algorithms for non-negative matrix factorization", NIPS 2000.
    """

    _state_names = ("user_factors_", "item_factors_", "b_u_", "b_i_")

    def __init__(self, n_factors: int = 15, n_epochs: int = 50, *, biased: bool = False, reg_pu: float = 0.06,
                 reg_qi: float = 0.06, reg_bu: float = 0.02, reg_bi: float = 0.02, lr_bu: float = 0.005,
                 lr_bi: float = 0.005, init_low: float = 0.0, init_high: float = 1.0, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 5, progress: bool = False, random_state=0):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.biased = biased
        self.reg_pu = reg_pu
        self.reg_qi = reg_qi
        self.reg_bu = reg_bu
        self.reg_bi = reg_bi
        self.lr_bu = lr_bu
        self.lr_bi = lr_bi
        self.init_low = init_low
        self.init_high = init_high
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _lr_text(self) -> str:
        return f"lr_bu={self.lr_bu!r}, lr_bi={self.lr_bi!r}"

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        n_factors, n_epochs, patience = self._check_common()
        regs = [check_finite_number(getattr(self, n), n, minimum=0) for n in ("reg_pu", "reg_qi", "reg_bu", "reg_bi")]
        lrs = [check_finite_number(getattr(self, n), n, minimum=0, strict=True) for n in ("lr_bu", "lr_bi")]
        low = check_finite_number(self.init_low, "init_low", minimum=0)
        high = check_finite_number(self.init_high, "init_high", minimum=0)
        if high < low:
            raise ValueError(f"init_high must be >= init_low, got init_low={low}, init_high={high}")
        rng = check_random_state(self.random_state, legacy=True)
        self.user_factors_ = rng.uniform(low, high, size=(data.n_users, n_factors))
        self.item_factors_ = rng.uniform(low, high, size=(data.n_items, n_factors))
        validation, us, is_, rs = self._training_rows(data, validation, patience, rng)
        n_u = np.bincount(us, minlength=data.n_users).astype(float)
        n_i = np.bincount(is_, minlength=data.n_items).astype(float)
        biased = bool(self.biased)
        mu = data.global_mean if biased else 0.0
        bufs = [np.zeros((data.n_users, n_factors)), np.zeros((data.n_users, n_factors)),
                np.zeros((data.n_items, n_factors)), np.zeros((data.n_items, n_factors))]
        reg_pu, reg_qi, reg_bu, reg_bi = regs

        def epoch(_):
            sse = _nmf_epoch(us, is_, rs, mu, self.b_u_, self.b_i_, self.user_factors_, self.item_factors_, n_u, n_i, lrs[0], lrs[1],
                             reg_bu, reg_bi, reg_pu, reg_qi, biased, *bufs)
            return (sse + reg_pu * n_u @ np.einsum("ij,ij->i", self.user_factors_, self.user_factors_)
                    + reg_qi * n_i @ np.einsum("ij,ij->i", self.item_factors_, self.item_factors_)
                    + reg_bu * self.b_u_ @ self.b_u_ + reg_bi * self.b_i_ @ self.b_i_), np.sqrt(sse / len(rs))

        self._run_epochs(n_epochs, patience, epoch, validation, "NMF")

    # same prediction rule as BiasedMF (np.dot pair by pair, as Surprise)
    _estimate = BiasedMF._estimate
    _validation_estimate = BiasedMF._validation_estimate
    _scores = BiasedMF._scores


# ---------------------------------------------------------------------------------------------
# BPR-MF
# ---------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def _bpr_loss(x, one):  # pragma: no cover - compiled
    """``(-log sigma(x), 1 - sigma(x))`` without overflow; ``one`` is 1 in the factors' dtype (a float32
    model computes in float32: a float64 literal would turn the whole step into float64)."""
    if x > 0:
        z = np.exp(-x)
        return np.log1p(z), z / (one + z)
    z = np.exp(x)
    return -x + np.log1p(z), one / (one + z)


@numba.njit(cache=True, inline="always")
def _bpr_gradient(x, one):  # pragma: no cover - compiled
    """``1 - sigma(x)`` alone, as :func:`_bpr_loss` computes it (the same bits) but with one ``exp`` and no
    branch: the fast loop leaves the loss to NumPy (:func:`_bpr_losses`)."""
    z = np.exp(-np.abs(x))
    return (z if x > 0 else one) / (one + z)


def _bpr_losses(margins: np.ndarray) -> float:
    r""":math:`\sum_t -\ln \sigma(x_t) = \sum_t \ln(1 + e^{-|x_t|}) + \max(-x_t, 0)` over the margins met
    in a fast epoch, in one vectorised NumPy pass (a log per step in the compiled loop costs about as much
    as the step's arithmetic in float32)."""
    return float((np.log1p(np.exp(-np.abs(margins))) + np.maximum(-margins, 0.0)).sum())


@numba.njit(cache=True, inline="always")
def _bpr_margin(u, i, j, P, Q, bi):  # pragma: no cover - compiled
    r""":math:`x_{uij} = b_i - b_j + p_u^\top (q_i - q_j)`."""
    x = bi[i] - bi[j]
    for f in range(P.shape[1]):
        x += P[u, f] * (Q[i, f] - Q[j, f])
    return x


@numba.njit(cache=True, inline="always")
def _bpr_update(u, i, j, P, Q, bi, g, lr, reg, reg_b):  # pragma: no cover - compiled
    r"""The SGD update of the triple's parameters given :math:`g = 1 - \sigma(x_{uij})` (every factor read
    before it is written)."""
    bi[i] += lr * (g - reg_b * bi[i])
    bi[j] += lr * (-g - reg_b * bi[j])
    for f in range(P.shape[1]):
        puf = P[u, f]
        qif = Q[i, f]
        qjf = Q[j, f]
        P[u, f] += lr * (g * (qif - qjf) - reg * puf)
        Q[i, f] += lr * (g * puf - reg * qif)
        Q[j, f] += lr * (-g * puf - reg * qjf)


@numba.njit(cache=True, inline="always")
def _bpr_step(u, i, j, P, Q, bi, lr, reg, reg_b):  # pragma: no cover - compiled
    r"""One SGD step on the triple (u, i, j): :math:`x_{uij} = b_i - b_j + p_u^\top (q_i - q_j)`, the
    gradient of :math:`-\ln \sigma(x_{uij})` plus the penalties; returns the loss. Inlined in the
    epoch loops, so it is compiled with each loop's flags (``fastmath`` only in the fast one). Computes in
    the dtype of ``P``, ``Q``, ``bi``, ``lr``, ``reg``, ``reg_b`` (all float64 or all float32)."""
    x = _bpr_margin(u, i, j, P, Q, bi)
    loss, g = _bpr_loss(x, P.dtype.type(1.0))
    _bpr_update(u, i, j, P, Q, bi, g, lr, reg, reg_b)
    return loss


@numba.njit(cache=True)
def _bpr_epoch(us, is_, js, P, Q, bi, lr, reg, reg_b):  # pragma: no cover - compiled
    """One SGD pass over the triples ``(us[k], is_[k], js[k])``; returns the sum of -log sigma(x_uij)."""
    total = 0.0
    for k in range(len(us)):
        u, i, j = us[k], is_[k], js[k]
        total += _bpr_step(u, i, j, P, Q, bi, lr, reg, reg_b)
    return total


#: the largest seen-pairs bitmap (bytes) the fast BPR path builds; beyond it, the CSR binary search alone
_SEEN_BITMAP_MAX_BYTES = 32 * 2 ** 20


def _seen_bitmap(indptr: np.ndarray, indices: np.ndarray, n_items: int) -> np.ndarray:
    """The seen pairs as bits: user ``u`` has seen item ``j`` iff ``bits[u, j >> 3] >> (j & 7) & 1``, shape
    ``(n_users, ceil(n_items / 8))`` uint8. One lookup instead of a binary search over the user's items (the
    same answer); shape ``(0, 0)`` when it would exceed :data:`_SEEN_BITMAP_MAX_BYTES` (the search is used)."""
    n_users, width = len(indptr) - 1, (n_items + 7) // 8
    if n_users * width > _SEEN_BITMAP_MAX_BYTES:
        return np.zeros((0, 0), dtype=np.uint8)
    bits = np.zeros((n_users, width), dtype=np.uint8)
    rows = np.repeat(np.arange(n_users), np.diff(indptr))
    np.bitwise_or.at(bits, (rows, indices >> 3), np.left_shift(1, indices & 7).astype(np.uint8))
    return bits


@numba.njit(cache=True)
def _is_seen(indptr, indices, bits, u, j):  # pragma: no cover - compiled
    """Whether item ``j`` is among user ``u``'s items: one bit of ``bits`` (:func:`_seen_bitmap`), or, when
    it is empty, a binary search of the user's sorted CSR columns."""
    if bits.shape[0] > 0:
        return (bits[u, j >> 3] >> (j & 7)) & 1 == 1
    lo, hi = indptr[u], indptr[u + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if indices[mid] < j:
            lo = mid + 1
        else:
            hi = mid
    return lo < indptr[u + 1] and indices[lo] == j


@numba.njit(cache=True, fastmath=True)
def _bpr_epoch_fast(order, start, us, is_, indptr, indices, cand, pool, js, bits, margins, P, Q, bi, lr, reg,
                    reg_b):  # pragma: no cover - compiled
    """:func:`_bpr_epoch` with the negatives checked in the loop and ``fastmath`` (``BPRMF(fast=True)``).

    Triple ``t`` (from ``start``) is the positive ``order[t]`` and the negative ``cand[t]``, or, when the
    user has seen it, the next unseen item of ``pool`` (drawn beforehand, each value read once), written
    to ``js[t]``, and its margin :math:`x_{uij}` (before the step) to ``margins[t]``, from which the caller
    computes the epoch's loss (:func:`_bpr_losses`). Seen items are looked up in ``bits``
    (:func:`_seen_bitmap`) or, when it is empty, in the CSR ``indptr``, ``indices``. When the pool runs out,
    returns ``t`` early; the caller draws a fresh pool and resumes at ``t`` (``cand[t]`` is checked again
    and rejected again). Every negative is thus
    the first unseen item of a sequence of independent uniform draws: uniform over the user's unseen
    items, the distribution of :func:`course_lib.sampling.sample_unseen`, from another random stream.
    Returns ``len(order)`` when the epoch is complete. Computes in the factors' dtype."""
    one = P.dtype.type(1.0)
    used = 0
    for t in range(start, len(order)):
        k = order[t]
        u, i, j = us[k], is_[k], cand[t]
        while _is_seen(indptr, indices, bits, u, j):
            if used == len(pool):
                return t
            j = pool[used]
            used += 1
        js[t] = j
        x = _bpr_margin(u, i, j, P, Q, bi)
        margins[t] = x
        _bpr_update(u, i, j, P, Q, bi, _bpr_gradient(x, one), lr, reg, reg_b)
    return len(order)


class BPRMF(FactorModel):
    r"""Bayesian personalised ranking with matrix factorisation, for implicit feedback.

    Every training row (whatever its rating) is a positive interaction. BPR learns to score a
    user's items above the items they did not interact with, from sampled triples
    :math:`(u, i, j)`, :math:`i` seen and :math:`j` unseen:

    .. math::
        x_{uij} = \hat x_{ui} - \hat x_{uj}, \quad \hat x_{ui} = b_i + q_i^\top p_u, \qquad
        \max \sum_{(u,i,j)} \ln \sigma(x_{uij}) - \lambda (\lVert p_u \rVert^2 + \lVert q_i \rVert^2
            + \lVert q_j \rVert^2) - \lambda_b (b_i^2 + b_j^2)

    Each step: :math:`g = 1 - \sigma(x_{uij})`, :math:`p_u \leftarrow p_u + \gamma (g (q_i - q_j) - \lambda p_u)`,
    :math:`q_i \leftarrow q_i + \gamma (g p_u - \lambda q_i)`, :math:`q_j \leftarrow q_j + \gamma (-g p_u - \lambda q_j)`.
    An epoch draws as many triples as there are positives: the positive pair uniformly (with
    replacement), the negative uniformly among the user's unseen items (:func:`course_lib.sampling.sample_unseen`,
    the course's one sampler). Scores are not ratings: ``predict`` returns :math:`\hat x_{ui}`
    unclipped; use ``recommend``.

    Two choices matter as much as the hyperparameters (Rendle 2021; Milogradskii et al. 2024): how
    the positives of an epoch are drawn and how the step size evolves. ``sampling="epoch"`` visits
    every positive once per epoch in a new random order (the default ``"bootstrap"`` draws them with
    replacement, as the BPR paper, so about a third are missed in each epoch);
    ``lr_schedule="linear"`` lets the step decay as :math:`\gamma_t = \gamma (1 - t / T)` over the
    :math:`T` epochs (large steps early, fine ones at the end). On MovieLens 100K (per-user stratified
    75/25 split, seed 42; each chosen on validation carved from the training part, over one 16-point
    grid), NDCG@10 goes from 0.417 (bootstrap, constant step) to 0.457 (epoch sampling, linear schedule:
    64 factors, 100 epochs, lr 0.1, reg 0.03, reg_bias 0.01; recall@10 from 0.192 to 0.210); cornac's
    BPR, tuned the same way, reaches 0.420. The schedule does the work: with a constant step the chosen
    setting falls to 0.399, with bootstrap sampling it keeps 0.456 (``benchmarks/bench_peers.py``,
    ``benchmarks/results/peers.md``).

    Parameters
    ----------
    n_factors (64), n_epochs (30), lr :math:`\gamma` (0.05), reg :math:`\lambda` (0.002),
    reg_bias :math:`\lambda_b` (0.0), init_std_dev (0.1),
    sampling : ``"bootstrap"`` (default: positives drawn with replacement) or ``"epoch"`` (each positive
        once per epoch, shuffled).
    lr_schedule : ``"constant"`` (default) or ``"linear"`` (:math:`\gamma_t = \gamma (1 - t/T)`, t from 0).
    fast : draw the negatives' candidates in bulk and check them inside the compiled loop (a fresh pool of
        redraws whenever one runs out) against a bitmap of the seen pairs (one bit per user and item, up to
        32 MiB; a binary search of the user's items beyond), compiled with ``fastmath``, the epoch's loss
        computed afterwards in NumPy from the margins met (no log in the loop): the same distribution,
        another random stream.
    dtype : ``"float64"`` (default) or ``"float32"``: the factors, the biases and the arithmetic of a step
        (as cornac's BPR): half the memory traffic and twice the SIMD width. The start is the float64 one
        rounded; NDCG@10 within ~1e-3 of float64. With ``fast=True`` it is what makes BPR-MF as fast as
        cornac at equal work (``benchmarks/bench_peers.py``).
    early_stopping (on the BPR loss of held-out positives with negatives drawn once), validation_fraction,
    n_iter_no_change, progress, random_state.

    Attributes
    ----------
    user_factors_ ``(n_users, k)``, item_factors_ ``(n_items, k)``, b_i_ ``(n_items,)``, history_
    (``train_loss`` = mean of :math:`-\ln \sigma(x_{uij})` over the epoch's triples, as they were met;
    ``val_loss`` with validation), n_epochs_, best_epoch_.

    References
    ----------
    S. Rendle, C. Freudenthaler, Z. Gantner, L. Schmidt-Thieme, "BPR: Bayesian Personalized Ranking
    from Implicit Feedback", UAI 2009.
    """

    _predicts_ratings = False
    _state_names = ("user_factors_", "item_factors_", "b_i_")

    def __init__(self, n_factors: int = 64, n_epochs: int = 30, lr: float = 0.05, reg: float = 0.002, *,
                 reg_bias: float = 0.0, init_std_dev: float = 0.1, sampling: str = "bootstrap",
                 lr_schedule: str = "constant", fast: bool = False, dtype: str = "float64", early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 5, progress: bool = False, random_state=0):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr = lr
        self.reg = reg
        self.reg_bias = reg_bias
        self.init_std_dev = init_std_dev
        self.sampling = sampling
        self.lr_schedule = lr_schedule
        self.fast = fast
        self.dtype = dtype
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        n_factors, n_epochs, patience = self._check_common()
        lr = check_finite_number(self.lr, "lr", minimum=0, strict=True)
        reg = check_finite_number(self.reg, "reg", minimum=0)
        reg_b = check_finite_number(self.reg_bias, "reg_bias", minimum=0)
        std = check_finite_number(self.init_std_dev, "init_std_dev", minimum=0)
        if self.sampling not in ("bootstrap", "epoch"):
            raise ValueError(f"sampling must be 'bootstrap' or 'epoch', got {self.sampling!r}")
        if self.lr_schedule not in ("constant", "linear"):
            raise ValueError(f"lr_schedule must be 'constant' or 'linear', got {self.lr_schedule!r}")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")
        dt = np.dtype(self.dtype).type
        if (data.user_counts() >= data.n_items).any():
            raise ValueError("a user has interacted with every item: BPR cannot sample a negative for them")
        rng = check_random_state(self.random_state)
        self.user_factors_ = rng.normal(0, std, size=(data.n_users, n_factors)).astype(dt, copy=False)
        self.item_factors_ = rng.normal(0, std, size=(data.n_items, n_factors)).astype(dt, copy=False)
        self.b_i_ = np.zeros(data.n_items, dtype=dt)
        seen = None if self.fast else pair_keys(data.u, data.i, data.n_items)  # the fast path reads bits / CSR
        idx, validation = self._split_for_validation(data, validation, patience, rng)
        us, is_ = data.u[idx].astype(np.int64), data.i[idx].astype(np.int64)
        matrix = data.matrix  # every training pair counts as seen (sorted columns per user)
        indptr, indices = matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64)
        bits = _seen_bitmap(indptr, indices, data.n_items) if self.fast else None
        reg, reg_b = dt(reg), dt(reg_b)  # the step computes in the factors' dtype (no-ops for float64)
        val_triples = None
        if validation is not None:
            known = validation.known
            vu, vi = validation.u[known], validation.i[known]
            keys = pair_keys(data.u, data.i, data.n_items) if seen is None else seen
            _, vj = sample_unseen(vu, data.n_items, keys, 1, rng.spawn(1)[0])
            val_triples = (vu, vi, vj)

        def epoch(e):
            if self.sampling == "epoch":
                k = rng.permutation(len(us))
            else:
                k = rng.integers(0, len(us), size=len(us))
            step = dt(lr * (1.0 - e / n_epochs) if self.lr_schedule == "linear" else lr)
            if self.fast:
                cand = rng.integers(0, data.n_items, size=len(us))
                js = np.empty(len(us), dtype=np.int64)  # the negatives, as met
                margins = np.empty(len(us))  # x_uij of each triple before its step
                t = 0
                while t < len(us):  # a fresh pool of redraws whenever one runs out (each draw used once)
                    pool = rng.integers(0, data.n_items, size=len(us) // 4 + 64)
                    t = _bpr_epoch_fast(k, t, us, is_, indptr, indices, cand, pool, js, bits, margins,
                                        self.user_factors_, self.item_factors_, self.b_i_, step, reg, reg_b)
                total = _bpr_losses(margins)
            else:
                _, js = sample_unseen(us[k], data.n_items, seen, 1, rng)
                total = _bpr_epoch(us[k], is_[k], js, self.user_factors_, self.item_factors_, self.b_i_, step, reg, reg_b)
            return total / len(us), None

        self._run_epochs(n_epochs, patience, epoch, val_triples, "BPR-MF")

    def _validate(self, triples) -> dict[str, float]:
        u, i, j = triples
        P, Q, b = self.user_factors_, self.item_factors_, self.b_i_
        x = b[i] - b[j] + np.einsum("ij,ij->i", P[u], Q[i] - Q[j])
        return {"val_loss": float(np.mean(np.logaddexp(0.0, -x)))}

    def _estimate(self, u, i):
        u, i = np.asarray(u), np.asarray(i)
        known = (u >= 0) & (i >= 0)
        uu, ii = np.where(known, u, 0), np.where(known, i, 0)
        return self.b_i_[ii] + np.einsum("ij,ij->i", self.user_factors_[uu], self.item_factors_[ii]), ~known

    def _scores(self, users):
        users = np.asarray(users)
        return self.user_factors_[users] @ self.item_factors_.T + self.b_i_[None, :]
