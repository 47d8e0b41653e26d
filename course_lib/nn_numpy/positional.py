r"""Positional embeddings: learned (SASRec, BERT4Rec) and sinusoidal (Vaswani et al. 2017).

Attention by itself ignores order: permuting the keys and values permutes nothing in the output.
A position signal is therefore added to each input vector.

**Learned** (SASRec, Kang and McAuley 2018, Sec. III-A; BERT4Rec too): a table
:math:`P \in \mathbb{R}^{n \times d}` with one trainable row per position, looked up like an item
embedding and added to the sequence :math:`E \in \mathbb{R}^{T \times d}`:

.. math:: \hat E_t = E_t + P_{p_t}, \qquad p_t = t \;\; (t = 0, \dots, T-1) \text{ by default.}

Its gradient is :math:`\partial L/\partial P_k = \sum_{(n, t):\, p_{n,t} = k} G_{n,t}` and the input's
is :math:`G` itself. SASRec's reference code (kang205/SASRec) indexes positions 0 ... T-1 whatever
the padding and multiplies the item embeddings by :math:`\sqrt{d}` before adding :math:`P`; some
re-implementations (pmixer/SASRec.pytorch) use positions 1 ... T with 0 for padded slots: pass
``positions`` for that. A learned table cannot represent sequences longer than its :math:`n` rows.

**Sinusoidal** (Vaswani et al. 2017, Sec. 3.5), fixed, for any length:

.. math::

    \mathrm{PE}_{t, 2i} = \sin\!\big(t / 10000^{2i/d}\big), \qquad
    \mathrm{PE}_{t, 2i+1} = \cos\!\big(t / 10000^{2i/d}\big),

so each pair of columns is a rotation by an angle proportional to :math:`t`, and
:math:`\mathrm{PE}_{t+k}` is a fixed linear function (a rotation) of :math:`\mathrm{PE}_{t}`.

References: W.-C. Kang and J. McAuley, *Self-Attentive Sequential Recommendation*, ICDM 2018;
A. Vaswani et al., *Attention Is All You Need*, NeurIPS 2017.
"""

from __future__ import annotations

import numpy as np

from ._shapes import ShapeError, as_float_array, check_dim, check_shape
from .embedding import Embedding

__all__ = ["sinusoidal_positions", "LearnedPositionalEmbedding"]


def sinusoidal_positions(length: int, dim: int, base: float = 10000.0) -> np.ndarray:
    r"""The (length, dim) table of sinusoidal positions (module docstring), :math:`b^{2i/d}` with :math:`b` = ``base``.

    Sines in the even columns, cosines in the odd ones (interleaved, as in the paper; some code
    concatenates all sines then all cosines, which is a column permutation of this). ``base``
    :math:`b` is 10000 in the paper. An odd ``dim`` ends with a sine column.
    """
    for n, name in ((length, "length"), (dim, "dim")):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")
    if not base > 1:
        raise ValueError(f"base must be greater than 1 (the paper uses 10000), got {base!r}")
    t = np.arange(length, dtype=np.float64)[:, None]
    two_i = np.arange(0, dim, 2, dtype=np.float64)[None, :]
    angles = t / base ** (two_i / dim)
    pe = np.empty((length, dim))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : dim // 2])
    return pe


class LearnedPositionalEmbedding:
    r"""A trainable table ``P`` (max_len, d); :meth:`forward` returns :math:`x + P_{\text{positions}}`.

    ``x`` has shape (N, T, d) or (T, d); ``positions`` (integers, (T,) or (N, T)) default to
    0 ... T-1. The lookup is an :class:`~.embedding.Embedding` (``table``). After :meth:`backward`,
    ``dP`` (max_len, d) holds the gradient of the table.
    """

    def __init__(self, P):
        P = as_float_array(P, "P")
        if P.ndim != 2:
            raise ShapeError(f"P must have shape (max_len, embedding_dim), got shape {P.shape}")
        self.table = Embedding(P)
        self._shape = None

    @classmethod
    def init(cls, max_len: int, dim: int, *, random_state=None, scale: float = 0.05) -> LearnedPositionalEmbedding:
        """Uniform(-scale, scale) rows, like :meth:`.Embedding.init`."""
        return cls(Embedding.init(max_len, dim, random_state=random_state, scale=scale).E)

    @property
    def P(self) -> np.ndarray:
        return self.table.E

    @property
    def dP(self) -> np.ndarray | None:
        return self.table.dE

    @property
    def max_len(self) -> int:
        return self.P.shape[0]

    @property
    def params(self) -> list[np.ndarray]:
        return [self.P]

    @property
    def grads(self) -> list[np.ndarray]:
        return [self.dP]

    def forward(self, x, positions=None) -> np.ndarray:
        """``x + P[positions]``, the shape of ``x``."""
        x = as_float_array(x, "x")
        if x.ndim not in (2, 3):
            raise ShapeError(f"x must have shape (batch, time, features) or (time, features), got shape {x.shape}")
        check_dim(x, -1, self.P.shape[1], "x", "features", f"P has shape {self.P.shape} = (max_len, embedding_dim)")
        T = x.shape[-2]
        if positions is None:
            if T > self.max_len:
                raise ShapeError(f"x has {T} positions but the table has {self.max_len} rows (max_len): keep the "
                                 f"last {self.max_len} items of each sequence or build a longer table")
            positions = np.arange(T)
        positions = np.asarray(positions)
        if positions.shape[-1:] != (T,) or positions.ndim > x.ndim - 1 or positions.shape[:-1] not in ((), x.shape[:1]):
            raise ShapeError(f"positions must have shape ({T},) or (batch, {T}) to match x of shape {x.shape}, "
                             f"got shape {positions.shape}")
        positions = np.broadcast_to(positions, x.shape[:-1])
        self._shape = x.shape
        return x + self.table.forward(positions)

    __call__ = forward

    def backward(self, grad) -> np.ndarray:
        """Store ``dP`` and return dL/dx (= ``grad``: the table is only added)."""
        if self._shape is None:
            raise RuntimeError("call forward before backward")
        g = as_float_array(grad, "grad")
        check_shape(g, self._shape, "grad", "(the shape of the layer's last output)")
        self.table.backward(g)
        return g

    def __repr__(self) -> str:
        return f"LearnedPositionalEmbedding(max_len={self.max_len}, dim={self.P.shape[1]})"
