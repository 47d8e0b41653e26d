"""AutoRec, Mult-DAE and Mult-VAE (course_lib.models.torch_models.autoencoders) against independent references.

* the two halves of Mult-VAE's loss: the multinomial negative log-likelihood equals NumPy's, and the
  closed-form Gaussian KL equals a Monte Carlo estimate of E_q[log q(z) - log p(z)] (SciPy densities);
* AutoRec's masked loss ignores unobserved entries (value and gradient), and the networks' forward
  passes equal NumPy with the weights copied out (AutoRec's predictions on a tiny example too);
* the KL annealing schedule, determinism (same random_state -> identical scores), early stopping,
  save/load, learning a problem with a known answer, and clear errors for bad hyperparameters.

The contract checks (clone, fit/predict, unknown ids, save in a fresh process) are in test_contract.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from course_lib.evaluate import evaluate_full_ranking, evaluate_ratings
from course_lib.models import Popularity

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_deterministic")

from course_lib.models import load_model, save_model  # noqa: E402
from course_lib.models.torch_models import AutoRec, AutoRecNet, MultDAE, MultVAE, MultVAENet  # noqa: E402
from course_lib.models.torch_models.autoencoders import (  # noqa: E402
    gaussian_kl, kl_weight, masked_mse, multinomial_nll)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# -- the losses ---------------------------------------------------------------------------------------------

def test_multinomial_nll_equals_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 9))
    x = (rng.random((5, 9)) < 0.4).astype(float)
    x[0, :] = 0.0  # a user without items adds 0 but still counts in the average
    log_pi = logits - logits.max(1, keepdims=True)
    log_pi = log_pi - np.log(np.exp(log_pi).sum(1, keepdims=True))
    expected = -(x * log_pi).sum(1).mean()
    got = multinomial_nll(torch.tensor(logits), torch.tensor(x))
    assert float(got) == pytest.approx(expected, abs=1e-12)
    # summed over items, averaged over users: not the mean over all entries
    assert float(got) != pytest.approx(-(x * log_pi).mean(), rel=1e-3)
    # shifting a user's logits by a constant changes nothing (softmax)
    shifted = multinomial_nll(torch.tensor(logits + rng.normal(size=(5, 1))), torch.tensor(x))
    assert float(shifted) == pytest.approx(expected, abs=1e-12)


def test_gaussian_kl_equals_a_monte_carlo_estimate():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(3, 4))
    logvar = rng.normal(scale=0.5, size=(3, 4))
    sigma = np.exp(0.5 * logvar)
    z = mu + sigma * rng.standard_normal((200_000, 3, 4))  # samples of q(z | x)
    log_q = stats.norm.logpdf(z, loc=mu, scale=sigma).sum(-1)
    log_p = stats.norm.logpdf(z).sum(-1)
    monte_carlo = (log_q - log_p).mean(0).mean()  # E_q[log q - log p], averaged over the 3 users
    closed = float(gaussian_kl(torch.tensor(mu), torch.tensor(logvar)))
    assert closed == pytest.approx(monte_carlo, abs=0.02)
    assert closed > 0.5  # far from 0: the tolerance could fail
    assert float(gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3))) == 0.0  # q = p


def test_kl_weight_anneals_linearly_then_stops_at_beta():
    assert [kl_weight(t, 0.2, 1000) for t in (0, 50, 100, 200, 5000)] == pytest.approx([0.0, 0.05, 0.1, 0.2, 0.2])
    assert kl_weight(10, 1.0, 100) == pytest.approx(0.1)
    assert kl_weight(0, 0.3, 0) == 0.3  # no annealing


def test_masked_mse_ignores_unobserved_entries_value_and_gradient():
    r = torch.tensor([[5.0, 0.0, 3.0], [0.0, 4.0, 0.0]])
    m = (r > 0).double()
    r_hat = torch.tensor([[4.0, 2.0, 3.5], [1.0, 2.0, -7.0]], dtype=torch.float64, requires_grad=True)
    loss = masked_mse(r_hat, r.double(), m)
    assert float(loss.detach()) == pytest.approx((1.0 + 0.25 + 4.0) / 3)
    loss.backward()
    assert (r_hat.grad[m == 0] == 0).all() and (r_hat.grad[m == 1] != 0).all()
    np.testing.assert_allclose(_np(r_hat.grad), 2 * _np((r_hat - r) * m) / 3)
    other = r_hat.detach().clone()
    other[m == 0] = 100.0  # whatever the network says where nothing was observed
    assert float(masked_mse(other, r.double(), m)) == pytest.approx(float(loss.detach()))
    assert float(masked_mse(r_hat.detach(), r.double(), torch.zeros_like(m))) == 0.0  # no observed entry


# -- the networks against NumPy -----------------------------------------------------------------------------

def test_autorec_net_equals_numpy():
    torch.manual_seed(0)
    net = AutoRecNet(7, 3).double()
    r = np.array([[5.0, 0, 0, 3, 0, 1, 0], [0, 0, 2, 0, 0, 0, 4]])
    V, mu = _np(net.encoder.weight), _np(net.encoder.bias)
    W, b = _np(net.decoder.weight), _np(net.decoder.bias)
    expected = _sigmoid(r @ V.T + mu) @ W.T + b  # h(r) = W sigma(V r + mu) + b, row by row
    np.testing.assert_allclose(_np(net(torch.tensor(r))), expected, atol=1e-12)
    assert float(net.penalty().detach()) == pytest.approx(0.5 * ((V ** 2).sum() + (W ** 2).sum()))


@pytest.mark.parametrize("variational", [True, False])
def test_mult_net_equals_numpy_in_eval_mode(variational):
    torch.manual_seed(0)
    net = MultVAENet(6, n_factors=2, layers=(4,), dropout=0.5, variational=variational).double().eval()
    x = np.array([[1.0, 0, 1, 1, 0, 0], [0, 1, 0, 0, 0, 1]])
    (e1, e2), (d1, d2) = net.encoder, net.decoder
    w = lambda layer: (_np(layer.weight), _np(layer.bias))  # noqa: E731
    h = x / np.linalg.norm(x, axis=1, keepdims=True)  # no dropout in eval mode
    h = np.tanh(h @ w(e1)[0].T + w(e1)[1])
    out = h @ w(e2)[0].T + w(e2)[1]
    mu = out[:, :2] if variational else np.tanh(out)  # eval: z = mu (no sampling)
    logits = np.tanh(mu @ w(d1)[0].T + w(d1)[1]) @ w(d2)[0].T + w(d2)[1]
    got, got_mu, got_logvar = net(torch.tensor(x))
    np.testing.assert_allclose(_np(got), logits, atol=1e-12)
    np.testing.assert_allclose(_np(got_mu), mu, atol=1e-12)
    if variational:
        np.testing.assert_allclose(_np(got_logvar), out[:, 2:], atol=1e-12)
    else:
        assert got_logvar is None


def test_mult_vae_samples_z_in_training_mode_only():
    torch.manual_seed(0)
    net = MultVAENet(6, n_factors=2, layers=(4,), dropout=0.0).double()
    x = torch.tensor([[1.0, 0, 1, 1, 0, 0]], dtype=torch.float64)
    a, b = net.train()(x)[0], net(x)[0]
    assert float((a - b).abs().max().detach()) > 1e-6  # two draws of epsilon
    net.eval()
    np.testing.assert_array_equal(_np(net(x)[0]), _np(net(x)[0]))


def test_autorec_predicts_its_reconstruction_on_a_tiny_example():
    ratings = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 3], "item_id": [10, 20, 10, 30, 10, 20, 30],
                            "rating": [5.0, 3.0, 4.0, 2.0, 1.0, 4.0, 5.0]})
    m = AutoRec(n_factors=2, n_epochs=3, batch_size=2, early_stopping=False).fit(ratings)
    V, mu = _np(m.net_.encoder.weight), _np(m.net_.encoder.bias)
    W, b = _np(m.net_.decoder.weight), _np(m.net_.decoder.bias)
    r_20 = np.array([3.0, 0.0, 4.0])  # item 20's column: users 1, 2, 3 (user 2 did not rate it)
    h = W @ _sigmoid(V @ r_20 + mu) + b
    assert m.predict(2, 20).est == pytest.approx(np.clip(h[1], 1, 5), abs=1e-5)
    assert m.predict(3, 20).est == pytest.approx(np.clip(h[2], 1, 5), abs=1e-5)
    p = m.predict(4, 20)
    assert p.was_impossible and p.est == pytest.approx(m.global_mean_)


# -- the models ---------------------------------------------------------------------------------------------

SMALL = {AutoRec: dict(n_factors=8, n_epochs=3, batch_size=8),
         MultVAE: dict(n_factors=4, layers=(8,), n_epochs=3, batch_size=16),
         MultDAE: dict(n_factors=4, layers=(8,), n_epochs=3, batch_size=16)}


@pytest.mark.parametrize("cls", [AutoRec, MultVAE, MultDAE])
def test_same_seed_same_scores_other_seed_other_scores(small, cls):
    a, b, c = (cls(**SMALL[cls], random_state=s).fit(small) for s in (3, 3, 4))
    users = [100, 105, 159]
    np.testing.assert_array_equal(a.score_items(users), b.score_items(users))
    pd.testing.assert_frame_equal(a.history_, b.history_)
    assert np.abs(a.score_items(users) - c.score_items(users)).max() > 1e-4


@pytest.mark.parametrize("cls", [AutoRec, MultVAE, MultDAE])
def test_save_and_load_give_the_same_scores(small, cls, tmp_path):
    model = cls(**SMALL[cls]).fit(small)
    save_model(model, tmp_path / "m.model")
    again = load_model(tmp_path / "m.model")
    assert type(again.net_) is type(model.net_)
    np.testing.assert_array_equal(again.score_items([100, 107]), model.score_items([100, 107]))


@pytest.mark.parametrize("cls", [AutoRec, MultVAE, MultDAE])
def test_early_stopping_keeps_the_best_epoch(small, cls):
    m = cls(**{**SMALL[cls], "n_epochs": 6}, early_stopping=True, n_iter_no_change=1).fit(small)
    h = m.history_
    assert list(h.columns) == ["train_loss", "val_loss"] and h.index.name == "epoch"
    assert m.best_epoch_ == int(h["val_loss"].idxmin()) and m.n_epochs_ == len(h)
    off = cls(**{**SMALL[cls], "n_epochs": 4}, early_stopping=False).fit(small)
    assert list(off.history_.columns) == ["train_loss"] and off.n_epochs_ == 4 and off.best_epoch_ == 4


def test_validation_given_to_fit_is_its_val_loss(small):
    val = small.sample(60, random_state=1)
    train = small.drop(val.index)
    m = AutoRec(**SMALL[AutoRec], early_stopping=False).fit(train, validation=val)
    held = m.data_.encode(val, name="validation")
    u, i, r = held.known_triples()
    est, impossible = m._estimate(u, i)  # the last epoch's network, unclipped
    assert not impossible.any() and len(r) > 20
    assert m.history_["val_loss"].iloc[-1] == pytest.approx(np.mean((est - r) ** 2), rel=1e-5)


def test_autorec_learns_ratings(small):
    shuffled = small.sample(frac=1.0, random_state=0)
    train, test = shuffled.iloc[:800], shuffled.iloc[800:]
    m = AutoRec(n_factors=20, n_epochs=150, batch_size=8, lr=1e-2, reg=1.0, early_stopping=False).fit(train)
    baseline = np.sqrt(((test["rating"] - train["rating"].mean()) ** 2).mean())
    assert evaluate_ratings(m, test)["rmse"] < 0.85 * baseline


@pytest.mark.parametrize("cls, extra", [(MultVAE, dict(anneal_steps=100)), (MultDAE, {})])
def test_mult_models_learn_to_rank_held_out_items(communities, cls, extra):
    train, test = communities
    m = cls(n_factors=8, layers=(32,), n_epochs=60, batch_size=16, lr=3e-3, early_stopping=False, **extra).fit(train)
    popular = evaluate_full_ranking(Popularity().fit(train), test, 10)["ndcg@10"]
    assert evaluate_full_ranking(m, test, 10)["ndcg@10"] > popular + 0.15
    assert not m.predicts_ratings


def test_fitting_leaves_torch_global_state_alone(small):
    torch.manual_seed(123)
    before = torch.random.get_rng_state().clone()
    MultVAE(**SMALL[MultVAE]).fit(small)
    assert torch.equal(before, torch.random.get_rng_state())


# -- errors --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, message", [
    (lambda: AutoRec(n_factors=0), ValueError, "n_factors"),
    (lambda: AutoRec(reg=-1.0), ValueError, "reg"),
    (lambda: AutoRec(lr=0.0), ValueError, "lr"),
    (lambda: AutoRec(early_stopping="yes"), TypeError, "early_stopping"),
    (lambda: AutoRec(validation_fraction=1.0), ValueError, "validation_fraction"),
    (lambda: MultVAE(layers=600), ValueError, "layers"),
    (lambda: MultVAE(layers=(600, 0)), ValueError, "layers"),
    (lambda: MultVAE(dropout=1.0), ValueError, "dropout"),
    (lambda: MultVAE(beta=-0.1), ValueError, "beta"),
    (lambda: MultVAE(anneal_steps=-1), ValueError, "anneal_steps"),
    (lambda: MultVAE(anneal_steps=1.5), ValueError, "anneal_steps"),
    (lambda: MultDAE(n_factors=0), ValueError, "n_factors"),
    (lambda: MultDAE(batch_size=0), ValueError, "batch_size"),
])
def test_bad_hyperparameters_are_refused_with_a_message(small, make, error, message):
    with pytest.raises(error, match=message):
        make().fit(small)
