r"""Scaled dot-product attention and multi-head attention, forward and backward, with masks.

**Scaled dot-product attention** (Vaswani et al. 2017, Eq. 1). For queries
:math:`Q \in \mathbb{R}^{T_q \times d_k}`, keys :math:`K \in \mathbb{R}^{T_k \times d_k}`,
values :math:`V \in \mathbb{R}^{T_k \times d_v}` and a mask :math:`M \in \{0, -\infty\}^{T_q \times T_k}`
(or any real bias),

.. math::

    S = \frac{Q K^\top}{\sqrt{d_k}} + M \in \mathbb{R}^{T_q \times T_k}, \qquad
    A = \mathrm{softmax}_{\text{rows}}(S), \qquad
    O = A V \in \mathbb{R}^{T_q \times d_v}.

Row :math:`i` of :math:`A` says how much query :math:`i` takes from each key: the **attention
weights**, returned by every function here so that a lesson can show what a model attends to.
Without the :math:`1/\sqrt{d_k}` the scores of random unit-variance vectors have variance
:math:`d_k`, the softmax saturates and its gradient vanishes. Leading (batch, head) axes broadcast.

The softmax is computed stably: :math:`A_{ij} = e^{S_{ij} - m_i} / \sum_l e^{S_{il} - m_i}` with
:math:`m_i = \max_l S_{il}`, so no exponential overflows. A row whose every key is masked (all
:math:`-\infty`) gets **zero weights** and hence a zero output and zero gradient; see below for what
the frameworks do there.

Backward, with :math:`G = \partial L / \partial O` and :math:`s = 1/\sqrt{d_k}`:

.. math::

    \frac{\partial L}{\partial V} = A^\top G, \qquad
    \frac{\partial L}{\partial A} = G V^\top, \qquad
    \frac{\partial L}{\partial S} = A \odot \Big(\frac{\partial L}{\partial A}
        - \mathrm{rowsum}\big(\tfrac{\partial L}{\partial A} \odot A\big)\Big),

    \frac{\partial L}{\partial Q} = s\, \frac{\partial L}{\partial S} K, \qquad
    \frac{\partial L}{\partial K} = s\, \Big(\frac{\partial L}{\partial S}\Big)^{\!\top} Q.

**Masks: the convention here and the frameworks'.** A mask says which keys each query may see.
This module takes either

* a **boolean** mask, ``True`` where query :math:`i` **may attend** key :math:`j` (the convention of
  Keras's ``attention_mask`` and of ``torch.nn.functional.scaled_dot_product_attention``), or
* a **float** mask that is **added** to the scores: ``0`` where allowed, ``-inf`` where not (any real
  number is a bias). :func:`additive_mask` turns the first into the second.

PyTorch's ``nn.MultiheadAttention`` and ``nn.TransformerEncoderLayer`` use the **opposite** boolean
convention: their ``attn_mask`` and ``key_padding_mask`` are ``True`` where attention is **not**
allowed (a float ``attn_mask`` is added, as here). So ``attn_mask = ~mask`` and
``key_padding_mask = ~valid`` (:func:`.frameworks.torch_attn_mask` does the conversion). Keras's
``MultiHeadAttention`` takes ``attention_mask`` of shape (B, T_q, T_k), ``True``/1 = attend, or
``use_causal_mask=True``. Integer 0/1 masks are refused here as ambiguous.

:func:`causal_mask` lets position :math:`i` see positions :math:`j \le i` (next-item prediction:
SASRec, GPT); :func:`padding_mask` hides padded positions of variable-length sequences.

**Fully masked rows** (a query that may see no key, e.g. a left-padded position in a causal model),
measured with PyTorch 2.13 and Keras 3.15: this module, ``F.scaled_dot_product_attention`` and Keras
with ``return_attention_scores=True`` return zero weights; ``nn.MultiheadAttention`` (and so
``nn.TransformerEncoderLayer``) returns NaN for those rows; Keras without
``return_attention_scores`` (its fused ``ops.dot_product_attention`` path) averages all keys
uniformly. The other rows agree everywhere; compare them only.

**Multi-head attention** with :math:`h` heads (Vaswani et al. 2017, Sec. 3.2.2). Inputs are batch
first: query :math:`X_q \in \mathbb{R}^{N \times T_q \times d_q}`, key :math:`X_k \in
\mathbb{R}^{N \times T_k \times d_{kin}}`, value :math:`X_v \in \mathbb{R}^{N \times T_k \times d_{vin}}`:

.. math::

    Q = X_q W_Q^\top + b_Q,\quad K = X_k W_K^\top + b_K,\quad V = X_v W_V^\top + b_V, \qquad
    W_Q \in \mathbb{R}^{h d_k \times d_q},\; W_K \in \mathbb{R}^{h d_k \times d_{kin}},\;
    W_V \in \mathbb{R}^{h d_v \times d_{vin}},

    \mathrm{head}_r = \mathrm{Attention}(Q_{[:, r]}, K_{[:, r]}, V_{[:, r]}), \qquad
    Y = \mathrm{concat}(\mathrm{head}_1, \dots, \mathrm{head}_h)\, W_O^\top + b_O,\quad
    W_O \in \mathbb{R}^{d_{out} \times h d_v},

where :math:`Q_{[:, r]}` is the :math:`r`-th block of :math:`d_k` columns (split heads: (N, T, h d_k)
-> (N, h, T, d_k); merge heads is the inverse). Weights are stored as PyTorch stores them, (out, in),
as four :class:`~.dense.Dense` layers. PyTorch's ``nn.MultiheadAttention`` keeps
:math:`[W_Q; W_K; W_V]` stacked in ``in_proj_weight`` (3E, E) and needs :math:`h d_k = h d_v = d_q
= d_{out}`; Keras's ``MultiHeadAttention`` stores kernels (d_q, h, d_k) and an output kernel
(h, d_v, d_out) and scales the query before the product (the same numbers to rounding).
See :mod:`.frameworks`.

Dropout on the attention weights is not modelled (compare with ``dropout=0``).

Reference: A. Vaswani et al., *Attention Is All You Need*, NeurIPS 2017.
"""

from __future__ import annotations

import numpy as np

from ._shapes import ShapeError, as_float_array, check_dim, check_shape
from .dense import Dense

__all__ = ["causal_mask", "padding_mask", "additive_mask", "masked_softmax", "masked_softmax_backward",
           "scaled_dot_product_attention", "scaled_dot_product_attention_backward", "ScaledDotProductAttention",
           "split_heads", "merge_heads", "MultiHeadAttention"]


# ---------------------------------------------------------------------------------------- masks

def causal_mask(T_q: int, T_k: int | None = None) -> np.ndarray:
    r"""Boolean (T_q, T_k) mask, ``True`` where key :math:`j \le` query :math:`i` (no peeking ahead).

    >>> causal_mask(3).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    """
    T_k = T_q if T_k is None else T_k
    for n, name in ((T_q, "T_q"), (T_k, "T_k")):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{name} must be a positive integer (a sequence length), got {n!r}")
    return np.tril(np.ones((T_q, T_k), dtype=bool))


def padding_mask(valid) -> np.ndarray:
    r"""Boolean (N, 1, T_k) mask from ``valid`` (N, T_k), ``True`` at real (not padded) positions.

    The middle axis broadcasts over the queries; combine with a causal mask by ``&``:
    ``causal_mask(T) & padding_mask(ids != 0)`` has shape (N, T, T). ``valid`` is the opposite of
    PyTorch's ``key_padding_mask`` (``True`` at padding).
    """
    v = np.asarray(valid)
    if v.dtype != bool:
        raise TypeError(f"valid must be a boolean array, True at real positions (e.g. ids != 0), got dtype {v.dtype}")
    if v.ndim != 2:
        raise ShapeError(f"valid must have shape (batch, T_k), got shape {v.shape}")
    return v[:, None, :]


def additive_mask(mask) -> np.ndarray:
    r"""The float mask added to the scores: 0 where ``mask`` is ``True`` (may attend), :math:`-\infty` elsewhere."""
    m = np.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"additive_mask takes a boolean mask (True = may attend), got dtype {m.dtype}")
    return np.where(m, 0.0, -np.inf)


def _additive(mask, scores_shape: tuple[int, ...]) -> np.ndarray | None:
    """``mask`` as a float array added to scores of ``scores_shape`` (validated), or None."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.dtype == bool:
        m = additive_mask(m)
    elif m.dtype.kind == "f":
        m = m.astype(np.float64)
        if np.isnan(m).any() or np.isposinf(m).any():
            raise ValueError("a float mask is added to the scores: use 0 (may attend) and -inf (may not), "
                             "or finite biases; it contains NaN or +inf")
    else:
        raise TypeError(f"mask must be boolean (True = may attend) or float (added: 0 or -inf), got dtype {m.dtype}; "
                        "an integer 0/1 mask is ambiguous (PyTorch's boolean attn_mask means the opposite of "
                        "Keras's): convert it, e.g. mask.astype(bool)")
    try:
        fits = np.broadcast_shapes(m.shape, scores_shape) == tuple(scores_shape)
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"mask of shape {m.shape} does not broadcast to the scores' shape {tuple(scores_shape)} "
                         "(..., T_q, T_k): give it shape (T_q, T_k), (batch, T_q, T_k) or (batch, 1, T_k)")
    return m


# -------------------------------------------------------------------------------------- softmax

def masked_softmax(scores, mask=None) -> np.ndarray:
    r"""Row softmax of ``scores`` (..., T_k) plus ``mask``, stable; rows with every key masked are zero.

    :math:`A_{ij} = e^{S_{ij} + M_{ij} - m_i} / \sum_l e^{S_{il} + M_{il} - m_i}`, :math:`m_i` the row maximum.
    """
    s = as_float_array(scores, "scores")
    add = _additive(mask, s.shape)
    if add is not None:
        s = s + add
    m = s.max(axis=-1, keepdims=True)
    empty = np.isneginf(m)  # every key masked
    e = np.exp(s - np.where(empty, 0.0, m))
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=~empty)


def masked_softmax_backward(weights: np.ndarray, grad: np.ndarray) -> np.ndarray:
    r"""Gradient with respect to the scores: :math:`A \odot (G - \mathrm{rowsum}(G \odot A))`.

    Masked entries (weight 0) receive no gradient; neither does a fully masked row.
    """
    return weights * (grad - (grad * weights).sum(axis=-1, keepdims=True))


# ------------------------------------------------------------------------------ single-head attention

def _check_qkv(Q, K, V):
    Q, K, V = as_float_array(Q, "Q"), as_float_array(K, "K"), as_float_array(V, "V")
    for x, name, layout in ((Q, "Q", "(..., T_q, d_k)"), (K, "K", "(..., T_k, d_k)"), (V, "V", "(..., T_k, d_v)")):
        if x.ndim < 2:
            raise ShapeError(f"{name} must have at least 2 dimensions {layout}, got shape {x.shape}")
    check_dim(K, -1, Q.shape[-1], "K", "features", f"Q has shape {Q.shape}: queries and keys share d_k")
    check_dim(V, -2, K.shape[-2], "V", "positions", f"K has shape {K.shape}: one value per key")
    return Q, K, V


def _scale(scale, d_k: int) -> float:
    if scale is None:
        return 1.0 / np.sqrt(d_k)
    scale = float(scale)
    if not scale > 0:
        raise ValueError(f"scale must be positive (default 1/sqrt(d_k) = {1 / np.sqrt(d_k):.4g}), got {scale}")
    return scale


def scaled_dot_product_attention(Q, K, V, mask=None, *, scale: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`O = \mathrm{softmax}(Q K^\top / \sqrt{d_k} + M)\, V`; returns ``(O, A)``.

    ``Q`` (..., T_q, d_k), ``K`` (..., T_k, d_k), ``V`` (..., T_k, d_v); leading axes broadcast.
    ``mask`` (boolean, ``True`` = may attend, or float, added) broadcasts to (..., T_q, T_k).
    ``scale`` replaces :math:`1/\sqrt{d_k}` (``scale=1.0`` is the unscaled dot product).
    Returns the output (..., T_q, d_v) and the attention weights ``A`` (..., T_q, T_k).
    """
    Q, K, V = _check_qkv(Q, K, V)
    s = _scale(scale, Q.shape[-1])
    A = masked_softmax(s * (Q @ np.swapaxes(K, -1, -2)), mask)
    return A @ V, A


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def scaled_dot_product_attention_backward(grad, Q, K, V, weights, *, scale: float | None = None):
    r"""``(dQ, dK, dV)`` given ``grad`` = dL/dO (..., T_q, d_v) and the forward's ``weights`` ``A``.

    See the module docstring for the formulas; ``scale`` must be the forward's.
    """
    Q, K, V = _check_qkv(Q, K, V)
    s = _scale(scale, Q.shape[-1])
    A = as_float_array(weights, "weights")
    G = as_float_array(grad, "grad")
    check_shape(G, A.shape[:-1] + (V.shape[-1],), "grad", "(..., T_q, d_v), the output's shape")
    dV = np.swapaxes(A, -1, -2) @ G
    dS = masked_softmax_backward(A, G @ np.swapaxes(V, -1, -2))
    dQ = s * (dS @ K)
    dK = s * (np.swapaxes(dS, -1, -2) @ Q)
    return _unbroadcast(dQ, Q.shape), _unbroadcast(dK, K.shape), _unbroadcast(dV, V.shape)


class ScaledDotProductAttention:
    r"""Single-head attention :math:`\mathrm{softmax}(QK^\top/\sqrt{d_k} + M)V` with a backward pass.

    :meth:`forward` returns the output and keeps the weights in :attr:`weights` (..., T_q, T_k);
    :meth:`backward` returns ``(dQ, dK, dV)``. ``scale`` replaces :math:`1/\sqrt{d_k}`.
    """

    def __init__(self, scale: float | None = None):
        if scale is not None:
            _scale(scale, 1)
        self.scale = scale
        self.weights = None
        self._cache = None

    def forward(self, Q, K, V, mask=None) -> np.ndarray:
        Q, K, V = _check_qkv(Q, K, V)
        out, self.weights = scaled_dot_product_attention(Q, K, V, mask, scale=self.scale)
        self._cache = (Q, K, V)
        return out

    __call__ = forward

    def backward(self, grad) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._cache is None:
            raise RuntimeError("call forward before backward")
        return scaled_dot_product_attention_backward(grad, *self._cache, self.weights, scale=self.scale)

    def __repr__(self) -> str:
        return f"ScaledDotProductAttention(scale={self.scale!r})"


# ------------------------------------------------------------------------------- multi-head attention

def split_heads(X: np.ndarray, num_heads: int) -> np.ndarray:
    """(N, T, h*d) -> (N, h, T, d): head r takes columns r*d ... (r+1)*d - 1."""
    N, T, hd = X.shape
    return X.reshape(N, T, num_heads, hd // num_heads).transpose(0, 2, 1, 3)


def merge_heads(X: np.ndarray) -> np.ndarray:
    """(N, h, T, d) -> (N, T, h*d), the inverse of :func:`split_heads`."""
    N, h, T, d = X.shape
    return X.transpose(0, 2, 1, 3).reshape(N, T, h * d)


def _rows(layer: Dense, x: np.ndarray) -> np.ndarray:
    """A :class:`Dense` layer applied to every position of (N, T, d)."""
    N, T, _ = x.shape
    return layer.forward(x.reshape(N * T, -1)).reshape(N, T, -1)


def _rows_backward(layer: Dense, grad: np.ndarray) -> np.ndarray:
    N, T, _ = grad.shape
    return layer.backward(grad.reshape(N * T, -1)).reshape(N, T, -1)


class MultiHeadAttention:
    r"""Multi-head attention with projections :math:`W_Q, W_K, W_V, W_O` and biases (module docstring).

    Build it from weights in PyTorch's (out, in) layout (a bias ``None`` is zeros), or with :meth:`init`.
    The projections are :class:`~.dense.Dense` layers ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``
    (PyTorch's names). The gradient of ``b_K`` is always zero: it adds :math:`q_i^\top b_K` to every
    score of row :math:`i`, which the softmax ignores.

    Shapes: ``query`` (N, T_q, d_q) or (T_q, d_q); ``key`` (N, T_k, d_kin); ``value`` (N, T_k, d_vin).
    ``mask``: (T_q, T_k), (N, T_q, T_k) or (N, 1, T_k) (one mask for every head), or with a head axis
    (N, h, T_q, T_k); boolean ``True`` = may attend, or float, added to the scores.

    :meth:`forward` returns ``(output, weights)``: output (N, T_q, d_out) and the per-head attention
    weights (N, h, T_q, T_k) (also kept in :attr:`weights`). :meth:`backward` stores the gradients of
    the eight parameters (:attr:`grads`, in the order of :attr:`params`) and returns
    ``(d_query, d_key, d_value)``; for self-attention (one ``x`` for all three) dL/dx is their sum.
    """

    def __init__(self, W_Q, b_Q, W_K, b_K, W_V, b_V, W_O, b_O, num_heads: int, *, scale: float | None = None):
        if isinstance(num_heads, bool) or not isinstance(num_heads, (int, np.integer)) or num_heads < 1:
            raise ValueError(f"num_heads must be a positive integer, got {num_heads!r}")
        projections = []
        for W, b, name in ((W_Q, b_Q, "W_Q"), (W_K, b_K, "W_K"), (W_V, b_V, "W_V"), (W_O, b_O, "W_O")):
            W = as_float_array(W, name)
            if W.ndim != 2:
                raise ShapeError(f"{name} must be a matrix of shape (out_features, in_features), got shape {W.shape}")
            projections.append(Dense(W, np.zeros(W.shape[0]) if b is None else b))
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = projections
        h = int(num_heads)
        for layer, name, what in ((self.q_proj, "W_Q", "h * d_k"), (self.v_proj, "W_V", "h * d_v")):
            if layer.out_features % h:
                raise ShapeError(f"{name} has {layer.out_features} rows, which {h} heads cannot share: "
                                 f"it must have {what} rows (a multiple of num_heads = {h})")
        if self.k_proj.out_features != self.q_proj.out_features:
            raise ShapeError(f"W_K has {self.k_proj.out_features} rows but W_Q has {self.q_proj.out_features}: "
                             "queries and keys must have the same h * d_k features to be compared")
        if self.out_proj.in_features != self.v_proj.out_features:
            raise ShapeError(f"W_O has {self.out_proj.in_features} columns but W_V has {self.v_proj.out_features} "
                             "rows: W_O reads the concatenated heads (h * d_v features)")
        self.num_heads = h
        self.scale = scale if scale is None else _scale(scale, 1)
        self.weights = None
        self._cache = None

    @classmethod
    def init(cls, d_model: int, num_heads: int, *, key_dim: int | None = None, value_dim: int | None = None,
             kdim: int | None = None, vdim: int | None = None, out_features: int | None = None,
             random_state=None) -> MultiHeadAttention:
        """Glorot-uniform projections (PyTorch's and Keras's default) and small random biases.

        ``key_dim`` and ``value_dim`` (per head) default to ``d_model // num_heads``; ``kdim`` and
        ``vdim`` (the key and value inputs' widths) and ``out_features`` default to ``d_model``. The
        biases are drawn from U(-0.1, 0.1) rather than zeros so that a test comparing with a framework
        also checks them.
        """
        if isinstance(num_heads, bool) or not isinstance(num_heads, (int, np.integer)) or num_heads < 1:
            raise ValueError(f"num_heads must be a positive integer, got {num_heads!r}")
        rng = np.random.default_rng(random_state)
        if key_dim is None:
            if d_model % num_heads:
                raise ValueError(f"d_model = {d_model} is not divisible by num_heads = {num_heads}: choose "
                                 "another number of heads or give key_dim (and value_dim) explicitly")
            key_dim = d_model // num_heads
        value_dim = key_dim if value_dim is None else value_dim
        kdim, vdim = kdim or d_model, vdim or d_model
        out_features = out_features or d_model
        h = num_heads

        def glorot(n_out, n_in):
            limit = np.sqrt(6.0 / (n_in + n_out))
            return rng.uniform(-limit, limit, (n_out, n_in))

        def bias(n):
            return rng.uniform(-0.1, 0.1, n)

        return cls(glorot(h * key_dim, d_model), bias(h * key_dim), glorot(h * key_dim, kdim), bias(h * key_dim),
                   glorot(h * value_dim, vdim), bias(h * value_dim), glorot(out_features, h * value_dim),
                   bias(out_features), num_heads)

    @property
    def key_dim(self) -> int:
        """d_k, per head."""
        return self.q_proj.out_features // self.num_heads

    @property
    def value_dim(self) -> int:
        """d_v, per head."""
        return self.v_proj.out_features // self.num_heads

    @property
    def params(self) -> list[np.ndarray]:
        """[W_Q, b_Q, W_K, b_K, W_V, b_V, W_O, b_O]."""
        return [p for lay in (self.q_proj, self.k_proj, self.v_proj, self.out_proj) for p in lay.params]

    @property
    def grads(self) -> list[np.ndarray]:
        return [g for lay in (self.q_proj, self.k_proj, self.v_proj, self.out_proj) for g in lay.grads]

    def _inputs(self, query, key, value):
        query = as_float_array(query, "query")
        unbatched = query.ndim == 2
        xs = []
        for x, name, layer in ((query, "query", self.q_proj), (key, "key", self.k_proj),
                               (value, "value", self.v_proj)):
            x = as_float_array(x, name)
            if x.ndim != (2 if unbatched else 3):
                raise ShapeError(f"{name} must have shape (batch, time, features)"
                                 f"{' like query' if name != 'query' else ' or (time, features)'}, got shape {x.shape}")
            x = x[None] if unbatched else x
            check_dim(x, -1, layer.in_features, name, "features",
                      f"its projection has shape {layer.W.shape} = (out, in)")
            xs.append(x)
        q, k, v = xs
        if k.shape[:2] != v.shape[:2]:
            raise ShapeError(f"key has shape {k.shape} but value has shape {v.shape}: they need the same batch and "
                             "time dimensions (one value per key)")
        check_dim(k, 0, q.shape[0], "key", "sequences", f"query has shape {q.shape} (the same batch)")
        return q, k, v, unbatched

    def _mask(self, mask, N: int):
        if mask is None:
            return None
        m = np.asarray(mask)
        if m.ndim == 3:  # (N, T_q, T_k) or (N, 1, T_k): the same mask for every head
            m = m[:, None]
        elif m.ndim not in (2, 4):
            raise ShapeError(f"mask must have shape (T_q, T_k), (batch, T_q, T_k) or (batch, heads, T_q, T_k), "
                             f"got shape {m.shape}")
        if m.ndim == 4 and m.shape[0] not in (1, N):
            raise ShapeError(f"mask has {m.shape[0]} sequences (dimension 0 of shape {np.shape(mask)}), "
                             f"expected {N} (the batch) or 1")
        return m

    def forward(self, query, key=None, value=None, mask=None) -> tuple[np.ndarray, np.ndarray]:
        """``(output, weights)``; ``key`` defaults to ``query`` and ``value`` to ``key`` (self-attention)."""
        key = query if key is None else key
        value = key if value is None else value
        xq, xk, xv, unbatched = self._inputs(query, key, value)
        h = self.num_heads
        Q = split_heads(_rows(self.q_proj, xq), h)
        K = split_heads(_rows(self.k_proj, xk), h)
        V = split_heads(_rows(self.v_proj, xv), h)
        heads, A = scaled_dot_product_attention(Q, K, V, self._mask(mask, xq.shape[0]), scale=self.scale)
        out = _rows(self.out_proj, merge_heads(heads))
        self.weights = A
        self._cache = (Q, K, V, A, unbatched)
        return (out[0], A[0]) if unbatched else (out, A)

    __call__ = forward

    def backward(self, grad) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Store dW_*, db_* and return (d_query, d_key, d_value) for dL/d(output) ``grad``."""
        if self._cache is None:
            raise RuntimeError("call forward before backward")
        Q, K, V, A, unbatched = self._cache
        g = as_float_array(grad, "grad")
        g = g[None] if unbatched else g
        check_shape(g, (Q.shape[0], Q.shape[2], self.out_proj.out_features), "grad",
                    "(batch, T_q, out_features), the output's shape")
        d_heads = split_heads(_rows_backward(self.out_proj, g), self.num_heads)
        dQ, dK, dV = scaled_dot_product_attention_backward(d_heads, Q, K, V, A, scale=self.scale)
        dxq = _rows_backward(self.q_proj, merge_heads(dQ))
        dxk = _rows_backward(self.k_proj, merge_heads(dK))
        dxv = _rows_backward(self.v_proj, merge_heads(dV))
        return (dxq[0], dxk[0], dxv[0]) if unbatched else (dxq, dxk, dxv)

    def __repr__(self) -> str:
        return (f"MultiHeadAttention(num_heads={self.num_heads}, key_dim={self.key_dim}, value_dim={self.value_dim}, "
                f"query_features={self.q_proj.in_features}, out_features={self.out_proj.out_features})")
