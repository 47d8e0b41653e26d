"""Copy the NumPy layers' weights into PyTorch and Keras layers, to check they compute the same thing.

``to_torch(layer)`` returns a ``torch.nn.Module`` and ``to_keras(layer)`` a ``keras.Layer`` (or
``keras.Sequential``) holding the same numbers in float32; ``from_torch(module)`` and
``from_keras(layer)`` go the other way (into float64 NumPy layers). PyTorch and Keras are imported inside
these functions only: ``import course_lib.nn_numpy`` never starts a framework.

Layout differences the copies take care of:

* **Dense**: NumPy ``W`` (out, in) and ``b``; PyTorch ``weight`` (out, in), ``bias``; Keras
  ``kernel`` (in, out) = ``W.T``, ``bias``.
* **Conv1D / Conv2D**: NumPy and PyTorch ``W`` (C_out, C_in, K) or (C_out, C_in, K_1, K_2), inputs
  channels first (N, C, L) / (N, C, H, W); Keras ``kernel`` (K, C_in, C_out) or (K_1, K_2, C_in, C_out),
  inputs channels last (N, L, C) / (N, H, W, C).
* **SimpleRNN**: NumPy ``W_x`` (H, d), ``W_h`` (H, H), ``b``; PyTorch ``weight_ih_l0``, ``weight_hh_l0``,
  ``bias_ih_l0 + bias_hh_l0``; Keras ``kernel`` = ``W_x.T``, ``recurrent_kernel`` = ``W_h.T``, ``bias``.
* **LSTM**: gates stacked i, f, g, o everywhere (Keras calls g "c"); PyTorch splits the bias in two
  that are only added (the copy puts ``b`` in ``bias_ih`` and zeros in ``bias_hh``); Keras transposes.
* **GRU**: NumPy and PyTorch stack r, z, n with ``b_x`` = ``bias_ih`` and ``b_h`` = ``bias_hh``; Keras
  stacks z, r, h, transposed, with ``bias`` of shape (2, 3H) = [b_x; b_h] when ``reset_after=True``
  and (3H,) = b_x + b_h when ``reset_after=False`` (which PyTorch does not offer).

Padding that is an int or a pair becomes an explicit zero-padding layer in front of a ``valid``
convolution; ``"same"`` becomes Keras's ``padding="same"`` (and explicit padding in PyTorch,
which supports ``"same"`` only with stride 1).
"""

from __future__ import annotations

import numpy as np

from .conv import Conv1D, Conv2D, MaxPool1D, MaxPool2D, resolve_padding
from .dense import MLP, Dense
from .embedding import Embedding
from .recurrent import GRU, LSTM, SimpleRNN

__all__ = ["to_torch", "to_keras", "from_torch", "from_keras", "channels_last", "channels_first", "gru_keras_order"]


def channels_last(x) -> np.ndarray:
    """(N, C, L) -> (N, L, C) and (N, C, H, W) -> (N, H, W, C): the layout Keras convolutions take."""
    return np.moveaxis(np.asarray(x), 1, -1)


def channels_first(x) -> np.ndarray:
    """The inverse of :func:`channels_last`."""
    return np.moveaxis(np.asarray(x), -1, 1)


def gru_keras_order(units: int) -> np.ndarray:
    """Row indices that reorder stacked GRU gates from (r, z, n) to Keras's (z, r, h)."""
    H = units
    return np.concatenate([np.arange(H, 2 * H), np.arange(0, H), np.arange(2 * H, 3 * H)])


def _f32(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _static_padding(layer, kind: str, ndim: int):
    """(left, right) per axis for a PyTorch copy; 'same' only when it does not depend on the length."""
    pads = []
    per_axis = [layer.padding] * ndim if isinstance(layer.padding, (str, int, np.integer)) or ndim == 1 \
        else list(layer.padding)
    strides = (layer.stride,) * ndim if ndim == 1 else layer.stride
    dilations = (layer.dilation,) * ndim if ndim == 1 else layer.dilation
    for p, k, s, d in zip(per_axis, layer.W.shape[2:], strides, dilations):
        if p == "same" and s != 1:
            raise ValueError(f"{kind}: padding='same' with stride {s} depends on the input length; "
                             "give the padding as numbers to copy the layer to PyTorch")
        pads.append(resolve_padding(p, 1, k, s, d))
    return pads


# ---------------------------------------------------------------------------------------- PyTorch

def _torch_activation(name: str):
    import torch.nn as nn

    return {"linear": None, "relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(),
            "softmax": nn.Softmax(dim=-1)}[name]


def _copy(param, value) -> None:
    import torch

    with torch.no_grad():
        param.copy_(torch.from_numpy(_f32(value)))


def to_torch(layer):
    """A ``torch.nn.Module`` (float32) computing what ``layer`` computes, with its weights copied."""
    import torch.nn as nn

    if isinstance(layer, MLP):
        return nn.Sequential(*[m for lay in layer.layers for m in to_torch(lay)])
    if isinstance(layer, Dense):
        linear = nn.Linear(layer.in_features, layer.out_features)
        _copy(linear.weight, layer.W)
        _copy(linear.bias, layer.b)
        act = _torch_activation(layer.activation)
        return nn.Sequential(linear) if act is None else nn.Sequential(linear, act)
    if isinstance(layer, Conv1D):
        (pad,) = _static_padding(layer, "Conv1D", 1)
        c_out, c_in, k = layer.W.shape
        conv = nn.Conv1d(c_in, c_out, k, stride=layer.stride, dilation=layer.dilation)
        _copy(conv.weight, layer.W)
        _copy(conv.bias, layer.b)
        return nn.Sequential(nn.ConstantPad1d(pad, 0.0), conv)
    if isinstance(layer, Conv2D):
        (top, bottom), (left, right) = _static_padding(layer, "Conv2D", 2)
        c_out, c_in, k1, k2 = layer.W.shape
        conv = nn.Conv2d(c_in, c_out, (k1, k2), stride=layer.stride, dilation=layer.dilation)
        _copy(conv.weight, layer.W)
        _copy(conv.bias, layer.b)
        return nn.Sequential(nn.ZeroPad2d((left, right, top, bottom)), conv)
    if isinstance(layer, MaxPool1D):
        return nn.MaxPool1d(layer.pool_size, layer.stride)
    if isinstance(layer, MaxPool2D):
        return nn.MaxPool2d(layer.pool_size, layer.stride)
    if isinstance(layer, Embedding):
        emb = nn.Embedding(*layer.E.shape)
        _copy(emb.weight, layer.E)
        return emb
    if isinstance(layer, (SimpleRNN, LSTM, GRU)):
        d, H = layer.input_features, layer.units
        if isinstance(layer, SimpleRNN):
            mod, b_ih, b_hh = nn.RNN(d, H, batch_first=True), layer.b, np.zeros(H)
        elif isinstance(layer, LSTM):
            mod, b_ih, b_hh = nn.LSTM(d, H, batch_first=True), layer.b, np.zeros(4 * H)
        else:
            if not layer.reset_after:
                raise ValueError("PyTorch's nn.GRU applies the reset gate after the recurrent product; "
                                 "only GRU(reset_after=True) has a PyTorch equivalent (use Keras for False)")
            mod, b_ih, b_hh = nn.GRU(d, H, batch_first=True), layer.b_x, layer.b_h
        _copy(mod.weight_ih_l0, layer.W_x)
        _copy(mod.weight_hh_l0, layer.W_h)
        _copy(mod.bias_ih_l0, b_ih)
        _copy(mod.bias_hh_l0, b_hh)
        return mod
    raise TypeError(f"no PyTorch equivalent for {type(layer).__name__}")


# ------------------------------------------------------------------------------------------ Keras

def _keras_padding(layer, ndim: int):
    """(keras padding string, explicit pads or None)."""
    if isinstance(layer.padding, str):
        resolve_padding(layer.padding, 1, 1)  # validates the string
        return layer.padding, None
    if ndim == 1:
        return "valid", resolve_padding(layer.padding, 1, 1)
    per_axis = [layer.padding] * 2 if isinstance(layer.padding, (int, np.integer)) else list(layer.padding)
    if any(isinstance(p, str) for p in per_axis):
        raise ValueError("Keras needs one padding mode for both axes: give 'same', 'valid' or numbers")
    return "valid", tuple(resolve_padding(p, 1, 1) for p in per_axis)


def to_keras(layer):
    """A Keras layer or ``keras.Sequential`` (float32) computing what ``layer`` computes.

    Convolution and pooling copies take channels-last inputs (see :func:`channels_last`).
    Recurrent copies return all hidden states (``return_sequences=True``).
    """
    import keras

    L = keras.layers
    if isinstance(layer, MLP):
        model = keras.Sequential([keras.Input((layer.layers[0].in_features,))]
                                 + [to_keras(lay) for lay in layer.layers])
        return model
    if isinstance(layer, Dense):
        dense = L.Dense(layer.out_features, activation=layer.activation)
        dense.build((None, layer.in_features))
        dense.set_weights([_f32(layer.W.T), _f32(layer.b)])
        return dense
    if isinstance(layer, (Conv1D, Conv2D)):
        one = isinstance(layer, Conv1D)
        mode, pads = _keras_padding(layer, 1 if one else 2)
        c_out, c_in = layer.W.shape[:2]
        if one:
            conv = L.Conv1D(c_out, layer.W.shape[2], strides=layer.stride, padding=mode, dilation_rate=layer.dilation)
            conv.build((None, None, c_in))
            conv.set_weights([_f32(layer.W.transpose(2, 1, 0)), _f32(layer.b)])
        else:
            conv = L.Conv2D(c_out, layer.W.shape[2:], strides=layer.stride, padding=mode,
                            dilation_rate=layer.dilation)
            conv.build((None, None, None, c_in))
            conv.set_weights([_f32(layer.W.transpose(2, 3, 1, 0)), _f32(layer.b)])
        if pads is None or not np.any(pads):
            return conv
        pad = L.ZeroPadding1D(pads) if one else L.ZeroPadding2D(pads)
        shape = (None, c_in) if one else (None, None, c_in)
        return keras.Sequential([keras.Input(shape), pad, conv])
    if isinstance(layer, MaxPool1D):
        return L.MaxPooling1D(layer.pool_size, layer.stride)
    if isinstance(layer, MaxPool2D):
        return L.MaxPooling2D(layer.pool_size, layer.stride)
    if isinstance(layer, Embedding):
        emb = L.Embedding(*layer.E.shape)
        emb.build((None,))
        emb.set_weights([_f32(layer.E)])
        return emb
    if isinstance(layer, (SimpleRNN, LSTM)):
        cls = L.SimpleRNN if isinstance(layer, SimpleRNN) else L.LSTM
        rnn = cls(layer.units, return_sequences=True)
        rnn.build((None, None, layer.input_features))
        rnn.set_weights([_f32(layer.W_x.T), _f32(layer.W_h.T), _f32(layer.b)])
        return rnn
    if isinstance(layer, GRU):
        idx = gru_keras_order(layer.units)
        rnn = L.GRU(layer.units, return_sequences=True, reset_after=layer.reset_after)
        rnn.build((None, None, layer.input_features))
        bias = np.stack([layer.b_x[idx], layer.b_h[idx]]) if layer.reset_after else (layer.b_x + layer.b_h)[idx]
        rnn.set_weights([_f32(layer.W_x[idx].T), _f32(layer.W_h[idx].T), _f32(bias)])
        return rnn
    raise TypeError(f"no Keras equivalent for {type(layer).__name__}")


# ------------------------------------------------------------------------------------ the way back

def _np(t) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t, dtype=np.float64)


def from_torch(module):
    """The NumPy layer equal to a PyTorch ``Linear``, ``Sequential`` of ``Linear`` and activations,
    ``Conv1d``, ``Conv2d``, ``Embedding``, or single-layer unidirectional ``RNN`` (tanh), ``LSTM``, ``GRU``."""
    import torch.nn as tnn

    acts = {tnn.ReLU: "relu", tnn.Sigmoid: "sigmoid", tnn.Tanh: "tanh", tnn.Softmax: "softmax"}
    if isinstance(module, tnn.Linear):
        b = _np(module.bias) if module.bias is not None else np.zeros(module.out_features)
        return Dense(_np(module.weight), b)
    if isinstance(module, tnn.Sequential):
        layers = []
        for m in module:
            if isinstance(m, tnn.Linear):
                layers.append(from_torch(m))
            elif type(m) in acts and layers and layers[-1].activation == "linear":
                layers[-1].activation = acts[type(m)]
            else:
                raise TypeError(f"from_torch reads Sequentials of Linear layers, each optionally followed by "
                                f"one of {sorted(acts.values())}; got {m!r}")
        return layers[0] if len(layers) == 1 else MLP(layers)
    if isinstance(module, (tnn.Conv1d, tnn.Conv2d)):
        if isinstance(module.padding, str) or module.padding_mode != "zeros" or module.groups != 1:
            raise ValueError("from_torch copies convolutions with numeric zero padding and groups=1 only")
        b = _np(module.bias) if module.bias is not None else np.zeros(module.out_channels)
        if isinstance(module, tnn.Conv1d):
            return Conv1D(_np(module.weight), b, stride=module.stride[0], padding=module.padding[0],
                          dilation=module.dilation[0])
        return Conv2D(_np(module.weight), b, stride=module.stride, padding=tuple(module.padding),
                      dilation=module.dilation)
    if isinstance(module, tnn.Embedding):
        return Embedding(_np(module.weight))
    if isinstance(module, (tnn.RNN, tnn.LSTM, tnn.GRU)):
        if module.num_layers != 1 or module.bidirectional or getattr(module, "proj_size", 0):
            raise ValueError("from_torch copies single-layer, unidirectional recurrent modules only")
        if isinstance(module, tnn.RNN) and module.nonlinearity != "tanh":
            raise ValueError("SimpleRNN uses tanh; this nn.RNN uses " + module.nonlinearity)
        W_x, W_h = _np(module.weight_ih_l0), _np(module.weight_hh_l0)
        zeros = np.zeros(W_x.shape[0])
        b_ih = _np(module.bias_ih_l0) if module.bias else zeros
        b_hh = _np(module.bias_hh_l0) if module.bias else zeros
        if isinstance(module, tnn.GRU):
            return GRU(W_x, W_h, b_ih, b_hh, reset_after=True)
        return (LSTM if isinstance(module, tnn.LSTM) else SimpleRNN)(W_x, W_h, b_ih + b_hh)
    raise TypeError(f"no NumPy equivalent for {type(module).__name__}")


def from_keras(layer):
    """The NumPy layer equal to a Keras ``Dense``, ``Sequential`` of ``Dense``, ``Conv1D``, ``Conv2D``,
    ``Embedding``, ``SimpleRNN``, ``LSTM`` or ``GRU`` (default activations), built with its weights."""
    import keras

    L = keras.layers
    if isinstance(layer, keras.Sequential):
        layers = [from_keras(lay) for lay in layer.layers]
        if not all(isinstance(lay, Dense) for lay in layers):
            raise TypeError("from_keras reads Sequentials of Dense layers only")
        return layers[0] if len(layers) == 1 else MLP(layers)
    weights = [np.asarray(w, dtype=np.float64) for w in layer.get_weights()]
    if isinstance(layer, L.Dense):
        name = getattr(layer.activation, "__name__", str(layer.activation))
        b = weights[1] if layer.use_bias else np.zeros(layer.units)
        return Dense(weights[0].T, b, activation=name)
    if isinstance(layer, (L.Conv1D, L.Conv2D)):
        if layer.data_format != "channels_last" or layer.padding not in ("valid", "same") or layer.groups != 1:
            raise ValueError("from_keras copies channels-last convolutions with 'valid' or 'same' padding only")
        act = getattr(layer.activation, "__name__", "linear")
        if act != "linear":
            raise ValueError(f"the NumPy convolutions have no activation; this layer applies {act!r}")
        b = weights[1] if layer.use_bias else np.zeros(layer.filters)
        if isinstance(layer, L.Conv1D):
            return Conv1D(weights[0].transpose(2, 1, 0), b, stride=layer.strides[0], padding=layer.padding,
                          dilation=layer.dilation_rate[0])
        return Conv2D(weights[0].transpose(3, 2, 0, 1), b, stride=tuple(layer.strides), padding=layer.padding,
                      dilation=tuple(layer.dilation_rate))
    if isinstance(layer, L.Embedding):
        return Embedding(weights[0])
    if isinstance(layer, (L.SimpleRNN, L.LSTM, L.GRU)):
        cell = layer.cell
        act = getattr(cell.activation, "__name__", "")
        rec = getattr(getattr(cell, "recurrent_activation", None), "__name__", "sigmoid")
        if act != "tanh" or rec != "sigmoid":
            raise ValueError(f"the NumPy recurrent layers use tanh and sigmoid; this layer uses {act!r}, {rec!r}")
        kernel, recurrent = weights[0], weights[1]
        units = recurrent.shape[0]
        gates = recurrent.shape[1] // units
        bias = weights[2] if cell.use_bias else np.zeros(gates * units if not isinstance(layer, L.GRU)
                                                        or not cell.reset_after else (2, 3 * units))
        if isinstance(layer, L.GRU):
            idx = gru_keras_order(units)  # swapping the first two blocks is its own inverse
            if cell.reset_after:
                return GRU(kernel.T[idx], recurrent.T[idx], bias[0][idx], bias[1][idx], reset_after=True)
            return GRU(kernel.T[idx], recurrent.T[idx], bias[idx], np.zeros(3 * units), reset_after=False)
        return (LSTM if isinstance(layer, L.LSTM) else SimpleRNN)(kernel.T, recurrent.T, bias)
    raise TypeError(f"no NumPy equivalent for {type(layer).__name__}")
