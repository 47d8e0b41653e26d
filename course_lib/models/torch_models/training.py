r"""One training loop for every PyTorch model of the course.

:func:`fit_network` trains any network with Adam (weight decay: an L2 penalty
:math:`\tfrac{wd}{2}\lVert\theta\rVert^2` added to the gradient), mini-batches, an optional
learning-rate schedule, and the shared epoch loop of :func:`course_lib.models.training.run_epochs`
(``history_``, early stopping with the best weights restored, divergence checks). A model supplies
the batches of an epoch and the loss of a batch; :func:`train_model` builds the model's network and
trains it so, setting ``net_``, ``history_``, ``best_epoch_`` and ``n_epochs_``.

:func:`fit_pairs` is :func:`fit_network` for the (user, item) models, with four objectives:

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

Negatives come from :func:`course_lib.sampling.sample_unseen` (the course's one sampler); validation
negatives are drawn once, from a generator spawned from the model's. Randomness: :func:`torch_random`
seeds PyTorch from the model's generator inside ``fork_rng``, so fitting never changes PyTorch's global
random state.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...sampling import sample_unseen
from ...validation import derive_seed
from ..training import run_epochs

__all__ = ["OBJECTIVES", "fit_network", "fit_pairs", "make_optimiser", "score_all_batched", "torch_random",
           "train_model"]

OBJECTIVES = ("mse", "bce", "bpr", "softmax")


@contextlib.contextmanager
def torch_random(rng: np.random.Generator) -> Iterator[None]:
    """Seed PyTorch's generator from ``rng`` for the duration of the block, then restore its state.

    Initial weights and dropout masks then depend only on the model's ``random_state``, and fitting
    leaves the caller's PyTorch random state untouched.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(rng))
        yield


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


def fit_network(net: nn.Module, *, epoch_batches: Callable[[], Iterable[dict]],
                loss: Callable[[nn.Module, dict], tuple[torch.Tensor, torch.Tensor | float, int]],
                val_loss: Callable[[nn.Module], float] | None, n_epochs: int, lr: float, weight_decay: float = 0.0,
                patience: int | None = None, progress: bool = False, desc: str = "training",
                schedule: Callable[[int], float] | None = None):
    """Train ``net`` in place; return ``(history, best_epoch)``.

    ``epoch_batches()`` yields the batches of one epoch (dictionaries of tensors, already shuffled);
    ``loss(net, batch)`` returns ``(reported loss, extra penalty, number of examples)``: the sum of
    the two is minimised and the reported loss, weighted by the examples, makes ``train_loss``.
    ``val_loss(net)`` (eval mode, no gradients) gives ``val_loss``; with ``patience``, early stopping
    restores the best weights. ``schedule(step)`` multiplies the learning rate (``None``: constant).
    """
    optimiser = make_optimiser(net, lr, weight_decay)
    scheduler = None
    if schedule is not None:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, schedule)

    def epoch(_):
        net.train()
        total, count = 0.0, 0
        for batch in epoch_batches():
            reported, penalty, n = loss(net, batch)
            optimiser.zero_grad()
            (reported + penalty).backward()
            optimiser.step()
            if scheduler is not None:
                scheduler.step()
            total, count = total + float(reported.detach()) * n, count + n
        return {"train_loss": total / max(count, 1)}

    def validate():
        net.eval()
        with torch.no_grad():
            return {"val_loss": float(val_loss(net))}

    history, best = run_epochs(n_epochs, epoch, validate=None if val_loss is None else validate, monitor="val_loss",
                               patience=patience, snapshot=lambda: copy.deepcopy(net.state_dict()),
                               restore=net.load_state_dict, progress=progress, desc=desc)
    net.eval()
    return history, best


# -- the (user, item) objectives -------------------------------------------------------------------
def _pair_loss(net: nn.Module, objective: str, u, i, y=None, j=None) -> torch.Tensor:
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


def _pair_examples(objective: str, u: np.ndarray, i: np.ndarray, y: np.ndarray | None, n_items: int,
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


def fit_pairs(net: nn.Module, *, objective: str, u: np.ndarray, i: np.ndarray, y: np.ndarray | None, n_items: int,
              seen_keys: np.ndarray, validation: tuple | None, n_epochs: int, batch_size: int, lr: float,
              weight_decay: float = 0.0, reg: float = 0.0, n_negatives: int = 4, patience: int | None = None,
              progress: bool = False, rng: np.random.Generator, desc: str = "training"):
    """:func:`fit_network` for a (user, item) network with one of :data:`OBJECTIVES`; ``(history, best_epoch)``.

    ``validation`` is ``(u, i, y)`` of held-out pairs (``y`` ignored for implicit objectives) or
    ``None``; its negatives are drawn once, from a generator spawned from ``rng``.
    """
    val = None
    if validation is not None:
        vu, vi, vy = validation
        val = _tensors(_pair_examples(objective, vu, vi, vy, n_items, seen_keys, n_negatives, rng.spawn(1)[0]))

    def epoch_batches():
        data = _pair_examples(objective, u, i, y, n_items, seen_keys, n_negatives, rng)
        if objective == "softmax":  # batches of whole users (shuffled), so each batch scores few users
            user_rank = rng.permutation(int(data["u"].max()) + 1)[data["u"]]
            order = np.lexsort((rng.random(len(data["u"])), user_rank))
        else:
            order = rng.permutation(len(data["u"]))
        for start in range(0, len(order), batch_size):
            yield _tensors({k: v[order[start:start + batch_size]] for k, v in data.items()})

    def loss(net, batch):
        return _pair_loss(net, objective, **batch), _penalty(net, reg, **batch), len(batch["u"])

    return fit_network(net, epoch_batches=epoch_batches, loss=loss,
                       val_loss=None if val is None else (lambda net: _pair_loss(net, objective, **val)),
                       n_epochs=n_epochs, lr=lr, weight_decay=weight_decay, patience=patience, progress=progress,
                       desc=desc)


def train_model(model, rng: np.random.Generator, fit: Callable = fit_network, /, *,
                init: Callable[[], None] | None = None, **kwargs) -> None:
    """Build ``model.net_`` and train it: sets ``net_``, ``history_``, ``best_epoch_`` and ``n_epochs_``.

    Within :func:`torch_random` (the weights and dropout depend on ``rng`` only):
    ``model.net_ = model.build_network()``, then ``init()`` if given (e.g. NeuMF's pre-trained weights),
    then ``fit(model.net_, **kwargs)``, :func:`fit_network` or :func:`fit_pairs` (whose own ``rng`` is
    one of ``kwargs``).
    """
    with torch_random(rng):
        model.net_ = model.build_network()
        if init is not None:
            init()
        model.history_, model.best_epoch_ = fit(model.net_, **kwargs)
    model.n_epochs_ = len(model.history_)


@torch.no_grad()
def score_all_batched(net: nn.Module, users, n_items: int) -> np.ndarray:
    """``net.score_all`` for inner ``users`` in batches of about 262,144 scores; float64 ``(len(users), n_items)``."""
    net.eval()
    users = torch.as_tensor(np.asarray(users, dtype=np.int64))
    step = max(1, 262144 // n_items)
    if len(users) == 0:
        return np.zeros((0, n_items))
    return np.vstack([net.score_all(users[s:s + step]).double().numpy() for s in range(0, len(users), step)])
