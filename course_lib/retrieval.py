r"""Two-tower retrieval, the framework-free parts: tower inputs, sampling probabilities, the in-batch loss.

A two-tower model maps a user (query) :math:`u` to :math:`p_u = f(x_u) \in \mathbb{R}^d` and an item
to :math:`q_i = g(y_i) \in \mathbb{R}^d`, and scores the pair by the inner product
:math:`s(u, i) = \langle p_u, q_i \rangle`: the item vectors can be computed once and indexed for
maximum inner-product search (:mod:`course_lib.ann`). It is trained on observed pairs
:math:`(u_b, i_b)_{b=1..B}` with the **in-batch sampled softmax**: the other items of the batch are
the negatives of each row,

.. math::

    \ell = -\frac1B \sum_{b=1}^{B} \log \frac{e^{s^c_{bb}}}{\sum_{c=1}^{B} e^{s^c_{bc}}},
    \qquad s^c_{bc} = \frac{\langle p_{u_b}, q_{i_c}\rangle}{\tau} - \log Q(i_c),

with logits of shape :math:`B \times B` (row :math:`b`: one user; column :math:`c`: one item of
the batch), temperature :math:`\tau`, and the **logQ correction** :math:`-\log Q(i_c)`, where
:math:`Q(j)` is the probability that a batch slot holds item :math:`j`. A batch of observed pairs
holds item :math:`j` with probability :math:`Q(j) = n_j / N` (its share of the training pairs), so
popular items are over-represented among the negatives.

Why the correction. The full softmax :math:`P(j \mid u) \propto e^{s_{uj}}` over all :math:`n` items
has the log-likelihood gradient :math:`\nabla s_{ui} - \mathbb{E}_{j \sim P(\cdot \mid u)}[\nabla s_{uj}]`.
With candidates drawn from :math:`Q` instead, importance sampling estimates that expectation by
:math:`\sum_c w_c \nabla s_{u c} / \sum_c w_c` with weights
:math:`w_c = e^{s_{uc}} / Q(c) = e^{s_{uc} - \log Q(c)}`: exactly the softmax of the corrected logits.
Numerator and denominator are each unbiased (up to the same factor :math:`B`) for their full-softmax
counterparts; their ratio (self-normalised importance sampling) is consistent, its bias vanishing
as :math:`B` grows. Without the correction the weights are :math:`e^{s_{uc}}` and the estimate
targets :math:`P'(j \mid u) \propto Q(j)\, e^{s_{uj}}`: the model learns
:math:`e^{s_{uj}} \propto P(j \mid u) / Q(j)`, scores with popularity divided out, and ranks popular
items too low. The correction is for training only: retrieval scores by :math:`\langle p_u, q_i\rangle`.

**Accidental hits.** When item :math:`i_b` also fills another column :math:`c \ne b` (a popular
movie twice in a batch), that column is the positive again, not a negative; it is removed from the
row's softmax (logit :math:`-\infty`).

References: S. Bengio and J.-S. Senécal, *Adaptive importance sampling to accelerate training of a
neural probabilistic language model*, IEEE TNN 19(4), 2008; S. Jean et al., *On using very large
target vocabulary for neural machine translation*, ACL 2015; X. Yi et al., *Sampling-bias-corrected
neural modeling for large corpus item recommendations*, RecSys 2019; TensorFlow Recommenders'
``tfrs.tasks.Retrieval`` (``candidate_sampling_probability``, ``remove_accidental_hits``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .features import FeatureEncoder
from .interactions import Interactions
from .validation import check_finite_number

__all__ = ["USER_FEATURES", "ITEM_FEATURES", "split_features", "tower_inputs", "tower_cardinalities",
           "sampling_probability", "in_batch_logits", "in_batch_softmax_loss"]

#: the inputs a user tower can read (``user_id`` = the ID embedding, row 0 = unknown)
USER_FEATURES = ("user_id", "age", "gender", "occupation")
#: the inputs an item tower can read
ITEM_FEATURES = ("item_id", "genres", "year")


def split_features(features) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(user_features, item_features)`` of ``features``, each in the order of the constants; checked."""
    feats = tuple(features)
    unknown = [f for f in feats if f not in USER_FEATURES + ITEM_FEATURES]
    users = tuple(f for f in USER_FEATURES if f in feats)
    items = tuple(f for f in ITEM_FEATURES if f in feats)
    if unknown or not users or not items:
        raise ValueError(f"features must name at least one user input among {USER_FEATURES} and one item input "
                         f"among {ITEM_FEATURES}, got {feats!r}" + (f" (unknown: {unknown})" if unknown else ""))
    return users, items


def tower_inputs(side: str, raw_ids, data: Interactions, encoder: FeatureEncoder, features,
                 table: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """The arrays one tower reads for ``raw_ids``: ``{feature: array with len(raw_ids) rows}``.

    ``side`` is ``"user"`` or ``"item"``. ``user_id`` / ``item_id`` become the code ``inner index
    + 1`` (``0`` = an id unknown in training: the shared "unknown" row); the other features are
    encoded by ``encoder`` from ``table`` (default the side table attached to ``data``), and an id
    absent from the table gets the "unknown" code 0 (zero genres).
    """
    if side not in ("user", "item"):
        raise ValueError(f"side must be 'user' or 'item', got {side!r}")
    raw_ids = np.asarray(raw_ids).ravel()
    out: dict[str, np.ndarray] = {}
    key = f"{side}_id"
    if key in features:
        inner = data.encode_users(raw_ids) if side == "user" else data.encode_items(raw_ids)
        out[key] = (inner + 1).astype(np.int64)
    wanted = [f for f in features if f != key]
    if wanted:
        table = (data.users if side == "user" else data.items) if table is None else table
        if table is None:
            raise ValueError(f"the features {wanted} need the {side} table: fit(train, {side}s=...) "
                             f"(MovieLens's {'users' if side == 'user' else 'movies'} table)")
        rows = table.drop_duplicates(key).set_index(key).reindex(raw_ids).reset_index()
        encoded = encoder.encode_users(rows) if side == "user" else encoder.encode_items(rows)
        for f in wanted:
            out[f] = np.ascontiguousarray(encoded[f])
    return out


def tower_cardinalities(data: Interactions, encoder: FeatureEncoder) -> dict[str, int]:
    """Rows of each input's embedding table (``0`` = unknown included); ``genres``: the multi-hot width."""
    return dict(encoder.cardinalities, user_id=data.n_users + 1, item_id=data.n_items + 1)


def sampling_probability(item_indices, n_items: int) -> np.ndarray:
    r""":math:`Q(j) = n_j / N`: the share of the training pairs that hold item :math:`j`, shape ``(n_items,)``.

    The probability that one slot of a batch of shuffled training pairs holds item :math:`j`
    (Yi et al. 2019 estimate it from a stream; here the counts are exact). Items without a
    training pair get :math:`Q = 0`: they never fill a batch, so their correction is never used.
    """
    i = np.asarray(item_indices, dtype=np.int64).ravel()
    if i.size == 0:
        raise ValueError("sampling_probability needs at least one training pair")
    if i.min() < 0 or i.max() >= n_items:
        raise ValueError(f"item indices must lie in 0..{n_items - 1}, got {i.min()}..{i.max()}")
    return np.bincount(i, minlength=n_items) / i.size


def in_batch_logits(P, Q, item_ids, log_q=None, *, remove_accidental_hits: bool = True,
                    temperature: float = 1.0) -> np.ndarray:
    r"""The corrected in-batch logits :math:`s^c = P Q^\top / \tau - \log Q(i_c)`, shape ``(B, B)``, float64.

    ``P``: user vectors ``(B, d)``; ``Q``: the vectors of the batch's items ``(B, d)`` (row ``b`` =
    the positive of row ``b`` of ``P``); ``item_ids``: the items' ids ``(B,)`` (for accidental hits);
    ``log_q``: :math:`\log Q(i_c)` per column ``(B,)``, or ``None`` for no correction. Accidental
    hits (column ``c != b`` holding the item of row ``b``) get ``-inf``.
    """
    P, Q = np.asarray(P, dtype=np.float64), np.asarray(Q, dtype=np.float64)
    if P.ndim != 2 or P.shape != Q.shape:
        raise ValueError(f"P and Q must both have shape (batch, dim), got {P.shape} and {Q.shape}")
    tau = check_finite_number(temperature, "temperature", minimum=0, strict=True)
    S = P @ Q.T / tau
    if log_q is not None:
        log_q = np.asarray(log_q, dtype=np.float64).ravel()
        if log_q.shape != (len(P),):
            raise ValueError(f"log_q must have one value per column ({len(P)}), got shape {log_q.shape}")
        S = S - log_q[None, :]
    if remove_accidental_hits:
        ids = np.asarray(item_ids).ravel()
        if ids.shape != (len(P),):
            raise ValueError(f"item_ids must have one id per row ({len(P)}), got shape {ids.shape}")
        hit = (ids[:, None] == ids[None, :]) & ~np.eye(len(P), dtype=bool)
        S = np.where(hit, -np.inf, S)
    return S


def in_batch_softmax_loss(P, Q, item_ids, log_q=None, *, remove_accidental_hits: bool = True,
                          temperature: float = 1.0) -> float:
    r"""The in-batch sampled softmax loss :math:`\ell` of the module docstring (mean over the batch), NumPy.

    The reference the PyTorch and Keras versions are tested against; arguments as
    :func:`in_batch_logits`.
    """
    S = in_batch_logits(P, Q, item_ids, log_q, remove_accidental_hits=remove_accidental_hits,
                        temperature=temperature)
    m = S.max(axis=1, keepdims=True)
    log_norm = m[:, 0] + np.log(np.exp(S - m).sum(axis=1))
    return float(np.mean(log_norm - np.diag(S)))
