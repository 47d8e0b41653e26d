"""Checks at the API boundary, with errors that say what is wrong and how to fix it."""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

RATING_COLUMNS = ("user_id", "item_id", "rating")
_RENAMES = {"userId": "user_id", "movieId": "item_id", "itemId": "item_id", "user": "user_id", "item": "item_id"}


class RatingsError(ValueError):
    """A ratings table is not usable as it is; the message says why and how to fix it."""


def check_ratings(
    ratings: pd.DataFrame,
    *,
    name: str = "ratings",
    columns: tuple[str, ...] = RATING_COLUMNS,
    allow_duplicates: bool = False,
    rating_scale: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Validate a ratings table in the course's long format and return it unchanged.

    Checks: it is a DataFrame; it has ``columns``; it is not empty; ids and ratings are not
    missing; ratings are finite numbers (inside ``rating_scale`` when given); each
    (user_id, item_id) pair appears once unless ``allow_duplicates``.
    """
    if not isinstance(ratings, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame with columns {list(columns)}, got {type(ratings).__name__}"
        )
    var = name if name.isidentifier() else "ratings"  # how code hints refer to the table
    missing = [c for c in columns if c not in ratings.columns]
    if missing:
        hint = {k: v for k, v in _RENAMES.items() if k in ratings.columns and v in missing}
        fix = f" Rename them first: {var}.rename(columns={hint})" if hint else ""
        raise RatingsError(f"{name} is missing columns {missing}; it has {list(ratings.columns)}.{fix}")
    if len(ratings) == 0:
        raise RatingsError(f"{name} is empty: at least one rating is needed")
    for col in ("user_id", "item_id"):
        if col in columns and ratings[col].isna().any():
            row = int(np.flatnonzero(ratings[col].isna().to_numpy())[0])
            raise RatingsError(f"{name} has missing {col} values (first at row {row}); drop those rows")
    if "rating" in columns:
        values = ratings["rating"]
        if not pd.api.types.is_numeric_dtype(values):
            raise RatingsError(f"{name}['rating'] must be numeric, got dtype {values.dtype}; convert it with pd.to_numeric")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise RatingsError(
                f"{name} has {int(bad.sum())} NaN or infinite ratings (first at row {row}: user "
                f"{ratings['user_id'].iloc[row]}, item {ratings['item_id'].iloc[row]}). Drop them with "
                f"{var}.dropna(subset=['rating']) or fill them before fitting"
            )
        if rating_scale is not None:
            low, high = rating_scale
            outside = (values < low) | (values > high)
            if outside.any():
                row = int(np.flatnonzero(outside.to_numpy())[0])
                raise RatingsError(
                    f"{name} has {int(outside.sum())} ratings outside the scale [{low}, {high}] "
                    f"(first at row {row}: {values.iloc[row]}); fix the data or the rating_scale"
                )
    if not allow_duplicates and {"user_id", "item_id"} <= set(columns):
        dup = ratings.duplicated(["user_id", "item_id"], keep=False)
        if dup.any():
            row = int(np.flatnonzero(dup.to_numpy())[0])
            raise RatingsError(
                f"{name} has {int(dup.sum())} rows that repeat a (user_id, item_id) pair, e.g. user "
                f"{ratings['user_id'].iloc[row]} and item {ratings['item_id'].iloc[row]}. Keep one rating per "
                f"pair, e.g. {var}.drop_duplicates(['user_id', 'item_id'], keep='last')"
            )
    return ratings


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an integer >= ``minimum``; else a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_fraction(value, name: str) -> float:
    """Return ``value`` if it is a number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def check_rate(value, name: str) -> float:
    """Return ``value`` as a float if it is a finite number in [0, 1) (a dropout rate, a held-out share)."""
    p = check_finite_number(value, name, minimum=0)
    if p >= 1:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return p


def check_finite_number(value, name: str, *, minimum: float | None = None, strict: bool = False) -> float:
    """Return ``value`` as a float if finite (and >= or > ``minimum``); else a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}")
    return float(value)


def check_same_length(a, b, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Return ``a`` and ``b`` as 1-D float arrays, checking they have the same length and no NaN."""
    x, y = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"{names[0]} has {x.size} values but {names[1]} has {y.size}: they must match one to one")
    if x.size == 0:
        raise ValueError(f"{names[0]} and {names[1]} are empty")
    for arr, nm in ((x, names[0]), (y, names[1])):
        if np.isnan(arr).any():
            raise ValueError(f"{nm} contains {int(np.isnan(arr).sum())} NaN values")
    return x, y


def check_random_state(random_state, *, legacy: bool = False):
    """The one way every course model turns ``random_state`` into a random generator.

    ``random_state`` may be

    * an int: a generator seeded with it (reproducible: the same int gives the same model);
    * ``None``: a generator seeded from the operating system's entropy (a fresh start: two fits
      differ), as in scikit-learn and Surprise;
    * a ``numpy.random.Generator`` (or, with ``legacy=True``, a ``RandomState``): used as it is,
      so several models can share one stream.

    Returns a ``numpy.random.Generator``; with ``legacy=True`` a ``numpy.random.RandomState``
    instead, for the models that reproduce Surprise's random stream bit for bit (Surprise draws
    from ``RandomState``). Anything else is a ``ValueError`` that says what was received.
    """
    if random_state is None or (isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)):
        if random_state is not None and random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, None or a NumPy generator, got {random_state}")
        return np.random.RandomState(random_state) if legacy else np.random.default_rng(random_state)
    if legacy and isinstance(random_state, np.random.RandomState):
        return random_state
    if not legacy and isinstance(random_state, np.random.Generator):
        return random_state
    expected = "numpy.random.RandomState" if legacy else "numpy.random.Generator"
    raise ValueError(f"random_state must be an int, None or a {expected}, got {random_state!r}")


def derive_seed(rng) -> int:
    """A seed (0 <= seed < 2**63) drawn from ``rng``, to seed another library (PyTorch, Keras) from it."""
    if isinstance(rng, np.random.RandomState):
        return int(rng.randint(0, 2**31 - 1))
    return int(rng.integers(0, 2**63 - 1))
