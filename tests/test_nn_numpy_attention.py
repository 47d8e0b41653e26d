"""Attention, layer norm, positional embeddings and the transformer block of course_lib.nn_numpy against
PyTorch: outputs, attention weights and gradients with copied weights, to 1e-5 in float32 and 1e-10 or
tighter in float64; numerical gradient checks; and proof that the comparisons catch a wrong mask or a
missing 1/sqrt(d_k). The Keras half is in test_nn_numpy_attention_keras.py."""

from __future__ import annotations

import numpy as np
import pytest
from layer_checks import assert_close as _close

import course_lib.nn_numpy as nn
from course_lib.nn_numpy import frameworks

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
F = torch.nn.functional

ATOL = 1e-5    # float32: the frameworks' precision
ATOL64 = 1e-12  # float64, forward
GTOL64 = 1e-10  # float64, gradients


def _t(x, dtype=torch.float32):
    return torch.from_numpy(np.asarray(x)).to(dtype)


def _float32_exact(layer):
    """Round a layer's weights to float32 so that the float32 copy into PyTorch is exact (for float64 runs)."""
    for p in layer.params:
        p[...] = p.astype(np.float32)
    return layer


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _right_padded(rng, N=3, T=5, lengths=(5, 3, 1)):
    """valid (N, T): real items first, padding after (every query then sees at least itself under a causal mask)."""
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


# ------------------------------------------------------------------------------ masks and softmax

def test_masks_by_hand():
    assert causal_mask_is(nn.causal_mask(3), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    assert causal_mask_is(nn.causal_mask(2, 3), [[1, 0, 0], [1, 1, 0]])  # top-left aligned, as torch and Keras
    valid = np.array([[True, True, False], [True, False, False]])
    m = nn.causal_mask(3) & nn.padding_mask(valid)
    assert m.shape == (2, 3, 3)
    assert causal_mask_is(m[1], [[1, 0, 0], [1, 0, 0], [1, 0, 0]])
    assert np.array_equal(nn.additive_mask(np.array([True, False])), [0.0, -np.inf])


def causal_mask_is(mask, expected):
    return mask.dtype == bool and np.array_equal(mask.astype(int), expected)


def test_masked_softmax_is_stable_and_gives_fully_masked_rows_zero_weight():
    s = np.array([[1000.0, 1001.0, -1000.0], [0.0, 0.0, 0.0]])
    a = nn.masked_softmax(s)
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a[0], [1 / (1 + np.e), np.e / (1 + np.e), 0.0], atol=1e-15)
    mask = np.array([[True, True, True], [False, False, False]])
    a = nn.masked_softmax(s, mask)
    assert np.array_equal(a[1], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(nn.masked_softmax(s, nn.additive_mask(mask)), a)
    _close(torch.softmax(_t(s, torch.float64), -1), nn.masked_softmax(s), atol=ATOL64)


# ------------------------------------------------------------------------------ scaled dot-product attention

def _qkv(rng, lead=(2, 3), T_q=4, T_k=6, d_k=5, d_v=3):
    return (rng.normal(size=lead + (T_q, d_k)), rng.normal(size=lead + (T_k, d_k)),
            rng.normal(size=lead + (T_k, d_v)))


def _mask_case(kind, rng, T_q=4, T_k=6):
    if kind == "none":
        return None
    if kind == "causal":
        return nn.causal_mask(T_q, T_k)
    if kind == "causal-additive":
        return nn.additive_mask(nn.causal_mask(T_q, T_k))
    if kind == "padding":
        return nn.padding_mask(np.arange(T_k)[None] < np.array([[6], [2]]))[:, None]  # (2, 1, 1, T_k)
    if kind == "random+bias":  # a boolean pattern with every row keeping a key, then a finite additive bias
        m = rng.random((2, 3, T_q, T_k)) < 0.6
        m[..., 0] = True
        return nn.additive_mask(m) + rng.normal(size=(T_q, T_k))
    raise ValueError(kind)


MASK_KINDS = ["none", "causal", "causal-additive", "padding", "random+bias"]


def _torch_sdpa_mask(mask, dtype):
    if mask is None:
        return None
    m = np.asarray(mask)  # F.scaled_dot_product_attention: boolean True = take part (as here), float added
    return torch.from_numpy(m) if m.dtype == bool else _t(m, dtype)


@pytest.mark.parametrize("kind", MASK_KINDS)
@pytest.mark.parametrize("dtype, atol", [(torch.float32, ATOL), (torch.float64, ATOL64)], ids=["f32", "f64"])
def test_attention_equals_torch_scaled_dot_product_attention(rng, kind, dtype, atol):
    Q, K, V = _qkv(rng)
    mask = _mask_case(kind, rng)
    out, A = nn.scaled_dot_product_attention(Q, K, V, mask)
    assert out.shape == (2, 3, 4, 3) and A.shape == (2, 3, 4, 6)
    tm = _torch_sdpa_mask(mask, dtype)
    _close(F.scaled_dot_product_attention(_t(Q, dtype), _t(K, dtype), _t(V, dtype), attn_mask=tm), out, atol)
    # the weights, computed the textbook way in torch
    scores = _t(Q, dtype) @ _t(K, dtype).transpose(-1, -2) / np.sqrt(5)
    if tm is not None:
        scores = scores.masked_fill(~tm, -torch.inf) if tm.dtype == torch.bool else scores + tm
    _close(torch.softmax(scores, -1), A, atol)
    np.testing.assert_allclose(A.sum(-1), 1.0, atol=1e-12)


def test_causal_attention_equals_torch_is_causal(rng):
    Q, K, V = _qkv(rng, T_k=4)
    out, A = nn.scaled_dot_product_attention(Q, K, V, nn.causal_mask(4))
    _close(F.scaled_dot_product_attention(_t(Q), _t(K), _t(V), is_causal=True), out)
    assert np.all(A[..., np.triu_indices(4, 1)[0], np.triu_indices(4, 1)[1]] == 0)  # nothing from the future


def test_a_missing_scale_or_a_wrong_mask_fails_the_comparison(rng):
    """The comparisons above could fail: each mistake moves the output far beyond the tolerance."""
    Q, K, V = _qkv(rng, lead=(2,), T_k=4)
    causal = nn.causal_mask(4)
    reference = F.scaled_dot_product_attention(_t(Q), _t(K), _t(V), is_causal=True)
    mistakes = {
        "no 1/sqrt(d_k)": nn.scaled_dot_product_attention(Q, K, V, causal, scale=1.0)[0],
        "1/d_k instead of 1/sqrt(d_k)": nn.scaled_dot_product_attention(Q, K, V, causal, scale=1 / 5)[0],
        "no mask": nn.scaled_dot_product_attention(Q, K, V)[0],
        "PyTorch's MHA convention (True = forbidden) given to us": nn.scaled_dot_product_attention(Q, K, V, ~causal)[0],
        "mask transposed (attends to the future)": nn.scaled_dot_product_attention(Q, K, V, causal.T)[0],
    }
    for name, out in mistakes.items():
        gap = np.abs(reference.numpy() - out)
        assert np.nanmax(gap) > 100 * ATOL or np.isnan(gap).any(), name
        with pytest.raises(AssertionError):
            _close(reference, out)


def _loss_weights(rng, shape):
    return rng.normal(size=shape)  # L = sum(R * out): dL/dout = R


@pytest.mark.parametrize("kind", ["none", "causal", "random+bias"])
def test_attention_backward_equals_torch_autograd(rng, kind):
    Q, K, V = _qkv(rng)
    mask = _mask_case(kind, rng)
    R = _loss_weights(rng, (2, 3, 4, 3))
    layer = nn.ScaledDotProductAttention()
    layer(Q, K, V, mask)
    dQ, dK, dV = layer.backward(R)
    tq, tk, tv = (_t(a, torch.float64).requires_grad_(True) for a in (Q, K, V))
    out = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=_torch_sdpa_mask(mask, torch.float64))
    (out * _t(R, torch.float64)).sum().backward()
    for ours, theirs in ((dQ, tq), (dK, tk), (dV, tv)):
        _close(theirs.grad, ours, GTOL64)


def test_attention_backward_passes_the_numerical_gradient_check(rng):
    Q, K, V = _qkv(rng, lead=(2,), T_q=3, T_k=4, d_k=3, d_v=2)
    mask = nn.causal_mask(3, 4) & nn.padding_mask(np.array([[True] * 4, [True, True, False, False]]))
    R = _loss_weights(rng, (2, 3, 2))
    out, A = nn.scaled_dot_product_attention(Q, K, V, mask)
    grads = nn.scaled_dot_product_attention_backward(R, Q, K, V, A)
    for x, analytic in zip((Q, K, V), grads):
        numeric = nn.numerical_gradient(lambda: float((nn.scaled_dot_product_attention(Q, K, V, mask)[0] * R).sum()), x)
        assert nn.relative_error(analytic, numeric) < 1e-6
    # a backward pass that forgets the scale is caught by the same check
    wrong = nn.scaled_dot_product_attention_backward(R, Q, K, V, A, scale=1.0)[0]
    numeric = nn.numerical_gradient(lambda: float((nn.scaled_dot_product_attention(Q, K, V, mask)[0] * R).sum()), Q)
    assert nn.relative_error(wrong, numeric) > 0.1


def test_fully_masked_rows_get_zero_weights_output_and_gradient(rng):
    Q, K, V = _qkv(rng, lead=(1,), T_q=3, T_k=3)
    mask = nn.causal_mask(3) & nn.padding_mask(np.array([[False, True, True]]))  # query 0 may see nothing
    layer = nn.ScaledDotProductAttention()
    out = layer(Q, K, V, mask)
    assert np.array_equal(layer.weights[0, 0], [0, 0, 0]) and np.array_equal(out[0, 0], [0, 0, 0])
    dQ, dK, dV = layer.backward(np.ones_like(out))
    assert np.all(np.isfinite(dQ)) and np.array_equal(dQ[0, 0], [0, 0, 0, 0, 0])
    assert np.array_equal(dK[0, 0], np.zeros(5)) and np.array_equal(dV[0, 0], np.zeros(3))  # key 0 is padding
    # PyTorch 2.13's scaled_dot_product_attention agrees here (zeros); nn.MultiheadAttention does not (NaN)
    _close(F.scaled_dot_product_attention(_t(Q), _t(K), _t(V), attn_mask=torch.from_numpy(mask)), out)


# ------------------------------------------------------------------------------ multi-head attention

def _torch_mha(layer, dtype):
    mod = frameworks.to_torch(layer)
    return mod.double() if dtype == torch.float64 else mod


def _torch_mha_grads(mha):
    """Gradients of an nn.MultiheadAttention in the NumPy layer's order [W_Q, b_Q, W_K, b_K, W_V, b_V, W_O, b_O]."""
    if mha._qkv_same_embed_dim:
        Ws = mha.in_proj_weight.grad.chunk(3)
    else:
        Ws = [mha.q_proj_weight.grad, mha.k_proj_weight.grad, mha.v_proj_weight.grad]
    bs = mha.in_proj_bias.grad.chunk(3)
    return [g for W, b in zip(Ws, bs) for g in (W, b)] + [mha.out_proj.weight.grad, mha.out_proj.bias.grad]


@pytest.mark.parametrize("dtype, atol", [(torch.float32, ATOL), (torch.float64, ATOL64)], ids=["f32", "f64"])
def test_self_attention_equals_torch_multihead_attention_with_causal_and_padding_masks(rng, dtype, atol):
    layer = _float32_exact(nn.MultiHeadAttention.init(8, 2, random_state=rng))
    x, valid = rng.normal(size=(3, 5, 8)), _right_padded(rng)
    out, A = layer(x, mask=nn.causal_mask(5) & nn.padding_mask(valid))
    assert out.shape == (3, 5, 8) and A.shape == (3, 2, 5, 5)
    mha, xt = _torch_mha(layer, dtype), _t(x, dtype)
    t_out, t_A = mha(xt, xt, xt, attn_mask=frameworks.torch_attn_mask(nn.causal_mask(5)),
                     key_padding_mask=torch.from_numpy(~valid), average_attn_weights=False)
    _close(t_out, out, atol)
    _close(t_A, A, atol)
    _, t_mean = mha(xt, xt, xt, attn_mask=frameworks.torch_attn_mask(nn.causal_mask(5)),
                    key_padding_mask=torch.from_numpy(~valid))
    _close(t_mean, A.mean(axis=1), atol)  # PyTorch's default averages the heads' weights


@pytest.mark.parametrize("dtype, atol", [(torch.float32, ATOL), (torch.float64, ATOL64)], ids=["f32", "f64"])
def test_cross_attention_with_other_key_and_value_widths_equals_torch(rng, dtype, atol):
    layer = _float32_exact(nn.MultiHeadAttention.init(6, 3, kdim=4, vdim=5, random_state=rng))
    q, k, v = rng.normal(size=(2, 3, 6)), rng.normal(size=(2, 7, 4)), rng.normal(size=(2, 7, 5))
    mask = rng.random((2, 3, 7)) < 0.7
    mask[..., 2] = True
    out, A = layer(q, k, v, mask=mask)
    t_out, t_A = _torch_mha(layer, dtype)(_t(q, dtype), _t(k, dtype), _t(v, dtype),
                                          attn_mask=frameworks.torch_attn_mask(mask, num_heads=3),
                                          average_attn_weights=False)
    _close(t_out, out, atol)
    _close(t_A, A, atol)


def test_a_wrong_mask_convention_fails_the_multi_head_comparison(rng):
    layer = nn.MultiHeadAttention.init(8, 2, random_state=rng)
    x = rng.normal(size=(2, 5, 8))
    out, _ = layer(x, mask=nn.causal_mask(5))
    mha, xt = frameworks.to_torch(layer), _t(x)
    right = mha(xt, xt, xt, attn_mask=torch.from_numpy(~nn.causal_mask(5)))[0]
    wrong = mha(xt, xt, xt, attn_mask=torch.from_numpy(nn.causal_mask(5)))[0]  # our convention given to torch
    _close(right, out)
    with pytest.raises(AssertionError):
        _close(wrong, out)


def test_additive_masks_pass_to_torch_unchanged(rng):
    layer = nn.MultiHeadAttention.init(4, 2, random_state=rng)
    x = rng.normal(size=(2, 3, 4))
    bias = nn.additive_mask(nn.causal_mask(3)) + rng.normal(size=(2, 3, 3))  # -inf above the diagonal, then biases
    out, A = layer(x, mask=bias)
    xt = _t(x)
    t_out, t_A = frameworks.to_torch(layer)(xt, xt, xt, attn_mask=frameworks.torch_attn_mask(bias, num_heads=2).float(),
                                            average_attn_weights=False)
    _close(t_out, out)
    _close(t_A, A)


def test_left_padding_rows_are_nan_in_torch_and_zero_attention_here(rng):
    """A left-padded position under a causal mask sees no key: torch's MultiheadAttention gives NaN there;
    here its weights are zero (output = b_O); every other row agrees."""
    layer = nn.MultiHeadAttention.init(4, 2, random_state=rng)
    x, valid = rng.normal(size=(2, 4, 4)), np.array([[False, False, True, True], [True, True, True, True]])
    out, A = layer(x, mask=nn.causal_mask(4) & nn.padding_mask(valid))
    xt = _t(x)
    t_out, _ = frameworks.to_torch(layer)(xt, xt, xt, attn_mask=frameworks.torch_attn_mask(nn.causal_mask(4)),
                                          key_padding_mask=torch.from_numpy(~valid))
    t_out = t_out.detach().numpy()
    assert np.isnan(t_out[0, :2]).all() and not np.isnan(t_out[0, 2:]).any()
    assert np.array_equal(A[0, :, :2], np.zeros((2, 2, 4)))
    np.testing.assert_allclose(out[0, :2], np.broadcast_to(layer.out_proj.b, (2, 4)), atol=1e-15)
    _close(t_out[0, 2:], out[0, 2:])
    _close(t_out[1], out[1])


def test_multi_head_backward_equals_torch_autograd(rng):
    layer = _float32_exact(nn.MultiHeadAttention.init(6, 3, kdim=4, vdim=5, random_state=rng))
    q, k, v = rng.normal(size=(2, 3, 6)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 5))
    mask = nn.causal_mask(3, 5)
    R = _loss_weights(rng, (2, 3, 6))
    layer(q, k, v, mask=mask)
    dq, dk, dv = layer.backward(R)
    mha = _torch_mha(layer, torch.float64)
    tq, tk, tv = (_t(a, torch.float64).requires_grad_(True) for a in (q, k, v))
    out, _ = mha(tq, tk, tv, attn_mask=frameworks.torch_attn_mask(mask))
    (out * _t(R, torch.float64)).sum().backward()
    for ours, theirs in zip(layer.grads, _torch_mha_grads(mha)):
        _close(theirs, ours, GTOL64)
    for ours, theirs in ((dq, tq), (dk, tk), (dv, tv)):
        _close(theirs.grad, ours, GTOL64)


def test_multi_head_backward_passes_the_numerical_gradient_check(rng):
    layer = nn.MultiHeadAttention.init(4, 2, random_state=rng)
    x = rng.normal(size=(2, 3, 4))
    mask = nn.causal_mask(3) & nn.padding_mask(np.array([[True, True, True], [True, True, False]]))
    R = _loss_weights(rng, (2, 3, 4))

    def loss():
        return float((layer(x, mask=mask)[0] * R).sum())

    layer(x, mask=mask)
    dq, dk, dv = layer.backward(R)
    analytic = [g.copy() for g in layer.grads] + [dq + dk + dv]  # self-attention: dL/dx is the sum
    numeric = [nn.numerical_gradient(loss, p) for p in layer.params + [x]]
    # b_K adds q . b_K to every score of a row, which the softmax ignores: its gradient is exactly zero
    assert np.abs(analytic[3]).max() < 1e-14 and np.abs(numeric[3]).max() < 1e-8
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        if k != 3:
            assert nn.relative_error(a, n) < 1e-6, k


def test_from_torch_reads_a_torch_initialised_multihead_attention(rng):
    torch.manual_seed(0)
    x, kv = rng.normal(size=(2, 4, 6)), rng.normal(size=(2, 3, 5))
    for mha in (torch.nn.MultiheadAttention(6, 2, batch_first=True),
                torch.nn.MultiheadAttention(6, 3, kdim=5, vdim=5, batch_first=True)):
        with torch.no_grad():  # torch starts the biases at zero: make them count
            mha.in_proj_bias.normal_()
            mha.out_proj.bias.normal_()
        ours = frameworks.from_torch(mha)
        src = x if mha._qkv_same_embed_dim else kv
        _close(mha(_t(x), _t(src), _t(src), average_attn_weights=False)[0], ours(x, src, src)[0])
    back = frameworks.from_torch(frameworks.to_torch(ours))
    for a, b in zip(ours.params, back.params):
        np.testing.assert_allclose(a, b, atol=1e-7)


# ------------------------------------------------------------------------------ layer norm

@pytest.mark.parametrize("eps", [1e-5, 1e-3, 1e-8])
def test_layer_norm_forward_and_backward_equal_torch(rng, eps):
    norm = _float32_exact(nn.LayerNorm(rng.normal(size=6), rng.normal(size=6), eps=eps))
    x = rng.normal(loc=3.0, scale=2.0, size=(2, 4, 6))
    y = norm(x)
    R = _loss_weights(rng, y.shape)
    dx = norm.backward(R)
    mod = frameworks.to_torch(norm)
    assert mod.eps == eps
    _close(mod(_t(x)), y)
    mod = mod.double()
    xt = _t(x, torch.float64).requires_grad_(True)
    out = mod(xt)
    _close(out, y, ATOL64)
    (out * _t(R, torch.float64)).sum().backward()
    _close(xt.grad, dx, GTOL64)
    _close(mod.weight.grad, norm.dgamma, GTOL64)
    _close(mod.bias.grad, norm.dbeta, GTOL64)


def test_layer_norm_normalises_each_position_and_passes_the_gradient_check(rng):
    norm = nn.LayerNorm.init(5)
    x = rng.normal(loc=-2.0, scale=4.0, size=(3, 5))
    y = norm(x)
    np.testing.assert_allclose(y.mean(-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1.0 / (1.0 + 1e-5 / x.var(-1)), atol=1e-12)
    norm = nn.LayerNorm(rng.normal(size=5), rng.normal(size=5))
    R = _loss_weights(rng, (3, 5))
    norm(x)
    dx = norm.backward(R)
    for a, p in zip([norm.dgamma.copy(), norm.dbeta.copy(), dx], [norm.gamma, norm.beta, x]):
        assert nn.relative_error(a, nn.numerical_gradient(lambda: float((norm(x) * R).sum()), p)) < 1e-6


def test_from_torch_reads_layer_norm(rng):
    mod = torch.nn.LayerNorm(4, eps=1e-6)
    with torch.no_grad():
        mod.weight.normal_()
        mod.bias.normal_()
    x = rng.normal(size=(3, 4))
    ours = frameworks.from_torch(mod)
    assert ours.eps == 1e-6
    _close(mod(_t(x)), ours(x))


# ------------------------------------------------------------------------------ positional embeddings

def test_learned_positions_equal_torch_embedding_lookup_forward_and_backward(rng):
    pos = nn.LearnedPositionalEmbedding.init(6, 4, random_state=rng)
    x = rng.normal(size=(2, 5, 4))
    y = pos(x)
    emb = frameworks.to_torch(pos)
    assert isinstance(emb, torch.nn.Embedding)
    _close(_t(x) + emb(torch.arange(5)), y)
    R = _loss_weights(rng, y.shape)
    assert np.array_equal(pos.backward(R), R)
    emb = emb.double()
    (emb(torch.arange(5)) * _t(R, torch.float64)).sum().backward()
    _close(emb.weight.grad, pos.dP, GTOL64)
    assert np.array_equal(pos.dP[5], np.zeros(4))  # position 5 was not used


def test_learned_positions_with_explicit_positions_padding_at_zero(rng):
    """pmixer/SASRec.pytorch numbers positions 1..T and gives padded slots position 0 (a zero row)."""
    P = rng.normal(size=(4, 2))
    P[0] = 0.0
    pos, x = nn.LearnedPositionalEmbedding(P), rng.normal(size=(2, 3, 2))
    positions = np.array([[1, 2, 3], [0, 1, 2]])
    y = pos(x, positions)
    np.testing.assert_allclose(y, x + P[positions], atol=0)
    np.testing.assert_allclose(pos(x[0]), x[0] + P[:3], atol=0)  # unbatched, default positions 0..T-1


def test_sinusoidal_positions_by_hand_and_their_rotation_property():
    pe = nn.sinusoidal_positions(50, 4)
    np.testing.assert_allclose(pe[0], [0, 1, 0, 1], atol=0)
    np.testing.assert_allclose(pe[1], [np.sin(1), np.cos(1), np.sin(0.01), np.cos(0.01)], atol=1e-15)
    np.testing.assert_allclose(pe[7, 2:], [np.sin(7 / 100), np.cos(7 / 100)], atol=1e-15)  # 10000^(2/4) = 100
    odd = nn.sinusoidal_positions(3, 5)
    np.testing.assert_allclose(odd[2, 4], np.sin(2 / 10000 ** (4 / 5)), atol=1e-15)
    # PE[t + k] is a rotation of PE[t], so <PE[t], PE[t + k]> depends on k only
    dots = (pe[:-3] * pe[3:]).sum(1)
    np.testing.assert_allclose(dots, dots[0], atol=1e-12)
    assert abs(dots[0] - (pe[0] * pe[1]).sum()) > 0.1


# ------------------------------------------------------------------------------ the transformer block

def _block_masks(valid, T):
    ours = nn.causal_mask(T) & nn.padding_mask(valid)
    return ours, dict(src_mask=frameworks.torch_attn_mask(nn.causal_mask(T)),
                      src_key_padding_mask=torch.from_numpy(~valid))


@pytest.mark.parametrize("layout", ["pre_ln", "post_ln"])
@pytest.mark.parametrize("dtype, atol", [(torch.float32, ATOL), (torch.float64, ATOL64)], ids=["f32", "f64"])
def test_block_equals_torch_transformer_encoder_layer(rng, layout, dtype, atol):
    block = _float32_exact(nn.TransformerBlock.init(8, 2, 16, layout=layout, random_state=rng))
    x, valid = rng.normal(size=(3, 5, 8)), _right_padded(rng)
    mask, torch_masks = _block_masks(valid, 5)
    y, A = block(x, mask=mask)
    assert y.shape == (3, 5, 8) and A.shape == (3, 2, 5, 5)
    enc = frameworks.to_torch(block)
    assert enc.norm_first == (layout == "pre_ln")
    enc = enc.double() if dtype == torch.float64 else enc
    _close(enc(_t(x, dtype), **torch_masks), y, atol)
    with torch.no_grad():  # inference (PyTorch's fused fast path) agrees too
        _close(enc.eval()(_t(x, dtype), **torch_masks), y, max(atol, 1e-6))


def test_pre_and_post_layer_norm_blocks_differ(rng):
    pre = nn.TransformerBlock.init(8, 2, random_state=rng)
    post = nn.TransformerBlock(pre.attention, pre.ffn, pre.norm1, pre.norm2, layout="post_ln")
    x = rng.normal(size=(2, 4, 8))
    assert np.abs(pre(x)[0] - post(x)[0]).max() > 0.1


def _torch_sasrec_code_block(block, dtype):
    """SASRec's reference composition (kang205/SASRec; pmixer/SASRec.pytorch before norm_first) in PyTorch."""
    mods = [frameworks.to_torch(p) for p in (block.attention, block.norm1, block.ffn, block.norm2)]
    mods = [m.double() if dtype == torch.float64 else m for m in mods]
    mha, norm1, ffn, norm2 = mods

    def forward(x, attn_mask=None, key_padding_mask=None):
        z = norm1(x)
        a, _ = mha(z, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask)
        z2 = norm2(z + a)
        return z2 + ffn(z2)

    return forward, mods


@pytest.mark.parametrize("dtype, atol", [(torch.float32, ATOL), (torch.float64, ATOL64)], ids=["f32", "f64"])
def test_block_in_sasrec_code_layout_equals_the_torch_composition(rng, dtype, atol):
    block = _float32_exact(nn.TransformerBlock.init(6, 1, layout="sasrec_code", eps=1e-8, random_state=rng))
    x, valid = rng.normal(size=(3, 5, 6)), _right_padded(rng)
    mask, torch_masks = _block_masks(valid, 5)
    y, _ = block(x, mask=mask)
    forward, _ = _torch_sasrec_code_block(block, dtype)
    _close(forward(_t(x, dtype), torch_masks["src_mask"], torch_masks["src_key_padding_mask"]), y, atol)
    pre = nn.TransformerBlock(block.attention, block.ffn, block.norm1, block.norm2, layout="pre_ln")
    assert np.abs(pre(x, mask=mask)[0] - y).max() > 0.1  # the code's variant is not the paper's formula
    with pytest.raises(ValueError, match="sasrec_code"):
        frameworks.to_torch(block)


def _encoder_layer_grads(enc):
    return (_torch_mha_grads(enc.self_attn) + [enc.norm1.weight.grad, enc.norm1.bias.grad]
            + [enc.linear1.weight.grad, enc.linear1.bias.grad, enc.linear2.weight.grad, enc.linear2.bias.grad]
            + [enc.norm2.weight.grad, enc.norm2.bias.grad])


@pytest.mark.parametrize("layout", ["pre_ln", "post_ln", "sasrec_code"])
def test_block_backward_equals_torch_autograd(rng, layout):
    block = _float32_exact(nn.TransformerBlock.init(6, 2, 8, layout=layout, random_state=rng))
    x, valid = rng.normal(size=(2, 4, 6)), _right_padded(rng, N=2, T=4, lengths=(4, 2))
    mask, torch_masks = _block_masks(valid, 4)
    y, _ = block(x, mask=mask)
    R = _loss_weights(rng, y.shape)
    dx = block.backward(R)
    xt = _t(x, torch.float64).requires_grad_(True)
    if layout == "sasrec_code":
        forward, (mha, norm1, ffn, norm2) = _torch_sasrec_code_block(block, torch.float64)
        out = forward(xt, torch_masks["src_mask"], torch_masks["src_key_padding_mask"])
    else:
        enc = frameworks.to_torch(block).double()
        out = enc(xt, **torch_masks)
    (out * _t(R, torch.float64)).sum().backward()
    if layout == "sasrec_code":
        theirs = (_torch_mha_grads(mha) + [norm1.weight.grad, norm1.bias.grad]
                  + [p.grad for p in ffn.parameters()] + [norm2.weight.grad, norm2.bias.grad])
    else:
        theirs = _encoder_layer_grads(enc)
    assert len(theirs) == len(block.grads) == 16
    for ours, t in zip(block.grads, theirs):
        _close(t, ours, GTOL64)
    _close(xt.grad, dx, GTOL64)


def test_block_backward_passes_the_numerical_gradient_check(rng):
    block = nn.TransformerBlock.init(4, 2, 6, random_state=rng)
    x = rng.normal(size=(2, 3, 4))
    mask = nn.causal_mask(3)
    R = _loss_weights(rng, (2, 3, 4))

    def loss():
        return float((block(x, mask=mask)[0] * R).sum())

    block(x, mask=mask)
    dx = block.backward(R)
    analytic = [g.copy() for g in block.grads] + [dx]
    numeric = [nn.numerical_gradient(loss, p) for p in block.params + [x]]
    assert np.abs(analytic[3]).max() < 1e-14 and np.abs(numeric[3]).max() < 1e-8  # b_K: zero, see above
    errors = [nn.relative_error(a, n) for k, (a, n) in enumerate(zip(analytic, numeric)) if k != 3]
    assert max(errors) < 1e-6, errors


def test_from_torch_reads_a_transformer_encoder_layer(rng):
    torch.manual_seed(0)
    x = rng.normal(size=(2, 4, 8))
    for norm_first in (True, False):
        enc = torch.nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, batch_first=True, norm_first=norm_first)
        block = frameworks.from_torch(enc)
        assert block.layout == ("pre_ln" if norm_first else "post_ln")
        mask = nn.causal_mask(4)
        _close(enc(_t(x), src_mask=frameworks.torch_attn_mask(mask)), block(x, mask=mask)[0])


# ------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.scaled_dot_product_attention(np.ones((3, 4)), np.ones((5, 2)), np.ones((5, 2))), nn.ShapeError,
     r"K has 2 features \(dimension 1 of shape \(5, 2\)\), expected 4 because Q has shape \(3, 4\)"),
    (lambda: nn.scaled_dot_product_attention(np.ones((3, 4)), np.ones((5, 4)), np.ones((6, 2))), nn.ShapeError,
     r"V has 6 positions .* expected 5 because K has shape \(5, 4\): one value per key"),
    (lambda: nn.scaled_dot_product_attention(np.ones((3, 4)), np.ones((5, 4)), np.ones((5, 2)), nn.causal_mask(3)),
     nn.ShapeError, r"mask of shape \(3, 3\) does not broadcast to the scores' shape \(3, 5\)"),
    (lambda: nn.scaled_dot_product_attention(np.ones((3, 4)), np.ones((3, 4)), np.ones((3, 2)), np.tril(np.ones((3, 3),
                                             dtype=int))), TypeError, "integer 0/1 mask is ambiguous"),
    (lambda: nn.masked_softmax(np.ones((2, 2)), np.array([[0.0, np.inf], [0.0, 0.0]])), ValueError, r"NaN or \+inf"),
    (lambda: nn.scaled_dot_product_attention(np.ones((3, 4)), np.ones((3, 4)), np.ones((3, 2)), scale=0),
     ValueError, r"scale must be positive \(default 1/sqrt\(d_k\) = 0.5\)"),
    (lambda: nn.MultiHeadAttention.init(10, 3), ValueError, "d_model = 10 is not divisible by num_heads = 3"),
    (lambda: nn.MultiHeadAttention.init(8, 2)(np.ones((2, 5, 6))), nn.ShapeError,
     r"query has 6 features \(dimension 2 of shape \(2, 5, 6\)\), expected 8"),
    (lambda: nn.MultiHeadAttention.init(8, 2)(np.ones((2, 5, 8)), np.ones((2, 4, 8)), np.ones((2, 3, 8))),
     nn.ShapeError, "key has shape .* but value has shape"),
    (lambda: nn.MultiHeadAttention.init(8, 2)(np.ones((2, 5, 8)), mask=np.ones(5, bool)), nn.ShapeError,
     r"mask must have shape \(T_q, T_k\)"),
    (lambda: nn.MultiHeadAttention(np.ones((6, 4)), None, np.ones((6, 4)), None, np.ones((6, 4)), None,
                                   np.ones((4, 6)), None, 4),
     nn.ShapeError, "W_Q has 6 rows, which 4 heads cannot share"),
    (lambda: nn.padding_mask(np.array([[1, 0]])), TypeError, r"True at real positions \(e.g. ids != 0\)"),
    (lambda: nn.causal_mask(0), ValueError, "T_q must be a positive integer"),
    (lambda: nn.LearnedPositionalEmbedding.init(4, 2)(np.ones((1, 6, 2))), nn.ShapeError,
     "x has 6 positions but the table has 4 rows"),
    (lambda: nn.LearnedPositionalEmbedding.init(5, 2)(np.ones((2, 4, 2)), np.zeros((3, 4), int)), nn.ShapeError,
     r"positions must have shape \(4,\) or \(batch, 4\) to match x of shape \(2, 4, 2\), got shape \(3, 4\)"),
    (lambda: nn.LayerNorm.init(4)(np.ones((2, 3))), nn.ShapeError, r"x has 3 features .* expected 4"),
    (lambda: nn.LayerNorm(np.ones(3), eps=0), ValueError, "eps must be positive"),
    (lambda: nn.TransformerBlock.init(8, 2, layout="sandwich"), ValueError, "layout must be one of"),
    (lambda: nn.TransformerBlock(nn.MultiHeadAttention.init(8, 2), nn.MLP.init([8, 4, 8], ["relu", "linear"]),
                                 nn.LayerNorm.init(6), nn.LayerNorm.init(8)), nn.ShapeError, r"\{'norm1': 6\}"),
    (lambda: nn.ScaledDotProductAttention().backward(np.ones((2, 2))), RuntimeError, "forward before backward"),
    (lambda: frameworks.to_torch(nn.MultiHeadAttention.init(8, 2, key_dim=3)), ValueError,
     "torch.nn.MultiheadAttention needs h.d_k = h.d_v = out_features = the query width 8"),
    (lambda: frameworks.to_torch(nn.MultiHeadAttention(*nn.MultiHeadAttention.init(4, 2).params, 2, scale=1.0)),
     ValueError, "PyTorch scales the scores by 1/sqrt"),
    (lambda: frameworks.torch_attn_mask(nn.padding_mask(np.ones((2, 3), bool))), ValueError, "key_padding_mask"),
])
def test_errors_say_what_is_wrong_and_how_to_fix_it(call, error, message):
    with pytest.raises(error, match=message):
        call()
