r"""Content-based filtering: recommend items whose description resembles what the user liked.

No other user's ratings are used: an item is a document (its title, genres, tags), a user is the
weighted sum of the documents they rated, and the score is the cosine between the two. Because an
item needs only its description, a brand-new item can be recommended on its first day (the
cold-start problem collaborative filtering cannot solve), but the recommendations never leave the
user's known tastes (over-specialisation).

Item profile (TF-IDF, Salton and Buckley 1988, as computed by scikit-learn's ``TfidfVectorizer``):

.. math::  x_{i,t} \propto \big(1 + \log \mathrm{tf}_{i,t}\big)\,\Big(1 + \log \frac{1 + n}{1 + \mathrm{df}_t}\Big),
           \qquad \lVert x_i \rVert_2 = 1

for term :math:`t` of the vocabulary, :math:`n` documents, :math:`\mathrm{df}_t` of which contain
:math:`t` (``sublinear_tf=True``; the smooth idf). Shapes: :math:`X \in \mathbb{R}^{|I| \times |V|}`.

User profile and score (Lops, de Gemmis and Semeraro 2011, ch. 3; Pazzani and Billsus 2007):

.. math::  p_u = \sum_{i \in I_u} w_{ui}\, x_i \in \mathbb{R}^{|V|}, \qquad
           \text{score}(u, j) = \frac{p_u^\top x_j}{\lVert p_u \rVert}

with :math:`w_{ui} = r_{ui} - \bar r_u` (``weights="centered"``: items rated below the user's mean
push the profile away from their terms) or :math:`w_{ui} = 1` (``weights="binary"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..interactions import Interactions
from ..validation import check_positive_int
from .base import Recommender, estimate_known_pairs, pairs_from_scores

__all__ = ["ContentBased", "item_documents"]


def item_documents(items: pd.DataFrame, columns: Sequence[str] = ("title", "genres")) -> pd.Series:
    """One text per item (index item_id): the given columns joined by spaces; genres' ``|`` become spaces.

    A column holding lists (e.g. tags gathered per movie) is joined too. Missing values count as "".
    """
    if not isinstance(items, pd.DataFrame) or "item_id" not in items.columns:
        raise ValueError("items must be a DataFrame with an 'item_id' column (e.g. MovieLens's movies)")
    missing = [c for c in columns if c not in items.columns]
    if missing:
        raise ValueError(f"items has no column {missing}; it has {list(items.columns)}")
    if len(columns) == 0:
        raise ValueError("columns must name at least one text column")

    def text(value) -> str:
        if isinstance(value, (list, tuple, np.ndarray)):
            return " ".join(map(str, value))
        return "" if pd.isna(value) else str(value).replace("|", " ")

    parts = [items[c].map(text) for c in columns]
    docs = parts[0].str.cat(parts[1:], sep=" ") if len(parts) > 1 else parts[0]
    return pd.Series(docs.to_numpy(), index=pd.Index(items["item_id"].to_numpy(), name="item_id"), name="document")


class ContentBased(Recommender):
    r"""Content-based recommender: TF-IDF item profiles and a rating-weighted user profile (module docstring).

    Fit with the item table: ``ContentBased().fit(train, items=movies)``; ``columns`` names its text
    columns. Items of the training ratings without a row in ``items`` get an empty profile.

    Parameters
    ----------
    columns : the text columns of ``items`` joined into each item's document.
    weights : ``"centered"`` (:math:`r_{ui} - \bar r_u`) or ``"binary"`` (1 for every rated item).
    min_df : a term must occur in at least this many documents (drops typos and unique words).
    sublinear_tf : :math:`1 + \log \mathrm{tf}` instead of raw counts.

    Attributes
    ----------
    item_profiles_ : :math:`X`, sparse ``(n_items, n_terms)``, rows of unit length (or zero).
    user_profiles_ : :math:`P`, sparse ``(n_users, n_terms)``, rows of unit length (or zero).
    vocabulary_ : the terms, in column order.

    References
    ----------
    P. Lops, M. de Gemmis and G. Semeraro, "Content-based Recommender Systems: State of the Art and
    Trends", Recommender Systems Handbook, 2011. M. Pazzani and D. Billsus, "Content-Based
    Recommendation Systems", The Adaptive Web, 2007.
    """

    _predicts_ratings = False

    def __init__(self, columns: Sequence[str] = ("title", "genres"), weights: str = "centered", min_df: int = 1,
                 sublinear_tf: bool = True):
        self.columns = columns
        self.weights = weights
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf

    def _fit(self, data: Interactions, validation=None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if self.weights not in ("centered", "binary"):
            raise ValueError(f"weights must be 'centered' or 'binary', got {self.weights!r}")
        min_df = check_positive_int(self.min_df, "min_df")
        if data.items is None:
            raise ValueError("ContentBased needs the item descriptions: fit(ratings, items=movies)")
        docs = item_documents(data.items, tuple(self.columns))
        docs = docs[~docs.index.duplicated()].reindex(data.item_ids).fillna("")
        vectorizer = TfidfVectorizer(min_df=min_df, sublinear_tf=bool(self.sublinear_tf), dtype=np.float64)
        try:
            x = vectorizer.fit_transform(docs.tolist())
        except ValueError as exc:  # an empty vocabulary
            raise ValueError(f"no term left to describe the items ({exc}); lower min_df or add columns") from None
        r = data.matrix.tocsr().astype(np.float64)
        if self.weights == "centered":
            counts = np.diff(r.indptr)
            means = np.asarray(r.sum(axis=1)).ravel() / np.maximum(counts, 1)
            r.data = r.data - np.repeat(means, counts)
        else:
            r.data = np.ones_like(r.data)
        p = sp.csr_matrix(r @ x)
        norms = np.sqrt(np.asarray(p.multiply(p).sum(axis=1)).ravel())
        p = sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ p
        self.item_profiles_ = sp.csr_matrix(x)
        self.user_profiles_ = sp.csr_matrix(p)
        self.vocabulary_ = vectorizer.get_feature_names_out()

    def _scores(self, users):
        return np.asarray((self.user_profiles_[np.asarray(users)] @ self.item_profiles_.T).toarray())

    def _estimate(self, u, i):
        return estimate_known_pairs(u, i, pairs_from_scores(self._scores))

    def explain(self, user_id, item_id, n_terms: int = 5) -> pd.Series:
        """The terms that contribute most to ``score(user_id, item_id)``: :math:`p_{u,t}\\,x_{j,t}`, largest first."""
        u = self.data_.encode_users(np.asarray([user_id]))[0]
        j = self.data_.encode_items(np.asarray([item_id]))[0]
        if u < 0 or j < 0:
            raise ValueError(f"user {user_id!r} or item {item_id!r} was not in the training ratings")
        contribution = self.user_profiles_[u].multiply(self.item_profiles_[j]).toarray().ravel()
        top = np.argsort(-contribution, kind="stable")[:check_positive_int(n_terms, "n_terms")]
        top = top[contribution[top] > 0]
        return pd.Series(contribution[top], index=self.vocabulary_[top], name="contribution")
