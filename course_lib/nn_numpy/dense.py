r"""The dense (fully connected) layer and the multilayer perceptron, forward and backward.

One layer maps :math:`h_{l-1} \in \mathbb{R}^{d_{l-1}}` to

.. math::

    h_l = f\!\left(W_l h_{l-1} + b_l\right), \qquad
    W_l \in \mathbb{R}^{d_l \times d_{l-1}},\; b_l \in \mathbb{R}^{d_l}.

For a batch :math:`X \in \mathbb{R}^{n \times d_{l-1}}` (one example per row) this is
:math:`H = f(X W_l^\top + b_l)`, shape :math:`n \times d_l`. ``W`` is stored as PyTorch's
``nn.Linear.weight`` stores it, (out, in); Keras's ``Dense.kernel`` is its transpose (in, out).

Backward, with :math:`G = \partial L / \partial H` and :math:`\Delta = G \odot f'(Z)`:
:math:`\partial L/\partial W = \Delta^\top X`, :math:`\partial L/\partial b = \sum_n \Delta`,
:math:`\partial L/\partial X = \Delta W`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._shapes import LayerStack, ShapeError, as_float_array, check_dim, check_shape
from .activations import activation_backward, get_activation

__all__ = ["Dense", "MLP"]


class Dense:
    r"""A dense layer :math:`h = f(W x + b)` with weights ``W`` (out, in) and bias ``b`` (out,).

    Attributes after :meth:`backward`: ``dW`` (out, in) and ``db`` (out,).
    """

    def __init__(self, W, b, activation: str = "linear"):
        W = as_float_array(W, "W")
        if W.ndim != 2:
            raise ShapeError(f"W must be a matrix of shape (out_features, in_features), got shape {W.shape}")
        b = as_float_array(b, "b")
        check_shape(b, (W.shape[0],), "b", "(out_features,) to match W's first dimension")
        get_activation(activation)
        self.W, self.b, self.activation = W.copy(), b.copy(), activation
        self.dW = self.db = None
        self._cache = None

    @classmethod
    def init(cls, in_features: int, out_features: int, activation: str = "linear", *, random_state=None) -> Dense:
        """A layer with Glorot-uniform weights and zero bias (Keras's default initialisation)."""
        rng = np.random.default_rng(random_state)
        limit = np.sqrt(6.0 / (in_features + out_features))
        return cls(rng.uniform(-limit, limit, size=(out_features, in_features)), np.zeros(out_features), activation)

    @property
    def in_features(self) -> int:
        return self.W.shape[1]

    @property
    def out_features(self) -> int:
        return self.W.shape[0]

    @property
    def params(self) -> list[np.ndarray]:
        return [self.W, self.b]

    @property
    def grads(self) -> list[np.ndarray]:
        return [self.dW, self.db]

    def forward(self, x) -> np.ndarray:
        """Output for ``x`` of shape (in,) or (n, in); keeps what :meth:`backward` needs."""
        x = as_float_array(x, "x")
        if x.ndim not in (1, 2):
            raise ShapeError(f"x must have shape (in_features,) or (batch, in_features), got {x.shape}")
        check_dim(x, -1, self.in_features, "x", "features",
                  f"W has shape {self.W.shape} = (out_features, in_features)")
        z = x @ self.W.T + self.b
        a = get_activation(self.activation)(z)
        self._cache = (x, z, a)
        return a

    __call__ = forward

    def backward(self, grad) -> np.ndarray:
        """Given dL/d(output), store ``dW``, ``db`` and return dL/d(input)."""
        if self._cache is None:
            raise RuntimeError("call forward before backward")
        x, z, a = self._cache
        grad = as_float_array(grad, "grad")
        check_shape(grad, a.shape, "grad", "(the shape of the layer's last output)")
        delta = activation_backward(self.activation, z, a, grad)
        x2, d2 = np.atleast_2d(x), np.atleast_2d(delta)
        self.dW = d2.T @ x2
        self.db = d2.sum(axis=0)
        return delta @ self.W

    def __repr__(self) -> str:
        return (f"Dense(in_features={self.in_features}, out_features={self.out_features}, "
                f"activation={self.activation!r})")


class MLP(LayerStack):
    r"""A stack of :class:`Dense` layers: :math:`h_l = f_l(W_l h_{l-1} + b_l)`, :math:`h_0 = x`."""

    def __init__(self, layers: Sequence[Dense]):
        layers = list(layers)
        if not layers:
            raise ValueError("an MLP needs at least one layer")
        for k in range(1, len(layers)):
            if layers[k].in_features != layers[k - 1].out_features:
                raise ShapeError(
                    f"layer {k} expects {layers[k].in_features} inputs but layer {k - 1} has "
                    f"{layers[k - 1].out_features} outputs"
                )
        self.layers = layers

    @classmethod
    def init(cls, sizes: Sequence[int], activations: Sequence[str] | str = "relu", *, random_state=None,
             output_activation: str | None = None) -> MLP:
        """Layers of ``sizes`` = [d_0, d_1, ..., d_L]; hidden layers use ``activations``.

        ``activations`` is one name for every hidden layer or a list with one name per layer;
        ``output_activation`` (default ``"linear"``) is the last layer's when a single name is given.
        """
        rng = np.random.default_rng(random_state)
        n = len(sizes) - 1
        if n < 1:
            raise ValueError(f"sizes must list at least two widths (input and output), got {list(sizes)}")
        if isinstance(activations, str):
            activations = [activations] * (n - 1) + [output_activation or "linear"]
        elif len(activations) != n:
            raise ValueError(f"{n} layers need {n} activations, got {len(activations)}")
        return cls([Dense.init(sizes[k], sizes[k + 1], activations[k], random_state=rng) for k in range(n)])

    def forward(self, x) -> np.ndarray:
        h = x
        for layer in self.layers:
            h = layer.forward(h)
        return h

    __call__ = forward

    def backward(self, grad) -> np.ndarray:
        """Backpropagate dL/d(output) through every layer; returns dL/d(input)."""
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def __repr__(self) -> str:
        return "MLP([" + ", ".join(map(repr, self.layers)) + "])"
