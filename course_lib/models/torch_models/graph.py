r"""LightGCN (He et al. 2020): collaborative filtering by propagating embeddings on the user-item graph.

The graph has one node per user and per item and an edge for every training interaction. With
:math:`R \in \{0,1\}^{|U| \times |I|}` the interactions and :math:`N = |U| + |I|`:

.. math::
    A = \begin{pmatrix} 0 & R \\ R^\top & 0 \end{pmatrix} \in \mathbb{R}^{N \times N}, \quad
    \tilde A = D^{-1/2} A D^{-1/2}, \quad E^{(k+1)} = \tilde A\, E^{(k)}, \quad
    E = \frac{1}{K + 1} \sum_{k=0}^{K} E^{(k)}

:math:`D` the diagonal degree matrix, :math:`E^{(0)} \in \mathbb{R}^{N \times d}` the only parameters
(no feature transformation, no non-linearity), :math:`\hat y_{ui} = e_u^\top e_i` and the BPR loss
:math:`-\ln\sigma(\hat y_{ui} - \hat y_{uj}) + \lambda \lVert E^{(0)}_{u,i,j} \rVert^2`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ...interactions import HeldOut, Interactions
from ...sampling import pair_keys
from ...validation import check_finite_number, check_positive_int, check_random_state
from ..base import Recommender
from ..training import check_early_stopping, holdout
from .training import fit_pairs, train_model

__all__ = ["LightGCN", "LightGCNNet", "normalized_adjacency"]


def normalized_adjacency(u: np.ndarray, i: np.ndarray, n_users: int, n_items: int) -> sp.csr_matrix:
    r""":math:`D^{-1/2} A D^{-1/2}` of the bipartite graph with edges ``(u[k], n_users + i[k])``.

    Shape ``(n_users + n_items, n_users + n_items)``; repeated pairs count once; isolated nodes
    (degree 0) keep a zero row.
    """
    r = sp.csr_matrix((np.ones(len(u)), (np.asarray(u), np.asarray(i))), shape=(n_users, n_items))
    r.sum_duplicates()
    r.data[:] = 1.0
    a = sp.bmat([[None, r], [r.T, None]], format="csr")
    deg = np.asarray(a.sum(axis=1)).ravel()
    d = np.zeros_like(deg)
    d[deg > 0] = deg[deg > 0] ** -0.5
    return (sp.diags(d) @ a @ sp.diags(d)).tocsr()


class LightGCNNet(nn.Module):
    r"""The propagation over a fixed normalised adjacency ``adj`` (scipy sparse, ``N x N``).

    ``propagate()`` returns the layer-averaged embeddings :math:`E` (``N x d``); ``forward(u, i)``
    the scores :math:`e_u^\top e_i`; ``score_all(users)`` ``(len(users), n_items)``.
    """

    def __init__(self, adj: sp.spmatrix, n_users: int, n_items: int, n_factors: int = 64, n_layers: int = 3,
                 init_std_dev: float = 0.1):
        super().__init__()
        self.n_users, self.n_items, self.n_layers = n_users, n_items, n_layers
        coo = sp.coo_matrix(adj)
        self.register_buffer("adj", torch.sparse_coo_tensor(
            np.vstack([coo.row, coo.col]), coo.data.astype(np.float32), coo.shape,
            check_invariants=False).coalesce())
        self.emb = nn.Embedding(n_users + n_items, n_factors)
        nn.init.normal_(self.emb.weight, 0.0, init_std_dev)
        self._cache = None

    def propagate(self) -> torch.Tensor:
        version = self.emb.weight._version  # reuse within one optimiser step (BPR scores i and j)
        if self._cache is not None and self._cache[0] == version and torch.is_grad_enabled() == self._cache[2]:
            return self._cache[1]
        e = self._propagate()
        self._cache = (version, e, torch.is_grad_enabled())
        return e

    def _propagate(self) -> torch.Tensor:
        e = self.emb.weight
        layers = [e]
        for _ in range(self.n_layers):
            e = torch.sparse.mm(self.adj, e)
            layers.append(e)
        return torch.stack(layers).mean(dim=0)

    def forward(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        e = self.propagate()
        return (e[u] * e[self.n_users + i]).sum(dim=1)

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        e = self.propagate()
        return e[users] @ e[self.n_users:].T

    def penalty(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        """:math:`\\tfrac12(\\lVert e^{(0)}_u \\rVert^2 + \\lVert e^{(0)}_i \\rVert^2)`, averaged over the batch."""
        w = self.emb.weight
        return 0.5 * (w[u].pow(2).sum() + w[self.n_users + i].pow(2).sum()) / len(u)


class LightGCN(Recommender):
    r"""LightGCN on the user-item graph, trained with BPR (see the module docstring for the formulas).

    Parameters
    ----------
    n_factors : :math:`d`.  n_layers : :math:`K` propagation steps (0 = BPR matrix factorisation).
    n_epochs : the most epochs.  batch_size : triples per step.  lr : Adam's step size.
    reg : :math:`\lambda`, L2 on the layer-0 embeddings of each triple.
    early_stopping, validation_fraction, n_iter_no_change : early stopping on the BPR loss of held-out
        training pairs (off by default: the graph is then built from every training pair).
    progress : show a tqdm bar.  random_state : seed of the weights, negatives and validation split.

    Attributes
    ----------
    net_ : the :class:`LightGCNNet`.  adjacency_ ``(n_users + n_items,)*2`` : :math:`\tilde A` (scipy).
    user_factors_ ``(n_users, d)``, item_factors_ ``(n_items, d)`` : the final :math:`E`.
    history_, n_epochs_, best_epoch_.

    References
    ----------
    X. He, K. Deng, X. Wang, Y. Li, Y. Zhang and M. Wang, "LightGCN: Simplifying and Powering Graph
    Convolution Network for Recommendation", SIGIR 2020.
    """

    _predicts_ratings = False

    def __init__(self, n_factors: int = 64, n_layers: int = 3, n_epochs: int = 20, batch_size: int = 4096,
                 lr: float = 1e-2, reg: float = 1e-4, early_stopping: bool = False, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 3, progress: bool = False, random_state: int | None = 0):
        self.n_factors = n_factors
        self.n_layers = n_layers
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.reg = reg
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        check_positive_int(self.n_factors, "n_factors")
        int(check_finite_number(self.n_layers, "n_layers", minimum=0))
        patience = check_early_stopping(self)
        rng = check_random_state(self.random_state)
        u, i = data.u.astype(np.int64), data.i.astype(np.int64)
        idx, val = np.arange(len(u)), None
        if validation is not None:
            val = (validation.u[validation.known], validation.i[validation.known], None)
        elif patience is not None:
            idx, val_idx = holdout(len(u), self.validation_fraction, rng)
            val = (u[val_idx], i[val_idx], None)
        self.adjacency_ = normalized_adjacency(u[idx], i[idx], data.n_users, data.n_items)
        train_model(self, rng, fit_pairs, objective="bpr", u=u[idx], i=i[idx], y=None, n_items=data.n_items,
                    seen_keys=pair_keys(u, i, data.n_items), validation=val,
                    n_epochs=check_positive_int(self.n_epochs, "n_epochs"),
                    batch_size=check_positive_int(self.batch_size, "batch_size"),
                    lr=check_finite_number(self.lr, "lr", minimum=0, strict=True),
                    reg=check_finite_number(self.reg, "reg", minimum=0), patience=patience,
                    progress=self.progress, rng=rng, desc="LightGCN")
        with torch.no_grad():
            e = self.net_.propagate().double().numpy()
        self.user_factors_, self.item_factors_ = e[:data.n_users].copy(), e[data.n_users:].copy()

    def build_network(self) -> LightGCNNet:
        """The (untrained) network over ``adjacency_`` (also used by ``load_model``)."""
        return LightGCNNet(self.adjacency_, self.data_.n_users, self.data_.n_items,
                           check_positive_int(self.n_factors, "n_factors"), int(self.n_layers))

    def _scores(self, users):
        return self.user_factors_[np.asarray(users, dtype=np.int64)] @ self.item_factors_.T

    def _estimate(self, u, i):
        u, i = np.asarray(u), np.asarray(i)
        known = (u >= 0) & (i >= 0)
        uu, ii = np.where(known, u, 0), np.where(known, i, 0)
        return np.einsum("ij,ij->i", self.user_factors_[uu], self.item_factors_[ii]), ~known
