r"""Recurrent layers over a sequence, returning every state: simple RNN, LSTM and GRU.

Inputs are batch first, ``x`` of shape (N, T, d) (or (T, d) for one sequence); states have
``H`` units. Weight matrices are stored as PyTorch stores them: input weights (G*H, d),
recurrent weights (G*H, H), the G gates stacked along the first axis.

Simple RNN (G = 1):

.. math:: h_t = \tanh(W_x x_t + W_h h_{t-1} + b), \qquad W_x \in \mathbb{R}^{H\times d},\;
          W_h \in \mathbb{R}^{H\times H},\; b \in \mathbb{R}^{H}.

LSTM (G = 4, gate order **i, f, g, o**, which is PyTorch's order and also Keras's, which calls
the candidate ``c``: i, f, c, o):

.. math::

    i_t = \sigma(W_{xi} x_t + W_{hi} h_{t-1} + b_i), \quad
    f_t = \sigma(W_{xf} x_t + W_{hf} h_{t-1} + b_f), \quad
    g_t = \tanh(W_{xg} x_t + W_{hg} h_{t-1} + b_g), \quad
    o_t = \sigma(W_{xo} x_t + W_{ho} h_{t-1} + b_o),

    c_t = f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t).

PyTorch keeps two biases (``b_ih`` and ``b_hh``) that are only ever added: :math:`b = b_{ih} + b_{hh}`.

GRU (G = 3, gate order **r, z, n** as in PyTorch; Keras orders them z, r, h):

.. math::

    r_t = \sigma(W_{xr} x_t + b_{xr} + W_{hr} h_{t-1} + b_{hr}), \quad
    z_t = \sigma(W_{xz} x_t + b_{xz} + W_{hz} h_{t-1} + b_{hz}),

    n_t = \tanh\!\big(W_{xn} x_t + b_{xn} + r_t \odot (W_{hn} h_{t-1} + b_{hn})\big)
    \quad \text{(reset after: PyTorch, Keras's default } \texttt{reset\_after=True)},

    n_t = \tanh\!\big(W_{xn} x_t + b_{xn} + W_{hn} (r_t \odot h_{t-1}) + b_{hn}\big)
    \quad \text{(reset before: Cho et al. 2014, Keras's } \texttt{reset\_after=False)},

    h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}.

The GRU needs two biases because, with the reset after the product, :math:`b_{hn}` is scaled
by :math:`r_t` and so is not interchangeable with :math:`b_{xn}`.
"""

from __future__ import annotations

import numpy as np

from ._shapes import ShapeError, as_float_array, check_dim, check_shape
from .activations import sigmoid

__all__ = ["SimpleRNN", "LSTM", "GRU"]


def _check_weights(W_x, W_h, gates: int, name: str):
    W_x, W_h = as_float_array(W_x, "W_x"), as_float_array(W_h, "W_h")
    if W_h.ndim != 2 or W_h.shape[0] != W_h.shape[1] * gates:
        raise ShapeError(f"{name}: W_h must have shape ({gates}*units, units) with the {gates} gate(s) stacked, "
                         f"got shape {W_h.shape}")
    units = W_h.shape[1]
    if W_x.ndim != 2:
        raise ShapeError(f"{name}: W_x must have shape ({gates}*units, input_features), got shape {W_x.shape}")
    check_dim(W_x, 0, gates * units, "W_x", "rows", f"W_h has shape {W_h.shape}: {gates} gate(s) x {units} units")
    return W_x, W_h, units


def _check_bias(b, size: int, name: str) -> np.ndarray:
    if b is None:
        return np.zeros(size)
    b = as_float_array(b, name)
    check_shape(b, (size,), name, "(gates*units,)")
    return b


class _Recurrent:
    gates = 1
    name = "RNN"

    def _prepare(self, x, h0, extra=None):
        x = as_float_array(x, "x")
        if x.ndim not in (2, 3):
            raise ShapeError(f"{self.name}: x must have shape (batch, time, features) or (time, features), "
                             f"got shape {x.shape}")
        unbatched = x.ndim == 2
        if unbatched:
            x = x[None]
        check_dim(x, -1, self.input_features, "x", "features",
                  f"W_x has shape {self.W_x.shape} = (gates*units, input_features)")
        states = []
        for s, label in ((h0, "h0"), (extra, "c0")):
            if s is None:
                states.append(np.zeros((x.shape[0], self.units)))
            else:
                s = as_float_array(s, label)
                s = s[None] if s.ndim == 1 else s
                check_shape(s, (x.shape[0], self.units), label, "(batch, units)")
                states.append(s)
        return x, unbatched, states

    @property
    def units(self) -> int:
        return self.W_h.shape[1]

    @property
    def input_features(self) -> int:
        return self.W_x.shape[1]


class _SingleStateRecurrent(_Recurrent):
    """A cell whose state is one vector h_t (simple RNN, GRU): run ``step`` over the sequence."""

    def forward(self, x, h0=None) -> np.ndarray:
        """All hidden states (N, T, H) for ``x`` (N, T, d); ``h0`` (N, H) defaults to zeros."""
        x, unbatched, (h, _) = self._prepare(x, h0)
        states = []
        for t in range(x.shape[1]):
            h = self.step(x[:, t], h)
            states.append(h)
        out = np.stack(states, axis=1)
        return out[0] if unbatched else out

    __call__ = forward


class SimpleRNN(_SingleStateRecurrent):
    r"""The Elman RNN :math:`h_t = \tanh(W_x x_t + W_h h_{t-1} + b)`.

    ``W_x`` (H, d), ``W_h`` (H, H), ``b`` (H,). :meth:`forward` returns all states (N, T, H).
    """

    gates, name = 1, "SimpleRNN"

    def __init__(self, W_x, W_h, b=None):
        self.W_x, self.W_h, _ = _check_weights(W_x, W_h, 1, self.name)
        self.b = _check_bias(b, self.units, "b")

    @classmethod
    def init(cls, input_features: int, units: int, *, random_state=None) -> SimpleRNN:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) weights, PyTorch's initialisation."""
        rng = np.random.default_rng(random_state)
        k = 1 / np.sqrt(units)
        return cls(rng.uniform(-k, k, (units, input_features)), rng.uniform(-k, k, (units, units)),
                   rng.uniform(-k, k, units))

    def step(self, x_t, h_prev):
        """One step: (N, d), (N, H) -> (N, H)."""
        return np.tanh(x_t @ self.W_x.T + h_prev @ self.W_h.T + self.b)



class LSTM(_Recurrent):
    r"""Long short-term memory with gates stacked in the order i, f, g, o (see the module docstring).

    ``W_x`` (4H, d), ``W_h`` (4H, H), ``b`` (4H,). :meth:`forward` returns the hidden states
    and the cell states, both (N, T, H).
    """

    gates, name = 4, "LSTM"
    GATE_ORDER = ("i", "f", "g", "o")

    def __init__(self, W_x, W_h, b=None):
        self.W_x, self.W_h, _ = _check_weights(W_x, W_h, 4, self.name)
        self.b = _check_bias(b, 4 * self.units, "b")

    @classmethod
    def init(cls, input_features: int, units: int, *, random_state=None) -> LSTM:
        rng = np.random.default_rng(random_state)
        k = 1 / np.sqrt(units)
        return cls(rng.uniform(-k, k, (4 * units, input_features)), rng.uniform(-k, k, (4 * units, units)),
                   rng.uniform(-k, k, 4 * units))

    def step(self, x_t, h_prev, c_prev):
        """One step: returns (h_t, c_t), each (N, H)."""
        z = x_t @ self.W_x.T + h_prev @ self.W_h.T + self.b
        zi, zf, zg, zo = np.split(z, 4, axis=-1)
        i, f, g, o = sigmoid(zi), sigmoid(zf), np.tanh(zg), sigmoid(zo)
        c = f * c_prev + i * g
        return o * np.tanh(c), c

    def forward(self, x, h0=None, c0=None) -> tuple[np.ndarray, np.ndarray]:
        """(hidden states, cell states), each (N, T, H); ``h0``, ``c0`` (N, H) default to zeros."""
        x, unbatched, (h, c) = self._prepare(x, h0, c0)
        hs, cs = [], []
        for t in range(x.shape[1]):
            h, c = self.step(x[:, t], h, c)
            hs.append(h)
            cs.append(c)
        hs, cs = np.stack(hs, axis=1), np.stack(cs, axis=1)
        return (hs[0], cs[0]) if unbatched else (hs, cs)

    __call__ = forward


class GRU(_SingleStateRecurrent):
    r"""Gated recurrent unit with gates stacked r, z, n (PyTorch's order); see the module docstring.

    ``W_x`` (3H, d), ``W_h`` (3H, H), ``b_x`` (3H,), ``b_h`` (3H,). ``reset_after=True`` applies
    the reset gate after the recurrent product (PyTorch; Keras's default), ``False`` before it
    (the original GRU; Keras's ``reset_after=False``). :meth:`forward` returns all states (N, T, H).
    """

    gates, name = 3, "GRU"
    GATE_ORDER = ("r", "z", "n")

    def __init__(self, W_x, W_h, b_x=None, b_h=None, *, reset_after: bool = True):
        self.W_x, self.W_h, _ = _check_weights(W_x, W_h, 3, self.name)
        self.b_x = _check_bias(b_x, 3 * self.units, "b_x")
        self.b_h = _check_bias(b_h, 3 * self.units, "b_h")
        self.reset_after = bool(reset_after)

    @classmethod
    def init(cls, input_features: int, units: int, *, random_state=None, reset_after: bool = True) -> GRU:
        rng = np.random.default_rng(random_state)
        k = 1 / np.sqrt(units)
        return cls(rng.uniform(-k, k, (3 * units, input_features)), rng.uniform(-k, k, (3 * units, units)),
                   rng.uniform(-k, k, 3 * units), rng.uniform(-k, k, 3 * units), reset_after=reset_after)

    def step(self, x_t, h_prev):
        """One step: (N, d), (N, H) -> (N, H)."""
        H = self.units
        gx = x_t @ self.W_x.T + self.b_x
        r = sigmoid(gx[:, :H] + h_prev @ self.W_h[:H].T + self.b_h[:H])
        z = sigmoid(gx[:, H:2 * H] + h_prev @ self.W_h[H:2 * H].T + self.b_h[H:2 * H])
        if self.reset_after:
            n = np.tanh(gx[:, 2 * H:] + r * (h_prev @ self.W_h[2 * H:].T + self.b_h[2 * H:]))
        else:
            n = np.tanh(gx[:, 2 * H:] + (r * h_prev) @ self.W_h[2 * H:].T + self.b_h[2 * H:])
        return (1 - z) * n + z * h_prev

