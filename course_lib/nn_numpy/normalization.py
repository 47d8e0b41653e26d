r"""Layer normalisation (Ba, Kiros and Hinton 2016), forward and backward.

Each position's feature vector :math:`x \in \mathbb{R}^{d}` (the last axis) is normalised on its own,
then scaled and shifted by learned :math:`\gamma, \beta \in \mathbb{R}^{d}`:

.. math::

    \mu = \frac{1}{d} \sum_{j} x_j, \qquad \sigma^2 = \frac{1}{d} \sum_j (x_j - \mu)^2, \qquad
    \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \varepsilon}}, \qquad y = \gamma \odot \hat x + \beta.

The variance is the biased one (divided by :math:`d`), as in PyTorch's ``nn.LayerNorm`` and Keras's
``LayerNormalization``. Their default :math:`\varepsilon` differ: PyTorch ``1e-5``, Keras ``1e-3``
(SASRec's code uses ``1e-8``); copies keep the layer's own. Unlike batch normalisation nothing depends
on the other examples, so training and inference compute the same thing.

Backward, with :math:`g = \partial L/\partial y` and :math:`\hat g = g \odot \gamma`, per position
(means over the :math:`d` features):

.. math::

    \frac{\partial L}{\partial x} = \frac{1}{\sqrt{\sigma^2 + \varepsilon}}
        \Big(\hat g - \overline{\hat g} - \hat x \odot \overline{\hat g \odot \hat x}\Big), \qquad
    \frac{\partial L}{\partial \gamma} = \sum_{\text{positions}} g \odot \hat x, \qquad
    \frac{\partial L}{\partial \beta} = \sum_{\text{positions}} g.

Reference: J. L. Ba, J. R. Kiros, G. E. Hinton, *Layer Normalization*, arXiv:1607.06450, 2016.
"""

from __future__ import annotations

import numpy as np

from ._shapes import ShapeError, as_float_array, check_dim, check_shape

__all__ = ["LayerNorm"]


class LayerNorm:
    r"""Layer normalisation over the last axis: :math:`\gamma \odot (x - \mu)/\sqrt{\sigma^2 + \varepsilon} + \beta`.

    ``gamma`` and ``beta`` have shape (d,); inputs (..., d). Attributes after :meth:`backward`:
    ``dgamma``, ``dbeta`` (d,).
    """

    def __init__(self, gamma, beta=None, eps: float = 1e-5):
        gamma = as_float_array(gamma, "gamma")
        if gamma.ndim != 1:
            raise ShapeError(f"gamma must have shape (features,), got shape {gamma.shape}")
        beta = np.zeros_like(gamma) if beta is None else as_float_array(beta, "beta")
        check_shape(beta, gamma.shape, "beta", "(features,) like gamma")
        eps = float(eps)
        if not eps > 0:
            raise ValueError(f"eps must be positive (PyTorch uses 1e-5, Keras 1e-3), got {eps}")
        self.gamma, self.beta, self.eps = gamma.copy(), beta.copy(), eps
        self.dgamma = self.dbeta = None
        self._cache = None

    @classmethod
    def init(cls, features: int, eps: float = 1e-5) -> LayerNorm:
        r""":math:`\gamma = 1`, :math:`\beta = 0` (every framework's initialisation)."""
        return cls(np.ones(features), np.zeros(features), eps)

    @property
    def features(self) -> int:
        return self.gamma.shape[0]

    @property
    def params(self) -> list[np.ndarray]:
        return [self.gamma, self.beta]

    @property
    def grads(self) -> list[np.ndarray]:
        return [self.dgamma, self.dbeta]

    def forward(self, x) -> np.ndarray:
        """Normalised ``x`` (..., d), the same shape."""
        x = as_float_array(x, "x")
        if x.ndim < 1:
            raise ShapeError(f"x must have at least one dimension (..., features), got shape {x.shape}")
        check_dim(x, -1, self.features, "x", "features", f"gamma has shape {self.gamma.shape}")
        mu = x.mean(axis=-1, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat = (x - mu) * inv_std
        self._cache = (x_hat, inv_std)
        return self.gamma * x_hat + self.beta

    __call__ = forward

    def backward(self, grad) -> np.ndarray:
        """Store ``dgamma``, ``dbeta`` and return dL/dx for dL/dy ``grad``."""
        if self._cache is None:
            raise RuntimeError("call forward before backward")
        x_hat, inv_std = self._cache
        g = as_float_array(grad, "grad")
        check_shape(g, x_hat.shape, "grad", "(the shape of the layer's last output)")
        flat_g, flat_x = g.reshape(-1, self.features), x_hat.reshape(-1, self.features)
        self.dgamma = (flat_g * flat_x).sum(axis=0)
        self.dbeta = flat_g.sum(axis=0)
        g_hat = g * self.gamma
        return inv_std * (g_hat - g_hat.mean(axis=-1, keepdims=True)
                          - x_hat * (g_hat * x_hat).mean(axis=-1, keepdims=True))

    def __repr__(self) -> str:
        return f"LayerNorm(features={self.features}, eps={self.eps:g})"
