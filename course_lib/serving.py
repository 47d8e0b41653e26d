r"""A small serving wrapper: a fitted course model plus the movies table, answering in milliseconds.

:class:`MovieRecommender` turns a fitted model into what a product page needs:

* ``recommend(user_id, n)``: titles, years, genres, the model's score and a ``because`` text
  naming the user's training movies most similar to each recommendation (item-item cosine on
  the binary training matrix, :func:`course_lib.similarities.binary_cosine`, or the model's own
  explanation for item-based :class:`~course_lib.models.KNN` models). An unknown user gets the
  most popular movies, and ``because`` says so.
* ``for_new_user({item_id: rating}, n)``: a brand-new user with a few ratings is scored
  item-kNN style, :math:`\text{score}(j) = \sum_i (r_i - m)\, s_{ij}`, with :math:`m` the
  middle of the rating scale (a movie rated below the middle pushes similar movies down).
* ``save(path)`` / ``MovieRecommender.load(path)``: one zip file with the model (written by
  :func:`course_lib.models.save_model`, any course model, PyTorch and Keras included, no pickle)
  and the movies table (JSON, with its column types). Loading runs no code from the file.

Everything the answers need (the item-item similarity, the popularity ranking, the movies
indexed by id) is computed once, at construction.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from .interactions import UnknownIdError
from .models.base import Recommender, check_is_fitted
from .models.persistence import load_model, save_model
from .similarities import binary_cosine
from .validation import check_positive_int

__all__ = ["MovieRecommender"]

_FORMAT = "course_lib.serving.MovieRecommender"
_VERSION = 2
_COLUMNS = ["item_id", "title", "year", "genres", "score", "because"]


class MovieRecommender:
    """Serve a fitted course model: ``recommend``, ``for_new_user``, ``save`` / ``load``.

    Parameters
    ----------
    model : a fitted :class:`~course_lib.models.base.Recommender` (NumPy/SciPy models can be
        saved; any fitted model can be served).
    movies : the movies table, columns ``item_id, title, year, genres`` (``load_movielens(...).movies``).
    n_reasons : how many of the user's movies ``because`` names at most.
    """

    def __init__(self, model: Recommender, movies: pd.DataFrame, n_reasons: int = 2):
        if not isinstance(model, Recommender):
            raise TypeError(f"model must be a fitted course Recommender, got {type(model).__name__}")
        check_is_fitted(model)
        missing = {"item_id", "title", "year", "genres"} - set(movies.columns)
        if missing:
            raise ValueError(f"movies is missing the columns {sorted(missing)}")
        self.model = model
        self.movies = movies[["item_id", "title", "year", "genres"]].reset_index(drop=True)
        self.n_reasons = check_positive_int(n_reasons, "n_reasons")
        self._prepare()

    # -- precomputation ------------------------------------------------------------------
    def _prepare(self) -> None:
        data = self.model.data_
        self._data = data
        self._seen = data.matrix
        self._sim = binary_cosine(data.matrix)  # cosine between items on the binary training matrix
        counts = data.item_counts().astype(float)
        self._popularity = counts
        self._popular_order = np.argsort(-counts, kind="stable")  # ties: lower inner index first
        movies = self.movies.set_index("item_id")
        self._by_id = movies
        known = movies.reindex(data.item_ids)
        self._titles = known["title"].fillna("").astype(str).to_numpy()
        low, high = data.rating_scale
        self._middle = (low + high) / 2
        model = self.model
        self._own_explanation = (hasattr(model, "recommend_explained") and not getattr(model, "user_based", True))

    # -- answers -------------------------------------------------------------------------
    def _table(self, inner: np.ndarray, scores: np.ndarray, because: list[str]) -> pd.DataFrame:
        item_ids = self._data.item_ids[inner]
        info = self._by_id.reindex(item_ids)
        return pd.DataFrame({
            "item_id": item_ids,
            "title": info["title"].to_numpy(),
            "year": info["year"].to_numpy(),
            "genres": info["genres"].to_numpy(),
            "score": np.asarray(scores, dtype=float),
            "because": because,
        }, columns=_COLUMNS)

    def _reasons(self, rated: np.ndarray, weights: np.ndarray, items: np.ndarray) -> list[str]:
        """For each item, the rated items with the largest positive ``weight * similarity``."""
        out = []
        contrib = self._sim[np.ix_(rated, items)] * weights[:, None]  # (n_rated, n_items)
        for col in range(len(items)):
            c = contrib[:, col]
            order = np.argsort(-c, kind="stable")[:self.n_reasons]
            order = order[c[order] > 0]
            if len(order):
                out.append("because you rated " + "; ".join(self._titles[rated[order]]))
            else:
                out.append("no similar movie among your ratings: scored by the model alone")
        return out

    def popular(self, n: int = 10, exclude=()) -> pd.DataFrame:
        """The ``n`` most rated training movies (minus the raw ids in ``exclude``)."""
        n = check_positive_int(n, "n")
        order = self._popular_order
        if len(exclude):
            drop = self._data.encode_items(list(exclude))
            order = order[~np.isin(order, drop[drop >= 0])]
        top = order[:n]
        because = ["popular: among the most rated movies (no ratings of yours to go on)"] * len(top)
        return self._table(top, self._popularity[top], because)

    def recommend(self, user_id, n: int = 10) -> pd.DataFrame:
        """Top-``n`` unseen movies for ``user_id``: ``item_id, title, year, genres, score, because``.

        A user the model was not trained on gets :meth:`popular` (``because`` says why).
        """
        n = check_positive_int(n, "n")
        data = self._data
        try:
            u = data.user_index(user_id)
        except UnknownIdError:
            return self.popular(n)
        if self._own_explanation:
            recs = self.model.recommend_explained(user_id, n, n_reasons=self.n_reasons)
            inner = data.encode_items(recs["item_id"].to_numpy())
            because = []
            for reasons in recs["because"]:
                titles = [self._titles[j] for j in data.encode_items(list(reasons)) if j >= 0]
                because.append("because you rated " + "; ".join(titles) if titles
                               else "no similar movie among your ratings: scored by the model alone")
            return self._table(inner, recs["score"].to_numpy(), because)
        top = data.encode_items(self.model.top_n([user_id], n)[0])
        scores = self.model.score_items([user_id])[0, top]
        row = self._seen[u]
        rated = row.indices
        weights = np.ones(len(rated))
        return self._table(top, scores, self._reasons(rated, weights, top))

    def for_new_user(self, ratings: dict, n: int = 10) -> pd.DataFrame:
        r"""Recommend for a brand-new user from a few ``{item_id: rating}`` (no refit).

        Item-kNN: :math:`\text{score}(j) = \sum_i (r_i - m)\, s_{ij}` over the rated movies the
        model knows, :math:`m` the middle of the rating scale; rated movies are left out.
        Movies unknown to the model are ignored; with no usable rating (none known, or none
        above the middle) the answer is :meth:`popular`.
        """
        n = check_positive_int(n, "n")
        if not isinstance(ratings, dict) or not ratings:
            raise ValueError("ratings must be a non-empty dict {item_id: rating}")
        ids = list(ratings)
        values = np.array([float(ratings[k]) for k in ids])
        inner = self._data.encode_items(ids)
        known = inner >= 0
        rated, weights = inner[known], values[known] - self._middle
        if not (weights > 0).any():
            return self.popular(n, exclude=ids)
        scores = weights @ self._sim[rated]
        scores[rated] = -np.inf
        top = np.argsort(-scores, kind="stable")[:n]
        top = top[np.isfinite(scores[top])]
        return self._table(top, scores[top], self._reasons(rated, weights, top))

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the fitted model and the movies table to one zip file at ``path`` (no pickle)."""
        path = Path(path)
        with tempfile.TemporaryDirectory() as folder:
            model_file = Path(folder) / "model.model"
            save_model(self.model, model_file)
            tmp = path.with_name(path.name + ".partial")
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
                z.writestr("serving.json", json.dumps({"format": _FORMAT, "version": _VERSION, "n_reasons": self.n_reasons,
                                                      "movie_dtypes": {c: str(t) for c, t in self.movies.dtypes.items()}}))
                z.write(model_file, "model.model")
                z.writestr("movies.json", self.movies.to_json(orient="table", index=False))
            tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> "MovieRecommender":
        """Read a file written by :meth:`save` (no code from the file runs)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no MovieRecommender file at {path}")
        try:
            with zipfile.ZipFile(path) as z:
                meta = json.loads(z.read("serving.json"))
                if meta.get("format") != _FORMAT:
                    raise ValueError("wrong format")
                if meta.get("version") != _VERSION:
                    raise ValueError(f"{path} has MovieRecommender format version {meta.get('version')!r}; "
                                     f"this course_lib reads version {_VERSION}")
                movies = pd.read_json(io.BytesIO(z.read("movies.json")), orient="table").astype(meta["movie_dtypes"])
                with tempfile.TemporaryDirectory() as folder:
                    model_file = Path(folder) / "model.model"
                    model_file.write_bytes(z.read("model.model"))
                    model = load_model(model_file)
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path} is not a MovieRecommender file written by MovieRecommender.save "
                             f"({type(exc).__name__}: {exc})") from None
        except ValueError as exc:
            if "format version" in str(exc):
                raise
            raise ValueError(f"{path} is not a MovieRecommender file written by MovieRecommender.save") from None
        return cls(model, movies, n_reasons=meta.get("n_reasons", 2))

    def __repr__(self) -> str:
        d = self._data
        return f"MovieRecommender({type(self.model).__name__}, {d.n_users} users, {d.n_items} items)"
