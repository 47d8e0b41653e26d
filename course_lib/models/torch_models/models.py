r"""The course's PyTorch (user, item) recommenders, following the :class:`~course_lib.models.base.Recommender` contract.

``DotProduct`` (explicit ratings by default), ``GMF``, ``MLP`` and ``NeuMF`` (implicit feedback
by default, He et al. 2017) share one training loop (:func:`.training.fit_pairs`):
``model.fit(train)`` holds out ``validation_fraction`` of the training ratings for early stopping
(or uses ``fit(train, validation=val)``), trains, and keeps ``history_`` (losses per epoch, a
DataFrame to plot) and ``net_`` (the ``nn.Module``).
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ...interactions import HeldOut, Interactions
from ...sampling import pair_keys
from ...validation import check_finite_number, check_positive_int, check_rate
from ..base import Recommender, check_is_fitted, estimate_known_pairs
from ..training import start_fit
from .networks import DotProductNet, GMFNet, MLPNet, NeuMFNet
from .training import OBJECTIVES, fit_pairs, score_all_batched, train_model

__all__ = ["DotProduct", "GMF", "MLP", "NeuMF"]


class _NeuralRecommender(Recommender):
    """Shared fitting, prediction and scoring of the PyTorch (user, item) models (not used directly).

    Common parameters
    -----------------
    objective : ``"mse"`` (ratings), ``"bce"`` (positives and sampled negatives), ``"bpr"`` or ``"softmax"``.
    n_epochs : the most epochs.  batch_size : examples per step.
    lr : Adam's step size.  weight_decay : Adam's L2 penalty on every parameter.
    dropout : dropout rate on the embeddings (or hidden layers).
    n_negatives : negatives per positive for ``"bce"``.
    early_stopping, validation_fraction, n_iter_no_change : stop after ``n_iter_no_change`` epochs
        without a lower validation loss, on ``validation_fraction`` of the training ratings held out
        (or on ``fit(train, validation=val)``), and keep the best epoch's weights.
    progress : show a tqdm progress bar.
    random_state : seed of the initial weights, the shuffling, the negatives and the validation split.

    Learned: ``net_``, ``history_``, ``n_epochs_``, ``best_epoch_``; ``user_factors_`` /
    ``item_factors_`` (the embedding tables, as NumPy arrays).
    """

    #: the layer names of the network whose weights are the user and item factors
    _factor_layers: tuple[str, str] = ("user_emb", "item_emb")

    @property
    def predicts_ratings(self) -> bool:
        return self.objective == "mse"

    def _network(self, n_users: int, n_items: int, y_range):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_common(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        check_positive_int(self.n_epochs, "n_epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_finite_number(self.lr, "lr", minimum=0, strict=True)
        check_finite_number(self.weight_decay, "weight_decay", minimum=0)
        check_rate(self.dropout, "dropout")
        check_positive_int(self.n_negatives, "n_negatives")

    def _y_range(self, data: Interactions):
        if self.objective != "mse":
            return None
        low, high = data.rating_scale
        return (low - 0.5, high + 0.5)  # the sigmoid never reaches its ends: leave a margin

    def build_network(self):
        """The (untrained) network for ``data_``; also how :func:`~course_lib.models.load_model` rebuilds it."""
        return self._network(self.data_.n_users, self.data_.n_items, self._y_range(self.data_))

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        self._check_common()
        patience, rng, idx, val = start_fit(self, data, validation)
        train_model(self, rng, fit_pairs, init=self._init_from_pretrained,
                    objective=self.objective, u=data.u[idx].astype(np.int64), i=data.i[idx].astype(np.int64),
                    y=data.r[idx], n_items=data.n_items, seen_keys=pair_keys(data.u, data.i, data.n_items),
                    validation=val, n_epochs=self.n_epochs, batch_size=self.batch_size, lr=self.lr,
                    weight_decay=self.weight_decay, reg=check_finite_number(getattr(self, "reg", 0.0), "reg", minimum=0),
                    n_negatives=self.n_negatives, patience=patience, progress=self.progress, rng=rng,
                    desc=type(self).__name__)

    def _init_from_pretrained(self) -> None:
        pass

    @torch.no_grad()
    def _estimate(self, u, i):
        self.net_.eval()
        return estimate_known_pairs(
            u, i, lambda u, i: self.net_(torch.as_tensor(u), torch.as_tensor(i)).double().numpy(), batch_size=65536)

    def _scores(self, users):
        return score_all_batched(self.net_, users, self.data_.n_items)

    def _factors(self, side: int) -> np.ndarray:
        self._check_fitted()
        layer = self.net_
        for name in self._factor_layers[side].split("."):
            layer = getattr(layer, name)
        return layer.weight.detach().double().numpy().copy()

    @property
    def user_factors_(self) -> np.ndarray:
        """The learned user vectors (embedding table), shape ``(n_users, dim)``."""
        return self._factors(0)

    @property
    def item_factors_(self) -> np.ndarray:
        """The learned item vectors (embedding table), shape ``(n_items, dim)`` (row = inner item index)."""
        return self._factors(1)


_COMMON_DOC = "(see :class:`_NeuralRecommender` for the training parameters)"


class DotProduct(_NeuralRecommender):
    r"""The dot-product model with biases and a bounded output.

    .. math::  \hat r_{ui} = \sigma\big(b + b_u + b_i + p_u^\top q_i\big)\,(r_{max} - r_{min} + 1) + r_{min} - \tfrac12

    for ``objective="mse"``; for implicit objectives the output is the unbounded score
    :math:`b + b_u + b_i + p_u^\top q_i` (a logit for ``"bce"``).

    Parameters
    ----------
    n_factors : embedding dimension :math:`f`.  biases : learn :math:`b_u, b_i, b`.
    reg : L2 penalty on the embedding rows of each batch (use with ``sparse=True``).
    sparse : sparse embedding gradients, trained with ``SparseAdam`` (only the batch's rows are
        updated, so an epoch costs O(ratings) however large the tables); needs ``weight_decay=0``
        (regularise with ``reg``) and an objective other than ``"softmax"``. For large data.
    (see :class:`_NeuralRecommender` for the training parameters)

    Attributes
    ----------
    net_ : the trained :class:`~.networks.DotProductNet`.  history_ : losses per epoch.
    user_factors_, item_factors_ : :math:`p_u`, :math:`q_i`.

    References
    ----------
    Y. Koren, R. Bell and C. Volinsky, "Matrix Factorization Techniques for Recommender Systems", Computer 42(8), 2009;
    S. Rendle, W. Krichene, L. Zhang and J. Anderson, "Neural Collaborative Filtering vs. Matrix Factorization
    Revisited", RecSys 2020.
    """

    def __init__(self, n_factors: int = 32, biases: bool = True, objective: str = "mse", n_epochs: int = 20,
                 batch_size: int = 1024, lr: float = 5e-3, weight_decay: float = 1e-4, reg: float = 0.0,
                 dropout: float = 0.0, n_negatives: int = 4, early_stopping: bool = True,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 2, progress: bool = False,
                 random_state: int | None = 0, sparse: bool = False):
        self.n_factors = n_factors
        self.biases = biases
        self.objective = objective
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.reg = reg
        self.dropout = dropout
        self.n_negatives = n_negatives
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state
        self.sparse = sparse

    def _network(self, n_users, n_items, y_range):
        if self.sparse and self.objective == "softmax":
            raise ValueError("sparse=True does not apply to objective='softmax': every step scores all items, "
                             "so the item table's gradient is dense; use sparse=True with 'mse', 'bce' or 'bpr'")
        return DotProductNet(n_users, n_items, check_positive_int(self.n_factors, "n_factors"),
                             biases=bool(self.biases), y_range=y_range, dropout=self.dropout, sparse=bool(self.sparse))


class GMF(_NeuralRecommender):
    r"""Generalised matrix factorisation (NCF): :math:`\hat y_{ui} = \sigma\big(h^\top (p_u \odot q_i) + b\big)`.

    Trained with ``objective="bce"`` by default (see :class:`_NeuralRecommender` for the training
    parameters). References: X. He, L. Liao, H. Zhang, L. Nie, X. Hu and T.-S. Chua, "Neural
    Collaborative Filtering", WWW 2017.
    """

    def __init__(self, n_factors: int = 32, objective: str = "bce", n_epochs: int = 20, batch_size: int = 1024,
                 lr: float = 1e-3, weight_decay: float = 0.0, dropout: float = 0.0, n_negatives: int = 4,
                 early_stopping: bool = True, validation_fraction: float = 0.1, n_iter_no_change: int = 2,
                 progress: bool = False, random_state: int | None = 0):
        self.n_factors = n_factors
        self.objective = objective
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.n_negatives = n_negatives
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _network(self, n_users, n_items, y_range):
        return GMFNet(n_users, n_items, check_positive_int(self.n_factors, "n_factors"), y_range=y_range,
                      dropout=self.dropout)


def _check_layers(layers) -> tuple[int, ...]:
    if isinstance(layers, numbers.Integral) or len(layers) < 1 or any(
            isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1 for w in layers):
        raise ValueError(f"layers must be a sequence of positive integers such as (64, 32, 16), got {layers!r}")
    if layers[0] < 2:
        raise ValueError(f"layers[0] must be at least 2 (it holds both embeddings), got {layers[0]}")
    return tuple(int(w) for w in layers)


class MLP(_NeuralRecommender):
    r"""The NCF multi-layer perceptron on concatenated embeddings:
    :math:`\hat y_{ui} = \sigma\big(h^\top \mathrm{ReLU\,MLP}([p_u; q_i]) + b\big)`.

    ``layers=(64, 32, 16)``: embeddings of 32 dimensions each, hidden layers of 32 and 16 units
    (see :class:`_NeuralRecommender` for the training parameters).
    Reference: He et al., "Neural Collaborative Filtering", WWW 2017.
    """

    def __init__(self, layers: tuple[int, ...] = (64, 32, 16), objective: str = "bce", n_epochs: int = 20,
                 batch_size: int = 1024, lr: float = 1e-3, weight_decay: float = 0.0, dropout: float = 0.0,
                 n_negatives: int = 4, early_stopping: bool = True, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 2, progress: bool = False, random_state: int | None = 0):
        self.layers = layers
        self.objective = objective
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.n_negatives = n_negatives
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _network(self, n_users, n_items, y_range):
        return MLPNet(n_users, n_items, _check_layers(self.layers), y_range=y_range, dropout=self.dropout)


class NeuMF(_NeuralRecommender):
    r"""NeuMF: GMF and MLP fused by one output layer (He et al. 2017).

    .. math::  \hat y_{ui} = \sigma\big(h^\top [\, p^G_u \odot q^G_i \,;\; \mathrm{MLP}([p^M_u; q^M_i]) \,] + b\big)

    Parameters
    ----------
    n_factors : GMF embedding dimension.  layers : the MLP tower (see :class:`MLP`).
    pretrained : ``None``, or a fitted ``(GMF, MLP)`` pair trained on the same data: their weights
        initialise NeuMF and the output layer is :math:`[\alpha h^G; (1 - \alpha) h^M]` (the paper's
        pre-training; then train with a smaller ``lr``).
    alpha : the weight of GMF's output layer when pre-trained.
    (see :class:`_NeuralRecommender` for the training parameters)

    ``user_factors_`` / ``item_factors_`` are the GMF embeddings.
    """

    _factor_layers = ("gmf.user_emb", "gmf.item_emb")

    def __init__(self, n_factors: int = 32, layers: tuple[int, ...] = (64, 32, 16), pretrained=None,
                 alpha: float = 0.5, objective: str = "bce", n_epochs: int = 20, batch_size: int = 1024,
                 lr: float = 1e-3, weight_decay: float = 0.0, dropout: float = 0.0, n_negatives: int = 4,
                 early_stopping: bool = True, validation_fraction: float = 0.1, n_iter_no_change: int = 2,
                 progress: bool = False, random_state: int | None = 0):
        self.n_factors = n_factors
        self.layers = layers
        self.pretrained = pretrained
        self.alpha = alpha
        self.objective = objective
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.n_negatives = n_negatives
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.progress = progress
        self.random_state = random_state

    def _network(self, n_users, n_items, y_range):
        return NeuMFNet(n_users, n_items, check_positive_int(self.n_factors, "n_factors"),
                        _check_layers(self.layers), y_range=y_range, dropout=self.dropout)

    def _init_from_pretrained(self) -> None:
        if self.pretrained is None:
            return
        gmf, mlp = self.pretrained
        if not (isinstance(gmf, GMF) and isinstance(mlp, MLP)):
            raise TypeError("pretrained must be a (GMF, MLP) pair of fitted models")
        for m in (gmf, mlp):
            check_is_fitted(m)
            if not (np.array_equal(m.data_.item_ids, self.data_.item_ids)
                    and np.array_equal(m.data_.user_ids, self.data_.user_ids)):
                raise ValueError("the pre-trained GMF and MLP must be fitted on the same training data as NeuMF")
        if gmf.n_factors != self.n_factors or tuple(mlp.layers) != tuple(self.layers):
            raise ValueError("NeuMF's n_factors and layers must match the pre-trained GMF and MLP")
        alpha = check_finite_number(self.alpha, "alpha", minimum=0)
        self.net_.load_pretrained(gmf.net_, mlp.net_, alpha)
