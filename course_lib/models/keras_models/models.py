r"""Keras 3 (TensorFlow backend) versions of the dot-product model and NeuMF.

They follow the same :class:`~course_lib.models.base.Recommender` contract and the same
training recipe as the PyTorch models in :mod:`course_lib.models.torch_models`, so a lesson
can fit both on the same split and compare them with the same metrics:

* Adam; the PyTorch ``weight_decay`` :math:`wd` (coupled L2, gradient :math:`wd\,\theta`)
  corresponds to an L2 regulariser of :math:`wd/2` on every embedding here;
* a ``validation_fraction`` of the training ratings held out (the course's one splitter,
  :func:`course_lib.models.training.split_validation`) or ``fit(train, validation=val)``, and Keras's own
  ``EarlyStopping`` callback (``n_iter_no_change`` epochs, best weights restored);
* every epoch's examples come from a ``keras.utils.PyDataset`` that shuffles with the model's
  generator (and, for NeuMF, redraws the negatives with :func:`course_lib.sampling.sample_unseen`);
* every initialiser and dropout layer takes a seed drawn from ``random_state``, so fitting never
  touches Keras's, TensorFlow's or NumPy's global random state;
* the output bounded to :math:`[r_{min} - 0.5, r_{max} + 0.5]` with a scaled sigmoid;
* the networks with dense layers (NeuMF here, the two towers in :mod:`.two_tower`) compute in
  float64 (:data:`DTYPE`), so that they train to the same digits on every CPU.

A common mistake in Keras recommender code is to ``Dot`` two ``Embedding`` outputs of shape
``(batch, 1, f)`` without flattening them: the result is ``(batch, 1, 1)``, broadcasting then
silently compares the wrong things. Here every embedding is flattened to ``(batch, f)`` first.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from ...interactions import HeldOut, Interactions
from ...sampling import pair_keys, sample_unseen
from ...validation import check_finite_number, check_positive_int, check_random_state, check_rate, derive_seed
from ..base import Recommender, estimate_known_pairs
from ..training import check_early_stopping, split_validation

__all__ = ["DTYPE", "DotProduct", "NeuMF", "build_dot_product", "build_neumf"]


#: The float type of the networks with dense layers. In float32, TensorFlow's matrix products run
#: oneDNN's sgemm, whose rounding depends on the CPU beyond what the numeric profile's
#: ``ONEDNN_MAX_CPU_ISA`` pins: two AMD EPYC machines with AVX-512 and the same profile trained lesson
#: 12's Keras two-tower to Recall@100 0.682 / NDCG@10 0.406 and 0.680 / 0.411, and on one machine
#: oneDNN's SSE4.1 kernels instead of its AVX2 ones moved lesson 07's Keras NeuMF (full NDCG@10
#: 0.394 -> 0.395, and a rank in its table of protocols) and lesson 12's two-tower (0.682 / 0.408).
#: Float64 products run in Eigen, not oneDNN, and a last-bit difference there (about 1e-16, not 1e-7)
#: is too small for a few epochs to carry into the printed digits: scaling every initial weight of the
#: two-tower by 1 + 2e-16 left Recall@100 and NDCG@10 unchanged, where 1 + 1e-7 in float32 moved them
#: to 0.688 / 0.420. The losses keep Keras's float32 (a ``Loss`` casts the logits to its own dtype):
#: element-wise work and reductions, which gave the same bytes under both oneDNN kernels. The
#: dot-product model (element-wise products only) keeps float32: lesson 06 printed the same digits
#: with both kernels.
DTYPE = "float64"


def _l2(weight_decay: float):
    return keras.regularizers.L2(weight_decay / 2) if weight_decay > 0 else None


class _Seeds:
    """Successive seeds for Keras initialisers and dropout layers, from one integer."""

    def __init__(self, seed: int | None):
        self.rng = np.random.default_rng(seed)

    def __call__(self) -> int:
        return int(self.rng.integers(0, 2**31 - 1))


def _embedding(n: int, dim: int, weight_decay: float, name: str, seeds: _Seeds, std: float = 0.01,
               dtype: str | None = None):
    init = keras.initializers.RandomNormal(0.0, std, seed=seeds()) if std > 0 else "zeros"
    return keras.layers.Embedding(n, dim, embeddings_initializer=init, embeddings_regularizer=_l2(weight_decay),
                                  name=name, dtype=dtype)


class GlobalBias(keras.layers.Layer):
    """Adds one learned scalar :math:`b` to its input."""

    def build(self, input_shape):
        self.b = self.add_weight(shape=(1,), initializer="zeros", name="b")

    def call(self, x):
        return x + self.b


def record_history(model, hist) -> None:
    """Keras's ``fit`` history as the contract's learned attributes: ``history_`` (``train_loss``,
    ``val_loss``, epochs from 1), ``n_epochs_`` and ``best_epoch_`` (lowest ``val_loss``, else the last)."""
    names = {"loss": "train_loss", "val_loss": "val_loss"}
    history = pd.DataFrame({names[k]: v for k, v in hist.history.items() if k in names})
    history.index = pd.RangeIndex(1, len(history) + 1, name="epoch")
    model.history_ = history
    model.n_epochs_ = len(history)
    model.best_epoch_ = int(history["val_loss"].idxmin()) if "val_loss" in history else model.n_epochs_


def build_dot_product(n_users: int, n_items: int, n_factors: int = 32, *, biases: bool = True,
                      y_range: tuple[float, float] | None = None, weight_decay: float = 0.0,
                      dropout: float = 0.0, seed: int | None = 0) -> keras.Model:
    r"""The Keras dot-product network: inputs ``user`` and ``item`` (inner indices, shape ``(batch,)``).

    .. math::  \hat y_{ui} = \sigma\big(b + b_u + b_i + p_u^\top q_i\big)(y_{max} - y_{min}) + y_{min}
    """
    seeds = _Seeds(seed)
    user = keras.Input(shape=(), dtype="int32", name="user")
    item = keras.Input(shape=(), dtype="int32", name="item")
    p = keras.layers.Dropout(dropout, seed=seeds())(_embedding(n_users, n_factors, weight_decay, "user_emb", seeds)(user))
    q = keras.layers.Dropout(dropout, seed=seeds())(_embedding(n_items, n_factors, weight_decay, "item_emb", seeds)(item))
    x = keras.layers.Dot(axes=1, name="dot")([p, q])  # (batch, 1)
    if biases:
        b_u = _embedding(n_users, 1, weight_decay, "user_bias", seeds, std=0)(user)  # (batch, 1)
        b_i = _embedding(n_items, 1, weight_decay, "item_bias", seeds, std=0)(item)
        x = keras.layers.Add()([x, b_u, b_i])
        x = GlobalBias(name="global_bias")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Reshape(())(x)
    if y_range is not None:
        low, high = y_range
        x = keras.layers.Activation("sigmoid")(x)
        x = keras.layers.Rescaling(high - low, offset=low, name="y_range")(x)
    return keras.Model([user, item], x, name="dot_product")


def build_neumf(n_users: int, n_items: int, n_factors: int = 32, layers=(64, 32, 16), *,
                weight_decay: float = 0.0, dropout: float = 0.0, seed: int | None = 0) -> keras.Model:
    r"""The Keras NeuMF network (He et al. 2017), returning a logit:
    :math:`h^\top [\, p^G_u \odot q^G_i ;\, \mathrm{MLP}([p^M_u; q^M_i]) ] + b`."""
    seeds = _Seeds(seed)
    user = keras.Input(shape=(), dtype="int32", name="user")
    item = keras.Input(shape=(), dtype="int32", name="item")
    dt = DTYPE
    gmf = keras.layers.Multiply(dtype=dt)([_embedding(n_users, n_factors, weight_decay, "gmf_user", seeds, dtype=dt)(user),
                                           _embedding(n_items, n_factors, weight_decay, "gmf_item", seeds, dtype=dt)(item)])
    h = keras.layers.Concatenate(dtype=dt)([
        _embedding(n_users, layers[0] // 2, weight_decay, "mlp_user", seeds, dtype=dt)(user),
        _embedding(n_items, layers[0] // 2, weight_decay, "mlp_item", seeds, dtype=dt)(item)])
    for width in layers[1:]:
        h = keras.layers.Dense(width, activation="relu", dtype=dt,
                               kernel_initializer=keras.initializers.GlorotUniform(seeds()))(
            keras.layers.Dropout(dropout, seed=seeds(), dtype=dt)(h))
    x = keras.layers.Dense(1, name="out", dtype=dt, kernel_initializer=keras.initializers.GlorotUniform(seeds()))(
        keras.layers.Concatenate(dtype=dt)([keras.layers.Dropout(dropout, seed=seeds(), dtype=dt)(gmf), h]))
    return keras.Model([user, item], keras.layers.Reshape((), dtype=dt)(x), name="neumf")


class _Epochs(keras.utils.PyDataset):
    """One epoch of shuffled mini-batches; ``make(rng)`` builds the epoch's examples (redrawn each epoch)."""

    def __init__(self, make, batch_size: int, rng: np.random.Generator):
        super().__init__()
        self.make, self.batch_size, self.rng = make, batch_size, rng
        self.on_epoch_end()

    def on_epoch_end(self):
        x, y = self.make(self.rng)
        order = self.rng.permutation(len(y))
        self.x, self.y = {k: v[order] for k, v in x.items()}, y[order]

    def __len__(self):
        return -(-len(self.y) // self.batch_size)

    def __getitem__(self, index):
        sl = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return {k: v[sl] for k, v in self.x.items()}, self.y[sl]


class _KerasRecommender(Recommender):
    """Shared training, prediction and scoring of the Keras models (not used directly)."""

    def _predict_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        out = self.net_.predict({"user": u.astype(np.int32), "item": i.astype(np.int32)}, batch_size=65536, verbose=0)
        return np.asarray(out, dtype=float).reshape(-1)

    def _estimate(self, u, i):
        return estimate_known_pairs(u, i, self._predict_pairs)

    def _scores(self, users):
        users = np.asarray(users, dtype=np.int64)
        n = self.data_.n_items
        return self._predict_pairs(np.repeat(users, n), np.tile(np.arange(n), len(users))).reshape(len(users), n)

    def _train(self, data: Interactions, validation: HeldOut | None, loss, examples) -> None:
        """Compile ``net_`` with Adam and ``loss`` and train it with early stopping; sets the history.

        ``examples(u, i, r, rng) -> (inputs, targets)`` turns training (or validation) pairs into an
        epoch's examples (NeuMF adds negatives drawn with ``rng``)."""
        n_epochs = check_positive_int(self.n_epochs, "n_epochs")
        batch_size = check_positive_int(self.batch_size, "batch_size")
        patience = check_early_stopping(self)
        rng = check_random_state(self.random_state)
        self.seed_ = derive_seed(rng) % (2**31 - 1)
        idx, held = split_validation(data, validation, patience, self.validation_fraction, rng)
        val = None if held is None else held.known_triples()
        self.net_ = self.build_network()
        self.net_.compile(optimizer=keras.optimizers.Adam(check_finite_number(self.lr, "lr", minimum=0, strict=True),
                                                          epsilon=1e-8), loss=loss)
        u, i, r = data.u[idx].astype(np.int64), data.i[idx].astype(np.int64), data.r[idx]
        epochs = _Epochs(lambda g: examples(u, i, r, g), batch_size, rng)
        callbacks, validation_data = [], None
        if val is not None:
            validation_data = examples(*(np.asarray(a) for a in val), rng.spawn(1)[0])
            if patience is not None:
                callbacks.append(keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True))
        # shuffle=False: the batches are already shuffled with the model's generator (Keras would reorder
        # them with the global random state)
        hist = self.net_.fit(epochs, epochs=n_epochs, validation_data=validation_data, callbacks=callbacks,
                             shuffle=False, verbose=0)
        record_history(self, hist)

    def _factors(self, layer: str) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.net_.get_layer(layer).embeddings, dtype=float)


class DotProduct(_KerasRecommender):
    r"""The dot-product model with biases and a bounded output, in Keras (ratings, MSE loss).

    .. math::  \hat r_{ui} = \sigma\big(b + b_u + b_i + p_u^\top q_i\big)(r_{max} - r_{min} + 1) + r_{min} - \tfrac12

    Parameters mirror :class:`course_lib.models.torch_models.DotProduct`; ``weight_decay`` is
    applied as an L2 regulariser of ``weight_decay / 2`` on the embeddings (the same gradient).

    Attributes
    ----------
    net_ : the trained ``keras.Model``.  history_, n_epochs_, best_epoch_ : losses per epoch.
    user_factors_, item_factors_ : the embedding tables.
    """

    def __init__(self, n_factors: int = 32, biases: bool = True, n_epochs: int = 20, batch_size: int = 1024,
                 lr: float = 5e-3, weight_decay: float = 1e-4, dropout: float = 0.0, early_stopping: bool = True,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 2, random_state: int | None = 0):
        self.n_factors = n_factors
        self.biases = biases
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state

    def build_network(self) -> keras.Model:
        low, high = self.data_.rating_scale
        return build_dot_product(self.data_.n_users, self.data_.n_items, check_positive_int(self.n_factors, "n_factors"),
                                 biases=bool(self.biases), y_range=(low - 0.5, high + 0.5),
                                 weight_decay=check_finite_number(self.weight_decay, "weight_decay", minimum=0),
                                 dropout=check_rate(self.dropout, "dropout"), seed=self.seed_)

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        def examples(u, i, r, rng):
            return {"user": u.astype(np.int32), "item": i.astype(np.int32)}, r.astype(np.float32)

        self._train(data, validation, "mse", examples)

    @property
    def user_factors_(self) -> np.ndarray:
        """The learned user vectors, shape ``(n_users, n_factors)``."""
        return self._factors("user_emb")

    @property
    def item_factors_(self) -> np.ndarray:
        """The learned item vectors, shape ``(n_items, n_factors)``."""
        return self._factors("item_emb")


class NeuMF(_KerasRecommender):
    r"""NeuMF in Keras, trained on implicit feedback with binary cross-entropy.

    Each epoch draws ``n_negatives`` unobserved items per observed pair (label 0); early
    stopping watches the loss on the held-out positives with negatives drawn once. Scores are
    logits (``predict`` is not a rating). ``user_factors_`` / ``item_factors_`` are the GMF embeddings.

    Reference: X. He et al., "Neural Collaborative Filtering", WWW 2017.
    """

    _predicts_ratings = False

    def __init__(self, n_factors: int = 32, layers: tuple[int, ...] = (64, 32, 16), n_epochs: int = 20,
                 batch_size: int = 1024, lr: float = 1e-3, weight_decay: float = 0.0, dropout: float = 0.0,
                 n_negatives: int = 4, early_stopping: bool = True, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 2, random_state: int | None = 0):
        self.n_factors = n_factors
        self.layers = layers
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.n_negatives = n_negatives
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state

    def build_network(self) -> keras.Model:
        return build_neumf(self.data_.n_users, self.data_.n_items, check_positive_int(self.n_factors, "n_factors"),
                           tuple(self.layers), weight_decay=check_finite_number(self.weight_decay, "weight_decay", minimum=0),
                           dropout=check_rate(self.dropout, "dropout"), seed=self.seed_)

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        n_negatives = check_positive_int(self.n_negatives, "n_negatives")
        seen = pair_keys(data.u, data.i, data.n_items)

        def examples(u, i, r, rng):  # the positives, and n_negatives unseen items per positive
            nu, ni = sample_unseen(u, data.n_items, seen, n_negatives, rng)
            x = {"user": np.concatenate([u, nu]).astype(np.int32), "item": np.concatenate([i, ni]).astype(np.int32)}
            return x, np.concatenate([np.ones(len(u)), np.zeros(len(nu))]).astype(np.float32)

        self._train(data, validation, keras.losses.BinaryCrossentropy(from_logits=True), examples)

    @property
    def user_factors_(self) -> np.ndarray:
        """The learned GMF user vectors, shape ``(n_users, n_factors)``."""
        return self._factors("gmf_user")

    @property
    def item_factors_(self) -> np.ndarray:
        """The learned GMF item vectors, shape ``(n_items, n_factors)``."""
        return self._factors("gmf_item")
