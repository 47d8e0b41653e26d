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

* **MultiHeadAttention**: NumPy ``W_Q``, ``W_K``, ``W_V`` (h*d_k or h*d_v, in), ``W_O`` (out, h*d_v), in
  ``q_proj`` ... ``out_proj``; PyTorch ``nn.MultiheadAttention`` stacks ``in_proj_weight`` = [W_Q; W_K; W_V]
  (or ``q_proj_weight`` ... when ``kdim``/``vdim`` differ from ``embed_dim``), ``in_proj_bias``, ``out_proj``,
  and needs h*d_k = h*d_v = query width = output width; Keras ``query``/``key``/``value`` kernels
  (in, h, d_k) = ``W.T`` reshaped, biases (h, d_k), ``attention_output`` kernel (h, d_v, out) and bias.
  Masks: PyTorch's boolean ``attn_mask`` and ``key_padding_mask`` are ``True`` where attention is
  *forbidden*, the opposite of the NumPy layers and of Keras (see :func:`torch_attn_mask`).
* **LayerNorm**: ``gamma``, ``beta`` = PyTorch ``weight``, ``bias`` = Keras ``gamma``, ``beta``; the copy
  keeps ``eps`` (defaults differ: PyTorch 1e-5, Keras 1e-3).
* **TransformerBlock** (layouts ``"pre_ln"`` and ``"post_ln"``): ``nn.TransformerEncoderLayer`` with
  ``norm_first`` = pre-LN, ``dim_feedforward`` = d_ff, ``dropout=0``, ReLU; ``linear1``/``linear2`` = the
  FFN's two Dense layers, ``norm1``/``norm2``. Keras has no such layer.

Padding that is an int or a pair becomes an explicit zero-padding layer in front of a ``valid``
convolution; ``"same"`` becomes Keras's ``padding="same"`` (and explicit padding in PyTorch,
which supports ``"same"`` only with stride 1).
"""

from __future__ import annotations

import numpy as np

from .attention import MultiHeadAttention
from .conv import Conv1D, Conv2D, MaxPool1D, MaxPool2D, resolve_padding
from .dense import MLP, Dense
from .embedding import Embedding
from .normalization import LayerNorm
from .positional import LearnedPositionalEmbedding
from .recurrent import GRU, LSTM, SimpleRNN
from .transformer import TransformerBlock

__all__ = ["to_torch", "to_keras", "from_torch", "from_keras", "channels_last", "channels_first", "gru_keras_order",
           "torch_attn_mask"]


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


def torch_attn_mask(mask, num_heads: int = 1):
    """A NumPy-layer mask as ``nn.MultiheadAttention``'s ``attn_mask`` (a ``torch.Tensor``).

    Boolean masks are negated (here ``True`` = may attend; PyTorch's ``True`` = may not); float masks
    are added in both, so they pass unchanged. (T_q, T_k) stays; (N, T_q, T_k) is repeated per head to
    PyTorch's (N*num_heads, T_q, T_k). For padding use ``key_padding_mask=torch.from_numpy(~valid)``.
    """
    import torch

    m = np.asarray(mask)
    if m.dtype == bool:
        m = ~m
    elif m.dtype.kind != "f":
        raise TypeError(f"mask must be boolean (True = may attend) or float (added), got dtype {m.dtype}")
    if m.ndim == 3:
        if m.shape[1] == 1:
            raise ValueError("PyTorch's attn_mask needs (N*num_heads, T_q, T_k); a (N, 1, T_k) padding mask "
                             "goes in key_padding_mask=~valid instead")
        m = np.repeat(m, num_heads, axis=0)
    elif m.ndim != 2:
        raise ValueError(f"mask must have shape (T_q, T_k) or (N, T_q, T_k), got {m.shape}")
    return torch.from_numpy(np.ascontiguousarray(m))


def _torch_mha_shape(layer: MultiHeadAttention) -> tuple[int, int]:
    E, h = layer.q_proj.in_features, layer.num_heads
    widths = {"h*d_k": layer.q_proj.out_features, "h*d_v": layer.v_proj.out_features,
              "out_features": layer.out_proj.out_features}
    if any(w != E for w in widths.values()):
        raise ValueError(f"torch.nn.MultiheadAttention needs h*d_k = h*d_v = out_features = the query width {E}; "
                         f"this layer has {widths} (Keras's MultiHeadAttention allows them: use to_keras)")
    _default_scale(layer, "PyTorch")
    return E, h


def _default_scale(layer: MultiHeadAttention, framework: str) -> None:
    if layer.scale is not None and not np.isclose(layer.scale, 1 / np.sqrt(layer.key_dim)):
        raise ValueError(f"{framework} scales the scores by 1/sqrt(d_k); this layer uses scale={layer.scale}")


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
    if isinstance(layer, (MaxPool1D, MaxPool2D)):
        pool = nn.MaxPool1d if isinstance(layer, MaxPool1D) else nn.MaxPool2d
        return pool(layer.pool_size, layer.stride)
    if isinstance(layer, Embedding):
        emb = nn.Embedding(*layer.E.shape)
        _copy(emb.weight, layer.E)
        return emb
    if isinstance(layer, MultiHeadAttention):
        E, h = _torch_mha_shape(layer)
        mha = nn.MultiheadAttention(E, h, bias=True, kdim=layer.k_proj.in_features, vdim=layer.v_proj.in_features,
                                    batch_first=True)
        _copy_torch_mha(mha, layer)
        return mha
    if isinstance(layer, LayerNorm):
        norm = nn.LayerNorm(layer.features, eps=layer.eps)
        _copy(norm.weight, layer.gamma)
        _copy(norm.bias, layer.beta)
        return norm
    if isinstance(layer, LearnedPositionalEmbedding):
        return to_torch(layer.table)
    if isinstance(layer, TransformerBlock):
        if layer.layout == "sasrec_code":
            raise ValueError("no PyTorch module computes the 'sasrec_code' layout (query normalised, keys and "
                             "values not, residual from the normalised input); compose it from "
                             "to_torch(block.attention), to_torch(block.norm1) ... "
                             "as tests/test_nn_numpy_attention.py does")
        if layer.norm1.eps != layer.norm2.eps:
            raise ValueError(f"nn.TransformerEncoderLayer has one layer_norm_eps; this block's norms use "
                             f"{layer.norm1.eps} and {layer.norm2.eps}")
        E, h = _torch_mha_shape(layer.attention)
        lin1, lin2 = layer.ffn.layers
        enc = nn.TransformerEncoderLayer(E, h, dim_feedforward=lin1.out_features, dropout=0.0, activation="relu",
                                         layer_norm_eps=layer.norm1.eps, batch_first=True,
                                         norm_first=layer.layout == "pre_ln")
        _copy_torch_mha(enc.self_attn, layer.attention)
        for mod, lay in ((enc.linear1, lin1), (enc.linear2, lin2)):
            _copy(mod.weight, lay.W)
            _copy(mod.bias, lay.b)
        for mod, norm in ((enc.norm1, layer.norm1), (enc.norm2, layer.norm2)):
            _copy(mod.weight, norm.gamma)
            _copy(mod.bias, norm.beta)
        return enc
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


def _copy_torch_mha(mha, layer: MultiHeadAttention) -> None:
    q, k, v = layer.q_proj, layer.k_proj, layer.v_proj
    if mha._qkv_same_embed_dim:
        _copy(mha.in_proj_weight, np.concatenate([q.W, k.W, v.W]))
    else:
        _copy(mha.q_proj_weight, q.W)
        _copy(mha.k_proj_weight, k.W)
        _copy(mha.v_proj_weight, v.W)
    _copy(mha.in_proj_bias, np.concatenate([q.b, k.b, v.b]))
    _copy(mha.out_proj.weight, layer.out_proj.W)
    _copy(mha.out_proj.bias, layer.out_proj.b)


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
    Recurrent copies return all hidden states (``return_sequences=True``). A ``MultiHeadAttention``
    copy is called ``mha(query, value, key, attention_mask=mask)`` (Keras's argument order).
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
    if isinstance(layer, (MaxPool1D, MaxPool2D)):
        pool = L.MaxPooling1D if isinstance(layer, MaxPool1D) else L.MaxPooling2D
        return pool(layer.pool_size, layer.stride)
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
    if isinstance(layer, MultiHeadAttention):
        _default_scale(layer, "Keras")
        h, d_k, d_v = layer.num_heads, layer.key_dim, layer.value_dim
        d_q, d_out = layer.q_proj.in_features, layer.out_proj.out_features
        mha = L.MultiHeadAttention(h, d_k, value_dim=d_v, output_shape=None if d_out == d_q else d_out)
        mha.build((None, None, d_q), (None, None, layer.v_proj.in_features), (None, None, layer.k_proj.in_features))
        weights = []
        for proj, d in ((layer.q_proj, d_k), (layer.k_proj, d_k), (layer.v_proj, d_v)):
            weights += [proj.W.T.reshape(proj.in_features, h, d), proj.b.reshape(h, d)]
        weights += [layer.out_proj.W.T.reshape(h, d_v, d_out), layer.out_proj.b]
        mha.set_weights([_f32(w) for w in weights])
        return mha
    if isinstance(layer, LayerNorm):
        norm = L.LayerNormalization(epsilon=layer.eps)
        norm.build((None, layer.features))
        norm.set_weights([_f32(layer.gamma), _f32(layer.beta)])
        return norm
    if isinstance(layer, LearnedPositionalEmbedding):
        return to_keras(layer.table)
    if isinstance(layer, TransformerBlock):
        raise TypeError("Keras has no transformer-block layer; compose to_keras(block.attention), "
                        "to_keras(block.norm1), to_keras(block.ffn) and to_keras(block.norm2)")
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
    ``Conv1d``, ``Conv2d``, ``Embedding``, single-layer unidirectional ``RNN`` (tanh), ``LSTM``, ``GRU``,
    ``MultiheadAttention``, ``LayerNorm`` or ``TransformerEncoderLayer`` (ReLU)."""
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
    if isinstance(module, tnn.MultiheadAttention):
        return _mha_from_torch(module)
    if isinstance(module, tnn.LayerNorm):
        if len(module.normalized_shape) != 1:
            raise ValueError(f"LayerNorm normalises the last axis only; this one normalises {module.normalized_shape}")
        d = module.normalized_shape[0]
        gamma = _np(module.weight) if module.weight is not None else np.ones(d)
        beta = _np(module.bias) if module.bias is not None else np.zeros(d)
        return LayerNorm(gamma, beta, eps=module.eps)
    if isinstance(module, tnn.TransformerEncoderLayer):
        if getattr(module, "activation_relu_or_gelu", 0) != 1:
            raise ValueError("the NumPy TransformerBlock's feed-forward network uses ReLU; this layer does not")
        ffn = MLP([from_torch(module.linear1), from_torch(module.linear2)])
        ffn.layers[0].activation = "relu"
        return TransformerBlock(_mha_from_torch(module.self_attn), ffn, from_torch(module.norm1),
                                from_torch(module.norm2), layout="pre_ln" if module.norm_first else "post_ln")
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


def _mha_from_torch(module) -> MultiHeadAttention:
    if module.bias_k is not None or module.add_zero_attn:
        raise ValueError("from_torch copies nn.MultiheadAttention without add_bias_kv and add_zero_attn only")
    E = module.embed_dim
    if module._qkv_same_embed_dim:
        W_Q, W_K, W_V = np.split(_np(module.in_proj_weight), 3)
    else:
        W_Q, W_K, W_V = (_np(module.q_proj_weight), _np(module.k_proj_weight), _np(module.v_proj_weight))
    b = _np(module.in_proj_bias) if module.in_proj_bias is not None else np.zeros(3 * E)
    b_O = _np(module.out_proj.bias) if module.out_proj.bias is not None else np.zeros(E)
    b_Q, b_K, b_V = np.split(b, 3)
    return MultiHeadAttention(W_Q, b_Q, W_K, b_K, W_V, b_V, _np(module.out_proj.weight), b_O, module.num_heads)


def from_keras(layer):
    """The NumPy layer equal to a Keras ``Dense``, ``Sequential`` of ``Dense``, ``Conv1D``, ``Conv2D``,
    ``Embedding``, ``SimpleRNN``, ``LSTM``, ``GRU`` (default activations), ``MultiHeadAttention`` or
    ``LayerNormalization``, built with its weights."""
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
    if isinstance(layer, L.MultiHeadAttention):
        if layer._attention_axes not in (None, (1,)) or weights[-2 if layer._use_bias else -1].ndim != 3:
            raise ValueError("from_keras copies MultiHeadAttention over the time axis with a vector output only")
        if layer._use_bias:
            qk, qb, kk, kb, vk, vb, ok, ob = weights
        else:
            qk, kk, vk, ok = weights
            qb, kb, vb, ob = (np.zeros(qk.shape[1:]), np.zeros(kk.shape[1:]), np.zeros(vk.shape[1:]),
                              np.zeros(ok.shape[-1]))
        flat = [(w.reshape(w.shape[0], -1).T, b.reshape(-1)) for w, b in ((qk, qb), (kk, kb), (vk, vb))]
        return MultiHeadAttention(*flat[0], *flat[1], *flat[2], ok.reshape(-1, ok.shape[-1]).T, ob, layer.num_heads)
    if isinstance(layer, L.LayerNormalization):
        if list(np.atleast_1d(layer.axis)) != [-1] or getattr(layer, "rms_scaling", False):
            raise ValueError("from_keras copies LayerNormalization(axis=-1) without rms_scaling only")
        d = (layer.gamma if layer.scale else layer.beta).shape[0]
        gamma = np.asarray(layer.gamma, dtype=np.float64) if layer.scale else np.ones(d)
        beta = np.asarray(layer.beta, dtype=np.float64) if layer.center else np.zeros(d)
        return LayerNorm(gamma, beta, eps=layer.epsilon)
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
