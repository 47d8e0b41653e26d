"""DistributedDataParallel on CPU: 2 processes with the same global batch follow 1 process's loss curve.

Tolerance: relative 1e-5 on each batch loss and 1e-4 on the weights. The two runs apply the same
updates and differ only in the order of float32 gradient sums (each process sums its half of the
batch, then the all-reduce adds the halves): rounding of a few float32 ulps (6e-8 relative) per
step, measured 2e-7 on the loss and 2e-6 on the weights after 3 epochs of MovieLens 100K
(``benchmarks/bench_ddp.py``). A wrong share of the loss per process (e.g. each process's own mean
without the ``W / |B|`` factor when slices differ, or a different data order) moves the curve by
1e-3 or more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from course_lib.distributed.ddp import batch_order, train_dot_product  # noqa: E402


@pytest.fixture(scope="module")
def ratings():
    rng = np.random.default_rng(0)
    n_users, n_items, n = 120, 80, 3001  # an odd count: the last global batch is short and splits unevenly
    pairs = rng.choice(n_users * n_items, n, replace=False)
    p, q = rng.normal(size=(n_users, 3)), rng.normal(size=(n_items, 3))
    u, i = pairs // n_items, pairs % n_items
    r = np.clip(np.round(3 + (p[u] * q[i]).sum(1) + rng.normal(0, 0.5, n)), 1, 5)
    return pd.DataFrame({"user_id": u + 10, "item_id": i + 5000, "rating": r})


@pytest.fixture(scope="module")
def runs(ratings):
    settings = dict(n_factors=8, global_batch=257, n_epochs=2, lr=0.02, seed=3)
    return {w: train_dot_product(ratings, n_processes=w, **settings) for w in (1, 2)}


def test_batch_order_is_the_same_everywhere_and_covers_every_rating():
    first, again = batch_order(1000, 300, epoch=1, seed=3), batch_order(1000, 300, epoch=1, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert [len(b) for b in first] == [300, 300, 300, 100]
    assert np.array_equal(np.sort(np.concatenate(first)), np.arange(1000))
    assert not np.array_equal(first[0], batch_order(1000, 300, epoch=2, seed=3)[0])  # reshuffled each epoch


def test_two_processes_follow_the_one_process_loss_curve(runs):
    one, two = runs[1], runs[2]
    assert len(one.losses) == len(two.losses) == 2 * 12  # ceil(3001 / 257) steps per epoch
    assert one.losses[-1] < 0.5 * one.losses[0]  # it trains
    assert np.abs(two.losses - one.losses).max() / one.losses.min() < 1e-5
    for name, w in one.weights.items():
        assert np.abs(two.weights[name] - w).max() < 1e-4, name


def test_the_one_process_run_is_a_plain_training_loop(ratings, runs):
    """An independent loop in this process (no spawn, no process group) gives the same bits."""
    from course_lib.interactions import Interactions
    from course_lib.models.torch_models.networks import DotProductNet

    data = Interactions.from_ratings(ratings)
    torch.manual_seed(3)
    net = DotProductNet(data.n_users, data.n_items, 8, biases=True, y_range=None)
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    u, i = torch.from_numpy(data.u.astype(np.int64)), torch.from_numpy(data.i.astype(np.int64))
    r = torch.from_numpy(data.r.astype(np.float32))
    losses = []
    for epoch in range(2):
        for batch in batch_order(len(r), 257, epoch, 3):
            b = torch.from_numpy(batch)
            loss = ((net(u[b], i[b]) - r[b]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    np.testing.assert_allclose(runs[1].losses, losses, rtol=1e-6)


def test_bad_settings_are_explained(ratings):
    with pytest.raises(ValueError, match="global_batch=1 is smaller than n_processes=2"):
        train_dot_product(ratings, n_processes=2, global_batch=1)
    with pytest.raises(TypeError, match="n_processes must be an integer >= 1"):
        train_dot_product(ratings, n_processes=0.5)
