r"""Shrink a trained PyTorch recommender to 8-bit integers, and measure what that buys.

:func:`quantize` returns a copy of a fitted model whose network stores its big weight matrices
as ``int8`` instead of ``float32``:

* every ``nn.Linear`` becomes PyTorch's dynamically quantised linear layer
  (``torch.ao.quantization.quantize_dynamic``): int8 weights with one scale per tensor, the
  activations quantised on the fly at each call;
* every ``nn.Embedding`` at least ``min_embedding_dim`` wide becomes an :class:`Int8Embedding`:
  weight-only int8 with one scale per row (symmetric),

  .. math::  s_r = \frac{\max_k |w_{rk}|}{127}, \qquad q_{rk} = \operatorname{round}(w_{rk} / s_r) \in [-127, 127],
             \qquad \tilde w_{rk} = s_r\, q_{rk},

  so a row of :math:`d` floats (``4d`` bytes) becomes ``d + 4`` bytes, and each weight moves by
  at most :math:`s_r / 2`.

Why both. A recommender's parameters are mostly embeddings: the dot-product model
(:class:`~.models.DotProduct`) has **no** ``nn.Linear`` at all, so ``quantize_dynamic`` on
``nn.Linear`` alone returns the same model, byte for byte the same size (``linear_layers_ == 0``
in the report says so). NeuMF has a few small linear layers, but its embedding tables are still
more than 95 % of its weights. Quantising the embedding rows is what actually shrinks these
models, about four times. The rows are dequantised when they are looked up (``Int8Embedding``
keeps ``weight`` as a float view computed on demand), so the arithmetic stays in float32: this
saves memory and file size, not arithmetic; the speed-up of int8 matrix products only applies
to the linear layers, and for models this small scoring speed barely changes (measure it with
:func:`scoring_seconds`, do not assume it). Width-1 bias embeddings are left in float32 (an
int8 value plus a float scale would be larger than the float).

Honest caveats. ``torch.ao.quantization`` is deprecated in recent PyTorch releases in favour of
the separate ``torchao`` package (not part of the course's stack); it still works in the
pinned version, and its warnings are silenced here. The quantised copy is for serving: it is
not trained further, and :func:`course_lib.models.save_model` saves float models only. Save the
float model and quantise after loading (it takes milliseconds).

Helpers: :func:`serialized_size` (bytes of ``torch.save`` of the network's ``state_dict``) and
:func:`scoring_seconds` (median wall time to score every item for a batch of users).

References: B. Jacob et al., "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference", CVPR 2018; PyTorch's quantisation documentation
(dynamic quantisation, weight-only embedding quantisation).
"""

from __future__ import annotations

import copy
import io
import time
import warnings

import numpy as np
import torch
from torch import nn

from ...validation import check_positive_int
from ..base import Recommender, check_is_fitted

__all__ = ["Int8Embedding", "quantize", "scoring_seconds", "serialized_size"]


class Int8Embedding(nn.Module):
    """An embedding table stored as int8 rows with one float32 scale per row (weight-only).

    ``forward(idx)`` returns float32 rows ``scale[idx] * q[idx]``; ``weight`` is the whole
    dequantised table (float32, ``(num_embeddings, embedding_dim)``), so code that reads
    ``emb.weight`` keeps working.
    """

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        w = weight.detach().float()
        scale = w.abs().amax(dim=1, keepdim=True) / 127.0
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero row stays zero
        self.register_buffer("q", torch.round(w / scale).clamp(-127, 127).to(torch.int8))
        self.register_buffer("scale", scale)
        self.num_embeddings, self.embedding_dim = w.shape

    @classmethod
    def from_float(cls, emb: nn.Embedding) -> "Int8Embedding":
        return cls(emb.weight)

    @property
    def weight(self) -> torch.Tensor:
        return self.q.float() * self.scale

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.q[idx].float() * self.scale[idx]

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, dtype=int8, per-row scale"


def _replace_embeddings(module: nn.Module, min_dim: int) -> int:
    """Swap every wide enough ``nn.Embedding`` below ``module`` for an :class:`Int8Embedding`; count them."""
    count = 0
    for name, child in module.named_children():
        if isinstance(child, nn.Embedding) and child.embedding_dim >= min_dim and child.padding_idx is None:
            setattr(module, name, Int8Embedding.from_float(child))
            count += 1
        else:
            count += _replace_embeddings(child, min_dim)
    return count


def quantize(model: Recommender, *, linear: bool = True, embeddings: bool = True,
             min_embedding_dim: int = 8) -> Recommender:
    """A copy of a fitted PyTorch course model with int8 weights (see the module docstring).

    Parameters
    ----------
    model : a fitted model with a ``net_`` (``DotProduct``, ``GMF``, ``MLP``, ``NeuMF``, ...).
        It is not modified.
    linear : quantise every ``nn.Linear`` dynamically (``torch.ao.quantization.quantize_dynamic``).
    embeddings : store every ``nn.Embedding`` at least ``min_embedding_dim`` wide as int8 rows.

    Returns
    -------
    A shallow copy of ``model`` (same ``data_``, id mappings and hyperparameters) whose
    ``net_`` is the quantised network, ready for ``predict``, ``test`` and ``recommend``, with
    ``quantization_ = {"linear_layers": n, "embedding_tables": m}`` saying what was replaced.
    """
    if not isinstance(model, Recommender) or not isinstance(getattr(model, "net_", None), nn.Module):
        raise TypeError(f"quantize needs a fitted PyTorch course model (with net_), got {type(model).__name__}")
    min_dim = check_positive_int(min_embedding_dim, "min_embedding_dim")
    net = copy.deepcopy(model.net_).eval()
    n_linear = sum(isinstance(m, nn.Linear) for m in net.modules()) if linear else 0
    if n_linear:
        with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao
            warnings.simplefilter("ignore")
            net = torch.ao.quantization.quantize_dynamic(net, {nn.Linear}, dtype=torch.qint8)
    n_emb = _replace_embeddings(net, min_dim) if embeddings else 0
    out = copy.copy(model)
    out.net_ = net.eval()
    out.quantization_ = {"linear_layers": n_linear, "embedding_tables": n_emb}
    return out


def serialized_size(model) -> int:
    """Bytes of ``torch.save(net.state_dict())`` for a fitted model (or an ``nn.Module``): the file a server loads."""
    net = model if isinstance(model, nn.Module) else model.net_
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save(net.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def scoring_seconds(model: Recommender, user_ids=None, *, repeats: int = 5) -> float:
    """Median wall time (seconds) of ``model.score_items`` for a batch of raw ``user_ids`` (default: all).

    Wall times depend on the machine and its load: compare two models measured one after the
    other, never print the number as if it were a property of the model.
    """
    repeats = check_positive_int(repeats, "repeats")
    check_is_fitted(model)
    user_ids = model.data_.user_ids if user_ids is None else np.asarray(user_ids)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.score_items(user_ids[:1])  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            model.score_items(user_ids)
            times.append(time.perf_counter() - start)
    return float(np.median(times))
