r"""1-D and 2-D convolution (cross-correlation, as the frameworks compute it) and max pooling.

What deep-learning frameworks call a convolution does not flip the kernel. With input
:math:`x \in \mathbb{R}^{C_{in} \times L}` (channels first, as in PyTorch), kernel
:math:`W \in \mathbb{R}^{C_{out} \times C_{in} \times K}`, bias :math:`b \in \mathbb{R}^{C_{out}}`,
stride :math:`s`, dilation :math:`d` and the input zero-padded by :math:`p_l` on the left and
:math:`p_r` on the right (:math:`\tilde x`, length :math:`L + p_l + p_r`):

.. math::

    y_{o,t} = b_o + \sum_{c=0}^{C_{in}-1} \sum_{k=0}^{K-1} W_{o,c,k}\; \tilde x_{c,\; t s + k d},
    \qquad t = 0, \dots, L_{out} - 1,

    L_{out} = \left\lfloor \frac{L + p_l + p_r - d (K - 1) - 1}{s} \right\rfloor + 1,
    \qquad y \in \mathbb{R}^{C_{out} \times L_{out}}.

In 2-D, :math:`y_{o,i,j} = b_o + \sum_c \sum_{k_1} \sum_{k_2} W_{o,c,k_1,k_2}\,
\tilde x_{c,\, i s_1 + k_1 d_1,\, j s_2 + k_2 d_2}` with one such length formula per axis.

``padding`` is an int (the same on both sides, PyTorch), a pair ``(left, right)``, ``"valid"``
(none) or ``"same"`` (TensorFlow's rule: :math:`L_{out} = \lceil L / s \rceil`, the odd pixel
of padding goes on the right). Batched inputs have a leading batch axis: (N, C, L) or
(N, C, H, W). Keras stores kernels channels last, (K, C_in, C_out) and (K_1, K_2, C_in, C_out),
and takes inputs channels last, (N, L, C) and (N, H, W, C): see :mod:`.frameworks`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._shapes import ShapeError, as_float_array, check_dim, check_shape

__all__ = ["conv_output_length", "resolve_padding", "conv1d", "conv2d", "max_pool1d", "max_pool2d",
           "Conv1D", "Conv2D", "MaxPool1D", "MaxPool2D"]


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")


def _positive(values, name: str) -> None:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer (or a pair of them), got {v!r}")


def resolve_padding(padding, length: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """(left, right) zero padding for one axis; see the module docstring for the accepted forms."""
    _positive([kernel_size], "kernel_size")
    _positive([stride], "stride")
    _positive([dilation], "dilation")
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding == "same":
            span = dilation * (kernel_size - 1) + 1
            total = max((math.ceil(length / stride) - 1) * stride + span - length, 0)
            return total // 2, total - total // 2
        raise ValueError(f"padding must be 'valid', 'same', an int or a (left, right) pair, got {padding!r}")
    left, right = _pair(padding, "padding")
    if left < 0 or right < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return left, right


def conv_output_length(length: int, kernel_size: int, stride: int = 1, padding=0, dilation: int = 1) -> int:
    r"""Output length :math:`\lfloor (L + p_l + p_r - d(K-1) - 1)/s \rfloor + 1` along one axis.

    >>> conv_output_length(10, 3)              # valid: 10 - 3 + 1
    8
    >>> conv_output_length(10, 3, stride=2, padding=1)
    5
    >>> conv_output_length(10, 4, stride=3, padding="same")   # ceil(10 / 3)
    4
    """
    for value, name in ((length, "length"), (kernel_size, "kernel_size"), (stride, "stride"), (dilation, "dilation")):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    left, right = resolve_padding(padding, length, kernel_size, stride, dilation)
    return (length + left + right - dilation * (kernel_size - 1) - 1) // stride + 1


def _windows(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...],
             pads: tuple[tuple[int, int], ...], name: str) -> np.ndarray:
    """Windows of the padded ``x`` (..., C, *spatial): shape (..., C, *out, *kernel)."""
    nsp = len(kernel)
    _positive(stride, "stride")
    _positive(dilation, "dilation")
    _positive(kernel, "kernel_size")
    spatial = x.shape[-nsp:]
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    for axis, (size, (pl, pr), span, k) in enumerate(zip(spatial, pads, spans, kernel)):
        if size + pl + pr < span:
            where = ("length",) if nsp == 1 else ("height", "width")
            raise ShapeError(
                f"{name}: the input's {where[axis]} ({size}, plus padding {pl}+{pr}) is smaller than the kernel's "
                f"span ({span} = dilation*(kernel_size-1)+1 with kernel_size {k}): the output would be empty"
            )
    xp = np.pad(x, [(0, 0)] * (x.ndim - nsp) + list(pads))
    axes = tuple(range(x.ndim - nsp, x.ndim))
    win = sliding_window_view(xp, spans, axis=axes)
    index = (Ellipsis,) + tuple(slice(None, None, s) for s in stride) + tuple(slice(None, None, d) for d in dilation)
    return win[index]


def _check_input(x, nsp: int, in_channels: int, name: str) -> tuple[np.ndarray, bool]:
    x = as_float_array(x, "x")
    layout = "(batch, channels, length)" if nsp == 1 else "(batch, channels, height, width)"
    if x.ndim not in (nsp + 1, nsp + 2):
        raise ShapeError(f"{name}: x must have shape {layout} or the same without batch, got shape {x.shape}")
    unbatched = x.ndim == nsp + 1
    if in_channels is not None:
        check_dim(x, -nsp - 1, in_channels, "x", "channels",
                  f"the kernel expects {in_channels} input channels (layout {layout}, channels first)")
    return (x[None] if unbatched else x), unbatched


def conv1d(x, W, b=None, *, stride: int = 1, padding=0, dilation: int = 1) -> np.ndarray:
    r"""1-D cross-correlation: ``x`` (N, C_in, L) or (C_in, L), ``W`` (C_out, C_in, K), ``b`` (C_out,).

    Returns (N, C_out, L_out) (or (C_out, L_out)); see the module docstring for the formula.
    """
    W = as_float_array(W, "W")
    if W.ndim != 3:
        raise ShapeError(f"conv1d: W must have shape (out_channels, in_channels, kernel_size), got {W.shape}")
    x, unbatched = _check_input(x, 1, W.shape[1], "conv1d")
    c_out, _, k = W.shape
    pads = (resolve_padding(padding, x.shape[-1], k, stride, dilation),)
    win = _windows(x, (k,), (stride,), (dilation,), pads, "conv1d")  # (N, C_in, L_out, K)
    y = np.einsum("nctk,ock->not", win, W)
    if b is not None:
        b = as_float_array(b, "b")
        check_shape(b, (c_out,), "b", "(out_channels,)")
        y = y + b[:, None]
    return y[0] if unbatched else y


def conv2d(x, W, b=None, *, stride=1, padding=0, dilation=1) -> np.ndarray:
    r"""2-D cross-correlation: ``x`` (N, C_in, H, W) or (C_in, H, W), ``W`` (C_out, C_in, K_1, K_2).

    ``stride``, ``dilation``: an int or a pair (rows, columns); ``padding``: an int, a pair
    (rows, columns) of symmetric paddings, ``"valid"`` or ``"same"``. Returns (N, C_out, H_out, W_out).
    """
    W = as_float_array(W, "W")
    if W.ndim != 4:
        raise ShapeError(f"conv2d: W must have shape (out_channels, in_channels, kernel_h, kernel_w), got {W.shape}")
    x, unbatched = _check_input(x, 2, W.shape[1], "conv2d")
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    kernel = W.shape[2:]
    per_axis = [padding] * 2 if isinstance(padding, (str, int, np.integer)) else list(_pair(padding, "padding"))
    pads = tuple(resolve_padding(p, n, k, s, d)
                 for p, n, k, s, d in zip(per_axis, x.shape[-2:], kernel, stride, dilation))
    win = _windows(x, kernel, stride, dilation, pads, "conv2d")  # (N, C_in, H_out, W_out, K1, K2)
    y = np.einsum("nchwij,ocij->nohw", win, W)
    if b is not None:
        b = as_float_array(b, "b")
        check_shape(b, (W.shape[0],), "b", "(out_channels,)")
        y = y + b[:, None, None]
    return y[0] if unbatched else y


def max_pool1d(x, pool_size: int, stride: int | None = None) -> np.ndarray:
    r"""Max pooling without padding: :math:`y_{c,t} = \max_{k<P} x_{c,\, t s + k}`.

    ``x`` is (N, C, L) or (C, L); ``stride`` defaults to ``pool_size``.
    """
    x, unbatched = _check_input(x, 1, None, "max_pool1d")
    stride = pool_size if stride is None else stride
    y = _windows(x, (pool_size,), (stride,), (1,), ((0, 0),), "max_pool1d").max(axis=-1)
    return y[0] if unbatched else y


def max_pool2d(x, pool_size, stride=None) -> np.ndarray:
    """2-D max pooling without padding over (N, C, H, W); ``stride`` defaults to ``pool_size``."""
    x, unbatched = _check_input(x, 2, None, "max_pool2d")
    pool = _pair(pool_size, "pool_size")
    stride = pool if stride is None else _pair(stride, "stride")
    y = _windows(x, pool, stride, (1, 1), ((0, 0), (0, 0)), "max_pool2d").max(axis=(-2, -1))
    return y[0] if unbatched else y


class Conv1D:
    """A 1-D convolution layer holding ``W`` (C_out, C_in, K) and ``b`` (C_out,); see :func:`conv1d`."""

    def __init__(self, W, b, *, stride: int = 1, padding=0, dilation: int = 1):
        self.W = as_float_array(W, "W")
        if self.W.ndim != 3:
            raise ShapeError(f"W must have shape (out_channels, in_channels, kernel_size), got {self.W.shape}")
        self.b = as_float_array(b, "b")
        check_shape(self.b, (self.W.shape[0],), "b", "(out_channels,)")
        resolve_padding(padding, 1, 1)
        self.stride, self.padding, self.dilation = stride, padding, dilation

    @classmethod
    def init(cls, in_channels: int, out_channels: int, kernel_size: int, *, random_state=None, **kwargs) -> Conv1D:
        rng = np.random.default_rng(random_state)
        bound = 1 / np.sqrt(in_channels * kernel_size)
        return cls(rng.uniform(-bound, bound, (out_channels, in_channels, kernel_size)),
                   rng.uniform(-bound, bound, out_channels), **kwargs)

    def __call__(self, x) -> np.ndarray:
        return conv1d(x, self.W, self.b, stride=self.stride, padding=self.padding, dilation=self.dilation)

    forward = __call__


class Conv2D:
    """A 2-D convolution layer holding ``W`` (C_out, C_in, K_1, K_2) and ``b`` (C_out,); see :func:`conv2d`."""

    def __init__(self, W, b, *, stride=1, padding=0, dilation=1):
        self.W = as_float_array(W, "W")
        if self.W.ndim != 4:
            raise ShapeError(f"W must have shape (out_channels, in_channels, kernel_h, kernel_w), got {self.W.shape}")
        self.b = as_float_array(b, "b")
        check_shape(self.b, (self.W.shape[0],), "b", "(out_channels,)")
        self.stride, self.padding, self.dilation = _pair(stride, "stride"), padding, _pair(dilation, "dilation")

    @classmethod
    def init(cls, in_channels: int, out_channels: int, kernel_size, *, random_state=None, **kwargs) -> Conv2D:
        rng = np.random.default_rng(random_state)
        k1, k2 = _pair(kernel_size, "kernel_size")
        bound = 1 / np.sqrt(in_channels * k1 * k2)
        return cls(rng.uniform(-bound, bound, (out_channels, in_channels, k1, k2)),
                   rng.uniform(-bound, bound, out_channels), **kwargs)

    def __call__(self, x) -> np.ndarray:
        return conv2d(x, self.W, self.b, stride=self.stride, padding=self.padding, dilation=self.dilation)

    forward = __call__


class MaxPool1D:
    """Max pooling over windows of ``pool_size`` steps; see :func:`max_pool1d`."""

    def __init__(self, pool_size: int, stride: int | None = None):
        self.pool_size, self.stride = pool_size, pool_size if stride is None else stride

    def __call__(self, x) -> np.ndarray:
        return max_pool1d(x, self.pool_size, self.stride)

    forward = __call__


class MaxPool2D:
    """Max pooling over ``pool_size`` windows; see :func:`max_pool2d`."""

    def __init__(self, pool_size, stride=None):
        self.pool_size = _pair(pool_size, "pool_size")
        self.stride = self.pool_size if stride is None else _pair(stride, "stride")

    def __call__(self, x) -> np.ndarray:
        return max_pool2d(x, self.pool_size, self.stride)

    forward = __call__
