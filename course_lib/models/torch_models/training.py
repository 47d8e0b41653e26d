r"""One training loop for every PyTorch model of the course.

Mini-batches, Adam with weight decay (an L2 penalty :math:`\tfrac{wd}{2}\lVert\theta\rVert^2`
added to the gradient), early stopping on a validation split (the best weights are restored),
an optional tqdm progress bar and a history of the losses, for three objectives:

``"mse"``  explicit ratings: :math:`\frac1n \sum (r_{ui} - \hat r_{ui})^2`.
``"bce"``  implicit feedback: every observed pair is a positive (label 1), and each epoch draws
           ``n_negatives`` unobserved items per positive (label 0); binary cross-entropy on the logits
           :math:`-\big[y \log \sigma(\hat y) + (1 - y) \log(1 - \sigma(\hat y))\big]`.
``"bpr"``  implicit feedback, pairwise (Rendle et al. 2009): one unobserved item :math:`j` per
           positive :math:`(u, i)` each epoch, loss :math:`-\log \sigma(\hat y_{ui} - \hat y_{uj})`.
``"softmax"`` implicit feedback, listwise: each positive is a class among all items, loss
           :math:`-\log\big(e^{\hat y_{ui}} / \sum_j e^{\hat y_{uj}}\big)` (no sampling; every item is a negative).
           Mini-batches hold whole users in a shuffled order, so each user's scores over all
           items are computed once per batch (the cost of an epoch is about ``n_users x n_items``).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from ...validation import check_finite_number
from ..implicit import sample_unseen

__all__ = ["OBJECTIVES", "sample_unseen", "train_network"]

OBJECTIVES = ("mse", "bce", "bpr", "softmax")


def _loss(net: nn.Module, objective: str, u, i, y=None, j=None) -> torch.Tensor:
    if objective == "mse":
        return F.mse_loss(net(u, i), y)
    if objective == "bce":
        return F.binary_cross_entropy_with_logits(net(u, i), y)
    if objective == "softmax":  # score each distinct user of the batch once against every item
        users, row = torch.unique(u, return_inverse=True)
        logits = net.score_all(users)
        return (torch.logsumexp(logits, dim=1)[row] - logits[row, i]).mean()
    return -F.logsigmoid(net(u, i) - net(u, j)).mean()


def _penalty(net: nn.Module, reg: float, u, i, y=None, j=None) -> torch.Tensor | float:
    if not reg:
        return 0.0
    p = net.penalty(u, i)
    return reg * (p if j is None else p + net.penalty(u, j))


def _epoch_data(objective: str, u: np.ndarray, i: np.ndarray, y: np.ndarray | None, n_items: int,
                seen_keys: np.ndarray, n_negatives: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The examples of one epoch (negatives redrawn each epoch for implicit objectives)."""
    if objective in ("mse", "softmax"):
        return {"u": u, "i": i} if objective == "softmax" else {"u": u, "i": i, "y": y}
    if objective == "bce":
        nu, ni = sample_unseen(u, n_items, seen_keys, n_negatives, rng)
        return {"u": np.concatenate([u, nu]), "i": np.concatenate([i, ni]),
                "y": np.concatenate([np.ones(len(u)), np.zeros(len(nu))])}
    _, j = sample_unseen(u, n_items, seen_keys, 1, rng)
    return {"u": u, "i": i, "j": j}


def _tensors(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v, dtype=torch.float32 if k == "y" else torch.int64) for k, v in batch.items()}


class _Optimisers:
    """Several optimisers stepped together (SparseAdam for sparse embeddings, Adam for the rest)."""

    def __init__(self, optimisers: list[torch.optim.Optimizer]):
        self.optimisers = optimisers

    def zero_grad(self) -> None:
        for o in self.optimisers:
            o.zero_grad()

    def step(self) -> None:
        for o in self.optimisers:
            o.step()


def make_optimiser(net: nn.Module, lr: float, weight_decay: float = 0.0):
    """Adam over every parameter; with sparse embeddings (``nn.Embedding(sparse=True)``),
    ``SparseAdam`` for their rows and Adam for the other parameters.

    Dense Adam updates every row of every embedding table at every step (the moments of rows
    not in the batch decay too), so an epoch costs O(steps x table size): quadratic when the
    number of users and items grows with the data. SparseAdam touches only the batch's rows,
    O(batch), the way Surprise's SGD does. It has no weight decay: use ``reg``, an L2 penalty
    on the rows in the batch, instead.
    """
    sparse = [m.weight for m in net.modules() if isinstance(m, nn.Embedding) and m.sparse]
    if not sparse:
        return torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    if weight_decay:
        raise ValueError("sparse embeddings take no weight_decay (SparseAdam has none): set weight_decay=0 and "
                         "use reg=..., an L2 penalty on the rows of each batch")
    ids = {id(p) for p in sparse}
    dense = [p for p in net.parameters() if id(p) not in ids]
    return _Optimisers([torch.optim.SparseAdam(sparse, lr=lr)] + ([torch.optim.Adam(dense, lr=lr)] if dense else []))


def train_network(net: nn.Module, *, objective: str, u: np.ndarray, i: np.ndarray, y: np.ndarray | None,
                  n_items: int, seen_keys: np.ndarray, validation: tuple | None = None, n_epochs: int = 20,
                  batch_size: int = 1024, lr: float = 1e-3, weight_decay: float = 0.0, reg: float = 0.0, n_negatives: int = 4,
                  patience: int | None = 3, progress: bool = True, rng: np.random.Generator | None = None,
                  description: str = "training") -> pd.DataFrame:
    """Train ``net`` in place; return the history (one row per epoch: train and validation loss).

    ``validation`` is ``(u, i, y)`` (``y`` ignored for implicit objectives) or ``None``; with it
    and ``patience``, training stops after ``patience`` epochs without a lower validation loss
    and the weights of the best epoch are restored.
    """
    from tqdm.auto import tqdm

    rng = np.random.default_rng(0) if rng is None else rng
    optimiser = make_optimiser(net, lr, weight_decay)
    val = None
    if validation is not None:  # fixed validation examples (negatives drawn once)
        vu, vi, vy = validation
        val = _tensors(_epoch_data(objective, vu, vi, vy, n_items, seen_keys, n_negatives,
                                   np.random.default_rng(12345)))
    history, best, best_state, waited = [], np.inf, None, 0
    epochs = tqdm(range(n_epochs), desc=description, disable=not progress, leave=False)
    for epoch in epochs:
        net.train()
        data = _epoch_data(objective, u, i, y, n_items, seen_keys, n_negatives, rng)
        if objective == "softmax":  # batches of whole users (shuffled), so each batch scores few users
            user_rank = rng.permutation(int(data["u"].max()) + 1)[data["u"]]
            order = np.lexsort((rng.random(len(data["u"])), user_rank))
        else:
            order = rng.permutation(len(data["u"]))
        total, count = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch = _tensors({k: v[order[start:start + batch_size]] for k, v in data.items()})
            loss = _loss(net, objective, **batch)
            optimiser.zero_grad()
            (loss + _penalty(net, reg, **batch)).backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch["u"])
            count += len(batch["u"])
        row = {"epoch": epoch + 1, "train_loss": total / count}
        if val is not None:
            net.eval()
            with torch.no_grad():
                row["val_loss"] = float(_loss(net, objective, **val))
        history.append(row)
        epochs.set_postfix({k: round(v, 4) for k, v in row.items() if k != "epoch"})
        if val is not None and patience is not None:
            if row["val_loss"] < best - 1e-6:
                best, best_state, waited = row["val_loss"], copy.deepcopy(net.state_dict()), 0
            else:
                waited += 1
                if waited >= patience:
                    break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return pd.DataFrame(history).set_index("epoch")


def carve_validation(data, validation, rng: np.random.Generator):
    """Training row indices and the validation triple ``(u, i, r)`` (or ``None``) for early stopping.

    ``validation`` is a share of the training ratings held out at random (e.g. ``0.1``), a
    DataFrame of held-out ratings (rows with unknown ids are dropped), or ``0``/``None``.
    """
    idx = np.arange(data.n_ratings)
    if isinstance(validation, pd.DataFrame):
        vu = data.encode_users(validation["user_id"].to_numpy())
        vi = data.encode_items(validation["item_id"].to_numpy())
        known = (vu >= 0) & (vi >= 0)
        return idx, (vu[known], vi[known], validation["rating"].to_numpy(dtype=float)[known])
    if not validation:
        return idx, None
    share = check_finite_number(validation, "validation", minimum=0)
    perm = rng.permutation(data.n_ratings)
    n_val = int(round(share * data.n_ratings))
    val_idx, idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    return idx, (data.u[val_idx].astype(np.int64), data.i[val_idx].astype(np.int64), data.r[val_idx])


@torch.no_grad()
def score_all_batched(net: nn.Module, users, n_items: int) -> np.ndarray:
    """``net.score_all`` for inner ``users`` in batches of about 262,144 scores; float64 ``(len(users), n_items)``."""
    net.eval()
    users = torch.as_tensor(np.asarray(users, dtype=np.int64))
    step = max(1, 262144 // n_items)
    if len(users) == 0:
        return np.zeros((0, n_items))
    return np.vstack([net.score_all(users[s:s + step]).double().numpy() for s in range(0, len(users), step)])

