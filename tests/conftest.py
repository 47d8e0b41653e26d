"""Shared test fixtures. Notebooks under tests/ (grading fixtures) are data, not lessons.

The numeric environment and the tolerant comparison are set up by the repository's top-level
``conftest.py``, which pytest loads for the lessons too (``pytest notebooks/07_....ipynb``).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

collect_ignore_glob = ["**/*.ipynb"]


@pytest.fixture
def torch_deterministic():
    """PyTorch on one thread with deterministic algorithms, for every test of a file that asks for it with
    ``pytestmark = pytest.mark.usefixtures("torch_deterministic")``."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


@pytest.fixture(scope="module")
def tensorflow_deterministic():
    """TensorFlow on one thread with deterministic ops, once per file that asks for it with
    ``pytestmark = pytest.mark.usefixtures("tensorflow_deterministic")``."""
    tf = pytest.importorskip("tensorflow")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass
    tf.config.experimental.enable_op_determinism()


@pytest.fixture(scope="session")
def ml100k():
    """MovieLens 100K from the cache (``make test`` fetches it first)."""
    from course_lib.data import load_movielens

    return load_movielens("ml-100k")


@pytest.fixture(scope="session")
def ratings(ml100k):
    return ml100k.ratings


@pytest.fixture(scope="session")
def split(ratings):
    """The 80/20 split that equals Surprise's ``train_test_split(test_size=0.2, random_state=42)``."""
    from course_lib.split import random_split

    return random_split(ratings, 0.2, random_state=42)


@pytest.fixture(scope="session")
def surprise_split(ratings):
    """Surprise's own (trainset, testset) for the same split, built from the same DataFrame."""
    from surprise import Dataset, Reader
    from surprise.model_selection import train_test_split

    data = Dataset.load_from_df(ratings[["user_id", "item_id", "rating"]], Reader(rating_scale=(1, 5)))
    return train_test_split(data, test_size=0.2, random_state=42)


@pytest.fixture(scope="session")
def small():
    """A fixed problem for the neural models: 60 users, 40 items, ratings from a rank-2 model plus noise."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    p, q = rng.normal(size=(60, 2)), rng.normal(size=(40, 2))
    users, items = np.nonzero(rng.random((60, 40)) < 0.4)
    r = np.clip(np.round(3 + (p[users] * q[items]).sum(1) + rng.normal(0, 0.3, len(users))), 1, 5)
    return pd.DataFrame({"user_id": users + 100, "item_id": items + 1000, "rating": r})


@pytest.fixture(scope="session")
def communities():
    """A ranking problem with a known answer: 60 users in two communities, each with its own 20 items
    (12 draws each), split 75/25 per user. A model that learns finds held-out items on the user's side;
    popularity, blind to the communities, reaches NDCG@10 of about 0.16."""
    import numpy as np
    import pandas as pd

    from course_lib.split import stratified_split

    rng = np.random.default_rng(0)
    rows = [(u, int(rng.integers(0, 20)) + 20 * (u % 2), 1.0, t) for u in range(60) for t in range(12)]
    r = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"]).drop_duplicates(["user_id", "item_id"])
    return stratified_split(r, 0.25, random_state=0)


@pytest.fixture(scope="session")
def shared_mirror():
    """The folder of verified raw MovieLens files, when this machine has one."""
    path = os.environ.get("COURSE_DATA_MIRROR")
    if not path or not os.path.isdir(path):
        pytest.skip("COURSE_DATA_MIRROR is not set to a folder of raw MovieLens files")
    return path


@pytest.fixture(scope="module")
def cycle():
    """Sequences to learn, for the sequence and attention models: 40 users walk a cycle of 15 items
    (i -> i + 1 mod 15) from random starts, 8-14 steps each."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(40):
        start, n = int(rng.integers(15)), int(rng.integers(8, 15))
        rows += [(u, (start + t) % 15, 4.0, 1000 + t) for t in range(n)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
