r"""Side features from the MovieLens tables, encoded as integer codes and 0/1 matrices.

Users: age bucket, gender and occupation become *categorical codes* (``0`` is reserved for
"unknown", so a category never seen when the encoder was fitted still has a row).
Items: the genres become a multi-hot matrix :math:`G \in \{0,1\}^{|I| \times n_{genres}}`,
the release year a bucket code, and the title a padded row of token ids from a small
vocabulary (``0`` = padding, ``1`` = out-of-vocabulary).

Everything here is NumPy and pandas; the PyTorch models of
:mod:`course_lib.models.torch_models.features` read the encoded tables.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["AGE_BINS", "YEAR_BINS", "FeatureEncoder", "age_bucket", "categorical_codes", "genre_multi_hot",
           "tokenize_title", "build_vocabulary", "encode_titles", "year_bucket"]

#: upper bounds (exclusive) of the age buckets: <18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+ (the ML-1M buckets)
AGE_BINS = (18, 25, 35, 45, 50, 56)
#: upper bounds (exclusive) of the release-year buckets
YEAR_BINS = (1940, 1960, 1970, 1980, 1990, 1995, 1997)


def _bucket(values, bins) -> np.ndarray:
    """Codes ``1..len(bins)+1`` for bucketed numbers, ``0`` for missing values."""
    v = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce").to_numpy(dtype=float)
    codes = np.searchsorted(np.asarray(bins, dtype=float), v, side="right") + 1
    return np.where(np.isnan(v), 0, codes).astype(np.int64)


def age_bucket(ages) -> np.ndarray:
    """Age bucket codes: ``0`` unknown, ``1`` under 18, ... ``7`` 56 and over (see :data:`AGE_BINS`)."""
    return _bucket(ages, AGE_BINS)


def year_bucket(years) -> np.ndarray:
    """Release-year bucket codes: ``0`` unknown, ``1`` before 1940 ... ``8`` 1997 and later."""
    return _bucket(years, YEAR_BINS)


def categorical_codes(values, categories=None) -> tuple[np.ndarray, list]:
    """Codes ``1..n`` of ``values`` among ``categories`` (sorted distinct values by default); ``0`` = unknown.

    Returns ``(codes, categories)`` so the same categories can encode new rows later.
    """
    values = pd.Series(np.asarray(values, dtype=object))
    if categories is None:
        categories = sorted(values.dropna().unique().tolist(), key=str)
    codes = pd.Index(list(categories)).get_indexer(values) + 1  # -1 (unseen) becomes 0
    return codes.astype(np.int64), list(categories)


def genre_multi_hot(genres, vocabulary=None) -> tuple[np.ndarray, list[str]]:
    """Multi-hot matrix of '|'-joined genre strings, shape ``(n, n_genres)``, float32.

    ``vocabulary`` defaults to the sorted genres present ("unknown" and "(no genres listed)" dropped).
    """
    lists = [[] if not isinstance(g, str) else [x for x in g.split("|") if x] for g in genres]
    if vocabulary is None:
        vocabulary = sorted({x for row in lists for x in row} - {"unknown", "(no genres listed)"})
    col = {g: k for k, g in enumerate(vocabulary)}
    out = np.zeros((len(lists), len(vocabulary)), dtype=np.float32)
    for r, row in enumerate(lists):
        for g in row:
            if g in col:
                out[r, col[g]] = 1.0
    return out, list(vocabulary)


_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize_title(title: str) -> list[str]:
    """Lower-case word tokens of a title, the year in brackets and a trailing ', The' removed.

    >>> tokenize_title("Usual Suspects, The (1995)")
    ['the', 'usual', 'suspects']
    """
    t = re.sub(r"\(\d{4}\)\s*$", "", str(title)).strip().lower()
    m = re.match(r"^(.*), (the|a|an|les|la|le|il|das|der|die)$", t)
    if m:
        t = f"{m.group(2)} {m.group(1)}"
    return _TOKEN.findall(t)


def build_vocabulary(titles, min_count: int = 2, max_size: int = 2000) -> list[str]:
    """The most frequent tokens (count >= ``min_count``, at most ``max_size``); ties in alphabetical order.

    Index ``k`` of the list is token id ``k + 2`` (``0`` = padding, ``1`` = out-of-vocabulary).
    """
    counts = Counter(tok for t in titles for tok in tokenize_title(t))
    kept = sorted((tok for tok, c in counts.items() if c >= min_count), key=lambda tok: (-counts[tok], tok))
    return kept[:max_size]


def encode_titles(titles, vocabulary, max_len: int = 8) -> np.ndarray:
    """Token ids of each title, padded with 0 and cut to ``max_len``: shape ``(n, max_len)``, int64."""
    ids = {tok: k + 2 for k, tok in enumerate(vocabulary)}
    out = np.zeros((len(titles), max_len), dtype=np.int64)
    for r, t in enumerate(titles):
        toks = [ids.get(tok, 1) for tok in tokenize_title(t)][:max_len]
        out[r, :len(toks)] = toks
    return out


@dataclass
class FeatureEncoder:
    """Learns the categories and vocabulary from the user and item tables once, then encodes any rows.

    ``fit(users, items)`` with MovieLens's ``users`` (user_id, age, gender, occupation) and
    ``movies`` (item_id, title, year, genres) tables; ``encode_users`` / ``encode_items`` return
    dictionaries of arrays aligned with the rows given (unknown categories get code 0).

    Attributes
    ----------
    genders_, occupations_ : the categories (code ``k`` = entry ``k - 1``).
    genres_ : the genre columns of the multi-hot matrix.  vocabulary_ : title tokens (id = index + 2).
    """

    min_count: int = 2
    max_vocabulary: int = 2000
    max_len: int = 8
    genders_: list = field(default_factory=list)
    occupations_: list = field(default_factory=list)
    genres_: list = field(default_factory=list)
    vocabulary_: list = field(default_factory=list)

    def fit(self, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None) -> "FeatureEncoder":
        if users is not None:
            self.genders_ = categorical_codes(users["gender"])[1]
            self.occupations_ = categorical_codes(users["occupation"])[1]
        if items is not None:
            self.genres_ = genre_multi_hot(items["genres"])[1]
            self.vocabulary_ = build_vocabulary(items["title"], self.min_count, self.max_vocabulary)
        return self

    # sizes of the code spaces (including the 0 = unknown row)
    @property
    def cardinalities(self) -> dict[str, int]:
        return {"age": len(AGE_BINS) + 2, "gender": len(self.genders_) + 1,
                "occupation": len(self.occupations_) + 1, "year": len(YEAR_BINS) + 2,
                "title": len(self.vocabulary_) + 2, "genres": len(self.genres_)}

    def encode_users(self, users: pd.DataFrame) -> dict[str, np.ndarray]:
        """``{"age", "gender", "occupation"}`` codes, each shape ``(n,)``."""
        return {"age": age_bucket(users["age"]),
                "gender": categorical_codes(users["gender"], self.genders_)[0],
                "occupation": categorical_codes(users["occupation"], self.occupations_)[0]}

    def encode_items(self, items: pd.DataFrame) -> dict[str, np.ndarray]:
        """``{"genres": (n, n_genres) float32, "year": (n,), "title": (n, max_len)}``."""
        return {"genres": genre_multi_hot(items["genres"], self.genres_)[0],
                "year": year_bucket(items["year"]),
                "title": encode_titles(items["title"].tolist(), self.vocabulary_, self.max_len)}
