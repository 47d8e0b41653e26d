r"""One transformer block (self-attention + position-wise feed-forward), as SASRec stacks them.

The block is composed of the course's layers: :class:`~.attention.MultiHeadAttention`, two
:class:`~.normalization.LayerNorm` and a two-layer :class:`~.dense.MLP`,

.. math:: \mathrm{FFN}(z) = \mathrm{ReLU}(z W_1^\top + b_1)\, W_2^\top + b_2, \qquad
          W_1 \in \mathbb{R}^{d_{ff} \times d},\; W_2 \in \mathbb{R}^{d \times d_{ff}},

applied to each position separately. Input and output are (N, T, d). Where the layer
normalisations go is the ``layout``:

* ``"pre_ln"`` (the default; **SASRec**): every sub-layer :math:`g` is wrapped as
  :math:`x + g(\mathrm{LN}(x))`:

  .. math:: H = X + \mathrm{MHA}(\mathrm{LN}_1(X)), \qquad Y = H + \mathrm{FFN}(\mathrm{LN}_2(H)).

  Kang and McAuley (2018, Sec. III-C) write it :math:`g(x) = x + \mathrm{Dropout}(g(\mathrm{LayerNorm}(x)))`
  for the self-attention layer and the feed-forward network alike: layer normalisation *before*
  each sub-layer. It is ``torch.nn.TransformerEncoderLayer(norm_first=True)``.
* ``"post_ln"`` (Vaswani et al. 2017; ``TransformerEncoderLayer``'s default ``norm_first=False``):

  .. math:: H = \mathrm{LN}_1(X + \mathrm{MHA}(X)), \qquad Y = \mathrm{LN}_2(H + \mathrm{FFN}(H)).
* ``"sasrec_code"``: what SASRec's reference code computes (kang205/SASRec ``model.py`` and
  ``modules.py``, and pmixer/SASRec.pytorch before its ``norm_first`` option). It is pre-LN too, but
  the query is the normalised input while keys and values are not, and the attention's residual
  adds the *normalised* input:

  .. math:: Z = \mathrm{LN}_1(X),\quad H = Z + \mathrm{MHA}(Z, X, X),\qquad
            Z' = \mathrm{LN}_2(H),\quad Y = Z' + \mathrm{FFN}(Z').

  The TensorFlow original has no output projection (set :math:`W_O = I`, :math:`b_O = 0` to
  reproduce it); the PyTorch port uses ``nn.MultiheadAttention``, which has one.

SASRec uses :math:`d_{ff} = d` (the default here; Vaswani et al. use :math:`4d`), one head by
default, LayerNorm :math:`\varepsilon = 10^{-8}`, a causal mask, and outside the block zeroes padded
positions after every block and normalises the last block's output: those belong to the model.
Dropout is not modelled (compare with ``dropout=0``).

:meth:`TransformerBlock.forward` returns ``(Y, weights)`` with the attention weights
(N, h, T, T); :meth:`TransformerBlock.backward` returns dL/dX and stores every parameter's gradient.

References: W.-C. Kang and J. McAuley, *Self-Attentive Sequential Recommendation*, ICDM 2018;
A. Vaswani et al., *Attention Is All You Need*, NeurIPS 2017; R. Xiong et al., *On Layer
Normalization in the Transformer Architecture*, ICML 2020 (why pre-LN trains more easily).
"""

from __future__ import annotations

import numpy as np

from ._shapes import ShapeError, as_float_array
from .attention import MultiHeadAttention
from .dense import MLP
from .normalization import LayerNorm

__all__ = ["TransformerBlock"]

LAYOUTS = ("pre_ln", "post_ln", "sasrec_code")


class TransformerBlock:
    r"""Self-attention and feed-forward sub-layers with residuals and layer norms (module docstring).

    Parts: ``attention`` (:class:`MultiHeadAttention`, self-attention d -> d), ``ffn`` (:class:`MLP`
    [d, d_ff, d], ReLU then linear), ``norm1`` and ``norm2`` (:class:`LayerNorm` over d).
    :attr:`params` lists the attention's eight arrays, then norm1's, the FFN's and norm2's.
    """

    def __init__(self, attention: MultiHeadAttention, ffn: MLP, norm1: LayerNorm, norm2: LayerNorm,
                 layout: str = "pre_ln"):
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS} (SASRec: 'pre_ln'), got {layout!r}")
        d = attention.q_proj.in_features
        sizes = {"attention key input": attention.k_proj.in_features,
                 "attention value input": attention.v_proj.in_features,
                 "attention output": attention.out_proj.out_features, "norm1": norm1.features,
                 "norm2": norm2.features, "ffn input": ffn.layers[0].in_features,
                 "ffn output": ffn.layers[-1].out_features}
        wrong = {k: v for k, v in sizes.items() if v != d}
        if wrong:
            raise ShapeError(f"every part of a block must work in the model width d = {d} (the attention's query "
                             f"features); these differ: {wrong}")
        acts = [lay.activation for lay in ffn.layers]
        if acts != ["relu", "linear"]:
            raise ValueError(f"the feed-forward network must be two Dense layers, ReLU then linear; got {acts}")
        self.attention, self.ffn, self.norm1, self.norm2, self.layout = attention, ffn, norm1, norm2, layout
        self._shape = None

    @classmethod
    def init(cls, d_model: int, num_heads: int = 1, d_ff: int | None = None, *, layout: str = "pre_ln",
             eps: float = 1e-5, random_state=None) -> TransformerBlock:
        """Random attention and FFN weights (Glorot), LayerNorms with random gamma near 1 and beta near 0.

        ``d_ff`` defaults to ``d_model`` (SASRec). The norms are perturbed from (1, 0) so that a
        comparison with a framework also checks that they are copied.
        """
        rng = np.random.default_rng(random_state)
        attention = MultiHeadAttention.init(d_model, num_heads, random_state=rng)
        ffn = MLP.init([d_model, d_ff or d_model, d_model], ["relu", "linear"], random_state=rng)
        for layer in ffn.layers:
            layer.b = rng.uniform(-0.1, 0.1, layer.b.shape)
        norms = [LayerNorm(1 + rng.uniform(-0.2, 0.2, d_model), rng.uniform(-0.1, 0.1, d_model), eps)
                 for _ in range(2)]
        return cls(attention, ffn, *norms, layout=layout)

    @property
    def d_model(self) -> int:
        return self.attention.q_proj.in_features

    @property
    def params(self) -> list[np.ndarray]:
        return self.attention.params + self.norm1.params + self.ffn.params + self.norm2.params

    @property
    def grads(self) -> list[np.ndarray]:
        return self.attention.grads + self.norm1.grads + self.ffn.grads + self.norm2.grads

    def _ffn(self, z: np.ndarray) -> np.ndarray:
        N, T, d = z.shape
        return self.ffn.forward(z.reshape(N * T, d)).reshape(N, T, d)

    def _ffn_backward(self, g: np.ndarray) -> np.ndarray:
        N, T, d = g.shape
        return self.ffn.backward(g.reshape(N * T, d)).reshape(N, T, d)

    def forward(self, x, mask=None) -> tuple[np.ndarray, np.ndarray]:
        """``(Y, weights)`` for ``x`` (N, T, d) or (T, d); ``mask`` as in :class:`MultiHeadAttention`."""
        x = as_float_array(x, "x")
        if x.ndim not in (2, 3):
            raise ShapeError(f"x must have shape (batch, time, d_model) or (time, d_model), got shape {x.shape}")
        unbatched = x.ndim == 2
        x = x[None] if unbatched else x
        if self.layout == "pre_ln":
            a, A = self.attention(self.norm1(x), mask=mask)
            h = x + a
            y = h + self._ffn(self.norm2(h))
        elif self.layout == "post_ln":
            a, A = self.attention(x, mask=mask)
            h = self.norm1(x + a)
            y = self.norm2(h + self._ffn(h))
        else:  # sasrec_code
            z = self.norm1(x)
            a, A = self.attention(z, x, x, mask=mask)
            z2 = self.norm2(z + a)
            y = z2 + self._ffn(z2)
        self._shape = (x.shape, unbatched)
        return (y[0], A[0]) if unbatched else (y, A)

    __call__ = forward

    def backward(self, grad) -> np.ndarray:
        """Store every parameter's gradient (:attr:`grads`) and return dL/dX."""
        if self._shape is None:
            raise RuntimeError("call forward before backward")
        shape, unbatched = self._shape
        g = as_float_array(grad, "grad")
        g = g[None] if unbatched else g
        if g.shape != shape:
            raise ShapeError(f"grad must have the output's shape {shape[1:] if unbatched else shape}, "
                             f"got {g.shape[1:] if unbatched else g.shape}")
        if self.layout == "pre_ln":
            g_h = g + self.norm2.backward(self._ffn_backward(g))
            dq, dk, dv = self.attention.backward(g_h)
            dx = g_h + self.norm1.backward(dq + dk + dv)
        elif self.layout == "post_ln":
            g_s2 = self.norm2.backward(g)
            g_h = g_s2 + self._ffn_backward(g_s2)
            g_s1 = self.norm1.backward(g_h)
            dq, dk, dv = self.attention.backward(g_s1)
            dx = g_s1 + dq + dk + dv
        else:  # sasrec_code
            g_h = self.norm2.backward(g + self._ffn_backward(g))
            dq, dk, dv = self.attention.backward(g_h)
            dx = self.norm1.backward(g_h + dq) + dk + dv
        return dx[0] if unbatched else dx

    def __repr__(self) -> str:
        return (f"TransformerBlock(d_model={self.d_model}, num_heads={self.attention.num_heads}, "
                f"d_ff={self.ffn.layers[0].out_features}, layout={self.layout!r})")
