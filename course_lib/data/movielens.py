"""Read MovieLens into tidy pandas DataFrames with one vocabulary of column names.

Every loader returns a :class:`MovieLens` with three tables:

``ratings``  user_id (int32), item_id (int32), rating (float64), timestamp (int64, Unix seconds),
             in the raw file's row order (order matters for matching Surprise's splits).
``movies``   item_id (int32), title (str), year (Int16: the year in the title, missing when unknown), genres (str,
             ``|``-separated, ``"(no genres listed)"`` when none).
``users``    user_id (int32), age (int16), gender (``"M"``/``"F"``), occupation (str),
             zip_code (str); ``None`` for ml-latest-small, ml-25m and ml-32m, which have no demographics.

MovieLens 25M and 32M (``ratings.csv``: ``userId,movieId,rating,timestamp``, 0.5-5 stars; ``movies.csv``:
``movieId,title,genres``) are read with the dtypes given to the CSV parser, so no column is ever
held as int64/object in between: 24 bytes per rating (768 MB for 32M ratings), or 16 with
``compact=True`` (float32 ratings, exact for half stars; int32 timestamps, exact until 2038).

Reference: F. M. Harper and J. A. Konstan, "The MovieLens Datasets: History and Context",
ACM TiiS 5(4), 2015. https://doi.org/10.1145/2827872
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .checksums import RATING_COUNTS
from .download import DatasetError, check_name, dataset_folder

# ML-1M's occupation codes, from its README.
_ML1M_OCCUPATIONS = [
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
]


@dataclass(frozen=True)
class MovieLens:
    """One MovieLens dataset as three DataFrames (see the module docstring for the columns)."""

    name: str
    ratings: pd.DataFrame
    movies: pd.DataFrame
    users: pd.DataFrame | None

    def __repr__(self) -> str:  # short, so a notebook cell can end with the object
        r = self.ratings
        return (
            f"MovieLens({self.name!r}: {len(r):,} ratings, {r.user_id.nunique():,} users, "
            f"{r.item_id.nunique():,} rated movies of {len(self.movies):,})"
        )


def _read(path, what: str, **kwargs) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, **kwargs)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{what} ({os.path.basename(path)}) could not be parsed: {exc}") from None
    if frame.empty:
        raise DatasetError(f"{what} ({os.path.basename(path)}) holds no rows")
    return frame


def _year_from_title(titles: pd.Series) -> pd.Series:
    return pd.to_numeric(titles.str.extract(r"\((\d{4})\)\s*$")[0], errors="coerce").astype("Int16")


def _ratings_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({"user_id": "int32", "item_id": "int32", "rating": "float64", "timestamp": "int64"})


def load_ml100k(cache_dir=None) -> MovieLens:
    """MovieLens 100K: 100,000 ratings (1-5) of 1,682 movies by 943 users, 1997-1998."""
    files = ("u.data", "u.item", "u.user", "u.genre")
    folder = dataset_folder("ml-100k", files, cache_dir)
    ratings = _ratings_frame(
        _read(folder / "u.data", "ml-100k ratings", sep="\t", header=None,
              names=["user_id", "item_id", "rating", "timestamp"])
    )
    genre_names = _read(folder / "u.genre", "ml-100k genres", sep="|", header=None,
                        names=["genre", "code"]).sort_values("code").genre.tolist()
    items = _read(
        folder / "u.item", "ml-100k movies", sep="|", header=None, encoding="latin-1",
        names=["item_id", "title", "release_date", "video_release_date", "imdb_url", *genre_names],
    )
    flags = items[genre_names].to_numpy(dtype=bool)
    names = np.array(genre_names, dtype=object)
    genres = ["|".join(names[row]) if row.any() else "(no genres listed)" for row in flags]
    release = pd.to_datetime(items.release_date, format="%d-%b-%Y", errors="coerce")
    movies = pd.DataFrame({
        "item_id": items.item_id.astype("int32"),
        "title": items.title.astype(str),
        # the title's year is the film's; u.item's release date is sometimes a later re-release
        # (Return of the Jedi (1983) is dated 14-Mar-1997), so it only fills in a missing title year
        "year": _year_from_title(items.title.astype(str)).fillna(release.dt.year.astype("Int16")),
        "genres": genres,
    })
    users = _read(folder / "u.user", "ml-100k users", sep="|", header=None,
                  names=["user_id", "age", "gender", "occupation", "zip_code"], dtype={"zip_code": str})
    users = users.astype({"user_id": "int32", "age": "int16"})
    return MovieLens("ml-100k", ratings, movies, users)


def read_movies_csv(path, what: str = "movies") -> pd.DataFrame:
    """A GroupLens ``movies.csv`` (movieId,title,genres) as the course's movies table."""
    movies = _read(path, what).rename(columns={"movieId": "item_id"})
    return pd.DataFrame({
        "item_id": movies.item_id.astype("int32"),
        "title": movies.title.astype(str),
        "year": _year_from_title(movies.title),
        "genres": movies.genres.astype(str),
    })


def load_ml_latest_small(cache_dir=None) -> MovieLens:
    """MovieLens latest-small: 100,836 ratings (0.5-5 stars) by 610 users, 1996-2018."""
    folder = dataset_folder("ml-latest-small", ("ratings.csv", "movies.csv"), cache_dir)
    ratings = _read(folder / "ratings.csv", "ml-latest-small ratings")
    ratings = _ratings_frame(ratings.rename(columns={"userId": "user_id", "movieId": "item_id"}))
    movies = read_movies_csv(folder / "movies.csv", "ml-latest-small movies")
    return MovieLens("ml-latest-small", ratings, movies, None)


def load_tags(cache_dir=None) -> pd.DataFrame:
    """The free-text tags of MovieLens latest-small: user_id, item_id, tag (str), timestamp; 3,683 rows.

    Tags are words users attached to movies ("funny", "Pixar", "atmospheric"). They were written at
    any time, so a model that reads them may see words written after a test rating: say so when
    evaluating a content-based model with them (or keep only tags older than the split).
    """
    folder = dataset_folder("ml-latest-small", ("tags.csv",), cache_dir)
    tags = _read(folder / "tags.csv", "ml-latest-small tags", dtype={"userId": "int32", "movieId": "int32",
                                                                     "tag": str, "timestamp": "int64"})
    if list(tags.columns) != ["userId", "movieId", "tag", "timestamp"]:
        raise DatasetError(f"ml-latest-small tags.csv has columns {list(tags.columns)}, "
                           "expected userId,movieId,tag,timestamp")
    return tags.rename(columns={"userId": "user_id", "movieId": "item_id"})


def tags_per_item(tags: pd.DataFrame) -> pd.DataFrame:
    """One row per tagged item: item_id and ``tags``, the item's tags lower-cased and joined by spaces."""
    if not {"item_id", "tag"} <= set(tags.columns):
        raise ValueError("tags needs the columns item_id and tag (see load_tags)")
    joined = tags.dropna(subset=["tag"]).assign(tag=lambda t: t["tag"].str.lower()).groupby("item_id")["tag"]
    return joined.agg(" ".join).rename("tags").reset_index()


_CSV_COLUMNS = {"userId": "user_id", "movieId": "item_id", "rating": "rating", "timestamp": "timestamp"}


def read_ratings_csv(path, *, compact: bool = False, what: str = "ratings") -> pd.DataFrame:
    """A GroupLens ``ratings.csv`` (userId,movieId,rating,timestamp) as the course's ratings table.

    The parser is given each column's dtype (int32 ids, float64 or float32 ratings, int64 or int32
    timestamps), so it fills the final arrays directly; rows keep the file's order. ``compact``
    stores 16 instead of 24 bytes per rating. Raises :class:`DatasetError` for another header, a
    malformed row or a timestamp that does not fit int32 with ``compact``.
    """
    dtypes = {"userId": "int32", "movieId": "int32", "rating": "float32" if compact else "float64",
              "timestamp": "int64"}
    frame = _read(path, what, usecols=list(_CSV_COLUMNS), dtype=dtypes, engine="c")
    frame = frame[list(_CSV_COLUMNS)].rename(columns=_CSV_COLUMNS)
    if compact:
        t = frame["timestamp"].to_numpy()
        if len(t) and (t.min() < np.iinfo(np.int32).min or t.max() > np.iinfo(np.int32).max):
            raise DatasetError(f"{what}: timestamps do not fit int32; load without compact=True")
        frame["timestamp"] = t.astype(np.int32)
    return frame


def _load_large_csv(name: str, cache_dir=None, compact: bool = False) -> MovieLens:
    folder = dataset_folder(name, ("ratings.csv", "movies.csv"), cache_dir)
    ratings = read_ratings_csv(folder / "ratings.csv", compact=compact, what=f"{name} ratings")
    if len(ratings) != RATING_COUNTS[name]:
        raise DatasetError(f"{name} ratings.csv has {len(ratings):,} rows, expected {RATING_COUNTS[name]:,}: "
                           f"fetch it again with python -m course_lib.data fetch {name} --force")
    return MovieLens(name, ratings, read_movies_csv(folder / "movies.csv", f"{name} movies"), None)


def load_ml25m(cache_dir=None, *, compact: bool = False) -> MovieLens:
    """MovieLens 25M: 25,000,095 ratings (0.5-5 stars) by 162,541 users; 62,423 movies (a 262 MB zip)."""
    return _load_large_csv("ml-25m", cache_dir, compact)


def load_ml32m(cache_dir=None, *, compact: bool = False) -> MovieLens:
    """MovieLens 32M: 32,000,204 ratings (0.5-5 stars) by 200,948 users; 87,585 movies (a 239 MB zip)."""
    return _load_large_csv("ml-32m", cache_dir, compact)


def load_ml1m(cache_dir=None) -> MovieLens:
    """MovieLens 1M: 1,000,209 ratings (1-5) of 3,706 movies by 6,040 users, 2000-2003."""
    folder = dataset_folder("ml-1m", ("ratings.dat", "movies.dat", "users.dat"), cache_dir)
    kw = dict(sep="::", header=None, engine="python", encoding="latin-1")
    ratings = _ratings_frame(_read(folder / "ratings.dat", "ml-1m ratings",
                                   names=["user_id", "item_id", "rating", "timestamp"], **kw))
    if len(ratings) != 1_000_209:
        raise DatasetError(f"ml-1m ratings.dat has {len(ratings):,} rows, expected 1,000,209: fetch it again")
    movies = _read(folder / "movies.dat", "ml-1m movies", names=["item_id", "title", "genres"], **kw)
    movies = movies.assign(item_id=movies.item_id.astype("int32"), year=_year_from_title(movies.title))
    users = _read(folder / "users.dat", "ml-1m users",
                  names=["user_id", "gender", "age", "occupation", "zip_code"], dtype={"zip_code": str}, **kw)
    users = users.assign(occupation=[_ML1M_OCCUPATIONS[c] for c in users.occupation])
    users = users[["user_id", "age", "gender", "occupation", "zip_code"]].astype({"user_id": "int32", "age": "int16"})
    return MovieLens("ml-1m", ratings, movies[["item_id", "title", "year", "genres"]], users)


_LOADERS = {"ml-100k": load_ml100k, "ml-latest-small": load_ml_latest_small, "ml-1m": load_ml1m,
            "ml-25m": load_ml25m, "ml-32m": load_ml32m}
_COMPACT = ("ml-25m", "ml-32m")


def load_movielens(name: str = "ml-100k", *, cache_dir=None, compact: bool = False) -> MovieLens:
    """Load a MovieLens dataset by name, fetching and verifying it first if it is not cached.

    ``compact=True`` (ml-25m and ml-32m only) stores float32 ratings and int32 timestamps.

    >>> ml = load_movielens("ml-100k")      # doctest: +SKIP
    >>> ml.ratings.shape
    (100000, 4)
    """
    loader = _LOADERS[check_name(name)]
    if compact:
        if name not in _COMPACT:
            raise ValueError(f"compact=True is for the large datasets ({', '.join(_COMPACT)}), not {name}")
        return loader(cache_dir, compact=True)
    return loader(cache_dir)


def genre_matrix(movies: pd.DataFrame) -> pd.DataFrame:
    """One-hot genres: a 0/1 DataFrame indexed by item_id with one column per genre."""
    dummies = movies.set_index("item_id").genres.str.get_dummies(sep="|")
    return dummies.drop(columns=["(no genres listed)", "unknown"], errors="ignore")
