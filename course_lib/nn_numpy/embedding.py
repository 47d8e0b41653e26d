r"""Embedding lookup as a one-hot matrix product.

With an embedding table :math:`E \in \mathbb{R}^{n \times k}` (one row per item or user) and
the one-hot row vector :math:`e_i \in \{0, 1\}^{n}` of index :math:`i`,

.. math:: \mathrm{embed}(i) = e_i^\top E = E_{i,:} \in \mathbb{R}^{k},

so a batch of indices :math:`(i_1, \dots, i_m)` gives :math:`\mathrm{onehot}(i) E`, shape
:math:`m \times k`. Frameworks index the row directly (the same numbers, without the
:math:`m \times n` matrix). The gradient of the loss with respect to :math:`E` is
:math:`\mathrm{onehot}(i)^\top G`: only the looked-up rows receive gradient.
"""

from __future__ import annotations

import numpy as np

from ._shapes import ShapeError, as_float_array, check_shape

__all__ = ["one_hot", "Embedding"]


def _indices(indices, n: int, name: str = "indices") -> np.ndarray:
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        if idx.dtype.kind == "f" and idx.size and np.all(idx == np.round(idx)):
            idx = idx.astype(np.int64)
        else:
            raise TypeError(f"{name} must be integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)].ravel()[0]
        raise IndexError(f"{name} must lie in [0, {n - 1}] (the table has {n} rows), got {int(bad)}")
    return idx


def one_hot(indices, num_classes: int) -> np.ndarray:
    """One-hot rows: shape ``indices.shape + (num_classes,)``, float64."""
    idx = _indices(indices, num_classes)
    return np.eye(num_classes)[idx]


class Embedding:
    r"""An embedding table ``E`` (num_embeddings, dim); :meth:`forward` is ``one_hot(i) @ E``."""

    def __init__(self, E):
        E = as_float_array(E, "E")
        if E.ndim != 2:
            raise ShapeError(f"E must have shape (num_embeddings, embedding_dim), got {E.shape}")
        self.E = E.copy()
        self.dE = None
        self._cache = None

    @classmethod
    def init(cls, num_embeddings: int, dim: int, *, random_state=None, scale: float = 0.05) -> Embedding:
        """Uniform(-scale, scale) entries (Keras's default initialiser)."""
        rng = np.random.default_rng(random_state)
        return cls(rng.uniform(-scale, scale, (num_embeddings, dim)))

    @property
    def params(self) -> list[np.ndarray]:
        return [self.E]

    @property
    def grads(self) -> list[np.ndarray]:
        return [self.dE]

    def forward(self, indices) -> np.ndarray:
        """Rows of ``E`` for integer ``indices`` of any shape: shape ``indices.shape + (dim,)``."""
        X = one_hot(indices, self.E.shape[0])
        self._cache = X
        return X @ self.E

    __call__ = forward

    def backward(self, grad) -> None:
        """Store ``dE = onehot^T grad`` (summed over every lookup)."""
        X = self._cache
        grad = as_float_array(grad, "grad")
        check_shape(grad, X.shape[:-1] + (self.E.shape[1],), "grad", "(indices shape + (embedding_dim,))")
        self.dE = X.reshape(-1, X.shape[-1]).T @ grad.reshape(-1, grad.shape[-1])
