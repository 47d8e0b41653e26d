r"""The encoded ratings container every model shares: id maps and a sparse user x item matrix.

Raw ids (MovieLens's ``user_id`` and ``item_id``) are mapped to *inner indices* ``0..n-1``
once, here, in order of first appearance in the training ratings, exactly as Surprise's
``Trainset`` does. Keeping Surprise's order is what lets the course's models reproduce
Surprise's predictions to the last bit (tie order in k-NN, update order in SGD).

The rating matrix :math:`R \in \mathbb{R}^{|U| \times |I|}` is stored sparse (CSR): row
:math:`u` holds the items user :math:`u` rated.

It is the one object a model's ``fit`` receives: besides the encoded ratings it carries their
timestamps (when the ratings have a ``timestamp`` column) and the side tables given to ``fit``
(``users``, ``items``, ``item_vectors``), for the models that read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .validation import check_ratings


def _stable_order(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """``np.argsort(codes, kind="stable")``; codes below 65,536 are sorted as uint16 (a radix sort,
    about 7x faster, the same permutation)."""
    if n_codes <= np.iinfo(np.uint16).max + 1:
        return np.argsort(codes.astype(np.uint16), kind="stable")
    return np.argsort(codes, kind="stable")


class UnknownIdError(KeyError):
    """A user or item id that the training data does not contain."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


class HeldOut(NamedTuple):
    """Held-out ratings encoded with a training set's id maps (``-1`` = an id training does not know)."""

    u: np.ndarray
    i: np.ndarray
    r: np.ndarray

    @property
    def known(self) -> np.ndarray:
        """True where both the user and the item are known to training."""
        return (self.u >= 0) & (self.i >= 0)

    def known_triples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(u, i, r)`` of the rows whose user and item training knows (what a validation loss can score)."""
        known = self.known
        return self.u[known], self.i[known], self.r[known]

    def __len__(self) -> int:  # the number of rows, not of fields
        return len(self.r)


@dataclass(eq=False)
class Interactions:
    """Ratings encoded to inner indices, in training order, with their timestamps and side tables.

    Attributes
    ----------
    user_ids, item_ids : raw id of each inner index, shapes ``(n_users,)`` and ``(n_items,)``.
    u, i : inner user and item index of each rating, shape ``(n_ratings,)``, training order.
    r : the ratings, float64, shape ``(n_ratings,)``.
    rating_scale : ``(lowest, highest)`` rating, used to clip predictions.
    t : the timestamps, shape ``(n_ratings,)``, or ``None`` when the ratings had no ``timestamp``.
    users, items, item_vectors : the side tables given to ``fit`` (or ``None``): MovieLens's
        ``users`` (user_id, age, gender, occupation ...) and ``movies`` (item_id, title, year,
        genres), and item vectors (a DataFrame indexed by item_id). They may describe ids that
        have no ratings.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    u: np.ndarray
    i: np.ndarray
    r: np.ndarray
    rating_scale: tuple[float, float]
    t: np.ndarray | None = None
    users: pd.DataFrame | None = field(default=None, repr=False)
    items: pd.DataFrame | None = field(default=None, repr=False)
    item_vectors: pd.DataFrame | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_ratings(
        cls, ratings: pd.DataFrame, *, rating_scale: tuple[float, float] | None = None, name: str = "ratings",
        users: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
        item_vectors: pd.DataFrame | None = None,
    ) -> "Interactions":
        """Encode a ratings DataFrame (columns user_id, item_id, rating[, timestamp]), keeping its row order.

        ``rating_scale`` defaults to the lowest and highest rating present. A ``timestamp``
        column is kept (``t``); ``users``, ``items`` and ``item_vectors`` are attached as given.
        """
        check_ratings(ratings, name=name, rating_scale=rating_scale)
        u, user_ids = pd.factorize(ratings["user_id"].to_numpy(), sort=False)
        i, item_ids = pd.factorize(ratings["item_id"].to_numpy(), sort=False)
        r = ratings["rating"].to_numpy(dtype=np.float64)
        if rating_scale is None:
            rating_scale = (float(r.min()), float(r.max()))
        t = None
        if "timestamp" in ratings.columns:
            t = ratings["timestamp"].to_numpy().copy()
            if not np.issubdtype(t.dtype, np.number) or np.isnan(t.astype(float)).any():
                raise ValueError(f"{name}['timestamp'] must hold numbers (Unix seconds) with no missing value, "
                                 f"got dtype {t.dtype}")
        data = cls(np.asarray(user_ids), np.asarray(item_ids), u.astype(np.int32), i.astype(np.int32),
                   r.copy(), (float(rating_scale[0]), float(rating_scale[1])), t)
        return data.with_side(users=users, items=items, item_vectors=item_vectors)

    @classmethod
    def coerce(cls, data, *, name: str = "ratings") -> "Interactions":
        """``data`` itself if it is an ``Interactions``, else :meth:`from_ratings` of it."""
        return data if isinstance(data, Interactions) else cls.from_ratings(data, name=name)

    def with_side(self, *, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
                  item_vectors: pd.DataFrame | None = None) -> "Interactions":
        """The same ratings with side tables attached (those not given are kept); shares the arrays."""
        for table, key, label in ((users, "user_id", "users"), (items, "item_id", "items")):
            if table is not None and (not isinstance(table, pd.DataFrame) or key not in table.columns):
                raise ValueError(f"{label} must be a DataFrame with a {key!r} column (one row per id), "
                                 f"got {type(table).__name__}")
        if item_vectors is not None and not isinstance(item_vectors, pd.DataFrame):
            raise ValueError(f"item_vectors must be a DataFrame of numbers indexed by item_id, "
                             f"got {type(item_vectors).__name__}")
        if users is None and items is None and item_vectors is None:
            return self
        return replace(self, users=self.users if users is None else users,
                       items=self.items if items is None else items,
                       item_vectors=self.item_vectors if item_vectors is None else item_vectors, _cache=self._cache)

    def encode(self, ratings: pd.DataFrame, *, name: str = "held-out ratings") -> HeldOut:
        """Held-out ratings in this training set's inner indices (``-1`` for unknown ids)."""
        check_ratings(ratings, name=name, allow_duplicates=True)
        return HeldOut(self.encode_users(ratings["user_id"].to_numpy()), self.encode_items(ratings["item_id"].to_numpy()),
                       ratings["rating"].to_numpy(dtype=np.float64))

    # -- sizes -------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_ratings(self) -> int:
        return len(self.r)

    @property
    def global_mean(self) -> float:
        r"""Mean training rating :math:`\mu`, summed in Surprise's user-major order."""
        if "mu" not in self._cache:
            self._cache["mu"] = float(np.mean(self.r[self.user_major_order()]))
        return self._cache["mu"]

    def __repr__(self) -> str:
        return (f"Interactions({self.n_ratings:,} ratings, {self.n_users:,} users, {self.n_items:,} items, "
                f"density {self.density:.2%})")

    @property
    def density(self) -> float:
        return self.n_ratings / (self.n_users * self.n_items)

    # -- orders and matrices -----------------------------------------------------------
    def user_major_order(self) -> np.ndarray:
        """Permutation visiting ratings user by user (inner order), training order within a user.

        This is the order of Surprise's ``Trainset.all_ratings()``.
        """
        if "user_major" not in self._cache:
            self._cache["user_major"] = _stable_order(self.u, self.n_users)
        return self._cache["user_major"]

    def item_major_order(self) -> np.ndarray:
        """Permutation visiting ratings item by item, training order within an item (``Trainset.ir``)."""
        if "item_major" not in self._cache:
            self._cache["item_major"] = _stable_order(self.i, self.n_items)
        return self._cache["item_major"]

    @property
    def matrix(self) -> sp.csr_matrix:
        """The ratings as a sparse ``(n_users, n_items)`` CSR matrix (columns sorted)."""
        if "csr" not in self._cache:
            self._cache["csr"] = sp.csr_matrix((self.r, (self.u, self.i)), shape=(self.n_users, self.n_items))
        return self._cache["csr"]

    def user_counts(self) -> np.ndarray:
        """Number of ratings of each user, shape ``(n_users,)``."""
        return np.bincount(self.u, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        """Number of ratings of each item, shape ``(n_items,)``."""
        return np.bincount(self.i, minlength=self.n_items)

    def seen_items(self, inner_user: int) -> np.ndarray:
        """Inner indices of the items ``inner_user`` rated in training."""
        m = self.matrix
        return m.indices[m.indptr[inner_user]:m.indptr[inner_user + 1]]

    # -- id maps -------------------------------------------------------------------------
    def _index(self, kind: str) -> pd.Index:
        key = f"{kind}_index"
        if key not in self._cache:
            self._cache[key] = pd.Index(self.user_ids if kind == "user" else self.item_ids)
        return self._cache[key]

    def encode_users(self, raw) -> np.ndarray:
        """Inner indices of raw user ids (array-like); ``-1`` for ids not seen in training."""
        return self._index("user").get_indexer(np.asarray(raw).ravel()).astype(np.int64)

    def encode_items(self, raw) -> np.ndarray:
        """Inner indices of raw item ids (array-like); ``-1`` for ids not seen in training."""
        return self._index("item").get_indexer(np.asarray(raw).ravel()).astype(np.int64)

    def user_index(self, raw_user) -> int:
        """Inner index of one raw user id; :class:`UnknownIdError` if it is not in training."""
        idx = int(self.encode_users([raw_user])[0])
        if idx < 0:
            raise UnknownIdError(f"user {raw_user!r} is not in the training data ({self.n_users:,} users)")
        return idx

    def item_index(self, raw_item) -> int:
        """Inner index of one raw item id; :class:`UnknownIdError` if it is not in training."""
        idx = int(self.encode_items([raw_item])[0])
        if idx < 0:
            raise UnknownIdError(f"item {raw_item!r} is not in the training data ({self.n_items:,} items)")
        return idx
