"""Feature crossing from scratch (course_lib.nn_numpy.crossing) against independent references.

* the factorisation machine's O(kn) pairwise term against the naive O(kn^2) sum over pairs, on dense,
  sparse one-hot and field-embedding inputs; its gradients against PyTorch autograd and central
  differences;
* the DCN-v2 cross layer (full rank, low rank, diag_scale) and a stack of them against keras-rs's
  ``FeatureCross`` (TensorFlow backend, float64: to 1e-6; float32: to 1e-5), gradients against
  TensorFlow's GradientTape on that layer and against central differences.
"""

from __future__ import annotations

import os

for _key, _value in {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_BACKEND": "tensorflow"}.items():
    os.environ.setdefault(_key, _value)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402

import course_lib.nn_numpy as nn  # noqa: E402
from course_lib.nn_numpy import numerical_gradient, relative_error  # noqa: E402

TOL = 1e-6      # the brief's bar for agreement with a library layer (float64 on both sides)
GRAD_TOL = 1e-6  # central differences, eps = 1e-6, float64


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _fm(rng, n=12, k=5) -> nn.FactorizationMachine:
    return nn.FactorizationMachine(rng.normal(size=1), rng.normal(size=n), rng.normal(scale=0.5, size=(n, k)))


def _one_hot_fields(rng, batch=9, sizes=(5, 8, 4)):
    """Indices of one active value per field, and the concatenated one-hot matrix (batch, sum(sizes))."""
    idx = np.stack([rng.integers(0, s, batch) for s in sizes], axis=1)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    X = np.zeros((batch, sum(sizes)))
    X[np.arange(batch)[:, None], idx + offsets] = 1.0
    return idx + offsets, X


# ------------------------------------------------------------------------ factorisation machine

def test_fm_pairwise_equals_the_sum_over_pairs(rng):
    X, V = rng.normal(size=(7, 12)), rng.normal(size=(12, 5))
    naive = np.array([sum(V[i] @ V[j] * x[i] * x[j] for i in range(12) for j in range(i + 1, 12)) for x in X])
    np.testing.assert_allclose(nn.fm_pairwise_naive(X, V), naive, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(nn.fm_pairwise(X, V), naive, rtol=1e-10, atol=1e-10)


def test_fm_forward_is_bias_plus_linear_plus_pairs(rng):
    fm, X = _fm(rng), rng.normal(size=(6, 12))
    expected = fm.w0[0] + X @ fm.w + nn.fm_pairwise_naive(X, fm.V)
    np.testing.assert_allclose(fm(X), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fm(X[2]), expected[2], rtol=1e-10)  # a single example, shape (n,)
    assert np.ndim(fm(X[2])) == 0


def test_fm_on_sparse_one_hot_rows_equals_dense_and_naive(rng):
    cols, X = _one_hot_fields(rng)
    fm = _fm(rng, n=X.shape[1], k=4)
    Xs = sp.csr_matrix(X)
    dense, sparse = fm(X), fm(Xs)
    np.testing.assert_allclose(sparse, dense, rtol=1e-12, atol=1e-12)
    # one-hot rows: the prediction is w0 + sum of the active weights + sum over pairs of active factors
    by_hand = [fm.w0[0] + fm.w[c].sum() + sum(fm.V[a] @ fm.V[b] for i, a in enumerate(c) for b in c[i + 1:])
               for c in cols]
    np.testing.assert_allclose(dense, by_hand, rtol=1e-10, atol=1e-10)
    # the parameter gradients agree between the dense and the sparse path
    g = rng.normal(size=len(X))
    fm(X)
    fm.backward(g)
    dense_grads = [a.copy() for a in fm.grads]
    fm(Xs)
    assert fm.backward(g) is None  # no input gradient for one-hot (sparse) features
    for a, b in zip(dense_grads, fm.grads):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    # the factor of a feature that is never active gets no gradient
    inactive = np.flatnonzero(X.sum(axis=0) == 0)
    assert inactive.size and np.all(fm.dV[inactive] == 0) and np.all(fm.dw[inactive] == 0)


def test_fm_interaction_on_field_embeddings_equals_pairs_and_the_fm(rng):
    cols, X = _one_hot_fields(rng, batch=6, sizes=(5, 8, 4, 3))
    V = rng.normal(size=(X.shape[1], 6))
    E = V[cols]                                      # (batch, fields, k): one embedding per field
    layer = nn.FMInteraction()
    m = E.shape[1]
    naive = np.array([sum(e[j] @ e[j2] for j in range(m) for j2 in range(j + 1, m)) for e in E])
    np.testing.assert_allclose(layer(E), naive, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer(E), nn.fm_pairwise(X, V), rtol=1e-10, atol=1e-10)
    per_factor = nn.FMInteraction(reduce=False)(E)
    assert per_factor.shape == (6, 6)
    np.testing.assert_allclose(per_factor.sum(axis=1), naive, rtol=1e-10, atol=1e-10)


def test_fm_gradients_equal_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    fm, X, g = _fm(rng), rng.normal(size=(8, 12)), rng.normal(size=8)
    y = fm(X)
    dX = fm.backward(g)
    t = {name: torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for name, v in (("w0", fm.w0), ("w", fm.w), ("V", fm.V), ("X", X))}
    # the naive pairwise sum in PyTorch (upper triangle of V V^T): independent of the O(kn) identity
    pairs = torch.einsum("bi,ij,bj->b", t["X"], torch.triu(t["V"] @ t["V"].T, diagonal=1), t["X"])
    y_t = t["w0"] + t["X"] @ t["w"] + pairs
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-10, atol=1e-10)
    (y_t * torch.tensor(g)).sum().backward()
    for name, ours in (("w0", fm.dw0), ("w", fm.dw), ("V", fm.dV), ("X", dX)):
        np.testing.assert_allclose(ours, t[name].grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=name)


def test_fm_gradient_check(rng):
    fm, X, y = _fm(rng, n=7, k=3), rng.normal(size=(5, 7)), rng.normal(size=5)
    errors = nn.gradient_check(fm, X, y, nn.mse, nn.mse_grad)
    assert max(errors) < GRAD_TOL, errors
    g = rng.normal(size=5)
    fm(X)
    dX = fm.backward(g)
    num = numerical_gradient(lambda: float(fm(X) @ g), X)
    assert relative_error(dX, num) < GRAD_TOL


@pytest.mark.parametrize("reduce", [True, False])
def test_fm_interaction_gradients_equal_torch_and_central_differences(rng, reduce):
    torch = pytest.importorskip("torch")
    E = rng.normal(size=(4, 5, 3))
    layer = nn.FMInteraction(reduce=reduce)
    out = layer(E)
    g = rng.normal(size=out.shape)
    dE = layer.backward(g)
    Et = torch.tensor(E, requires_grad=True)
    s = Et.sum(dim=1)
    terms = 0.5 * (s * s - (Et * Et).sum(dim=1))
    out_t = terms.sum(dim=1) if reduce else terms
    (out_t * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(dE, Et.grad.numpy(), rtol=1e-10, atol=1e-10)
    num = numerical_gradient(lambda: float((layer(E) * g).sum()), E)
    assert relative_error(dE, num) < GRAD_TOL


def test_fm_trains_on_crossed_ratings(rng):
    """An FM learns a target that only pairs of one-hot features explain (a linear model cannot)."""
    cols, X = _one_hot_fields(rng, batch=400, sizes=(6, 6))
    truth = _fm(np.random.default_rng(3), n=X.shape[1], k=2)
    y = truth(X)
    fm = nn.FactorizationMachine.init(X.shape[1], 2, random_state=0, scale=0.1)
    opt = nn.Adam(fm.params, lr=0.05)
    first = nn.mse(fm(X), y)
    for _ in range(300):
        fm.backward(nn.mse_grad(fm(X), y))
        opt.step(fm.grads)
    last = nn.mse(fm(X), y)
    A = np.c_[np.ones(len(X)), X]
    linear = nn.mse(A @ np.linalg.lstsq(A, y, rcond=None)[0], y)  # the best linear model's MSE
    assert last < 0.05 * first and last < 0.2 * linear, (first, last, linear)


def test_fm_errors_say_what_is_wrong(rng):
    fm = _fm(rng)
    with pytest.raises(nn.ShapeError, match="features.*expected 12"):
        fm(rng.normal(size=(3, 11)))
    with pytest.raises(nn.ShapeError, match="expected 12"):
        fm(sp.csr_matrix(np.ones((2, 10))))
    with pytest.raises(nn.ShapeError, match=r"V must be a matrix"):
        nn.FactorizationMachine(0.0, np.zeros(3), np.zeros(3))
    with pytest.raises(nn.ShapeError, match=r"w must have shape \(4,\)"):
        nn.FactorizationMachine(0.0, np.zeros(3), np.zeros((4, 2)))
    with pytest.raises(RuntimeError, match="forward before backward"):
        nn.FactorizationMachine.init(3, 2).backward(np.ones(1))
    fm(rng.normal(size=(3, 12)))
    with pytest.raises(nn.ShapeError, match="grad must have shape"):
        fm.backward(np.ones(4))
    with pytest.raises(nn.ShapeError, match="n_fields"):
        nn.FMInteraction()(np.ones((2, 3)))


# ---------------------------------------------------------------------------- DCN-v2 cross layer

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
keras_rs = pytest.importorskip("keras_rs")


def _cross(rng, d=6, rank=None, diag_scale=0.0) -> nn.CrossLayer:
    layer = nn.CrossLayer.init(d, rank, random_state=rng, diag_scale=diag_scale)
    layer.b = rng.normal(scale=0.3, size=d)
    return layer


def _keras_cross(layer: nn.CrossLayer, dtype: str = "float64"):
    """keras-rs's FeatureCross holding the layer's weights: kernel = W^T (full rank); V and U^T (low rank)."""
    fc = keras_rs.layers.FeatureCross(projection_dim=layer.rank, diag_scale=layer.diag_scale, dtype=dtype)
    fc(np.zeros((1, layer.d), dtype=dtype), np.zeros((1, layer.d), dtype=dtype))  # build
    if layer.rank is None:
        fc.dense.kernel.assign(layer.W.T)
    else:
        fc.down_proj_dense.kernel.assign(layer.V)
        fc.dense.kernel.assign(layer.U.T)
    fc.dense.bias.assign(layer.b)
    return fc


@pytest.mark.parametrize("rank, diag_scale", [(None, 0.0), (2, 0.0), (None, 0.5), (3, 1.0)])
def test_cross_layer_equals_keras_rs_feature_cross(rng, rank, diag_scale):
    layer = _cross(rng, rank=rank, diag_scale=diag_scale)
    x0, x = rng.normal(size=(8, 6)), rng.normal(size=(8, 6))
    fc = _keras_cross(layer)
    np.testing.assert_allclose(np.asarray(fc(x0, x)), layer(x0, x), rtol=0, atol=TOL)    # a deeper layer
    np.testing.assert_allclose(np.asarray(fc(x0)), layer(x0), rtol=0, atol=TOL)          # the first layer
    np.testing.assert_allclose(layer(x0[3]), layer(x0)[3], rtol=1e-12)                   # one example, shape (d,)
    fc32 = _keras_cross(layer, "float32")
    np.testing.assert_allclose(np.asarray(fc32(x0.astype(np.float32), x.astype(np.float32))), layer(x0, x),
                               rtol=0, atol=1e-5)


def test_cross_layer_is_the_formula(rng):
    layer = _cross(rng)
    x0, x = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    np.testing.assert_allclose(layer(x0, x), x0 * (x @ layer.W.T + layer.b) + x, rtol=1e-12)
    low = _cross(rng, rank=2, diag_scale=0.25)
    full = nn.CrossLayer(low.U @ low.V.T, low.b, diag_scale=0.25)  # W = U V^T
    np.testing.assert_allclose(low(x0, x), full(x0, x), rtol=1e-12, atol=1e-12)
    y_full, y_low = full(x0, x), None
    g = rng.normal(size=(5, 6))
    full.backward(g)
    y_low = low(x0, x)
    low.backward(g)
    np.testing.assert_allclose(y_low, y_full, rtol=1e-12, atol=1e-12)
    # chain rule through W = U V^T: dU = dW V, dV = dW^T U
    np.testing.assert_allclose(low.dU, full.dW @ low.V, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(low.dV, full.dW.T @ low.U, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rank, diag_scale", [(None, 0.0), (2, 0.5)])
def test_cross_layer_gradients_equal_tensorflow(rng, rank, diag_scale):
    layer = _cross(rng, rank=rank, diag_scale=diag_scale)
    x0, x, g = rng.normal(size=(7, 6)), rng.normal(size=(7, 6)), rng.normal(size=(7, 6))
    layer(x0, x)
    dx0, dx = layer.backward(g)
    fc = _keras_cross(layer)
    t0, t = tf.Variable(x0), tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(fc(t0, t) * g)
    weights = [fc.dense.kernel, fc.dense.bias] if rank is None else [fc.down_proj_dense.kernel, fc.dense.kernel,
                                                                     fc.dense.bias]
    grads = [np.asarray(v) for v in tape.gradient(loss, [t0, t, *weights])]
    np.testing.assert_allclose(dx0, grads[0], rtol=0, atol=TOL)
    np.testing.assert_allclose(dx, grads[1], rtol=0, atol=TOL)
    if rank is None:
        np.testing.assert_allclose(layer.dW, grads[2].T, rtol=0, atol=TOL)
    else:
        np.testing.assert_allclose(layer.dV, grads[2], rtol=0, atol=TOL)
        np.testing.assert_allclose(layer.dU, grads[3].T, rtol=0, atol=TOL)
    np.testing.assert_allclose(layer.db, grads[-1], rtol=0, atol=TOL)


@pytest.mark.parametrize("rank", [None, 2])
def test_cross_network_equals_stacked_keras_rs_layers_and_central_differences(rng, rank):
    net = nn.CrossNetwork([_cross(rng, rank=rank) for _ in range(3)])
    x0, y = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    fcs = [_keras_cross(layer) for layer in net.layers]
    t0 = tf.Variable(x0)
    with tf.GradientTape() as tape:
        h = t0
        for fc in fcs:
            h = fc(t0, h)
        loss = tf.reduce_sum(h * y)
    np.testing.assert_allclose(np.asarray(h), net(x0), rtol=0, atol=TOL)
    net(x0)
    dx0 = net.backward(y)
    np.testing.assert_allclose(dx0, np.asarray(tape.gradient(loss, t0)), rtol=0, atol=TOL)
    errors = nn.gradient_check(net, x0, y, nn.mse, nn.mse_grad)
    assert max(errors) < GRAD_TOL, errors
    num = numerical_gradient(lambda: float((net(x0) * y).sum()), x0)
    assert relative_error(dx0, num) < GRAD_TOL


def test_cross_layer_errors_say_what_is_wrong(rng):
    layer = _cross(rng)
    with pytest.raises(ValueError, match="either W .* or both U and V"):
        nn.CrossLayer(np.eye(3), U=np.ones((3, 1)), V=np.ones((3, 1)))
    with pytest.raises(ValueError, match="either W"):
        nn.CrossLayer(U=np.ones((3, 1)))
    with pytest.raises(nn.ShapeError, match="square"):
        nn.CrossLayer(np.ones((3, 4)))
    with pytest.raises(nn.ShapeError, match=r"V must have shape \(3, 2\)"):
        nn.CrossLayer(U=np.ones((3, 2)), V=np.ones((3, 1)))
    with pytest.raises(ValueError, match="diag_scale"):
        nn.CrossLayer(np.eye(3), diag_scale=-1.0)
    with pytest.raises(nn.ShapeError, match="width d=6"):
        layer(np.ones((2, 5)))
    with pytest.raises(nn.ShapeError, match="x must have shape"):
        layer(np.ones((2, 6)), np.ones((3, 6)))
    with pytest.raises(RuntimeError, match="forward before backward"):
        _cross(rng).backward(np.ones((2, 6)))
    with pytest.raises(nn.ShapeError, match="widths"):
        nn.CrossNetwork([_cross(rng, d=4), _cross(rng, d=5)])
