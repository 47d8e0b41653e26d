"""A tiny hand-made ratings table: five people, six movies, small enough to work by hand.

Lessons use it to compute a formula with pencil and paper, then with NumPy, then with the
library, and to check that all three give the same number.

    ======  =========  =========  =====  =======  =====  ====
    user    Toy Story  Star Wars  Fargo  Titanic  Alien  Babe
    ======  =========  =========  =====  =======  =====  ====
    1 Ana   5          4          .      1        4      5
    2 Ben   4          5          2      .        5      4
    3 Cai   1          2          5      4        .      1
    4 Dee   .          1          4      5        2      2
    5 Eve   4          .          1      2        5      .
    ======  =========  =========  =====  =======  =====  ====
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TOY_USERS = ("Ana", "Ben", "Cai", "Dee", "Eve")
TOY_TITLES = ("Toy Story", "Star Wars", "Fargo", "Titanic", "Alien", "Babe")
_R = np.array(
    [
        [5, 4, np.nan, 1, 4, 5],
        [4, 5, 2, np.nan, 5, 4],
        [1, 2, 5, 4, np.nan, 1],
        [np.nan, 1, 4, 5, 2, 2],
        [4, np.nan, 1, 2, 5, np.nan],
    ]
)


def toy_matrix() -> pd.DataFrame:
    """The toy table as a users x movies DataFrame, NaN where a rating is missing."""
    return pd.DataFrame(_R.copy(), index=pd.Index(TOY_USERS, name="user"), columns=list(TOY_TITLES))


def toy_ratings() -> pd.DataFrame:
    """The toy table in the course's long format: user_id, item_id, rating, timestamp.

    Ids start at 1 (user 1 is Ana, item 1 is Toy Story); timestamps count days from
    2020-01-01, user by user, so time-based splits have something to work on.
    """
    users, items = np.nonzero(~np.isnan(_R))
    day = 86_400
    return pd.DataFrame({
        "user_id": (users + 1).astype("int32"),
        "item_id": (items + 1).astype("int32"),
        "rating": _R[users, items].astype("float64"),
        "timestamp": (1_577_836_800 + day * np.arange(len(users))).astype("int64"),
    })


def toy_movies() -> pd.DataFrame:
    """Titles of the toy movies, in the same format as :func:`load_movielens`'s ``movies``."""
    genres = ["Animation|Children's", "Action|Sci-Fi", "Crime|Thriller", "Drama|Romance", "Horror|Sci-Fi",
              "Children's|Comedy"]
    years = [1995, 1977, 1996, 1997, 1979, 1995]
    return pd.DataFrame({
        "item_id": np.arange(1, 7, dtype="int32"),
        "title": list(TOY_TITLES),
        "year": pd.array(years, dtype="Int16"),
        "genres": genres,
    })
