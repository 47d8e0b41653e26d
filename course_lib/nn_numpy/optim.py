r"""Optimisers from scratch, updating a list of NumPy arrays in place, step for step like ``torch.optim``.

SGD with momentum :math:`\mu` (PyTorch's form; the first step sets :math:`v_1 = g_1`):

.. math:: v_t = \mu v_{t-1} + g_t, \qquad \theta_t = \theta_{t-1} - \eta v_t.

Adam (Kingma and Ba 2015), with :math:`g_t` the gradient at step :math:`t = 1, 2, \dots`:

.. math::

    m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2,

    \hat m_t = \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}, \qquad
    \theta_t = \theta_{t-1} - \eta \frac{\hat m_t}{\sqrt{\hat v_t} + \varepsilon}.

This is ``torch.optim.Adam`` (default :math:`\varepsilon = 10^{-8}`). Keras's ``Adam`` has
:math:`\varepsilon = 10^{-7}` and adds it to :math:`\sqrt{v_t}` before the bias correction,
:math:`\theta_t = \theta_{t-1} - \eta \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t} \frac{m_t}{\sqrt{v_t} + \varepsilon}`
(the algorithm as printed in Kingma and Ba's paper, section 2): ``Adam(..., variant="keras")``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._shapes import ShapeError

__all__ = ["SGD", "Adam"]


class _Optimizer:
    def __init__(self, params: Sequence[np.ndarray], lr: float):
        self.params = list(params)
        for k, p in enumerate(self.params):
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(f"params[{k}] must be a float NumPy array (it is updated in place), "
                                f"got {type(p).__name__}")
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        self.lr = float(lr)
        self.t = 0

    def _check(self, grads) -> list[np.ndarray]:
        grads = list(grads)
        if len(grads) != len(self.params):
            raise ValueError(f"got {len(grads)} gradients for {len(self.params)} parameters")
        out = []
        for k, (p, g) in enumerate(zip(self.params, grads)):
            if g is None:
                raise ValueError(f"grads[{k}] is None: call backward before step")
            g = np.asarray(g, dtype=np.float64)
            if g.shape != p.shape:
                raise ShapeError(f"grads[{k}] has shape {g.shape} but params[{k}] has shape {p.shape}")
            out.append(g)
        return out


class SGD(_Optimizer):
    """Stochastic gradient descent, with optional momentum (PyTorch's formula)."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0):
        super().__init__(params, lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.velocity = [None] * len(self.params)

    def step(self, grads) -> None:
        grads = self._check(grads)
        self.t += 1
        for k, (p, g) in enumerate(zip(self.params, grads)):
            if self.momentum:
                v = g.copy() if self.velocity[k] is None else self.momentum * self.velocity[k] + g
                self.velocity[k] = v
                g = v
            p -= self.lr * g


class Adam(_Optimizer):
    """Adam with bias correction: ``torch.optim.Adam`` (no weight decay), or Keras's with ``variant="keras"``."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 variant: str = "torch"):
        super().__init__(params, lr)
        if variant not in ("torch", "keras"):
            raise ValueError(f"variant must be 'torch' or 'keras' (where epsilon is added), got {variant!r}")
        self.variant = variant
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must be in [0, 1), got {betas!r}")
        self.beta1, self.beta2, self.eps = float(b1), float(b2), float(eps)
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]

    def step(self, grads) -> None:
        grads = self._check(grads)
        self.t += 1
        c1, c2 = 1 - self.beta1 ** self.t, 1 - self.beta2 ** self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            if self.variant == "torch":
                p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)
            else:
                p -= self.lr * np.sqrt(c2) / c1 * m / (np.sqrt(v) + self.eps)
