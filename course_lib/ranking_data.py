r"""The ranking stage's data: click labels from ratings, (user, item, context) fields, candidates.

**The click label.** MovieLens has ratings, not clicks. The rankers of lesson 13 read a rating as an
*impression* (the movie was shown to the user and watched) and derive a binary label from it:

.. math::  y_{ui} = \mathbb{1}[r_{ui} \ge \tau], \qquad \tau = 4 \text{ by default,}

so the **positives** are the movies a user rated 4 or 5 and the **negatives** the movies the user
rated but not highly: shown, not "clicked". About 55 % of MovieLens 100K's ratings are positives.
The choice has a bias that a learner must see: a rating exists only for a movie the user chose
to watch, so the negatives are *watched-and-disliked* movies, not movies the user scrolled past.
A model trained on them learns :math:`P(\text{like} \mid \text{watched})`, and never sees the
movies nobody watches; ranking retrieved candidates, most of which the user has *not* watched,
asks for :math:`P(\text{watched and liked})`. The rankers can add sampled unwatched movies as
extra negatives (``n_unseen_negatives``) to learn the second; the lesson measures both.

**Fields.** Each example is a row of categorical *fields*, each with its own vocabulary:

=============  =========================================================  =======================
field          values (code 0 = unknown in every field)                   source
=============  =========================================================  =======================
``user_id``    training users, code = inner index + 1                      the ratings
``item_id``    training items, code = inner index + 1                      the ratings
``age``        7 age buckets (:data:`course_lib.features.AGE_BINS`)        ``users`` table
``gender``     the genders of the users table                             ``users`` table
``occupation`` the occupations of the users table                         ``users`` table
``genres``     multi-hot: every genre of the movie, each with value 1/g    ``movies`` table
``year``       8 release-year buckets (:data:`~course_lib.features.YEAR_BINS`)  ``movies`` table
``weekday``    day of the week of the request (UTC), 7 values              the timestamp
``hour``       hour of the request (UTC) in 6 buckets of 4 hours           the timestamp
=============  =========================================================  =======================

Fields are laid out in *slots*: one slot per single-valued field, ``genre_slots_`` slots for the
genres (padded with feature 0 and value 0). All fields share one **global feature index**
:math:`0 \dots n-1` (field :math:`f`'s code :math:`c` is feature ``offsets_[f] + c``), so an example
is the pair ``idx`` (B, L) of feature indices and ``val`` (B, L) of values, which is the sparse
row :math:`x \in \mathbb{R}^n` with :math:`x_{\mathrm{idx}_{b\ell}} = \mathrm{val}_{b\ell}`:
:meth:`FieldEncoder.to_csr` builds it for scikit-learn and :mod:`course_lib.nn_numpy.crossing`.
The genres' value :math:`1/g` (g = the movie's number of genres) makes the genre field's
embedding the *mean* of its genres' embeddings.

**Candidates.** :func:`retrieve_candidates` takes the top ``n`` unseen items of any course model (the
first stage); :func:`evaluate_reranking` measures NDCG@k of a ranker re-ordering them against
the retrieval's own order.

Reference: X. He et al., "Practical Lessons from Predicting Clicks on Ads at Facebook", ADKDD 2014
(impressions and clicks); H.-T. Cheng et al., "Wide & Deep Learning for Recommender Systems", DLRS 2016.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import metrics
from .features import AGE_BINS, YEAR_BINS, FeatureEncoder, age_bucket, categorical_codes, genre_multi_hot, year_bucket
from .validation import check_finite_number, check_positive_int, check_ratings

__all__ = ["CONTEXT_FIELDS", "FIELDS", "ITEM_FIELDS", "USER_FIELDS", "FieldEncoder", "click_labels",
           "evaluate_reranking", "retrieve_candidates"]

USER_FIELDS = ("user_id", "age", "gender", "occupation")
ITEM_FIELDS = ("item_id", "genres", "year")
CONTEXT_FIELDS = ("weekday", "hour")
#: every field, in slot order (users, items, context)
FIELDS = USER_FIELDS + ITEM_FIELDS + CONTEXT_FIELDS
#: width of an hour bucket (hours): 0-3, 4-7, ..., 20-23 UTC
HOUR_BUCKET = 4


def click_labels(ratings, positive_threshold: float = 4.0) -> np.ndarray:
    r"""The click label :math:`y = \mathbb{1}[r \ge \tau]` of each rating, int8 of shape ``(n,)``.

    ``ratings`` is a DataFrame with a ``rating`` column or an array of ratings. Every rated movie
    counts as shown; rated at least ``positive_threshold`` counts as clicked (module docstring: the
    bias of this choice).
    """
    tau = check_finite_number(positive_threshold, "positive_threshold")
    r = ratings["rating"].to_numpy(dtype=float) if isinstance(ratings, pd.DataFrame) else np.asarray(ratings, float)
    if r.ndim != 1:
        raise ValueError(f"ratings must be one rating per row, shape (n,), got shape {r.shape}")
    if np.isnan(r).any():
        raise ValueError("ratings hold NaN: a missing rating has no click label; drop those rows first")
    y = (r >= tau).astype(np.int8)
    return y


def _context_codes(timestamps, n: int) -> dict[str, np.ndarray]:
    """Weekday (1-7, Monday = 1) and hour-bucket (1-6) codes of Unix seconds; 0 where missing."""
    if timestamps is None:
        return {"weekday": np.zeros(n, np.int64), "hour": np.zeros(n, np.int64)}
    t = pd.to_numeric(pd.Series(np.asarray(timestamps, dtype=object).reshape(-1)), errors="coerce")
    if len(t) != n:
        raise ValueError(f"got {len(t)} timestamps for {n} rows: give one request time per row")
    ok = t.notna().to_numpy()
    when = pd.to_datetime(t.fillna(0).to_numpy(dtype=np.int64), unit="s", utc=True)
    weekday = np.where(ok, when.day_of_week.to_numpy() + 1, 0).astype(np.int64)
    hour = np.where(ok, when.hour.to_numpy() // HOUR_BUCKET + 1, 0).astype(np.int64)
    return {"weekday": weekday, "hour": hour}


@dataclass
class FieldEncoder:
    """The (user, item, context) fields of a ranker and their shared feature index (module docstring).

    ``fit(user_ids, item_ids, users, items)`` learns the vocabularies (training ids, categories of the
    side tables); :meth:`encode` turns raw ids and request times into ``idx``, ``val`` (both
    ``(n, n_slots)``). A value the encoder never saw (a new user's id, an unknown occupation, a
    missing timestamp) gets code 0, the field's "unknown" feature.

    Attributes
    ----------
    fields : the fields used, in slot order (a subset of :data:`FIELDS`).
    user_ids_, item_ids_ : the raw ids with an id code (code = position + 1).
    features_ : the categories and genre vocabulary (:class:`~course_lib.features.FeatureEncoder`).
    genre_slots_ : slots reserved for the genres (the most genres of one movie in the items table).
    """

    fields: tuple = FIELDS
    user_ids_: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    item_ids_: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    features_: FeatureEncoder = field(default_factory=FeatureEncoder)
    genre_slots_: int = 0

    def fit(self, user_ids, item_ids, users: pd.DataFrame | None = None,
            items: pd.DataFrame | None = None) -> "FieldEncoder":
        fields = tuple(self.fields)
        unknown = [f for f in fields if f not in FIELDS]
        if unknown or not fields or len(set(fields)) != len(fields):
            raise ValueError(f"fields must be distinct names among {FIELDS}, got {fields!r}")
        self.fields = tuple(f for f in FIELDS if f in fields)
        needs_users = [f for f in self.fields if f in USER_FIELDS[1:]]
        needs_items = [f for f in self.fields if f in ITEM_FIELDS[1:]]
        if needs_users and users is None:
            raise ValueError(f"the fields {needs_users} need the users table: fit(train, users=ml.users), "
                             "or leave them out of features=")
        if needs_items and items is None:
            raise ValueError(f"the fields {needs_items} need the items table: fit(train, items=ml.movies), "
                             "or leave them out of features=")
        self.user_ids_ = np.asarray(user_ids).copy()
        self.item_ids_ = np.asarray(item_ids).copy()
        self.features_ = FeatureEncoder().fit(users if needs_users else None, items if needs_items else None)
        self.genre_slots_ = 0
        if "genres" in self.fields:
            g, _ = genre_multi_hot(items["genres"], self.features_.genres_)
            self.genre_slots_ = max(1, int(g.sum(axis=1).max()) if len(g) else 1)
        return self

    # -- the index space -------------------------------------------------------------------
    @property
    def sizes(self) -> dict[str, int]:
        """Number of features of each field, its code 0 ("unknown") included."""
        all_sizes = {"user_id": len(self.user_ids_) + 1, "item_id": len(self.item_ids_) + 1,
                     "age": len(AGE_BINS) + 2, "gender": len(self.features_.genders_) + 1,
                     "occupation": len(self.features_.occupations_) + 1,
                     "genres": len(self.features_.genres_) + 1, "year": len(YEAR_BINS) + 2,
                     "weekday": 8, "hour": 24 // HOUR_BUCKET + 1}
        return {f: all_sizes[f] for f in self.fields}

    @property
    def offsets(self) -> dict[str, int]:
        """First global feature index of each field."""
        out, start = {}, 0
        for f, size in self.sizes.items():
            out[f] = start
            start += size
        return out

    @property
    def n_features(self) -> int:
        """Length :math:`n` of the one-hot feature vector :math:`x`."""
        return int(sum(self.sizes.values()))

    @property
    def slot_fields(self) -> np.ndarray:
        """Field number (position in ``fields``) of each slot, shape ``(n_slots,)``."""
        return np.array([k for k, f in enumerate(self.fields)
                         for _ in range(self.genre_slots_ if f == "genres" else 1)], dtype=np.int64)

    @property
    def n_slots(self) -> int:
        return len(self.slot_fields)

    def feature_names(self) -> list[str]:
        """A readable name for each global feature index, such as ``'genres=Drama'`` or ``'age=unknown'``."""
        labels = {"age": ["<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+"],
                  "gender": list(self.features_.genders_), "occupation": list(self.features_.occupations_),
                  "genres": list(self.features_.genres_),
                  "year": ["<1940", "1940s-50s", "1960s", "1970s", "1980s", "1990-94", "1995-96", "1997+"],
                  "weekday": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
                  "hour": [f"{h:02d}-{h + HOUR_BUCKET - 1:02d}h" for h in range(0, 24, HOUR_BUCKET)],
                  "user_id": [str(x) for x in self.user_ids_], "item_id": [str(x) for x in self.item_ids_]}
        return [f"{f}={name}" for f in self.fields for name in ["unknown"] + labels[f]]

    # -- encoding ----------------------------------------------------------------------------
    def _table_rows(self, table: pd.DataFrame | None, key: str, raw) -> tuple[pd.DataFrame | None, np.ndarray]:
        if table is None:
            return None, np.zeros(len(raw), bool)
        t = table.drop_duplicates(key).set_index(key).reindex(raw)
        known = pd.Index(table[key]).get_indexer(raw) >= 0 if len(raw) else np.zeros(0, bool)
        return t.reset_index(), known

    def user_slots(self, user_ids, users: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(idx, val)`` of the user fields for raw ``user_ids``, each ``(n, n_user_slots)``."""
        raw = np.asarray(user_ids).reshape(-1)
        cols, off = [], self.offsets
        if "user_id" in self.fields:
            cols.append(off["user_id"] + pd.Index(self.user_ids_).get_indexer(raw) + 1)
        wanted = [f for f in USER_FIELDS[1:] if f in self.fields]
        if wanted:
            t, known = self._table_rows(users, "user_id", raw)
            codes = {"age": age_bucket(t["age"]) if t is not None else None,
                     "gender": categorical_codes(t["gender"], self.features_.genders_)[0] if t is not None else None,
                     "occupation": categorical_codes(t["occupation"], self.features_.occupations_)[0]
                     if t is not None else None}
            for f in wanted:
                c = codes[f] if t is not None else np.zeros(len(raw), np.int64)
                cols.append(off[f] + np.where(known, c, 0))
        idx = np.stack(cols, axis=1).astype(np.int64) if cols else np.zeros((len(raw), 0), np.int64)
        return idx, np.ones(idx.shape, np.float32)

    def item_slots(self, item_ids, items: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(idx, val)`` of the item fields for raw ``item_ids``, each ``(n, n_item_slots)``."""
        raw = np.asarray(item_ids).reshape(-1)
        n, off = len(raw), self.offsets
        idx_parts, val_parts = [], []
        t, known = (None, np.zeros(n, bool))
        if "genres" in self.fields or "year" in self.fields:
            t, known = self._table_rows(items, "item_id", raw)
        for f in self.fields:
            if f == "item_id":
                idx_parts.append((off[f] + pd.Index(self.item_ids_).get_indexer(raw) + 1)[:, None])
                val_parts.append(np.ones((n, 1), np.float32))
            elif f == "genres":
                g = np.zeros((n, len(self.features_.genres_)), np.float32)
                if t is not None:
                    g = genre_multi_hot(t["genres"], self.features_.genres_)[0] * known[:, None]
                gi = np.zeros((n, self.genre_slots_), np.int64)
                gv = np.zeros((n, self.genre_slots_), np.float32)
                counts = g.sum(axis=1)
                rows, cols = np.nonzero(g)
                rank = np.arange(len(rows)) - np.searchsorted(rows, rows)      # position among the row's genres
                keep = rank < self.genre_slots_
                gi[rows[keep], rank[keep]] = off[f] + 1 + cols[keep]
                gv[rows[keep], rank[keep]] = 1.0 / np.minimum(counts[rows[keep]], self.genre_slots_)
                none = counts == 0                                               # no genre known: the unknown feature
                gi[none, 0], gv[none, 0] = off[f], 1.0
                idx_parts.append(gi)
                val_parts.append(gv)
            elif f == "year":
                c = year_bucket(t["year"]) if t is not None else np.zeros(n, np.int64)
                idx_parts.append((off[f] + np.where(known, c, 0))[:, None])
                val_parts.append(np.ones((n, 1), np.float32))
        if not idx_parts:
            return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
        return np.hstack(idx_parts).astype(np.int64), np.hstack(val_parts).astype(np.float32)

    def context_slots(self, timestamps, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(idx, val)`` of the context fields for ``n`` request times (Unix seconds; ``None`` = unknown)."""
        wanted = [f for f in CONTEXT_FIELDS if f in self.fields]
        if not wanted:
            return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
        codes = _context_codes(timestamps, n)
        idx = np.stack([self.offsets[f] + codes[f] for f in wanted], axis=1).astype(np.int64)
        return idx, np.ones(idx.shape, np.float32)

    def encode(self, user_ids, item_ids, timestamps=None, *, users: pd.DataFrame | None = None,
               items: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(idx, val)`` of shape ``(n, n_slots)`` for ``n`` (user, item, request time) triples."""
        u_idx, u_val = self.user_slots(user_ids, users)
        i_idx, i_val = self.item_slots(item_ids, items)
        if len(u_idx) != len(i_idx):
            raise ValueError(f"got {len(u_idx)} user ids and {len(i_idx)} item ids: give one of each per row")
        c_idx, c_val = self.context_slots(timestamps, len(u_idx))
        return np.hstack([u_idx, i_idx, c_idx]), np.hstack([u_val, i_val, c_val])

    def to_csr(self, idx, val) -> sp.csr_matrix:
        r"""The sparse one-hot rows :math:`X` (n, n_features), float64, from ``idx`` and ``val`` (slots of value 0 dropped)."""
        idx, val = np.asarray(idx), np.asarray(val, dtype=np.float64)
        if idx.shape != val.shape or idx.ndim != 2:
            raise ValueError(f"idx and val must have the same shape (n, n_slots), got {idx.shape} and {val.shape}")
        rows = np.repeat(np.arange(len(idx)), idx.shape[1])
        keep = val.ravel() != 0
        X = sp.csr_matrix((val.ravel()[keep], (rows[keep], idx.ravel()[keep])), shape=(len(idx), self.n_features))
        X.sum_duplicates()
        return X


# -- the first stage and the re-ranking protocol ------------------------------------------------------
def retrieve_candidates(model, user_ids, n: int = 100) -> pd.DataFrame:
    """The first stage: each user's ``n`` best unseen items by ``model`` (any fitted course model).

    Returns a DataFrame ``user_id, item_id, retrieval_rank`` (1 = best) with ``n`` rows per user
    (fewer when a user has fewer unseen items), users in the order given.
    """
    n = check_positive_int(n, "n")
    users = list(user_ids)
    lists = model.top_n(users, n)
    rows = [(u, item, rank + 1) for u, items in zip(users, lists) for rank, item in enumerate(items)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "retrieval_rank"])


def evaluate_reranking(scores, candidates: pd.DataFrame, test: pd.DataFrame, k: int = 10, *,
                       positive_threshold: float = 4.0) -> dict[str, float]:
    r"""NDCG@k, recall@k and hit rate@k of re-ordering each user's ``candidates`` by ``scores``.

    ``scores`` has one number per row of ``candidates`` (higher = better; ties keep the candidate
    order). Relevant items are the user's ``test`` items rated at least ``positive_threshold``;
    users without one are skipped (as in :mod:`course_lib.metrics`). ``candidate_recall`` is the
    share of relevant items that are among the candidates at all: no re-ranking can find the others.
    """
    k = check_positive_int(k, "k")
    check_ratings(candidates, name="candidates", columns=("user_id", "item_id"), allow_duplicates=True)
    check_ratings(test, name="test ratings", allow_duplicates=True)
    s = np.asarray(scores, dtype=float).reshape(-1)
    if len(s) != len(candidates):
        raise ValueError(f"got {len(s)} scores for {len(candidates)} candidates: one score per candidate row")
    if np.isnan(s).any():
        raise ValueError("scores hold NaN: every candidate needs a score")
    relevant = {u: set(g) for u, g in test.loc[test["rating"] >= positive_threshold].groupby("user_id")["item_id"]}
    frame = candidates[["user_id", "item_id"]].assign(score=s, position=np.arange(len(s)))
    frame = frame.sort_values(["user_id", "score", "position"], ascending=[True, False, True], kind="stable")
    recs = {u: g.tolist()[:k] for u, g in frame.groupby("user_id", sort=False)["item_id"]}
    users = [u for u in relevant if u in recs]
    if not users:
        raise ValueError("no candidate user has a relevant test item: the metrics are undefined")
    rel = {u: relevant[u] for u in users}
    positives = test.loc[test["rating"] >= positive_threshold, ["user_id", "item_id"]].drop_duplicates()
    found = len(frame[["user_id", "item_id"]].drop_duplicates().merge(positives))
    return {f"ndcg@{k}": metrics.ndcg_at_k(recs, rel, k), f"recall@{k}": metrics.recall_at_k(recs, rel, k),
            f"hit_rate@{k}": metrics.hit_rate_at_k(recs, rel, k),
            "candidate_recall": found / sum(len(v) for v in rel.values()), "n_users": len(users)}
