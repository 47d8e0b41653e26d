r"""The PyTorch networks (``nn.Module``) behind the course's neural recommenders.

Each network maps inner user and item indices to one number per pair: a rating (when an
output range is given) or a logit (implicit feedback). ``score_all(users)`` scores every
item for a batch of users, shape ``(len(users), n_items)``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DotProductNet", "GMFNet", "MLPNet", "NeuMFNet"]


def _embedding(n: int, dim: int, std: float = 0.01, sparse: bool = False) -> nn.Embedding:
    emb = nn.Embedding(n, dim, sparse=sparse)
    nn.init.normal_(emb.weight, 0.0, std)
    return emb


class _PairNet(nn.Module):
    """Shared helpers: the output range and scoring every item for a batch of users."""

    n_items: int
    y_range: tuple[float, float] | None

    def _bound(self, x: torch.Tensor) -> torch.Tensor:
        if self.y_range is None:
            return x
        low, high = self.y_range
        return torch.sigmoid(x) * (high - low) + low

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        n = len(users)
        u = users.repeat_interleave(self.n_items)
        i = torch.arange(self.n_items).repeat(n)
        return self(u, i).reshape(n, self.n_items)


class DotProductNet(_PairNet):
    r"""Dot product with biases and an optional bounded output.

    .. math::  \hat y_{ui} = \sigma\big(b + b_u + b_i + p_u^\top q_i\big)\,(y_{max} - y_{min}) + y_{min}

    :math:`p_u, q_i \in \mathbb{R}^f` (embeddings), :math:`b_u, b_i` (bias embeddings of width 1),
    :math:`b` a global bias. Without ``y_range`` the output is the raw sum (a logit or a score).
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 32, *, biases: bool = True,
                 y_range: tuple[float, float] | None = None, dropout: float = 0.0, sparse: bool = False):
        super().__init__()
        self.n_items, self.y_range, self.biases = n_items, y_range, biases
        self.user_emb = _embedding(n_users, n_factors, sparse=sparse)
        self.item_emb = _embedding(n_items, n_factors, sparse=sparse)
        if biases:
            self.user_bias = _embedding(n_users, 1, 0.0, sparse=sparse)
            self.item_bias = _embedding(n_items, 1, 0.0, sparse=sparse)
            self.bias = nn.Parameter(torch.zeros(1))
        self.dropout = nn.Dropout(dropout)

    def forward(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        p, q = self.dropout(self.user_emb(u)), self.dropout(self.item_emb(i))
        x = (p * q).sum(dim=1)
        if self.biases:
            x = x + self.user_bias(u)[:, 0] + self.item_bias(i)[:, 0] + self.bias
        return self._bound(x)

    def penalty(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        r"""Mean over the batch of :math:`\lVert p_u\rVert^2 + \lVert q_i\rVert^2 (+ b_u^2 + b_i^2)`."""
        x = self.user_emb(u).pow(2).sum(1) + self.item_emb(i).pow(2).sum(1)
        if self.biases:
            x = x + self.user_bias(u)[:, 0].pow(2) + self.item_bias(i)[:, 0].pow(2)
        return x.mean()

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.user_emb(users)) @ self.dropout(self.item_emb.weight).T  # dropout: training only
        if self.biases:
            x = x + self.user_bias(users) + self.item_bias.weight[:, 0][None, :] + self.bias
        return self._bound(x)


class GMFNet(_PairNet):
    r"""Generalised matrix factorisation (He et al. 2017): :math:`\hat y_{ui} = h^\top (p_u \odot q_i) + b`."""

    def __init__(self, n_users: int, n_items: int, n_factors: int = 32, *, y_range=None, dropout: float = 0.0):
        super().__init__()
        self.n_items, self.y_range = n_items, y_range
        self.user_emb = _embedding(n_users, n_factors)
        self.item_emb = _embedding(n_items, n_factors)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(n_factors, 1)

    def features(self, u, i):
        return self.dropout(self.user_emb(u) * self.item_emb(i))

    def forward(self, u, i):
        return self._bound(self.out(self.features(u, i))[:, 0])


class MLPNet(_PairNet):
    r"""The NCF multi-layer perceptron: :math:`\hat y_{ui} = h^\top \mathrm{MLP}([p_u; q_i]) + b`.

    ``layers`` are the widths of the hidden layers; the embeddings have ``layers[0] // 2``
    dimensions each, so their concatenation is ``layers[0]`` wide (the paper's tower).
    """

    def __init__(self, n_users: int, n_items: int, layers=(64, 32, 16), *, y_range=None, dropout: float = 0.0):
        super().__init__()
        self.n_items, self.y_range = n_items, y_range
        dim = layers[0] // 2
        self.user_emb = _embedding(n_users, dim)
        self.item_emb = _embedding(n_items, dim)
        blocks, width = [], 2 * dim
        for out in layers[1:]:
            blocks += [nn.Dropout(dropout), nn.Linear(width, out), nn.ReLU()]
            width = out
        self.tower = nn.Sequential(*blocks)
        self.out = nn.Linear(width, 1)

    def features(self, u, i):
        return self.tower(torch.cat([self.user_emb(u), self.item_emb(i)], dim=1))

    def forward(self, u, i):
        return self._bound(self.out(self.features(u, i))[:, 0])


class NeuMFNet(_PairNet):
    r"""NeuMF (He et al. 2017): GMF and MLP side by side, fused by one output layer.

    .. math::  \hat y_{ui} = h^\top \big[\, p^G_u \odot q^G_i \,;\; \mathrm{MLP}([p^M_u; q^M_i]) \,\big] + b
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 32, layers=(64, 32, 16), *, y_range=None,
                 dropout: float = 0.0):
        super().__init__()
        self.n_items, self.y_range = n_items, y_range
        self.gmf = GMFNet(n_users, n_items, n_factors, dropout=dropout)
        self.mlp = MLPNet(n_users, n_items, layers, dropout=dropout)
        del self.gmf.out, self.mlp.out  # NeuMF has one fused output layer instead
        self.out = nn.Linear(n_factors + layers[-1], 1)

    def forward(self, u, i):
        h = torch.cat([self.gmf.features(u, i), self.mlp.features(u, i)], dim=1)
        return self._bound(self.out(h)[:, 0])

    @torch.no_grad()
    def load_pretrained(self, gmf: GMFNet, mlp: MLPNet, alpha: float = 0.5) -> None:
        r"""Copy pre-trained GMF and MLP weights; the output layer is :math:`[\alpha h^G; (1-\alpha) h^M]`."""
        self.gmf.user_emb.load_state_dict(gmf.user_emb.state_dict())
        self.gmf.item_emb.load_state_dict(gmf.item_emb.state_dict())
        self.mlp.user_emb.load_state_dict(mlp.user_emb.state_dict())
        self.mlp.item_emb.load_state_dict(mlp.item_emb.state_dict())
        self.mlp.tower.load_state_dict(mlp.tower.state_dict())
        self.out.weight.copy_(torch.cat([alpha * gmf.out.weight, (1 - alpha) * mlp.out.weight], dim=1))
        self.out.bias.copy_(alpha * gmf.out.bias + (1 - alpha) * mlp.out.bias)
