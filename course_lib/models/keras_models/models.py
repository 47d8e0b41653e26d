r"""Keras 3 (TensorFlow backend) versions of the dot-product model and NeuMF.

They follow the same :class:`~course_lib.models.base.Recommender` contract and the same
training recipe as the PyTorch models in :mod:`course_lib.models.torch_models`, so a lesson
can fit both on the same split and compare them with the same metrics:

* Adam; the PyTorch ``weight_decay`` :math:`wd` (coupled L2, gradient :math:`wd\,\theta`)
  corresponds to an L2 regulariser of :math:`wd/2` on every embedding here;
* a validation share carved from the training ratings, ``EarlyStopping`` with the best
  weights restored, ``fit(verbose=0)``;
* the output bounded to :math:`[r_{min} - 0.5, r_{max} + 0.5]` with a scaled sigmoid.

A common mistake in Keras recommender code is to ``Dot`` two ``Embedding`` outputs of shape
``(batch, 1, f)`` without flattening them: the result is ``(batch, 1, 1)``, broadcasting then
silently compares the wrong things. Here every embedding is flattened to ``(batch, f)`` first.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from ...interactions import Interactions
from ...validation import check_finite_number, check_positive_int
from ..base import Recommender
from ..implicit import sample_unseen

__all__ = ["DotProduct", "NeuMF", "build_dot_product", "build_neumf"]


def _l2(weight_decay: float):
    return keras.regularizers.L2(weight_decay / 2) if weight_decay > 0 else None


def _embedding(n: int, dim: int, weight_decay: float, name: str, std: float = 0.01):
    init = keras.initializers.RandomNormal(0.0, std) if std > 0 else "zeros"
    return keras.layers.Embedding(n, dim, embeddings_initializer=init, embeddings_regularizer=_l2(weight_decay),
                                  name=name)


class GlobalBias(keras.layers.Layer):
    """Adds one learned scalar :math:`b` to its input."""

    def build(self, input_shape):
        self.b = self.add_weight(shape=(1,), initializer="zeros", name="b")

    def call(self, x):
        return x + self.b


def build_dot_product(n_users: int, n_items: int, n_factors: int = 32, *, biases: bool = True,
                      y_range: tuple[float, float] | None = None, weight_decay: float = 0.0,
                      dropout: float = 0.0) -> keras.Model:
    r"""The Keras dot-product network: inputs ``user`` and ``item`` (inner indices, shape ``(batch,)``).

    .. math::  \hat y_{ui} = \sigma\big(b + b_u + b_i + p_u^\top q_i\big)(y_{max} - y_{min}) + y_{min}
    """
    user = keras.Input(shape=(), dtype="int32", name="user")
    item = keras.Input(shape=(), dtype="int32", name="item")
    p = keras.layers.Dropout(dropout)(_embedding(n_users, n_factors, weight_decay, "user_emb")(user))  # (batch, f)
    q = keras.layers.Dropout(dropout)(_embedding(n_items, n_factors, weight_decay, "item_emb")(item))
    x = keras.layers.Dot(axes=1, name="dot")([p, q])  # (batch, 1)
    if biases:
        b_u = _embedding(n_users, 1, weight_decay, "user_bias", std=0)(user)  # (batch, 1)
        b_i = _embedding(n_items, 1, weight_decay, "item_bias", std=0)(item)
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
                weight_decay: float = 0.0, dropout: float = 0.0) -> keras.Model:
    r"""The Keras NeuMF network (He et al. 2017), returning a logit:
    :math:`h^\top [\, p^G_u \odot q^G_i ;\, \mathrm{MLP}([p^M_u; q^M_i]) ] + b`."""
    user = keras.Input(shape=(), dtype="int32", name="user")
    item = keras.Input(shape=(), dtype="int32", name="item")
    gmf = keras.layers.Multiply()([_embedding(n_users, n_factors, weight_decay, "gmf_user")(user),
                                   _embedding(n_items, n_factors, weight_decay, "gmf_item")(item)])
    h = keras.layers.Concatenate()([_embedding(n_users, layers[0] // 2, weight_decay, "mlp_user")(user),
                                    _embedding(n_items, layers[0] // 2, weight_decay, "mlp_item")(item)])
    for width in layers[1:]:
        h = keras.layers.Dense(width, activation="relu")(keras.layers.Dropout(dropout)(h))
    x = keras.layers.Dense(1, name="out")(keras.layers.Concatenate()([keras.layers.Dropout(dropout)(gmf), h]))
    return keras.Model([user, item], keras.layers.Reshape(())(x), name="neumf")


class _KerasRecommender(Recommender):
    """Shared prediction and scoring of the Keras models."""

    def _predict_pairs(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        out = self.model_.predict({"user": u.astype(np.int32), "item": i.astype(np.int32)},
                                  batch_size=65536, verbose=0)
        return np.asarray(out, dtype=float).reshape(-1)

    def _estimate(self, u, i):
        u, i = np.asarray(u, dtype=np.int64), np.asarray(i, dtype=np.int64)
        impossible = (u < 0) | (i < 0)
        est = np.zeros(len(u))
        ok = ~impossible
        if ok.any():
            est[ok] = self._predict_pairs(u[ok], i[ok])
        return est, impossible

    def _scores(self, users):
        users = np.asarray(users, dtype=np.int64)
        n = self.data_.n_items
        return self._predict_pairs(np.repeat(users, n), np.tile(np.arange(n), len(users))).reshape(len(users), n)

    def _split(self, data: Interactions, rng: np.random.Generator):
        share = check_finite_number(self.validation, "validation", minimum=0)
        perm = rng.permutation(data.n_ratings)
        n_val = int(round(share * data.n_ratings))
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    def _history(self, hist: dict) -> pd.DataFrame:
        names = {"loss": "train_loss", "val_loss": "val_loss"}
        df = pd.DataFrame({names[k]: v for k, v in hist.items() if k in names})
        df.index = pd.RangeIndex(1, len(df) + 1, name="epoch")
        return df


class DotProduct(_KerasRecommender):
    r"""The dot-product model with biases and a bounded output, in Keras (ratings, MSE loss).

    .. math::  \hat r_{ui} = \sigma\big(b + b_u + b_i + p_u^\top q_i\big)(r_{max} - r_{min} + 1) + r_{min} - \tfrac12

    Parameters mirror :class:`course_lib.models.torch_models.DotProduct`; ``weight_decay`` is
    applied as an L2 regulariser of ``weight_decay / 2`` on the embeddings (the same gradient).

    Attributes
    ----------
    model_ : the trained ``keras.Model``.  history_ : train and validation loss per epoch.
    """

    def __init__(self, n_factors: int = 32, biases: bool = True, n_epochs: int = 20, batch_size: int = 1024,
                 lr: float = 5e-3, weight_decay: float = 1e-4, dropout: float = 0.0, validation: float = 0.1,
                 patience: int | None = 2, random_state: int | None = 0):
        self.n_factors = n_factors
        self.biases = biases
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.validation = validation
        self.patience = patience
        self.random_state = random_state

    def _fit(self, data: Interactions) -> None:
        f = check_positive_int(self.n_factors, "n_factors")
        n_epochs = check_positive_int(self.n_epochs, "n_epochs")
        seed = 0 if self.random_state is None else int(self.random_state)
        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        low, high = data.rating_scale
        self.model_ = build_dot_product(data.n_users, data.n_items, f, biases=bool(self.biases),
                                        y_range=(low - 0.5, high + 0.5),
                                        weight_decay=check_finite_number(self.weight_decay, "weight_decay", minimum=0),
                                        dropout=check_finite_number(self.dropout, "dropout", minimum=0))
        self.model_.compile(optimizer=keras.optimizers.Adam(self.lr, epsilon=1e-8), loss="mse")
        train_idx, val_idx = self._split(data, rng)
        def inputs(idx):
            return {"user": data.u[idx].astype(np.int32), "item": data.i[idx].astype(np.int32)}
        callbacks, val = [], None
        if len(val_idx):
            val = (inputs(val_idx), data.r[val_idx].astype(np.float32))
            if self.patience is not None:
                callbacks.append(keras.callbacks.EarlyStopping(patience=self.patience, restore_best_weights=True))
        hist = self.model_.fit(inputs(train_idx), data.r[train_idx].astype(np.float32), batch_size=self.batch_size,
                               epochs=n_epochs, validation_data=val, callbacks=callbacks, shuffle=True, verbose=0)
        self.history_ = self._history(hist.history)

    def item_embeddings(self) -> np.ndarray:
        """The learned item vectors, shape ``(n_items, n_factors)``."""
        return np.asarray(self.model_.get_layer("item_emb").embeddings, dtype=float)

    def user_embeddings(self) -> np.ndarray:
        """The learned user vectors, shape ``(n_users, n_factors)``."""
        return np.asarray(self.model_.get_layer("user_emb").embeddings, dtype=float)


class NeuMF(_KerasRecommender):
    r"""NeuMF in Keras, trained on implicit feedback with binary cross-entropy.

    Each epoch draws ``n_negatives`` unobserved items per observed pair (label 0); early
    stopping watches the loss on a held-out share of the positives with fixed negatives.
    Scores are logits (``predict`` is not a rating).

    Reference: X. He et al., "Neural Collaborative Filtering", WWW 2017.
    """

    clip = False

    def __init__(self, n_factors: int = 32, layers: tuple[int, ...] = (64, 32, 16), n_epochs: int = 20,
                 batch_size: int = 1024, lr: float = 1e-3, weight_decay: float = 0.0, dropout: float = 0.0,
                 n_negatives: int = 4, validation: float = 0.1, patience: int | None = 2,
                 random_state: int | None = 0):
        self.n_factors = n_factors
        self.layers = layers
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.n_negatives = n_negatives
        self.validation = validation
        self.patience = patience
        self.random_state = random_state

    def _fit(self, data: Interactions) -> None:
        f = check_positive_int(self.n_factors, "n_factors")
        n_epochs = check_positive_int(self.n_epochs, "n_epochs")
        n_neg = check_positive_int(self.n_negatives, "n_negatives")
        seed = 0 if self.random_state is None else int(self.random_state)
        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        self.model_ = build_neumf(data.n_users, data.n_items, f, tuple(self.layers),
                                  weight_decay=check_finite_number(self.weight_decay, "weight_decay", minimum=0),
                                  dropout=check_finite_number(self.dropout, "dropout", minimum=0))
        self.model_.compile(optimizer=keras.optimizers.Adam(self.lr, epsilon=1e-8),
                            loss=keras.losses.BinaryCrossentropy(from_logits=True))
        seen = np.unique(data.u.astype(np.int64) * data.n_items + data.i)
        train_idx, val_idx = self._split(data, rng)

        def examples(idx, generator):
            u, i = data.u[idx].astype(np.int64), data.i[idx].astype(np.int64)
            nu, ni = sample_unseen(u, data.n_items, seen, n_neg, generator)
            x = {"user": np.concatenate([u, nu]).astype(np.int32), "item": np.concatenate([i, ni]).astype(np.int32)}
            return x, np.concatenate([np.ones(len(u)), np.zeros(len(nu))]).astype(np.float32)

        val = examples(val_idx, np.random.default_rng(12345)) if len(val_idx) else None
        rows, best, best_weights, waited = [], np.inf, None, 0
        for _ in range(n_epochs):
            x, y = examples(train_idx, rng)
            order = rng.permutation(len(y))
            hist = self.model_.fit({k: v[order] for k, v in x.items()}, y[order], batch_size=self.batch_size,
                                   epochs=1, shuffle=False, verbose=0)
            row = {"loss": hist.history["loss"][0]}
            if val is not None:
                row["val_loss"] = float(self.model_.evaluate(val[0], val[1], batch_size=65536, verbose=0))
                if self.patience is not None:
                    if row["val_loss"] < best - 1e-6:
                        best, best_weights, waited = row["val_loss"], self.model_.get_weights(), 0
                    else:
                        waited += 1
            rows.append(row)
            if val is not None and self.patience is not None and waited >= self.patience:
                break
        if best_weights is not None:
            self.model_.set_weights(best_weights)
        self.history_ = self._history({k: [r[k] for r in rows] for k in rows[0]})
