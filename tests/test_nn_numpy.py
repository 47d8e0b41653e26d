"""course_lib.nn_numpy against PyTorch: every layer's output (and the MLP's gradients) to 1e-5,
optimiser steps against torch.optim, a numerical gradient check, and clear shape errors.
The Keras half of the comparison is in test_nn_numpy_keras.py."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from layer_checks import assert_close as _close

import course_lib.nn_numpy as nn
from course_lib.nn_numpy import frameworks

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

ATOL = 1e-5


def _t(x):
    return torch.from_numpy(np.asarray(x, dtype=np.float32))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_importing_nn_numpy_starts_no_framework():
    code = ("import sys, course_lib.nn_numpy, course_lib.nn_numpy.frameworks;"
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------------------ activations, dense

@pytest.mark.parametrize("name, fn", [("relu", torch.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh),
                                      ("softmax", lambda z: torch.softmax(z, dim=-1))])
def test_activations_equal_torch(rng, name, fn):
    z = rng.normal(scale=3, size=(5, 7))
    _close(fn(_t(z)), nn.ACTIVATIONS[name](z))


def test_sigmoid_and_softmax_do_not_overflow():
    assert np.allclose(nn.sigmoid([-1000.0, 0.0, 1000.0]), [0.0, 0.5, 1.0])
    assert np.allclose(nn.softmax([[1000.0, 1000.0]]), [[0.5, 0.5]])


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh", "softmax"])
def test_dense_forward_equals_torch_linear(rng, activation):
    layer = nn.Dense.init(6, 4, activation, random_state=rng)
    layer.b = rng.normal(size=4)
    x = rng.normal(size=(8, 6))
    _close(frameworks.to_torch(layer)(_t(x)), layer(x))
    _close(frameworks.to_torch(layer)(_t(x[0])), layer(x[0]))  # a single example, shape (in,)


def _mlp(rng):
    mlp = nn.MLP.init([5, 8, 6, 3], ["relu", "tanh", "sigmoid"], random_state=rng)
    for layer in mlp.layers:
        layer.b += rng.normal(scale=0.1, size=layer.b.shape)
    return mlp


def test_mlp_forward_and_gradients_equal_torch_autograd(rng):
    mlp, x, y = _mlp(rng), rng.normal(size=(10, 5)), rng.uniform(size=(10, 3))
    y_hat = mlp(x)
    mlp.backward(nn.mse_grad(y_hat, y))
    model = frameworks.to_torch(mlp)
    xt = _t(x).requires_grad_(True)
    out = model(xt)
    _close(out, y_hat)
    loss = torch.nn.functional.mse_loss(out, _t(y))
    loss.backward()
    assert abs(loss.item() - nn.mse(y_hat, y)) < ATOL
    torch_grads = [p.grad for p in model.parameters()]  # weight, bias of each Linear, in order
    assert len(torch_grads) == len(mlp.grads)
    for ours, theirs in zip(mlp.grads, torch_grads):
        _close(theirs, ours)


def test_mlp_input_gradient_equals_torch(rng):
    mlp, x, y = _mlp(rng), rng.normal(size=(4, 5)), rng.uniform(size=(4, 3))
    dx = mlp.backward(nn.mse_grad(mlp(x), y))
    xt = _t(x).requires_grad_(True)
    torch.nn.functional.mse_loss(frameworks.to_torch(mlp)(xt), _t(y)).backward()
    _close(xt.grad, dx)


@pytest.mark.parametrize("activations, loss, loss_grad, target", [
    (["relu", "tanh", "sigmoid"], nn.mse, nn.mse_grad, "regression"),
    (["tanh", "sigmoid", "sigmoid"], nn.binary_cross_entropy, nn.binary_cross_entropy_grad, "binary"),
    (["relu", "relu", "softmax"], nn.categorical_cross_entropy, nn.categorical_cross_entropy_grad, "classes"),
])
def test_mlp_backward_passes_the_numerical_gradient_check(rng, activations, loss, loss_grad, target):
    mlp = nn.MLP.init([4, 6, 5, 3], activations, random_state=rng)
    for layer in mlp.layers:
        layer.b += rng.normal(scale=0.1, size=layer.b.shape)
    x = rng.normal(size=(7, 4))
    y = {"regression": rng.normal(size=(7, 3)),
         "binary": rng.integers(0, 2, size=(7, 3)).astype(float),
         "classes": nn.one_hot(rng.integers(0, 3, size=7), 3)}[target]
    errors = nn.gradient_check(mlp, x, y, loss, loss_grad)
    assert len(errors) == 6 and max(errors) < 1e-6, errors


def test_gradient_check_catches_a_wrong_backward(rng):
    mlp = nn.MLP.init([3, 4, 1], "tanh", random_state=rng)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 1))
    errors_ok = nn.gradient_check(mlp, x, y, nn.mse, nn.mse_grad)
    errors_bad = nn.gradient_check(mlp, x, y, nn.mse, lambda p, t: 2 * nn.mse_grad(p, t))
    assert max(errors_ok) < 1e-6 < 0.3 < min(errors_bad)


# ------------------------------------------------------------------------------ convolution, pooling

CONV1D_CASES = [
    dict(stride=1, padding=0), dict(stride=2, padding=1), dict(stride=1, padding=(2, 1)),
    dict(stride=1, padding="same"), dict(stride=3, padding="valid"), dict(stride=1, padding=2, dilation=2),
]


@pytest.mark.parametrize("kwargs", CONV1D_CASES, ids=str)
def test_conv1d_equals_torch(rng, kwargs):
    layer = nn.Conv1D.init(3, 4, 3, random_state=rng, **kwargs)
    x = rng.normal(size=(2, 3, 11))
    y = layer(x)
    assert y.shape == (2, 4, nn.conv_output_length(11, 3, kwargs["stride"], kwargs["padding"],
                                                   kwargs.get("dilation", 1)))
    _close(frameworks.to_torch(layer)(_t(x)), y)


def test_conv1d_matches_the_formula_by_hand():
    x = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])  # 1 channel, length 5
    W = np.array([[[1.0, 0.0, -1.0]]])          # not flipped: y_t = x_t - x_{t+2}
    assert np.allclose(nn.conv1d(x, W), [[-2.0, -2.0, -2.0]])
    assert np.allclose(nn.conv1d(x, W, stride=2, padding=1), [[-2.0, -2.0, 4.0]])


def test_conv_output_length():
    assert nn.conv_output_length(10, 3) == 8
    assert nn.conv_output_length(10, 3, stride=2, padding=1) == 5
    assert nn.conv_output_length(10, 4, stride=3, padding="same") == 4
    assert nn.conv_output_length(7, 3, dilation=3) == 1
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        nn.conv_output_length(10, 3, stride=0)


CONV2D_CASES = [dict(stride=1, padding=0), dict(stride=(2, 1), padding=(1, 2)), dict(stride=1, padding="same"),
                dict(stride=2, padding=1, dilation=(1, 2))]


@pytest.mark.parametrize("kwargs", CONV2D_CASES, ids=str)
def test_conv2d_equals_torch(rng, kwargs):
    layer = nn.Conv2D.init(2, 3, (3, 2), random_state=rng, **kwargs)
    x = rng.normal(size=(2, 2, 7, 6))
    _close(frameworks.to_torch(layer)(_t(x)), layer(x))


def test_max_pooling_equals_torch(rng):
    x1, x2 = rng.normal(size=(2, 3, 10)), rng.normal(size=(2, 3, 7, 8))
    for layer, x in ((nn.MaxPool1D(3), x1), (nn.MaxPool1D(3, 2), x1), (nn.MaxPool2D(2), x2),
                     (nn.MaxPool2D((3, 2), (2, 3)), x2)):
        _close(frameworks.to_torch(layer)(_t(x)), layer(x))


def test_same_padding_with_stride_is_refused_by_the_torch_copy(rng):
    with pytest.raises(ValueError, match="depends on the input length"):
        frameworks.to_torch(nn.Conv1D.init(1, 1, 3, random_state=rng, stride=2, padding="same"))


# ------------------------------------------------------------------------------ embedding, recurrent

def test_embedding_is_a_one_hot_product_and_equals_torch(rng):
    emb = nn.Embedding(rng.normal(size=(6, 4)))
    idx = np.array([[0, 5, 2], [2, 2, 1]])
    out = emb(idx)
    assert np.allclose(out, emb.E[idx])
    _close(frameworks.to_torch(emb)(torch.from_numpy(idx)), out)
    emb.backward(np.ones((2, 3, 4)))
    assert np.allclose(emb.dE[:, 0], [1, 1, 3, 0, 0, 1])


def _states(x, rng, units):
    return rng.normal(scale=0.5, size=(x.shape[0], units))


def test_simple_rnn_equals_torch(rng):
    rnn, x = nn.SimpleRNN.init(4, 5, random_state=rng), rng.normal(size=(3, 6, 4))
    h0 = _states(x, rng, 5)
    out, h_n = frameworks.to_torch(rnn)(_t(x), _t(h0)[None])
    hs = rnn(x, h0)
    assert hs.shape == (3, 6, 5)
    _close(out, hs)
    _close(h_n[0], hs[:, -1])
    assert np.allclose(hs[:, 0], np.tanh(x[:, 0] @ rnn.W_x.T + h0 @ rnn.W_h.T + rnn.b))


def test_lstm_equals_torch(rng):
    lstm, x = nn.LSTM.init(4, 5, random_state=rng), rng.normal(size=(3, 6, 4))
    h0, c0 = _states(x, rng, 5), _states(x, rng, 5)
    out, (h_n, c_n) = frameworks.to_torch(lstm)(_t(x), (_t(h0)[None], _t(c0)[None]))
    hs, cs = lstm(x, h0, c0)
    _close(out, hs)
    _close(c_n[0], cs[:, -1])


@pytest.mark.parametrize("unbatched", [False, True])
def test_gru_equals_torch(rng, unbatched):
    gru, x = nn.GRU.init(4, 5, random_state=rng), rng.normal(size=(3, 6, 4))
    out, _ = frameworks.to_torch(gru)(_t(x))
    _close(out, gru(x))
    if unbatched:
        _close(out[1], gru(x[1]))


def test_gru_reset_before_has_no_torch_copy(rng):
    with pytest.raises(ValueError, match="reset_after=True"):
        frameworks.to_torch(nn.GRU.init(2, 3, random_state=rng, reset_after=False))


def test_gru_reset_before_differs_from_reset_after(rng):
    after, x = nn.GRU.init(3, 4, random_state=rng), rng.normal(size=(2, 5, 3))
    before = nn.GRU(after.W_x, after.W_h, after.b_x, after.b_h, reset_after=False)
    assert not np.allclose(after(x), before(x))
    # with a zero recurrent bias for the candidate the two coincide at the first step (h_0 = 0)
    after.b_h[8:] = before.b_h[8:] = 0.0
    assert np.allclose(after(x)[:, 0], before(x)[:, 0]) and not np.allclose(after(x), before(x))


# ------------------------------------------------------------------------------ losses, optimisers

def test_losses_and_their_gradients_equal_torch(rng):
    F = torch.nn.functional
    y_hat, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    p, t = rng.uniform(0.05, 0.95, size=(6, 2)), rng.integers(0, 2, size=(6, 2)).astype(float)
    logits, labels = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    cases = [
        (lambda a: F.mse_loss(a, _t(y)), y_hat, nn.mse, nn.mse_grad, y, {}),
        (lambda a: F.binary_cross_entropy(a, _t(t)), p, nn.binary_cross_entropy, nn.binary_cross_entropy_grad, t, {}),
        (lambda a: F.binary_cross_entropy_with_logits(a, _t(t)), y_hat, nn.binary_cross_entropy,
         nn.binary_cross_entropy_grad, t, {"from_logits": True}),
        (lambda a: F.cross_entropy(a, torch.from_numpy(labels)), logits, nn.categorical_cross_entropy,
         nn.categorical_cross_entropy_grad, labels, {"from_logits": True}),
        (lambda a: -(torch.log(a) * _t(nn.one_hot(labels, 4))).sum(1).mean(), nn.softmax(logits),
         nn.categorical_cross_entropy, nn.categorical_cross_entropy_grad, nn.one_hot(labels, 4), {}),
    ]
    for torch_loss, pred, loss, grad, target, kw in cases:
        a = _t(pred).requires_grad_(True)
        value = torch_loss(a)
        value.backward()
        assert abs(value.item() - loss(pred, target, **kw)) < ATOL
        _close(a.grad, grad(pred, target, **kw))


def _run_steps(ours, theirs_cls, theirs_kwargs, rng, steps=5):
    params = [rng.normal(size=(3, 2)), rng.normal(size=4)]
    tparams = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    opt, topt = ours(params), theirs_cls(tparams, **theirs_kwargs)
    for _ in range(steps):
        grads = [rng.normal(size=p.shape) for p in params]
        opt.step(grads)
        for tp, g in zip(tparams, grads):
            tp.grad = torch.from_numpy(g)
        topt.step()
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=0, atol=1e-12)


def test_sgd_with_momentum_equals_torch_optim(rng):
    _run_steps(lambda ps: nn.SGD(ps, lr=0.1, momentum=0.9), torch.optim.SGD, dict(lr=0.1, momentum=0.9), rng)
    _run_steps(lambda ps: nn.SGD(ps, lr=0.05), torch.optim.SGD, dict(lr=0.05), rng)


def test_adam_equals_torch_optim(rng):
    _run_steps(lambda ps: nn.Adam(ps, lr=0.01), torch.optim.Adam, dict(lr=0.01), rng, steps=8)
    _run_steps(lambda ps: nn.Adam(ps, lr=0.1, betas=(0.8, 0.99), eps=1e-6), torch.optim.Adam,
               dict(lr=0.1, betas=(0.8, 0.99), eps=1e-6), rng, steps=3)


def test_adam_trains_an_mlp_like_torch(rng):
    mlp, x = nn.MLP.init([3, 4, 1], "tanh", random_state=rng), rng.normal(size=(16, 3))
    y = x[:, :1] - 0.5 * x[:, 1:2]
    for p in mlp.params:  # the copy goes through float32: start from float32-exact weights
        p[...] = p.astype(np.float32)
    model = frameworks.to_torch(mlp).double()
    opt, topt = nn.Adam(mlp.params, lr=0.05), torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(20):
        mlp.backward(nn.mse_grad(mlp(x), y))
        opt.step(mlp.grads)
        topt.zero_grad()
        torch.nn.functional.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        topt.step()
    _close(model(torch.from_numpy(x)), mlp(x), atol=1e-10)


# ------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("call, message", [
    (lambda: nn.Dense(np.ones((3, 4)), np.zeros(3))(np.ones((2, 5))),
     r"x has 5 features \(dimension 1 of shape \(2, 5\)\), expected 4 because W has shape \(3, 4\)"),
    (lambda: nn.Dense(np.ones((3, 4)), np.zeros(4)), r"b must have shape \(3,\).*dimension 0 is 4, expected 3"),
    (lambda: nn.MLP([nn.Dense.init(4, 3), nn.Dense.init(2, 1)]), "layer 1 expects 2 inputs but layer 0 has 3 outputs"),
    (lambda: nn.conv1d(np.ones((2, 3, 10)), np.ones((4, 2, 3))),
     r"x has 3 channels \(dimension 1 of shape \(2, 3, 10\)\), expected 2"),
    (lambda: nn.conv1d(np.ones((1, 2)), np.ones((1, 1, 3))), r"input's length \(2, plus padding 0\+0\) is smaller"),
    (lambda: nn.conv2d(np.ones((3, 8, 8)), np.ones((4, 3, 3))), r"W must have shape \(out_channels, in_channels, k"),
    (lambda: nn.LSTM.init(4, 5)(np.ones((2, 7, 3))),
     r"x has 3 features \(dimension 2 of shape \(2, 7, 3\)\), expected 4"),
    (lambda: nn.GRU(np.ones((9, 2)), np.ones((6, 2))), r"W_x has 9 rows .* expected 6"),
    (lambda: nn.SimpleRNN.init(2, 3)(np.ones((2, 4, 2)), h0=np.ones((2, 4))), r"h0 must have shape \(2, 3\)"),
    (lambda: nn.mse(np.ones((4, 1)), np.ones(4)), r"y_pred has shape \(4, 1\) but y_true has shape \(4,\)"),
    (lambda: nn.categorical_cross_entropy(np.ones((4, 3)) / 3, [0, 1]), "2 labels for 4 rows"),
])
def test_shape_errors_say_which_dimension_and_what_was_expected(call, message):
    with pytest.raises(nn.ShapeError, match=message):
        call()


def test_other_errors_are_clear():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        nn.Dense.init(2, 2, "gelu")
    with pytest.raises(IndexError, match=r"must lie in \[0, 3\].*got 4"):
        nn.Embedding(np.zeros((4, 2)))([1, 4])
    with pytest.raises(nn.ShapeError, match=r"grads\[1\] has shape \(2,\) but params\[1\] has shape \(3,\)"):
        nn.Adam([np.zeros(2), np.zeros(3)]).step([np.zeros(2), np.zeros(2)])
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        nn.conv1d(np.ones((1, 1, 5)), np.ones((1, 1, 2)), stride=0, padding="same")
    with pytest.raises(ValueError, match="dilation must be a positive integer"):
        nn.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 2, 2)), dilation=(1, 0))
    with pytest.raises(RuntimeError, match="forward before backward"):
        nn.Dense.init(2, 2).backward(np.zeros((1, 2)))


def test_adam_variants_differ_only_in_where_epsilon_goes(rng):
    g = rng.normal(size=5)
    a, b = np.zeros(5), np.zeros(5)
    nn.Adam([a], lr=0.1, eps=0.0).step([g])
    nn.Adam([b], lr=0.1, eps=0.0, variant="keras").step([g])
    assert np.allclose(a, b, atol=1e-14) and np.allclose(a, -0.1 * np.sign(g))
    with pytest.raises(ValueError, match="variant must be 'torch' or 'keras'"):
        nn.Adam([a], variant="tf")


def test_from_torch_reads_pytorch_initialised_modules_including_both_biases(rng):
    """PyTorch's own random initialisation, with a non-zero b_hh, read back into NumPy."""
    torch.manual_seed(0)
    x = rng.normal(size=(2, 5, 3))
    for module in (torch.nn.RNN(3, 4, batch_first=True), torch.nn.LSTM(3, 4, batch_first=True),
                   torch.nn.GRU(3, 4, batch_first=True)):
        _close(module(_t(x))[0], frameworks.from_torch(module)(x)[0] if isinstance(module, torch.nn.LSTM)
               else frameworks.from_torch(module)(x))
    seq = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2), torch.nn.Softmax(dim=-1))
    _close(seq(_t(x[0])), frameworks.from_torch(seq)(x[0]))
    conv = torch.nn.Conv1d(3, 2, 2, stride=2, padding=1)
    _close(conv(_t(x.transpose(0, 2, 1))), frameworks.from_torch(conv)(x.transpose(0, 2, 1)))
    conv2 = torch.nn.Conv2d(2, 3, (2, 3), stride=(1, 2), padding=(1, 0))
    img = rng.normal(size=(1, 2, 5, 6))
    _close(conv2(_t(img)), frameworks.from_torch(conv2)(img))


def test_torch_round_trip_keeps_the_weights(rng):
    gru = nn.GRU.init(3, 4, random_state=rng)
    back = frameworks.from_torch(frameworks.to_torch(gru))
    for a, b in ((gru.W_x, back.W_x), (gru.W_h, back.W_h), (gru.b_x, back.b_x), (gru.b_h, back.b_h)):
        np.testing.assert_allclose(a, b, atol=1e-7)
