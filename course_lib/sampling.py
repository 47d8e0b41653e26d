r"""Negative sampling: the one sampler every implicit-feedback model and protocol draws from.

Implicit feedback has positives only (a user watched, clicked, rated); a model learns what a
user does *not* pick from items drawn among those they never touched, the **negatives**. Every
observed pair is encoded as one integer key :math:`u \cdot |I| + i`; the sorted array of keys
answers "has user :math:`u` seen item :math:`i`?" by binary search, and unseen items are drawn
uniformly, redrawing the few that turn out to be seen:

* :func:`pair_keys` - the sorted keys of observed pairs;
* :func:`is_seen` - the lookup;
* :func:`sample_unseen` - ``n`` negatives per entry (training loops, the sampled protocol);
* :func:`sample_negatives` - the same on a DataFrame of raw ids, with labels (lesson 07).

Uniform sampling draws popular and obscure items alike; since most items are obscure, most
negatives are easy. That is a choice with consequences (for BPR and for the NCF protocol).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .validation import check_positive_int, check_random_state, check_ratings

__all__ = ["is_seen", "pair_keys", "sample_negatives", "sample_unseen"]


def pair_keys(u: np.ndarray, i: np.ndarray, n_items: int) -> np.ndarray:
    """Sorted unique keys ``u * n_items + i`` (int64) of the pairs ``(u[k], i[k])``."""
    return np.unique(np.asarray(u, dtype=np.int64) * n_items + np.asarray(i, dtype=np.int64))


def is_seen(keys: np.ndarray, seen_keys: np.ndarray) -> np.ndarray:
    """``np.isin(keys, seen_keys)`` for a sorted ``seen_keys``, by binary search (no re-sorting).

    ``np.isin`` sorts both arrays on every call; a binary search in the already sorted keys is
    O(len(keys) log len(seen_keys)) and several times faster at a million ratings.
    """
    if len(seen_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(seen_keys, keys), len(seen_keys) - 1)
    return seen_keys[at] == keys


def sample_unseen(u: np.ndarray, n_items: int, seen_keys: np.ndarray, n: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniformly drawn items per entry of ``u`` that the user has not seen.

    ``seen_keys`` is the sorted array of observed pairs (:func:`pair_keys`). Items the user has
    seen are redrawn until unseen. Returns the repeated users and the drawn items, each of shape
    ``(len(u) * n,)``, grouped by entry (entry ``k``'s negatives are at ``k * n ... k * n + n - 1``).
    """
    users = np.repeat(np.asarray(u, dtype=np.int64), n)
    items = rng.integers(0, n_items, size=len(users))
    bad = is_seen(users * n_items + items, seen_keys)
    while bad.any():
        items[bad] = rng.integers(0, n_items, size=int(bad.sum()))
        bad[bad] = is_seen(users[bad] * n_items + items[bad], seen_keys)
    return users, items


def sample_negatives(
    positives: pd.DataFrame, n_negatives: int = 4, *, items=None, exclude: pd.DataFrame | None = None,
    random_state: int = 0,
) -> pd.DataFrame:
    """For each (user, item) positive, draw ``n_negatives`` items the user has not interacted with.

    Parameters
    ----------
    positives : rows with user_id and item_id (the observed interactions).
    items : the candidate item ids (default: every item in ``positives``).
    exclude : more interactions that must not be drawn as negatives (default: ``positives``).
    random_state : see :func:`course_lib.validation.check_random_state`.

    Returns
    -------
    DataFrame with user_id, item_id, label (1 for the positives, 0 for the negatives), the
    positives first. Negatives are drawn uniformly and redrawn until unseen (:func:`sample_unseen`).
    """
    check_ratings(positives, columns=("user_id", "item_id"), allow_duplicates=True)
    n_negatives = check_positive_int(n_negatives, "n_negatives", minimum=0)
    items = np.unique(positives["item_id"].to_numpy() if items is None else np.asarray(items))
    seen = positives if exclude is None else pd.concat([positives[["user_id", "item_id"]], exclude[["user_id", "item_id"]]])
    user_codes, users = pd.factorize(seen["user_id"])
    item_pos = np.searchsorted(items, seen["item_id"].to_numpy())
    valid = (item_pos < len(items)) & (items[np.minimum(item_pos, len(items) - 1)] == seen["item_id"].to_numpy())
    keys = pair_keys(user_codes[valid], item_pos[valid], len(items))
    per_user = np.bincount(keys // len(items), minlength=len(users))  # distinct items per user
    if (per_user >= len(items)).any():
        raise ValueError("a user has interacted with every candidate item: no negatives can be drawn")
    rng = check_random_state(random_state)
    u, draw = sample_unseen(pd.Index(users).get_indexer(positives["user_id"]), len(items), keys, n_negatives, rng)
    negatives = pd.DataFrame({"user_id": np.asarray(users)[u], "item_id": items[draw], "label": 0})
    pos = pd.DataFrame({"user_id": positives["user_id"].to_numpy(), "item_id": positives["item_id"].to_numpy(), "label": 1})
    return pd.concat([pos, negatives], ignore_index=True)
