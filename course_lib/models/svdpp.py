r"""SVD++: biased matrix factorisation with implicit feedback (Koren 2008); **Surprise's ``SVDpp`` bit for bit**.

A user is described twice: by a free vector :math:`p_u` and by the items they rated, whatever
the rating (the *implicit feedback*: which movies a user chose to rate says something about them):

.. math::
    \hat r_{ui} = \mu + b_u + b_i + q_i^\top \Big(p_u + |I_u|^{-\frac12} \sum_{j \in I_u} y_j\Big)

with :math:`I_u` the items :math:`u` rated in training and :math:`y_j \in \mathbb{R}^k` a second
vector per item. A user with few ratings is still placed by the items they chose.

Training is SGD on the regularised squared error, rating by rating, user by user (Surprise's
order). With :math:`e_{ui} = r_{ui} - \hat r_{ui}`, :math:`z_u = |I_u|^{-1/2} \sum_{j \in I_u} y_j`
and steps :math:`\gamma`:

.. math::
    b_u \mathrel{+}= \gamma (e_{ui} - \lambda b_u), \quad
    b_i \mathrel{+}= \gamma (e_{ui} - \lambda b_i), \quad
    p_u \mathrel{+}= \gamma (e_{ui} q_i - \lambda p_u), \quad
    q_i \mathrel{+}= \gamma (e_{ui} (p_u + z_u) - \lambda q_i), \quad
    y_j \mathrel{+}= \gamma (e_{ui} |I_u|^{-\frac12} q_i - \lambda y_j) \;\; \forall j \in I_u

(the old :math:`p_u, q_i` on the right-hand sides). Every rating touches all :math:`|I_u|` vectors
:math:`y_j` twice (to form :math:`z_u`, then to update them), so an epoch costs
:math:`O(k \sum_u |I_u|^2)` rather than SVD's :math:`O(k\,|R|)`.

The cost is not necessary: within user :math:`u`'s block of ratings every :math:`y_j, j \in I_u`
receives the same affine update :math:`y_j \leftarrow a\, y_j + \gamma c_t` with
:math:`a = 1 - \gamma \lambda` and :math:`c_t = e_{ui} q_i / \sqrt{|I_u|}`, so after :math:`t` ratings
:math:`y_j = A_t\, y_j^{(0)} + D_t` (a scalar :math:`A_t = a^t`, a vector :math:`D_t = a D_{t-1} + \gamma c_t`)
and :math:`z_u = A_t z_u^{(0)} + \sqrt{|I_u|}\, D_t`. ``SVDpp(fast=True)`` trains this way in
:math:`O(k\,|R|)` per epoch: the same model, rounded differently.

Why the course's exact loop is faster than Surprise's with the same arithmetic: Surprise rebuilds
:math:`I_u` from a Python list for every rating and walks :math:`y` column by column; here the
loop is compiled (Numba), walks :math:`y` row by row (contiguous, SIMD over the factors: explicit
vectors of 8 doubles, the running sums kept in registers), forms the next rating's :math:`z_u`
while updating :math:`y` (the same divisions and additions in the same order, one pass instead of
two) and divides by :math:`\sqrt{|I_u|}` with a multiplication and two FMAs that give the
correctly rounded quotient. Nothing is compiled with ``fastmath``: no floating-point operation is
reordered or fused, which is what bit-identity needs. On ML-100K (80,000 ratings, 20 factors) an
epoch costs :math:`\sum_u |I_u|^2 = 1.3 \times 10^7` updates of a :math:`y_j` (five multiplications
or FMAs and three additions per factor, so the two multiply units bound it): about 35 ms of CPU on
an AMD EPYC compiled for its AVX-512, 50 ms with AVX2 only (the course's numeric profile).

References
----------
Y. Koren, "Factorization Meets the Neighborhood: a Multifaceted Collaborative Filtering Model",
KDD 2008, section 4. F. Ricci et al. (eds.), *Recommender Systems Handbook*, 2010, section 5.3.1.
N. Hug, "Surprise: A Python library for recommender systems", JOSS 5(52), 2020.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ..interactions import HeldOut, Interactions
from ..validation import check_finite_number
from .factorization import FactorModel, exact_dots

__all__ = ["SVDpp"]


@intrinsic
def _fma(typingctx, a, b, c):  # pragma: no cover - compiled
    """``a * b + c`` rounded once (LLVM's ``llvm.fma``: the hardware FMA, or libm's exact ``fma``)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


@numba.njit(cache=True, inline="always")
def _divide(a, b, inv_b):  # pragma: no cover - compiled
    r"""``a / b`` correctly rounded, without a division: ``inv_b = 1 / b`` (correctly rounded), then
    Markstein's correction ``q = a inv_b; r = a - q b`` (exact with an FMA); ``q + r inv_b`` rounded once.

    Markstein (IBM J. Res. Dev. 34(1), 1990; Muller et al., *Handbook of Floating-Point Arithmetic*,
    2018, theorem 4.10): when ``inv_b`` is within half an ulp of 1/b and ``q`` within one ulp of a/b,
    the result is the correctly rounded quotient, i.e. the same bits as ``a / b`` (the sign of a zero
    aside). Two FMAs and a product pipeline where a division does not: SVD++'s inner loop divides
    every :math:`y_j` by :math:`\sqrt{|I_u|}` for every rating. Checked against ``/`` on 6e9 quotients
    (``tests/test_surprise_twins.py`` checks a sample) and by the bit-identity with Surprise."""
    q = a * inv_b
    r = _fma(-q, b, a)
    return _fma(r, inv_b, q)


#: doubles per SIMD vector of the implicit-factor update (one AVX-512 register, two AVX2 ones)
LANES = 8
#: the factors are padded to a multiple of this (the last vector may be half as long: 20 = 8 + 8 + 4)
PAD = 4
#: vectors of factors updated together in one pass over the user's rows (independent sums in flight)
_GROUP = 4


def _padded(n_factors: int) -> int:
    """``n_factors`` rounded up to a multiple of ``PAD``: the width of the implicit-factor buffers."""
    return -(-n_factors // PAD) * PAD


@intrinsic
def _update_implicit(typingctx, B, n_u, c, z, lr, reg, sqrt_iu, inv):  # pragma: no cover - compiled
    r"""Every :math:`y_j, j \in I_u` of one rating, and the next rating's :math:`z_u`, in Surprise's arithmetic.

    ``B`` holds the user's :math:`y_j` as contiguous rows (``n_u`` x width, width a multiple of
    ``PAD``, zeros beyond the factors); ``c`` the vector :math:`e_{ui} q_i / \sqrt{|I_u|}`. For every
    row, factor by factor:

    .. math::
        y \leftarrow y + \gamma\,(c - \lambda y), \qquad z \mathrel{+}= y / \sqrt{|I_u|}

    with every operation rounded where Surprise rounds it (no fused multiply-add in the update; the
    quotient correctly rounded: :func:`_divide`'s product and two FMAs, or for the short vector of ``PAD``
    doubles a division, which runs beside the multiplications) and :math:`z` summed over the rows
    in :math:`I_u` order, each factor on its own: the same bits as Surprise's two passes (its
    ``u_impl_fdb`` of the next rating is the sum of the very values written here, in the same order).

    Written as LLVM vectors of ``LANES`` doubles (the last one of ``PAD`` if the width asks for it)
    because LLVM, left to vectorise the Numba loop itself, keeps :math:`z` in memory and re-checks
    aliasing on every row: here up to ``_GROUP`` vectors of :math:`z` stay in registers for a whole
    pass over the rows (IEEE operations on vectors round lane by lane exactly as scalars do; nothing
    is reassociated or fused)."""
    sig = types.void(B, n_u, c, z, lr, reg, sqrt_iu, inv)

    def codegen(context, builder, signature, args):
        b_arg, n_arg, c_arg, z_arg, lr_s, reg_s, sqrt_s, inv_s = args
        rows = context.make_array(signature.args[0])(context, builder, b_arg)
        c_arr = context.make_array(signature.args[2])(context, builder, c_arg)
        z_arr = context.make_array(signature.args[3])(context, builder, z_arg)
        width = cgutils.unpack_tuple(builder, rows.shape)[1]
        intp = width.type

        class Vec:
            """LLVM vectors of ``n`` doubles: the type, its FMA and the scalars broadcast."""

            def __init__(self, n):
                self.n, self.type = n, ir.VectorType(ir.DoubleType(), n)
                self.fma = cgutils.get_or_insert_function(
                    builder.module, ir.FunctionType(self.type, [self.type] * 3), f"llvm.fma.v{n}f64")
                self.lr, self.reg, self.sqrt, self.inv = (self.splat(x) for x in (lr_s, reg_s, sqrt_s, inv_s))

            def splat(self, x):
                v = ir.Constant(self.type, ir.Undefined)
                for lane in range(self.n):
                    v = builder.insert_element(v, x, ir.Constant(ir.IntType(32), lane))
                return v

            def at(self, data, index):
                return builder.bitcast(builder.gep(data, [index]), self.type.as_pointer())

        full, half = Vec(LANES), Vec(PAD)
        sums = {v.n: [cgutils.alloca_once(builder, v.type) for _ in range(_GROUP)] for v in (full, half)}
        start = cgutils.alloca_once_value(builder, intp(0))

        def one_pass(vecs):
            """The factors start, start + 1, ... covered by ``vecs``: one pass over the rows, one sum per vector."""
            o = builder.load(start)
            offsets = [sum(v.n for v in vecs[:t]) for t in range(len(vecs))]
            acc = [sums[v.n][t] for t, v in enumerate(vecs)]
            cs = [builder.load(v.at(c_arr.data, builder.add(o, intp(off))), align=8) for v, off in zip(vecs, offsets)]
            for v, a in zip(vecs, acc):
                builder.store(ir.Constant(v.type, None), a)
            with cgutils.for_range(builder, n_arg) as row:
                base = builder.add(builder.mul(row.index, width), o)
                for v, off, cv, a in zip(vecs, offsets, cs, acc):
                    at = v.at(rows.data, builder.add(base, intp(off)))
                    y = builder.load(at, align=8)
                    y = builder.fadd(y, builder.fmul(v.lr, builder.fsub(cv, builder.fmul(v.reg, y))))
                    builder.store(y, at, align=8)
                    if v.n < LANES:  # the divider, idle otherwise, takes the short vector's quotients
                        q = builder.fdiv(y, v.sqrt)
                    else:  # y / sqrt|I_u| correctly rounded, as _divide (the multiply units' share)
                        q = builder.fmul(y, v.inv)
                        q = builder.call(v.fma, [builder.call(v.fma, [builder.fneg(q), v.sqrt, y]), v.inv, q])
                    builder.store(builder.fadd(builder.load(a), q), a)
            for v, off, a in zip(vecs, offsets, acc):
                builder.store(builder.load(a), v.at(z_arr.data, builder.add(o, intp(off))), align=8)
            builder.store(builder.add(o, intp(sum(v.n for v in vecs))), start)

        per_pass = LANES * _GROUP
        with cgutils.for_range(builder, builder.udiv(width, intp(per_pass))):
            one_pass([full] * _GROUP)
        rest = builder.urem(width, intp(per_pass))
        for r in range(PAD, per_pass, PAD):  # the last 4, 8, ..., 28 factors (PAD = 4, LANES = 8)
            with builder.if_then(builder.icmp_unsigned("==", rest, intp(r))):
                one_pass([full] * (r // LANES) + ([half] if r % LANES else []))
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(cache=True, inline="always")
def _user_block(starts, u):  # pragma: no cover - compiled
    """``(a, b, |I_u|, sqrt|I_u|)``: user ``u``'s rows are ``a:b`` of the user-major arrays (none if ``a == b``)."""
    a, b = starts[u], starts[u + 1]
    return a, b, b - a, np.sqrt(float(b - a))


@numba.njit(cache=True, inline="always")
def _step_biases(r, mu, bu, bi, u, i, dot, lr_bu, lr_bi, reg_bu, reg_bi):  # pragma: no cover - compiled
    r"""Returns :math:`e_{ui} = r_{ui} - (\mu + b_u + b_i + \text{dot})`, after stepping :math:`b_u` and :math:`b_i`
    with it (the rule both epochs share)."""
    err = r - (mu + bu[u] + bi[i] + dot)
    bu[u] += lr_bu * (err - reg_bu * bu[u])
    bi[i] += lr_bi * (err - reg_bi * bi[i])
    return err


@numba.njit(cache=True, inline="always")
def _step_factors(P, Q, u, i, f, err, zf, lr_pu, lr_qi, reg_pu, reg_qi):  # pragma: no cover - compiled
    r"""Steps factor ``f`` of :math:`p_u` and :math:`q_i` from their old values (``zf``: factor ``f`` of
    :math:`z_u`); returns the old :math:`q_{if}`."""
    puf = P[u, f]
    qif = Q[i, f]
    P[u, f] += lr_pu * (err * qif - reg_pu * puf)
    Q[i, f] += lr_qi * (err * (puf + zf) - reg_qi * qif)
    return qif


@numba.njit(cache=True)
def _user_starts(us, n_users):  # pragma: no cover - compiled
    """``starts[u]:starts[u + 1]`` = the rows of user ``u`` in user-major arrays."""
    starts = np.zeros(n_users + 1, np.int64)
    for k in range(len(us)):
        starts[us[k] + 1] += 1
    for u in range(n_users):
        starts[u + 1] += starts[u]
    return starts


@numba.njit(cache=True)
def _svdpp_epoch(starts, is_, rs, mu, bu, bi, P, Q, Y, lr_bu, lr_bi, lr_pu, lr_qi, lr_yj,
                 reg_bu, reg_bi, reg_pu, reg_qi, reg_yj, z, c, B):  # pragma: no cover - compiled
    """One SGD epoch in Surprise's exact order of operations; returns the sum of squared errors.

    ``starts`` delimits each user's ratings in the user-major arrays ``is_``, ``rs`` (training order
    within a user, which is also the order of :math:`I_u`); ``z`` and ``c`` are buffers of size k and
    ``B`` one of at least max |I_u| x (k rounded up to a multiple of ``PAD``; ``z`` and ``c`` as wide),
    zeros beyond k (they stay 0: whole SIMD vectors): the user's :math:`y_j` are copied into it, updated
    there by :func:`_update_implicit` for all the user's ratings (contiguous rows) and copied back (each
    :math:`y_j` is touched by no one else meanwhile)."""
    n_factors = P.shape[1]
    sse = 0.0
    for u in range(len(starts) - 1):
        a, b, n_u, sqrt_iu = _user_block(starts, u)
        if n_u == 0:
            continue
        inv = 1.0 / sqrt_iu
        for f in range(n_factors):
            z[f] = 0.0
        for k in range(n_u):  # gather y_j, j in I_u, and z_u = sum_j y_j / sqrt|I_u| term by term as Surprise
            j = is_[a + k]
            for f in range(n_factors):
                y = Y[j, f]
                B[k, f] = y
                z[f] += _divide(y, sqrt_iu, inv)
        for k in range(a, b):
            i = is_[k]
            dot = 0.0
            for f in range(n_factors):
                dot += Q[i, f] * (P[u, f] + z[f])
            err = _step_biases(rs[k], mu, bu, bi, u, i, dot, lr_bu, lr_bi, reg_bu, reg_bi)
            sse += err * err
            for f in range(n_factors):
                qif = _step_factors(P, Q, u, i, f, err, z[f], lr_pu, lr_qi, reg_pu, reg_qi)
                c[f] = err * qif / sqrt_iu
            # update every y_j and form the next rating's z_u from the new values, in the same order
            # (after the user's last rating z_u is formed for nothing: 1 row in n_u, then reset)
            _update_implicit(B, n_u, c, z, lr_yj, reg_yj, sqrt_iu, inv)
        for k in range(n_u):  # scatter the user's y_j back
            j = is_[a + k]
            for f in range(n_factors):
                Y[j, f] = B[k, f]
    return sse


@numba.njit(cache=True, fastmath=True)
def _svdpp_epoch_fast(starts, is_, rs, mu, bu, bi, P, Q, Y, lr_bu, lr_bi, lr_pu, lr_qi, lr_yj,
                      reg_bu, reg_bi, reg_pu, reg_qi, reg_yj, z0, c, D):  # pragma: no cover - compiled
    r"""The same epoch in :math:`O(k\,|R|)`: within a user's block every :math:`y_j, j \in I_u` receives the
    same update :math:`y_j \leftarrow a\, y_j + \gamma c` (:math:`a = 1 - \gamma\lambda`), so after
    :math:`t` ratings :math:`y_j = A_t\, y_j^{(0)} + D_t` with a scalar :math:`A_t` and a vector :math:`D_t`,
    and :math:`z_u = A_t z_u^{(0)} + |I_u| D_t / \sqrt{|I_u|}`. The :math:`y_j` are written once per user.
    Same model, rounded differently (~1e-12), and SIMD sums (``fastmath``)."""
    n_factors = P.shape[1]
    decay = 1.0 - lr_yj * reg_yj
    sse = 0.0
    for u in range(len(starts) - 1):
        a, b, n_u, sqrt_iu = _user_block(starts, u)
        if n_u == 0:
            continue
        for f in range(n_factors):
            z0[f] = 0.0
            D[f] = 0.0
        for k in range(a, b):
            j = is_[k]
            for f in range(n_factors):
                z0[f] += Y[j, f]
        for f in range(n_factors):
            z0[f] /= sqrt_iu
        scale = 1.0
        for k in range(a, b):
            i = is_[k]
            dot = 0.0
            for f in range(n_factors):
                dot += Q[i, f] * (P[u, f] + scale * z0[f] + D[f] * sqrt_iu)
            err = _step_biases(rs[k], mu, bu, bi, u, i, dot, lr_bu, lr_bi, reg_bu, reg_bi)
            sse += err * err
            for f in range(n_factors):
                zf = scale * z0[f] + D[f] * sqrt_iu
                qif = _step_factors(P, Q, u, i, f, err, zf, lr_pu, lr_qi, reg_pu, reg_qi)
                D[f] = decay * D[f] + lr_yj * (err * qif / sqrt_iu)
            scale *= decay
        for k in range(a, b):
            j = is_[k]
            for f in range(n_factors):
                Y[j, f] = scale * Y[j, f] + D[f]
    return sse


@numba.njit(cache=True)
def _implicit_sums(starts, is_, Y):  # pragma: no cover - compiled
    r""":math:`|I_u|^{-1/2} \sum_{j \in I_u} y_j` per user as Surprise predicts it: the rows added one by one
    in :math:`I_u` order, then divided once (training divides each term; prediction does not)."""
    n_users, n_factors = len(starts) - 1, Y.shape[1]
    Z = np.zeros((n_users, n_factors))
    for u in range(n_users):
        a, b, n_u, sqrt_iu = _user_block(starts, u)
        if n_u == 0:
            continue
        for k in range(a, b):
            for f in range(n_factors):
                Z[u, f] += Y[is_[k], f]
        for f in range(n_factors):
            Z[u, f] /= sqrt_iu
    return Z


class SVDpp(FactorModel):
    r"""SVD++ (Koren 2008): biased MF plus implicit feedback; **with the defaults, Surprise's ``SVDpp`` bit for bit**.

    .. math::
        \hat r_{ui} = \mu + b_u + b_i + q_i^\top \Big(p_u + |I_u|^{-\frac12} \sum_{j \in I_u} y_j\Big)

    trained by SGD (the update rules are in the module docstring). Exactly as Surprise: ``P`` then
    ``Q`` then ``Y`` are drawn from ``RandomState(random_state).normal(init_mean, init_std_dev)``,
    biases start at 0, each epoch visits the ratings user by user in training order without
    shuffling, and :math:`I_u` lists the user's training items in training order. ``predict`` adds
    the :math:`y_j` one by one and divides once, takes ``np.dot`` pair by pair (Surprise's
    ``estimate``), so predictions are Surprise's to the last bit. An unknown user is predicted
    :math:`\mu + b_i`, an unknown item :math:`\mu + b_u` (not flagged, as in Surprise).

    Parameters
    ----------
    n_factors, n_epochs : :math:`k` (20) and passes over the data (20).
    lr_all, reg_all : :math:`\gamma` (0.007) and :math:`\lambda` (0.02) for every parameter;
        ``lr_bu, lr_bi, lr_pu, lr_qi, lr_yj, reg_bu, reg_bi, reg_pu, reg_qi, reg_yj`` override them one by one.
    init_mean, init_std_dev : the normal initialisation of ``P``, ``Q`` and ``Y`` (0, 0.1).
    fast : ``False`` (default): Surprise's arithmetic, :math:`O(k \sum_u |I_u|^2)` per epoch. ``True``: the
        same updates in :math:`O(k\,|R|)` (all :math:`y_j` of a user receive the same affine update, so
        they are kept as :math:`A\,y_j + D` and written once per user; see the module docstring); the
        same model to ~1e-9, not bit for bit, many times faster.
    early_stopping, validation_fraction, n_iter_no_change : as in :class:`~course_lib.models.BiasedMF`
        (validation RMSE after every epoch; the held-out ratings leave :math:`I_u` too).
    progress : show a tqdm progress bar over epochs.
    random_state : an int (0), ``None`` or a ``RandomState`` (the same int gives Surprise's
        ``SVDpp(random_state=...)``).

    Attributes
    ----------
    user_factors_ :math:`p_u` ``(n_users, k)``; item_factors_ :math:`q_i` ``(n_items, k)``;
    implicit_factors_ :math:`y_j` ``(n_items, k)``; user_implicit_ :math:`|I_u|^{-1/2} \sum_{j \in I_u} y_j`
    ``(n_users, k)``; b_u_ ``(n_users,)``; b_i_ ``(n_items,)``; history_ (``train_loss``: squared errors
    during the epoch plus the regularisation at its end, ``train_rmse``, ``val_rmse``), n_epochs_, best_epoch_.

    References
    ----------
    Y. Koren, "Factorization Meets the Neighborhood: a Multifaceted Collaborative Filtering Model", KDD 2008.
    """

    _state_names = ("user_factors_", "item_factors_", "implicit_factors_", "b_u_", "b_i_")

    def __init__(self, n_factors: int = 20, n_epochs: int = 20, lr_all: float = 0.007, reg_all: float = 0.02, *,
                 init_mean: float = 0.0, init_std_dev: float = 0.1, lr_bu: float | None = None,
                 lr_bi: float | None = None, lr_pu: float | None = None, lr_qi: float | None = None,
                 lr_yj: float | None = None, reg_bu: float | None = None, reg_bi: float | None = None,
                 reg_pu: float | None = None, reg_qi: float | None = None, reg_yj: float | None = None,
                 fast: bool = False, early_stopping: bool = False, validation_fraction: float = 0.1, n_iter_no_change: int = 5,
                 progress: bool = False, random_state=0):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr_all = lr_all
        self.reg_all = reg_all
        self.init_mean = init_mean
        self.init_std_dev = init_std_dev
        self.lr_bu = lr_bu
        self.lr_bi = lr_bi
        self.lr_pu = lr_pu
        self.lr_qi = lr_qi
        self.lr_yj = lr_yj
        self.reg_bu = reg_bu
        self.reg_bi = reg_bi
        self.reg_pu = reg_pu
        self.reg_qi = reg_qi
        self.reg_yj = reg_yj
        self.fast = fast
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    _PARTS = ("bu", "bi", "pu", "qi", "yj")

    def _rates(self) -> tuple[list[float], list[float]]:
        lr_all = check_finite_number(self.lr_all, "lr_all", minimum=0, strict=True)
        reg_all = check_finite_number(self.reg_all, "reg_all", minimum=0)
        lrs, regs = [], []
        for part in self._PARTS:
            lr, reg = getattr(self, f"lr_{part}"), getattr(self, f"reg_{part}")
            lrs.append(lr_all if lr is None else check_finite_number(lr, f"lr_{part}", minimum=0, strict=True))
            regs.append(reg_all if reg is None else check_finite_number(reg, f"reg_{part}", minimum=0))
        return lrs, regs

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        n_factors, n_epochs, patience = self._check_common()
        lrs, regs = self._rates()
        init_mean, init_std, rng = self._normal_init()
        shape_u, shape_i = (data.n_users, n_factors), (data.n_items, n_factors)
        self.user_factors_ = rng.normal(init_mean, init_std, size=shape_u)
        self.item_factors_ = rng.normal(init_mean, init_std, size=shape_i)
        self.implicit_factors_ = rng.normal(init_mean, init_std, size=shape_i)
        validation, us, is_, rs = self._training_rows(data, validation, patience, rng)
        is_ = is_.astype(np.int64)
        starts = _user_starts(us.astype(np.int64), data.n_users)
        self._starts, self._items = starts, is_  # I_u of the rows trained on (for the implicit sums)
        mu = data.global_mean
        width = _padded(n_factors)
        z, c = np.zeros(width), np.zeros(width)
        buffer = np.zeros((int(np.diff(starts).max(initial=0)), width))
        n = len(rs)

        if self.fast:
            loop, buffers = _svdpp_epoch_fast, (np.zeros(n_factors), np.zeros(n_factors), np.zeros(n_factors))
        else:
            loop, buffers = _svdpp_epoch, (z, c, buffer)

        def epoch(_):
            sse = loop(starts, is_, rs, mu, self.b_u_, self.b_i_, self.user_factors_, self.item_factors_,
                       self.implicit_factors_, *lrs, *regs, *buffers)
            loss = sse + sum(reg * np.vdot(v, v) for reg, v in zip(
                regs, (self.b_u_, self.b_i_, self.user_factors_, self.item_factors_, self.implicit_factors_)))
            self.user_implicit_ = None  # stale until the end of fit (validation reads its own sums)
            return loss, np.sqrt(sse / n)

        try:
            self._run_epochs(n_epochs, patience, epoch, validation, "SVDpp")
        finally:
            self.user_implicit_ = _implicit_sums(starts, is_, self.implicit_factors_)
            del self._starts, self._items

    def _validation_estimate(self, u, i):
        Z = _implicit_sums(self._starts, self._items, self.implicit_factors_)
        known_u, known_i = u >= 0, i >= 0
        uu, ii = np.where(known_u, u, 0), np.where(known_i, i, 0)
        dots = np.where(known_u & known_i, np.einsum("ij,ij->i", self.user_factors_[uu] + Z[uu],
                                                      self.item_factors_[ii]), 0.0)
        return (self.global_mean_ + np.where(known_u, self.b_u_[uu], 0.0) + np.where(known_i, self.b_i_[ii], 0.0)
                + dots, np.zeros(len(u), dtype=bool))

    def _estimate(self, u, i):
        u, i = np.asarray(u), np.asarray(i)
        known_u, known_i = u >= 0, i >= 0
        both = known_u & known_i
        dots = np.zeros(len(u))
        dots[both] = exact_dots(self.user_factors_ + self.user_implicit_, self.item_factors_, u[both], i[both])
        est = self.global_mean_ + np.where(known_u, self.b_u_[np.where(known_u, u, 0)], 0.0)
        est = est + np.where(known_i, self.b_i_[np.where(known_i, i, 0)], 0.0)
        return est + dots, np.zeros(len(u), dtype=bool)

    def _scores(self, users):
        users = np.asarray(users)
        scores = (self.user_factors_[users] + self.user_implicit_[users]) @ self.item_factors_.T
        return scores + (self.global_mean_ + self.b_u_[users])[:, None] + self.b_i_[None, :]
