r"""Two-tower retrieval in Keras 3, the twin of :class:`course_lib.models.torch_models.TwoTower`.

The same towers (an embedding per input, the genre multi-hot through a linear map, concatenation,
``Dense(hidden, relu) -> Dense(d)``), the same in-batch sampled softmax with the logQ correction
(:mod:`course_lib.retrieval`), the same full-softmax validation loss for early stopping, the same
hyperparameters. Keras-RS 0.4.0 provides the correction:
``keras_rs.layers.SamplingProbabilityCorrection`` computes :math:`s - \log(\max(Q, 10^{-6}))` (a
batch item has :math:`Q \ge 1/N`, so the clip never applies below a million training pairs).
Its ``RemoveAccidentalHits`` is **not** used: in 0.4.0 it adds about :math:`10^{-40}` to the
logits of accidental hits, which leaves them unchanged (keras-team/keras-rs pull request 206;
``tests/test_two_tower.py`` shows it), so :class:`MaskAccidentalHits` masks them here.

The training network maps a batch of ``B`` pairs to the corrected logits ``(B, B)``; the labels
are ``0..B-1`` (the diagonal) and the loss is Keras's sparse categorical cross-entropy from logits.
Every initialiser and the ID dropout take seeds drawn from ``random_state``.
The towers compute in float64: the comment on
:data:`course_lib.models.keras_models.models.DTYPE` says why, with the measurements.

Reference: X. Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large Corpus Item
Recommendations", RecSys 2019; Keras-RS's retrieval layers (keras.io/keras_rs).
"""

from __future__ import annotations

import keras
import keras_rs
import numpy as np
from keras import ops

from ...interactions import HeldOut, Interactions
from ...retrieval import sampling_probability, tower_cardinalities, tower_inputs
from ...validation import derive_seed
from ..towers import TwoTowerModel
from .models import DTYPE, record_history

__all__ = ["IdDropout", "MaskAccidentalHits", "TwoTower", "build_tower", "build_two_tower"]

_MASKED = -1e9  # exp(-1e9 - max) is exactly 0: the column leaves the softmax


class _Seeds:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def __call__(self) -> int:
        return int(self.rng.integers(0, 2**31 - 1))


class IdDropout(keras.layers.Layer):
    """During training, replaces each ID by 0 (the "unknown" row) with probability ``rate`` (seeded)."""

    def __init__(self, rate: float, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = float(rate), int(seed)
        self.generator = keras.random.SeedGenerator(self.seed)

    def call(self, ids, training=None):
        if not training or self.rate <= 0:
            return ids
        drop = keras.random.uniform(ops.shape(ids), seed=self.generator) < self.rate
        return ops.where(drop, ops.zeros_like(ids), ids)


class MaskAccidentalHits(keras.layers.Layer):
    """Logits ``(B, B)`` with column ``c != b`` set to -1e9 where item ``c`` equals row ``b``'s positive."""

    def call(self, logits, item_ids):
        same = ops.equal(ops.expand_dims(item_ids, 1), ops.expand_dims(item_ids, 0))
        hit = ops.logical_and(same, ops.logical_not(ops.cast(ops.eye(ops.shape(item_ids)[0]), "bool")))
        return ops.where(hit, ops.full_like(logits, _MASKED), logits)


def _input(feature: str, cards: dict[str, int], name: str):
    if feature == "genres":
        return keras.Input(shape=(cards[feature],), dtype=DTYPE, name=name)
    return keras.Input(shape=(), dtype="int32", name=name)


def build_tower(features, cards: dict[str, int], n_factors: int, hidden: int, *, id_dropout: float,
                seeds, name: str, weight_decay: float = 0.0) -> keras.Model:
    """One tower: inputs ``{feature: (B,) int32 or (B, n_genres) float64}`` -> ``(B, n_factors)``.

    ``weight_decay``: an L2 penalty of ``weight_decay / 2`` on every kernel and embedding table."""
    reg = keras.regularizers.L2(weight_decay / 2) if weight_decay > 0 else None
    inputs, parts = {}, []
    for f in features:
        x = inputs[f] = _input(f, cards, f)
        if f == "genres":
            parts.append(keras.layers.Dense(n_factors, use_bias=False, name=f"{f}_linear", kernel_regularizer=reg, dtype=DTYPE,
                                            kernel_initializer=keras.initializers.GlorotUniform(seeds()))(x))
            continue
        if f in ("user_id", "item_id"):
            x = IdDropout(id_dropout, seeds(), name=f"{f}_dropout")(x)
        parts.append(keras.layers.Embedding(cards[f], n_factors, name=f"{f}_embedding", embeddings_regularizer=reg, dtype=DTYPE,
                                            embeddings_initializer=keras.initializers.RandomNormal(0, 0.1, seeds()))(x))
    h = keras.layers.Concatenate(dtype=DTYPE)(parts) if len(parts) > 1 else parts[0]
    h = keras.layers.Dense(hidden, activation="relu", kernel_regularizer=reg, dtype=DTYPE,
                           kernel_initializer=keras.initializers.GlorotUniform(seeds()))(h)
    out = keras.layers.Dense(n_factors, kernel_regularizer=reg, dtype=DTYPE, kernel_initializer=keras.initializers.GlorotUniform(seeds()))(h)
    return keras.Model(inputs, out, name=name)


def build_two_tower(user_features, item_features, cards: dict[str, int], *, n_factors: int = 32, hidden: int = 64,
                    id_dropout: float = 0.1, logq_correction: bool = True, remove_accidental_hits: bool = True,
                    temperature: float = 1.0, weight_decay: float = 0.0, seed: int = 0) -> keras.Model:
    r"""The training network: inputs ``user_<f>``, ``item_<f>`` (a batch of ``B`` pairs) and ``q``
    (:math:`Q(i_c)`, ``(B,)``) -> the corrected logits :math:`P Q^\top/\tau - \log Q` ``(B, B)``.

    Its layers ``user_tower`` and ``item_tower`` are the towers (:func:`build_tower`).
    """
    seeds = _Seeds(seed)
    user_tower = build_tower(user_features, cards, n_factors, hidden, id_dropout=id_dropout, seeds=seeds,
                             name="user_tower", weight_decay=weight_decay)
    item_tower = build_tower(item_features, cards, n_factors, hidden, id_dropout=id_dropout, seeds=seeds,
                             name="item_tower", weight_decay=weight_decay)
    u_in = {f: _input(f, cards, f"user_{f}") for f in user_features}
    i_in = {f: _input(f, cards, f"item_{f}") for f in item_features}
    q_in = keras.Input(shape=(), dtype=DTYPE, name="q")
    ids_in = keras.Input(shape=(), dtype="int32", name="item_index")
    p, q = user_tower(u_in), item_tower(i_in)
    logits = ops.matmul(p, ops.transpose(q)) / temperature
    if logq_correction:
        logits = keras_rs.layers.SamplingProbabilityCorrection(name="logq", dtype=DTYPE)(logits, q_in)
    if remove_accidental_hits:
        logits = MaskAccidentalHits(name="accidental_hits", dtype=DTYPE)(logits, ids_in)
    inputs = {**{f"user_{f}": x for f, x in u_in.items()}, **{f"item_{f}": x for f, x in i_in.items()},
              "q": q_in, "item_index": ids_in}
    return keras.Model(inputs, logits, name="two_tower")


class _Batches(keras.utils.PyDataset):
    """Shuffled batches of training pairs (reshuffled every epoch with the model's generator); labels 0..B-1."""

    def __init__(self, make_batch, n: int, batch_size: int, rng: np.random.Generator):
        super().__init__()
        self.make_batch, self.n, self.batch_size, self.rng = make_batch, n, batch_size, rng
        self.on_epoch_end()

    def on_epoch_end(self):
        order = self.rng.permutation(self.n)
        self.batches = [order[s:s + self.batch_size] for s in range(0, self.n, self.batch_size)]
        self.batches = [b for b in self.batches if len(b) > 1]  # a lone pair has no negative

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        rows = self.batches[index]
        return self.make_batch(rows), np.arange(len(rows), dtype=np.int32)


class _FullSoftmaxValidation(keras.callbacks.Callback):
    """Writes ``val_loss`` (the full softmax cross-entropy of the held-out pairs) into the epoch's logs."""

    def __init__(self, loss_fn):
        super().__init__()
        self.loss_fn = loss_fn

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_loss"] = self.loss_fn()


class TwoTower(TwoTowerModel):
    r"""Two-tower retrieval in Keras: the twin of :class:`course_lib.models.torch_models.TwoTower`.

    Same parameters, attributes, scoring (:math:`s(u,i) = p_u^\top q_i`), fallbacks and methods
    (:meth:`user_vectors`, :meth:`item_vectors`); see that class and :mod:`course_lib.retrieval`.
    ``net_`` is the Keras training network of :func:`build_two_tower`; ``weight_decay`` is an L2
    penalty of ``weight_decay / 2`` on every kernel and embedding (the gradient of PyTorch's coupled
    Adam weight decay). Call ``course.setup(seed, tensorflow=True)`` first for deterministic runs.
    """

    def build_network(self) -> keras.Model:
        """The (untrained) training network (also how ``load_model`` rebuilds it)."""
        return build_two_tower(self.user_features_, self.item_features_, tower_cardinalities(self.data_, self.encoder_),
                              n_factors=int(self.n_factors), hidden=int(self.hidden), id_dropout=float(self.id_dropout),
                              logq_correction=bool(self.logq_correction),
                              remove_accidental_hits=bool(self.remove_accidental_hits),
                              temperature=float(self.temperature), weight_decay=float(self.weight_decay),
                              seed=self.seed_)

    def _fit(self, data: Interactions, validation: HeldOut | None) -> None:
        patience, rng = self._start_fit(data)
        self.seed_ = derive_seed(rng) % (2**31 - 1)
        u, i, val = self._training_pairs(data, validation, patience, rng)
        self.sampling_probability_ = sampling_probability(i, data.n_items)
        U = tower_inputs("user", data.user_ids, data, self.encoder_, self.user_features_)
        V = tower_inputs("item", data.item_ids, data, self.encoder_, self.item_features_)

        def make_batch(rows):
            x = {f"user_{f}": _dtype(a[u[rows]]) for f, a in U.items()}
            x.update({f"item_{f}": _dtype(a[i[rows]]) for f, a in V.items()})
            x["q"] = self.sampling_probability_[i[rows]].astype(DTYPE)
            x["item_index"] = i[rows].astype(np.int32)
            return x

        self.net_ = self.build_network()
        self.net_.compile(optimizer=keras.optimizers.Adam(float(self.lr), epsilon=1e-8),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        callbacks = []
        if val is not None and len(val[0]):
            vu, vi = val

            def full_softmax_loss():
                P = self._tower("user", {f: a[vu] for f, a in U.items()})
                Q = self._tower("item", V)
                S = P.astype(np.float64) @ Q.astype(np.float64).T
                m = S.max(axis=1)
                return float(np.mean(m + np.log(np.exp(S - m[:, None]).sum(axis=1)) - S[np.arange(len(vi)), vi]))
            callbacks.append(_FullSoftmaxValidation(full_softmax_loss))
            if patience is not None:
                callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                                               restore_best_weights=True))
        elif patience is not None:
            raise ValueError("early stopping needs validation pairs: the validation set holds no known user and item")
        batches = _Batches(make_batch, len(u), int(self.batch_size), rng)
        hist = self.net_.fit(batches, epochs=int(self.n_epochs), callbacks=callbacks, shuffle=False,
                             verbose=1 if self.progress else 0)
        record_history(self, hist)

    # -- vectors -----------------------------------------------------------------------------
    def _tower(self, side: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
        tower = self.net_.get_layer(f"{side}_tower")
        n = len(next(iter(inputs.values())))
        out = np.empty((n, int(self.n_factors)), dtype=np.float32)
        for s in range(0, n, 65536):
            chunk = {k: _dtype(v[s:s + 65536]) for k, v in inputs.items()}
            out[s:s + 65536] = ops.convert_to_numpy(tower(chunk, training=False))
        return out


def _dtype(a: np.ndarray) -> np.ndarray:
    """Keras inputs: codes as int32, the genre multi-hot in the networks' float type (:data:`DTYPE`)."""
    return a.astype(DTYPE) if a.dtype.kind == "f" else a.astype(np.int32)
