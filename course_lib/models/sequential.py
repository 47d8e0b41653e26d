r"""Sequence-aware baselines that read each user's time-ordered history (lesson 09), without PyTorch.

The neural sequence models (GRU4Rec, LSTMRec, Caser) are in
:mod:`course_lib.models.torch_models.sequence`; the histories come from
:func:`course_lib.sequences.user_histories`.
"""

from __future__ import annotations

import numpy as np

from ..interactions import Interactions
from ..sequences import pad_left, user_histories
from ..similarities import binary_cosine
from ..validation import check_positive_int
from .base import Recommender

__all__ = ["LastItemKNN"]


class LastItemKNN(Recommender):
    r"""Next-item baseline: score every item by its cosine similarity to the user's last item(s).

    .. math::  s_{uj} = \sum_{t=1}^{n} \cos(\mathbf{x}_{:, i_{u,T-t+1}}, \mathbf{x}_{:, j})

    with binary item columns :math:`\mathbf{x}_{:,j} \in \{0,1\}^{|U|}` (the similarity of
    :func:`course_lib.similarities.binary_cosine`) and :math:`i_{u,T}` the user's most recent
    item. ``fit`` needs ratings with a ``timestamp`` column.

    Parameters
    ----------
    n_last : how many of the user's most recent items vote (1 = "items similar to the last one").

    Attributes
    ----------
    similarity_ ``(n_items, n_items)`` cosine similarities (diagonal 0), last_ ``(n_users, n_last)`` the
    users' most recent items (shifted by one, 0 = none).
    """

    _predicts_ratings = False

    def __init__(self, n_last: int = 1):
        self.n_last = n_last

    def _fit(self, data: Interactions, validation=None) -> None:
        n_last = check_positive_int(self.n_last, "n_last")
        self.similarity_ = binary_cosine(data.matrix)
        self.last_ = pad_left(user_histories(data), n_last)

    def _scores(self, users):
        last = self.last_[np.asarray(users, dtype=np.int64)]
        padded = np.vstack([np.zeros((1, self.similarity_.shape[1])), self.similarity_])  # row 0 = padding
        return padded[last].sum(axis=1)

    def _estimate(self, u, i):
        u, i = np.asarray(u), np.asarray(i)
        known = (u >= 0) & (i >= 0)
        uu, ii = np.where(known, u, 0), np.where(known, i, 0)
        return self._scores(uu)[np.arange(len(uu)), ii], ~known
