r"""Feature crossing: the factorisation machine and the DCN-v2 cross layer, forward and backward.

**Factorisation machine** (Rendle, ICDM 2010). For a feature vector :math:`x \in \mathbb{R}^n`
(one-hot or multi-hot blocks for users, items, genres ..., plus real-valued features), a bias
:math:`w_0`, weights :math:`w \in \mathbb{R}^n` and factors :math:`V \in \mathbb{R}^{n \times k}`
(row :math:`v_i` for feature :math:`i`),

.. math::

    \hat y(x) = w_0 + \sum_{i=1}^{n} w_i x_i + \sum_{i=1}^{n} \sum_{j=i+1}^{n} \langle v_i, v_j \rangle\, x_i x_j .

The pairwise sum has :math:`n(n-1)/2` terms, :math:`O(k n^2)` work. It is rewritten in
:math:`O(k n)` (and :math:`O(k\,\mathrm{nnz}(x))` for sparse :math:`x`), step by step:

.. math::

    \sum_{i<j} \langle v_i, v_j \rangle x_i x_j
      &= \frac12 \Big( \sum_{i=1}^{n} \sum_{j=1}^{n} \langle v_i, v_j \rangle x_i x_j
                       - \sum_{i=1}^{n} \langle v_i, v_i \rangle x_i^2 \Big)
         && \text{the full square counts each pair twice, plus the diagonal} \\
      &= \frac12 \Big( \sum_{i} \sum_{j} \sum_{f=1}^{k} v_{if} v_{jf}\, x_i x_j
                       - \sum_{i} \sum_{f} v_{if}^2 x_i^2 \Big)
         && \langle a, b \rangle = \textstyle\sum_f a_f b_f \\
      &= \frac12 \sum_{f=1}^{k} \Big( \big(\textstyle\sum_{i} v_{if} x_i\big)
                                      \big(\textstyle\sum_{j} v_{jf} x_j\big)
                                      - \sum_{i} v_{if}^2 x_i^2 \Big)
         && \text{exchange the sums; the double sum factorises} \\
      &= \frac12 \sum_{f=1}^{k} \Big[ \big(\textstyle\sum_{i} v_{if} x_i\big)^2
                                      - \sum_{i} v_{if}^2 x_i^2 \Big].

For a batch :math:`X \in \mathbb{R}^{B \times n}`: :math:`S = X V` and
:math:`Q = (X \odot X)(V \odot V)`, both :math:`B \times k`, and the pairwise term is
:math:`\tfrac12 \sum_f (S_{bf}^2 - Q_{bf})`. Gradients of :math:`\hat y_b` (with
:math:`s_f = \sum_i v_{if} x_i`):

.. math::

    \frac{\partial \hat y}{\partial w_0} = 1, \quad
    \frac{\partial \hat y}{\partial w_i} = x_i, \quad
    \frac{\partial \hat y}{\partial v_{if}} = x_i s_f - v_{if} x_i^2, \quad
    \frac{\partial \hat y}{\partial x_i} = w_i + \sum_f v_{if} s_f - x_i \sum_f v_{if}^2 .

**Field embeddings** (the FM layer of DeepFM, Guo et al., IJCAI 2017). When every field
:math:`j = 1..m` is looked up as an embedding :math:`e_j = v_{i_j} x_{i_j} \in \mathbb{R}^{k}`
(one active feature per field), the pairwise term is the same identity on the embeddings,
:math:`\tfrac12 \sum_f [(\sum_j e_{jf})^2 - \sum_j e_{jf}^2]`, input :math:`E \in
\mathbb{R}^{B \times m \times k}`, gradient :math:`\partial/\partial e_{jf} = \sum_{j'} e_{j'f} - e_{jf}`.

**DCN-v2 cross layer** (Wang et al., *DCN V2: Improved Deep & Cross Network and Practical
Lessons for Web-scale Learning to Rank Systems*, WWW 2021). With :math:`x_0 \in \mathbb{R}^d` the
input of the cross network and :math:`x_l` the output of layer :math:`l`,

.. math::

    x_{l+1} = x_0 \odot (W x_l + b) + x_l, \qquad W \in \mathbb{R}^{d \times d},\; b \in \mathbb{R}^d,

so each layer raises the polynomial degree of the crosses by one. The low-rank variant uses
:math:`W = U V^\top`, :math:`U, V \in \mathbb{R}^{d \times r}`: :math:`W x = U (V^\top x)` in
:math:`O(dr)`. keras-rs's ``FeatureCross`` adds an optional ``diag_scale`` :math:`\alpha`
(:math:`W + \alpha I`), supported here too. Backward for a batch (rows are examples), with
:math:`G = \partial L / \partial x_{l+1}` and :math:`Z = X_l W^\top + b + \alpha X_l`:

.. math::

    \Delta = G \odot X_0, \quad
    \frac{\partial L}{\partial W} = \Delta^\top X_l, \quad
    \frac{\partial L}{\partial b} = \sum_{\text{rows}} \Delta, \quad
    \frac{\partial L}{\partial X_0} = G \odot Z, \quad
    \frac{\partial L}{\partial X_l} = G + \Delta W + \alpha \Delta,

and for :math:`W = U V^\top` with :math:`H = X_l V`: :math:`\partial L/\partial U = \Delta^\top H`,
:math:`\partial L/\partial V = X_l^\top (\Delta U)`, :math:`\partial L/\partial X_l = G + \Delta U
V^\top + \alpha\Delta`. Weights follow PyTorch's layout (``W`` is (out, in)); keras-rs's
``FeatureCross`` stores ``W.T`` in ``dense.kernel`` (full rank), or ``V`` in
``down_proj_dense.kernel`` and ``U.T`` in ``dense.kernel`` (low rank); its bias is ``b``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._shapes import LayerStack, ShapeError, as_float_array, check_dim, check_ndim, check_shape

__all__ = ["fm_pairwise_naive", "fm_pairwise", "FactorizationMachine", "FMInteraction", "CrossLayer",
           "CrossNetwork"]


def _is_sparse(x) -> bool:
    return hasattr(x, "tocsr") and hasattr(x, "nnz")


def _features(x, n: int, name: str = "x"):
    """A (batch, n) float64 array or SciPy CSR matrix; a 1-D dense ``x`` is one example."""
    if _is_sparse(x):
        x = x.tocsr().astype(np.float64)
        if x.shape[1] != n:
            raise ShapeError(f"{name} has {x.shape[1]} features (columns of a sparse matrix of shape {x.shape}), "
                             f"expected {n} because V has shape (n_features, k) = ({n}, ...)")
        return x
    x = as_float_array(x, name)
    if x.ndim not in (1, 2):
        raise ShapeError(f"{name} must have shape (n_features,) or (batch, n_features), got {x.shape}")
    check_dim(x, -1, n, name, "features", f"V has {n} rows (one factor vector per feature)")
    return x


def fm_pairwise_naive(X, V) -> np.ndarray:
    r"""The pairwise term :math:`\sum_{i<j} \langle v_i, v_j \rangle x_i x_j` summed pair by pair, :math:`O(k n^2)`.

    ``X`` (batch, n) dense, ``V`` (n, k); returns shape (batch,). The reference for :func:`fm_pairwise`.
    """
    X, V = np.atleast_2d(as_float_array(X, "X")), as_float_array(V, "V")
    G = np.triu(V @ V.T, k=1)  # <v_i, v_j> for i < j only: every pair once
    return np.einsum("bi,ij,bj->b", X, G, X)


def fm_pairwise(X, V) -> np.ndarray:
    r"""The pairwise term in :math:`O(kn)`: :math:`\tfrac12 \sum_f [(XV)_{bf}^2 - ((X \odot X)(V \odot V))_{bf}]`.

    ``X`` (batch, n), dense or SciPy sparse, ``V`` (n, k); returns shape (batch,).
    """
    V = as_float_array(V, "V")
    X = _features(X, V.shape[0], "X")
    if _is_sparse(X):
        S, Q = X @ V, X.multiply(X) @ (V * V)
    else:
        X = np.atleast_2d(X)
        S, Q = X @ V, (X * X) @ (V * V)
    return 0.5 * (np.asarray(S) ** 2 - np.asarray(Q)).sum(axis=1)


class FactorizationMachine:
    r"""A second-order factorisation machine
    :math:`\hat y = w_0 + w^\top x + \sum_{i<j} \langle v_i, v_j\rangle x_i x_j`.

    Parameters ``w0`` (1,), ``w`` (n,), ``V`` (n, k). :meth:`forward` takes ``x`` of shape (n,) or
    (batch, n), dense or a SciPy sparse matrix (one-hot rows: :math:`O(k\,\mathrm{nnz})`), and returns
    shape () or (batch,). Attributes after :meth:`backward`: ``dw0``, ``dw``, ``dV``.
    """

    def __init__(self, w0, w, V):
        V = as_float_array(V, "V")
        if V.ndim != 2:
            raise ShapeError(f"V must be a matrix of shape (n_features, k), got shape {V.shape}")
        w = as_float_array(w, "w")
        check_shape(w, (V.shape[0],), "w", "(n_features,) to match V's rows")
        w0 = as_float_array(w0, "w0").reshape(-1)
        check_shape(w0, (1,), "w0", "(a single bias)")
        self.w0, self.w, self.V = w0.copy(), w.copy(), V.copy()
        self.dw0 = self.dw = self.dV = None
        self._cache = None

    @classmethod
    def init(cls, n_features: int, k: int, *, random_state=None, scale: float = 0.01) -> FactorizationMachine:
        """Zero bias and weights, factors drawn from N(0, scale^2) (libFM's initialisation)."""
        rng = np.random.default_rng(random_state)
        return cls(np.zeros(1), np.zeros(n_features), rng.normal(0.0, scale, (n_features, k)))

    @property
    def n_features(self) -> int:
        return self.V.shape[0]

    @property
    def k(self) -> int:
        return self.V.shape[1]

    @property
    def params(self) -> list[np.ndarray]:
        return [self.w0, self.w, self.V]

    @property
    def grads(self) -> list[np.ndarray]:
        return [self.dw0, self.dw, self.dV]

    def forward(self, x) -> np.ndarray:
        """:math:`\\hat y` for ``x`` of shape (n,) or (batch, n): shape () or (batch,)."""
        x = _features(x, self.n_features)
        single = not _is_sparse(x) and x.ndim == 1
        X = x if _is_sparse(x) else np.atleast_2d(x)
        X2 = X.multiply(X).tocsr() if _is_sparse(X) else X * X
        S = np.asarray(X @ self.V)                      # (batch, k): s_f = sum_i v_if x_i
        Q = np.asarray(X2 @ (self.V * self.V))          # (batch, k): sum_i v_if^2 x_i^2
        y = self.w0[0] + np.asarray(X @ self.w).reshape(-1) + 0.5 * (S * S - Q).sum(axis=1)
        self._cache = (X, X2, S, single)
        return y[0] if single else y

    __call__ = forward

    def backward(self, grad) -> np.ndarray | None:
        """Given dL/d(y_hat) (shape of the last output), store the gradients and return dL/dx.

        For a SciPy sparse ``x`` (one-hot features, not differentiable) it returns ``None``.
        """
        if self._cache is None:
            raise RuntimeError("call forward before backward")
        X, X2, S, single = self._cache
        g = as_float_array(grad, "grad")
        check_shape(g, () if single else (S.shape[0],), "grad", "(the shape of the last output)")
        g = g.reshape(-1)
        self.dw0 = np.array([g.sum()])
        self.dw = np.asarray(X.T @ g).reshape(-1)
        # dV_if = sum_b g_b (x_bi s_bf - v_if x_bi^2)
        self.dV = np.asarray(X.T @ (g[:, None] * S)) - self.V * np.asarray(X2.T @ g).reshape(-1, 1)
        if _is_sparse(X):
            return None
        dX = g[:, None] * (self.w + S @ self.V.T - X * (self.V * self.V).sum(axis=1))
        return dX[0] if single else dX

    def __repr__(self) -> str:
        return f"FactorizationMachine(n_features={self.n_features}, k={self.k})"


class FMInteraction:
    r"""The FM pairwise term on field embeddings :math:`E` (batch, m, k):
    :math:`\tfrac12 \sum_f [(\sum_j e_{jf})^2 - \sum_j e_{jf}^2]`.

    No parameters (the embeddings carry them). :meth:`forward` returns shape (batch,), or (batch, k)
    with ``reduce=False`` (the per-factor terms, before the sum over :math:`f`).
    """

    def __init__(self, reduce: bool = True):
        self.reduce = bool(reduce)
        self._cache = None

    @property
    def params(self) -> list[np.ndarray]:
        return []

    @property
    def grads(self) -> list[np.ndarray]:
        return []

    def forward(self, E) -> np.ndarray:
        E = as_float_array(E, "E")
        check_ndim(E, 3, "E", "(batch, n_fields, k)")
        s = E.sum(axis=1)                                # (batch, k)
        terms = 0.5 * (s * s - (E * E).sum(axis=1))      # (batch, k)
        self._cache = (E, s)
        return terms.sum(axis=1) if self.reduce else terms

    __call__ = forward

    def backward(self, grad) -> np.ndarray:
        """Given dL/d(output), return dL/dE of shape (batch, m, k): ``g (s_f - e_jf)``."""
        if self._cache is None:
            raise RuntimeError("call forward before backward")
        E, s = self._cache
        g = as_float_array(grad, "grad")
        expected = (E.shape[0],) if self.reduce else (E.shape[0], E.shape[2])
        check_shape(g, expected, "grad", "(the shape of the last output)")
        g = g[:, None, None] if self.reduce else g[:, None, :]
        return g * (s[:, None, :] - E)

    def __repr__(self) -> str:
        return f"FMInteraction(reduce={self.reduce})"


class CrossLayer:
    r"""One DCN-v2 cross layer :math:`x_{l+1} = x_0 \odot (W x_l + b + \alpha x_l) + x_l`.

    Full rank: ``W`` (d, d), PyTorch layout. Low rank: ``U`` and ``V`` (d, r) with :math:`W = U V^\top`
    (pass ``W=None``). ``b`` (d,); ``diag_scale`` :math:`\alpha \ge 0` (keras-rs; default 0).
    :meth:`forward` takes ``x0`` and ``x`` of shape (d,) or (batch, d) (``x`` defaults to ``x0``,
    the first layer) and returns the same shape. After :meth:`backward`: ``dW`` (or ``dU``, ``dV``)
    and ``db``; it returns ``(dL/dx0, dL/dx)``.
    """

    def __init__(self, W=None, b=None, *, U=None, V=None, diag_scale: float = 0.0):
        if (W is None) == (U is None and V is None) or ((U is None) != (V is None)):
            raise ValueError("give either W (full rank) or both U and V (low rank, W = U V^T)")
        if W is not None:
            W = as_float_array(W, "W")
            if W.ndim != 2 or W.shape[0] != W.shape[1]:
                raise ShapeError(f"W must be a square matrix (d, d): the layer keeps the width, got {W.shape}")
            d = W.shape[0]
            self.W, self.U, self.V = W.copy(), None, None
        else:
            U, V = as_float_array(U, "U"), as_float_array(V, "V")
            if U.ndim != 2:
                raise ShapeError(f"U must have shape (d, rank), got {U.shape}")
            check_shape(V, U.shape, "V", "(d, rank), the shape of U")
            d = U.shape[0]
            self.W, self.U, self.V = None, U.copy(), V.copy()
        b = np.zeros(d) if b is None else as_float_array(b, "b")
        check_shape(b, (d,), "b", "(d,) to match the layer's width")
        if not np.isfinite(diag_scale) or diag_scale < 0:
            raise ValueError(f"diag_scale must be a non-negative number, got {diag_scale!r}")
        self.b, self.diag_scale = b.copy(), float(diag_scale)
        self.dW = self.dU = self.dV = self.db = None
        self._cache = None

    @classmethod
    def init(cls, d: int, rank: int | None = None, *, random_state=None, diag_scale: float = 0.0) -> CrossLayer:
        """Glorot-uniform weights (each factor for low rank) and zero bias, as keras-rs initialises them."""
        rng = np.random.default_rng(random_state)

        def glorot(fan_in, fan_out, shape):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            return rng.uniform(-limit, limit, size=shape)

        if rank is None:
            return cls(glorot(d, d, (d, d)), np.zeros(d), diag_scale=diag_scale)
        V = glorot(d, rank, (d, rank))        # x -> x V: (d -> rank)
        U = glorot(rank, d, (d, rank))        # h -> h U^T: (rank -> d)
        return cls(None, np.zeros(d), U=U, V=V, diag_scale=diag_scale)

    @property
    def d(self) -> int:
        return self.b.shape[0]

    @property
    def rank(self) -> int | None:
        return None if self.U is None else self.U.shape[1]

    @property
    def params(self) -> list[np.ndarray]:
        return [self.W, self.b] if self.W is not None else [self.U, self.V, self.b]

    @property
    def grads(self) -> list[np.ndarray]:
        return [self.dW, self.db] if self.W is not None else [self.dU, self.dV, self.db]

    def forward(self, x0, x=None) -> np.ndarray:
        x0 = as_float_array(x0, "x0")
        if x0.ndim not in (1, 2):
            raise ShapeError(f"x0 must have shape (d,) or (batch, d), got {x0.shape}")
        check_dim(x0, -1, self.d, "x0", "features", f"the layer has width d={self.d}")
        x = x0 if x is None else as_float_array(x, "x")
        check_shape(x, x0.shape, "x", "(the shape of x0: the cross layer keeps the width)")
        h = None
        if self.W is not None:
            z = x @ self.W.T + self.b
        else:
            h = x @ self.V                              # (batch, rank)
            z = h @ self.U.T + self.b
        if self.diag_scale:
            z = z + self.diag_scale * x
        self._cache = (x0, x, z, h)
        return x0 * z + x

    __call__ = forward

    def backward(self, grad) -> tuple[np.ndarray, np.ndarray]:
        """Given dL/d(output), store the weight gradients and return ``(dL/dx0, dL/dx)``.

        For the first layer (``x`` is ``x0``) the gradient of its input is the sum of the two.
        """
        if self._cache is None:
            raise RuntimeError("call forward before backward")
        x0, x, z, h = self._cache
        g = as_float_array(grad, "grad")
        check_shape(g, x0.shape, "grad", "(the shape of the last output)")
        delta = g * x0                                  # dL/dz
        d2, x2 = np.atleast_2d(delta), np.atleast_2d(x)
        self.db = d2.sum(axis=0)
        if self.W is not None:
            self.dW = d2.T @ x2
            dx = g + delta @ self.W
        else:
            dh = delta @ self.U                         # (batch, rank)
            self.dU = d2.T @ np.atleast_2d(h)
            self.dV = x2.T @ np.atleast_2d(dh)
            dx = g + dh @ self.V.T
        if self.diag_scale:
            dx = dx + self.diag_scale * delta
        return g * z, dx

    def __repr__(self) -> str:
        rank = "" if self.rank is None else f", rank={self.rank}"
        return f"CrossLayer(d={self.d}{rank}, diag_scale={self.diag_scale})"


class CrossNetwork(LayerStack):
    r"""A stack of :class:`CrossLayer`: :math:`x_{l+1} = x_0 \odot (W_l x_l + b_l) + x_l`, :math:`x_0` = the input.

    :meth:`forward` takes ``x0`` (d,) or (batch, d); :meth:`backward` returns dL/dx0, summed over
    every layer's use of :math:`x_0` and the path through :math:`x_1, x_2, \dots`.
    """

    def __init__(self, layers: Sequence[CrossLayer]):
        layers = list(layers)
        if not layers:
            raise ValueError("a cross network needs at least one layer")
        widths = {layer.d for layer in layers}
        if len(widths) != 1:
            raise ShapeError(f"every cross layer must have the input's width; got widths {sorted(widths)}")
        self.layers = layers

    @classmethod
    def init(cls, d: int, n_layers: int, rank: int | None = None, *, random_state=None) -> CrossNetwork:
        rng = np.random.default_rng(random_state)
        return cls([CrossLayer.init(d, rank, random_state=rng) for _ in range(n_layers)])

    def forward(self, x0) -> np.ndarray:
        x = x0
        for layer in self.layers:
            x = layer.forward(x0, x)
        return x

    __call__ = forward

    def backward(self, grad) -> np.ndarray:
        dx0_total = 0.0
        for layer in reversed(self.layers):
            dx0, grad = layer.backward(grad)
            dx0_total = dx0_total + dx0
        return dx0_total + grad  # the first layer's x is x0 as well

    def __repr__(self) -> str:
        return "CrossNetwork([" + ", ".join(map(repr, self.layers)) + "])"
