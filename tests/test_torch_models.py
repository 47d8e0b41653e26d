"""PyTorch models: shapes, learning to rank, NeuMF pre-training, save/load, reproducibility, no global side effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_deterministic")

from sklearn.base import clone  # noqa: E402

from course_lib.evaluate import evaluate_full_ranking, evaluate_ratings  # noqa: E402
from course_lib.models import NotFittedError, Popularity  # noqa: E402
from course_lib.models.torch_models import (GMF, MLP, DotProduct, DotProductNet, GMFNet, MLPNet,  # noqa: E402
                                            NeuMF, NeuMFNet, load_model, save_model)
from course_lib.split import random_split  # noqa: E402


FAST = dict(n_epochs=5, batch_size=128, progress=False)


@pytest.mark.parametrize("net", [DotProductNet(7, 5, 4), DotProductNet(7, 5, 4, biases=False, y_range=(0.5, 5.5)),
                                 GMFNet(7, 5, 4), MLPNet(7, 5, (8, 4)), NeuMFNet(7, 5, 4, (8, 4, 2))])
def test_network_shapes_and_score_all(net):
    net.eval()
    u, i = torch.tensor([0, 3, 6]), torch.tensor([4, 0, 2])
    out = net(u, i)
    assert out.shape == (3,)
    all_scores = net.score_all(torch.tensor([0, 6]))
    assert all_scores.shape == (2, 5)
    assert torch.allclose(all_scores[1, 2], out[2]) and torch.allclose(all_scores[0, 4], out[0])


def test_bounded_output_stays_in_range():
    net = DotProductNet(3, 3, 2, y_range=(0.5, 5.5))
    with torch.no_grad():
        net.user_emb.weight.fill_(10.0)
        net.item_emb.weight.fill_(10.0)
    out = net.score_all(torch.arange(3))
    assert (out <= 5.5).all() and (out >= 0.5).all()


@pytest.mark.parametrize("objective", ["mse", "bce", "bpr", "softmax"])
def test_dot_product_loss_decreases_on_a_small_problem(small, objective):
    m = DotProduct(n_factors=4, objective=objective, n_epochs=15, batch_size=64, lr=0.02, weight_decay=0,
                   early_stopping=False, progress=False).fit(small)
    loss = m.history_["train_loss"].to_numpy()
    assert loss.shape == (15,) and loss[-1] < 0.95 * loss[0]


@pytest.mark.parametrize("cls", [GMF, MLP, NeuMF])
def test_ncf_models_learn_to_rank_held_out_items(communities, cls):
    """Two communities of users with their own items: a model that learned anything finds the user's side."""
    train, test = communities
    m = cls(n_epochs=30, batch_size=64, lr=0.01, early_stopping=False, progress=False).fit(train)
    ndcg = evaluate_full_ranking(m, test, 10)["ndcg@10"]
    popular = evaluate_full_ranking(Popularity().fit(train), test, 10)["ndcg@10"]
    assert ndcg > popular + 0.15, (ndcg, popular)
    scores = m.score_items(m.data_.user_ids[:5])
    assert scores.shape == (5, m.data_.n_items) and np.isfinite(scores).all()


def test_rating_model_beats_the_mean_and_early_stopping_restores_the_best(small):
    train, test = random_split(small, 0.2, random_state=0)
    m = DotProduct(n_factors=4, lr=0.02, n_epochs=60, n_iter_no_change=3, batch_size=64, progress=False).fit(train)
    hist = m.history_
    assert len(hist) < 60  # stopped early
    best = hist["val_loss"].idxmin()
    assert len(hist) == best + 3 and m.best_epoch_ == best
    est = m.test(test)["est"]
    assert est.between(1, 5).all()
    rmse = evaluate_ratings(m, test)["rmse"]
    assert rmse < np.sqrt(((test["rating"] - train["rating"].mean()) ** 2).mean()) - 0.1


def test_same_seed_same_result_and_different_seed_differs(small):
    a = DotProduct(random_state=1, **FAST).fit(small)
    b = DotProduct(random_state=1, **FAST).fit(small)
    c = DotProduct(random_state=2, **FAST).fit(small)
    assert np.array_equal(a.item_factors_, b.item_factors_)
    assert a.history_.equals(b.history_)
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_fitting_leaves_the_global_random_state_alone(small):
    torch.manual_seed(123)
    np.random.seed(123)
    before_torch, before_numpy = torch.random.get_rng_state(), np.random.get_state()[1].copy()
    DotProduct(dropout=0.2, **FAST).fit(small)
    assert torch.equal(torch.random.get_rng_state(), before_torch)
    assert np.array_equal(np.random.get_state()[1], before_numpy)


def test_save_load_round_trip(small, tmp_path):
    for m in (DotProduct(**FAST).fit(small), NeuMF(layers=(8, 4), n_factors=4, **FAST).fit(small)):
        path = tmp_path / "model.model"
        save_model(m, path)
        back = load_model(path)
        assert type(back) is type(m) and back.get_params() == {**m.get_params()}
        assert np.array_equal(back.test(small)["est"].to_numpy(), m.test(small)["est"].to_numpy())
        pd.testing.assert_frame_equal(back.recommend(105, n=5), m.recommend(105, n=5))
        pd.testing.assert_frame_equal(back.history_, m.history_)


def test_neumf_pretraining_copies_gmf_and_mlp(small):
    gmf = GMF(n_factors=4, **FAST).fit(small)
    mlp = MLP(layers=(8, 4), **FAST).fit(small)
    neumf = NeuMF(n_factors=4, layers=(8, 4), pretrained=(gmf, mlp), alpha=0.5, n_epochs=1, lr=1e-12,
                  early_stopping=False, progress=False).fit(small)
    # with a negligible step the fused logit is the average of the two pre-trained logits
    u, i = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5])
    with torch.no_grad():
        expected = 0.5 * gmf.net_(u, i) + 0.5 * mlp.net_(u, i)
        assert torch.allclose(neumf.net_(u, i), expected, atol=1e-5)
    with pytest.raises(ValueError, match="must match"):
        NeuMF(n_factors=8, layers=(8, 4), pretrained=(gmf, mlp), **FAST).fit(small)


def test_errors_are_explicit(small):
    with pytest.raises(NotFittedError):
        DotProduct().recommend(100)
    with pytest.raises(ValueError, match="objective must be one of"):
        DotProduct(objective="hinge", **FAST).fit(small)
    with pytest.raises(ValueError, match="layers must be"):
        MLP(layers=(64, 0), **FAST).fit(small)
    assert clone(DotProduct(n_factors=3)).n_factors == 3


def test_importing_course_lib_models_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, course_lib.models, course_lib.models.implicit; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_softmax_loss_groups_users_but_equals_cross_entropy():
    from torch.nn import functional as F

    from course_lib.models.torch_models.training import _pair_loss as _loss

    torch.manual_seed(0)
    net = DotProductNet(6, 9, 3)
    with torch.no_grad():
        net.user_emb.weight.normal_()
        net.item_emb.weight.normal_()
    u, i = torch.tensor([2, 0, 2, 5, 0]), torch.tensor([1, 8, 3, 3, 0])
    assert torch.allclose(_loss(net, "softmax", u, i), F.cross_entropy(net.score_all(u), i), atol=1e-6)


@pytest.mark.parametrize("objective", ["mse", "bce"])
def test_sparse_embeddings_train_only_the_batch_rows_and_learn(small, objective):
    train, test = random_split(small, 0.2, random_state=0)
    m = DotProduct(n_factors=4, objective=objective, sparse=True, weight_decay=0, reg=1e-3, n_epochs=15,
                   batch_size=64, lr=0.02, early_stopping=False, progress=False).fit(train)
    loss = m.history_["train_loss"].to_numpy()
    assert loss[-1] < 0.95 * loss[0]
    assert m.net_.item_emb.weight.grad is None or m.net_.item_emb.weight.grad.is_sparse
    if objective == "mse":
        rmse = evaluate_ratings(m, test)["rmse"]
        assert rmse < np.sqrt(((test["rating"] - train["rating"].mean()) ** 2).mean()) - 0.1


def test_sparse_embeddings_refuse_softmax_and_weight_decay(small):
    with pytest.raises(ValueError, match="softmax"):
        DotProduct(objective="softmax", sparse=True, weight_decay=0, progress=False).fit(small)
    with pytest.raises(ValueError, match="weight_decay"):
        DotProduct(sparse=True, weight_decay=1e-4, progress=False).fit(small)
