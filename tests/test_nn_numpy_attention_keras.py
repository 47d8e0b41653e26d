"""Attention, layer norm, positional embeddings and the transformer block of course_lib.nn_numpy against
Keras 3 (TensorFlow backend): keras.ops.dot_product_attention, keras.layers.MultiHeadAttention (with
attention_mask), LayerNormalization and Embedding, forward to 1e-5 in float32 and 1e-12 in float64, and
gradients against tf.GradientTape; a wrong mask or a missing 1/sqrt(d_k) fails the comparison."""

from __future__ import annotations

import os

for _key, _value in {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_BACKEND": "tensorflow"}.items():
    os.environ.setdefault(_key, _value)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from layer_checks import assert_close as _close  # noqa: E402

import course_lib.nn_numpy as nn  # noqa: E402
from course_lib.nn_numpy import frameworks  # noqa: E402

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

ATOL = 1e-5
ATOL64 = 1e-12
GTOL64 = 1e-10


def _k(x, dtype="float32"):
    return tf.constant(np.asarray(x, dtype=dtype))


@pytest.fixture
def rng():
    return np.random.default_rng(1)


def _bhtd(x):
    """(B, h, T, d) -> (B, T, h, d): the layout of keras.ops.dot_product_attention."""
    return np.swapaxes(x, 1, 2)


# ------------------------------------------------------------------------------ single-head attention

# Keras 3.15 (TensorFlow backend) rounds the attention scale to float32 even for float64 inputs:
# keras.ops.dot_product_attention computes its default as 1/sqrt(float32(d_k)), and a Python float scale
# (MultiHeadAttention's 1/sqrt(key_dim) too) becomes a float32 tensor inside tf.cast / keras.ops.cast.
# With d_k = 3 that moves outputs by ~1e-8. So the float64 comparisons pass an np.float64 scale to
# dot_product_attention and give MultiHeadAttention key_dim = 4 (1/2 is exact in float32); the last
# test of the multi-head section proves that this rounding is the whole difference.
def _scale64(d_k, dtype):
    return np.float64(1 / np.sqrt(d_k)) if dtype == "float64" else None


@pytest.mark.parametrize("dtype, atol", [("float32", ATOL), ("float64", ATOL64)])
@pytest.mark.parametrize("kind", ["none", "causal", "padding+causal"])
def test_attention_equals_keras_dot_product_attention(rng, kind, dtype, atol):
    Q, K, V = rng.normal(size=(2, 3, 5, 3)), rng.normal(size=(2, 3, 5, 3)), rng.normal(size=(2, 3, 5, 2))
    valid = np.array([[True] * 5, [True, True, True, False, False]])
    mask = {"none": None, "causal": nn.causal_mask(5),
            "padding+causal": nn.causal_mask(5) & nn.padding_mask(valid)[:, None]}[kind]
    out, A = nn.scaled_dot_product_attention(Q, K, V, mask)
    theirs = keras.ops.dot_product_attention(
        _k(_bhtd(Q), dtype), _k(_bhtd(K), dtype), _k(_bhtd(V), dtype), scale=_scale64(3, dtype),
        mask=None if mask is None else tf.constant(np.broadcast_to(mask, A.shape)))  # bool, True = attend
    _close(_bhtd(np.asarray(theirs)), out, atol)


def test_a_missing_scale_or_a_wrong_mask_fails_the_keras_comparison(rng):
    Q, K, V = rng.normal(size=(1, 2, 4, 8)), rng.normal(size=(1, 2, 4, 8)), rng.normal(size=(1, 2, 4, 3))
    causal = nn.causal_mask(4)
    reference = _bhtd(np.asarray(keras.ops.dot_product_attention(_k(_bhtd(Q)), _k(_bhtd(K)), _k(_bhtd(V)),
                                                                 is_causal=True)))
    _close(reference, nn.scaled_dot_product_attention(Q, K, V, causal)[0])
    for out in (nn.scaled_dot_product_attention(Q, K, V, causal, scale=1.0)[0],
                nn.scaled_dot_product_attention(Q, K, V)[0],
                nn.scaled_dot_product_attention(Q, K, V, ~causal)[0]):
        with pytest.raises(AssertionError):
            _close(reference, out)


def test_attention_backward_equals_gradient_tape(rng):
    Q, K, V = rng.normal(size=(2, 1, 4, 3)), rng.normal(size=(2, 1, 5, 3)), rng.normal(size=(2, 1, 5, 2))
    mask = nn.causal_mask(4, 5)
    R = rng.normal(size=(2, 1, 4, 2))
    out, A = nn.scaled_dot_product_attention(Q, K, V, mask)
    ours = nn.scaled_dot_product_attention_backward(R, Q, K, V, A)
    tq, tk, tv = (tf.Variable(_bhtd(x)) for x in (Q, K, V))
    with tf.GradientTape() as tape:
        o = keras.ops.dot_product_attention(tq, tk, tv, mask=tf.constant(np.broadcast_to(mask, (2, 1, 4, 5))),
                                            scale=_scale64(3, "float64"))
        loss = tf.reduce_sum(o * tf.constant(_bhtd(R)))
    for a, g in zip(ours, tape.gradient(loss, [tq, tk, tv])):
        _close(_bhtd(np.asarray(g)), a, GTOL64)


# ------------------------------------------------------------------------------ multi-head attention

def _keras_mha_grads(grads):
    """GradientTape gradients of a Keras MultiHeadAttention in the NumPy layer's order and layout."""
    (qk, qb, kk, kb, vk, vb, ok, ob) = (np.asarray(g) for g in grads)
    return ([w.reshape(w.shape[0], -1).T for w in (qk,)] + [qb.ravel()] + [kk.reshape(kk.shape[0], -1).T, kb.ravel()]
            + [vk.reshape(vk.shape[0], -1).T, vb.ravel()] + [ok.reshape(-1, ok.shape[-1]).T, ob])


def test_self_attention_equals_keras_multi_head_attention_with_a_mask(rng):
    layer = nn.MultiHeadAttention.init(8, 2, random_state=rng)
    x = rng.normal(size=(3, 5, 8))
    valid = np.arange(5)[None] < np.array([[5], [3], [1]])
    mask = nn.causal_mask(5) & nn.padding_mask(valid)
    out, A = layer(x, mask=mask)
    mha = frameworks.to_keras(layer)
    k_out, k_A = mha(_k(x), _k(x), attention_mask=tf.constant(mask), return_attention_scores=True)
    _close(k_out, out)
    _close(k_A, A)
    # without the scores Keras takes its fused path; every row here sees at least one key, so it agrees
    _close(mha(_k(x), _k(x), attention_mask=tf.constant(mask)), out)
    _close(mha(_k(x), _k(x), use_causal_mask=True), layer(x, mask=nn.causal_mask(5))[0])


def test_cross_attention_with_keras_own_head_sizes_and_output_width(rng):
    """Keras lets key_dim, value_dim and the output width differ from d_model / h (PyTorch does not)."""
    layer = nn.MultiHeadAttention.init(6, 3, key_dim=4, value_dim=2, kdim=5, vdim=7, out_features=9, random_state=rng)
    q, k, v = rng.normal(size=(2, 3, 6)), rng.normal(size=(2, 4, 5)), rng.normal(size=(2, 4, 7))
    mask = rng.random((2, 3, 4)) < 0.6
    mask[..., 1] = True
    out, A = layer(q, k, v, mask=mask)
    assert out.shape == (2, 3, 9)
    k_out, k_A = frameworks.to_keras(layer)(_k(q), _k(v), _k(k), attention_mask=tf.constant(mask),
                                            return_attention_scores=True)
    _close(k_out, out)
    _close(k_A, A)


def test_a_wrong_mask_fails_the_keras_multi_head_comparison(rng):
    layer = nn.MultiHeadAttention.init(8, 2, random_state=rng)
    x = rng.normal(size=(2, 5, 8))
    mha = frameworks.to_keras(layer)
    out = layer(x, mask=nn.causal_mask(5))[0]
    _close(mha(_k(x), _k(x), use_causal_mask=True), out)
    with pytest.raises(AssertionError):  # PyTorch's convention (True = forbidden) given to Keras
        _close(mha(_k(x), _k(x), attention_mask=tf.constant(np.broadcast_to(~nn.causal_mask(5), (2, 5, 5)))), out)


def test_fully_masked_rows_zero_with_scores_uniform_without(rng):
    """A query that sees no key: Keras with return_attention_scores=True gives zero weights (as here);
    Keras's fused path (no scores asked) averages every key instead."""
    layer = nn.MultiHeadAttention.init(4, 2, random_state=rng)
    x = rng.normal(size=(1, 3, 4))
    mask = nn.causal_mask(3) & nn.padding_mask(np.array([[False, True, True]]))
    out, A = layer(x, mask=mask)
    mha = frameworks.to_keras(layer)
    k_out, k_A = mha(_k(x), _k(x), attention_mask=tf.constant(mask), return_attention_scores=True)
    _close(k_out, out)
    _close(k_A, A)
    fused = np.asarray(mha(_k(x), _k(x), attention_mask=tf.constant(mask)))
    _close(fused[0, 1:], out[0, 1:])
    values = x[0] @ layer.v_proj.W.T + layer.v_proj.b  # (T_k, h*d_v): every head averages its values
    _close(fused[0, 0], values.mean(axis=0) @ layer.out_proj.W.T + layer.out_proj.b)
    assert np.abs(fused[0, 0] - out[0, 0]).max() > 1e-2


def test_float64_multi_head_attention_from_keras_forward_and_backward(rng):
    keras.utils.set_random_seed(0)
    mha = keras.layers.MultiHeadAttention(2, 4, value_dim=3, dtype="float64")  # 1/sqrt(4): see _scale64
    mha.build((None, None, 6), (None, None, 5))
    mha.set_weights([w + rng.normal(scale=0.1, size=w.shape) for w in mha.get_weights()])  # non-zero biases
    layer = frameworks.from_keras(mha)
    q, v = rng.normal(size=(2, 3, 6)), rng.normal(size=(2, 4, 5))
    mask = nn.causal_mask(3, 4)
    out, A = layer(q, v, v, mask=mask)
    R = rng.normal(size=out.shape)
    dq, dk, dv = layer.backward(R)
    tq, tv = tf.Variable(q), tf.Variable(v)
    with tf.GradientTape() as tape:
        k_out, k_A = mha(tq, tv, attention_mask=tf.constant(np.broadcast_to(mask, (2, 3, 4))),
                         return_attention_scores=True)
        loss = tf.reduce_sum(k_out * R)
    _close(k_out, out, ATOL64)
    _close(k_A, A, ATOL64)
    grads = tape.gradient(loss, mha.trainable_variables + [tq, tv])
    for ours, theirs in zip(layer.grads, _keras_mha_grads(grads[:8])):
        _close(theirs, ours, GTOL64)
    _close(grads[8], dq, GTOL64)
    _close(grads[9], dk + dv, GTOL64)  # key defaults to value in Keras: one input, the two gradients add


def test_keras_float64_multi_head_attention_rounds_its_scale_to_float32(rng):
    keras.utils.set_random_seed(0)
    mha = keras.layers.MultiHeadAttention(1, 3, dtype="float64")
    mha.build((None, None, 4), (None, None, 4))
    layer = frameworks.from_keras(mha)
    x = rng.normal(size=(2, 5, 4))
    theirs = np.asarray(mha(_k(x, "float64"), _k(x, "float64")))
    gap = np.abs(theirs - layer(x)[0]).max()
    assert 1e-11 < gap < 1e-6  # float32 rounding of 1/sqrt(3), not a float32 computation
    rounded = nn.MultiHeadAttention(*layer.params, 1, scale=np.float32(1 / np.sqrt(3)))
    _close(theirs, rounded(x)[0], ATOL64)


# ------------------------------------------------------------------------------ layer norm, positions

@pytest.mark.parametrize("eps", [1e-3, 1e-5])
def test_layer_norm_equals_keras_layer_normalization(rng, eps):
    norm = nn.LayerNorm(rng.normal(size=6), rng.normal(size=6), eps=eps)
    x = rng.normal(loc=1.0, scale=3.0, size=(2, 4, 6))
    y = norm(x)
    k_norm = frameworks.to_keras(norm)
    assert k_norm.epsilon == eps
    _close(k_norm(_k(x)), y)
    back = frameworks.from_keras(k_norm)
    assert back.eps == eps
    np.testing.assert_allclose(back.gamma, norm.gamma, atol=1e-6)
    # float64 gradients
    k64 = keras.layers.LayerNormalization(epsilon=eps, dtype="float64")
    k64.build((None, 6))
    k64.set_weights([norm.gamma, norm.beta])
    R = rng.normal(size=y.shape)
    dx = norm.backward(R)
    xt = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = k64(xt)
        loss = tf.reduce_sum(out * R)
    _close(out, y, ATOL64)
    d_gamma, d_beta, d_x = tape.gradient(loss, [k64.gamma, k64.beta, xt])
    _close(d_gamma, norm.dgamma, GTOL64)
    _close(d_beta, norm.dbeta, GTOL64)
    _close(d_x, dx, GTOL64)


def test_keras_default_epsilon_is_not_torch_default(rng):
    """Copies keep the layer's epsilon; Keras's default (1e-3) moves a layer norm by more than the tolerance."""
    norm, x = nn.LayerNorm.init(4), rng.normal(scale=0.1, size=(3, 4))  # small variance: epsilon matters
    with pytest.raises(AssertionError):
        _close(keras.layers.LayerNormalization()(_k(x)), norm(x))


def test_learned_positions_equal_keras_embedding(rng):
    pos = nn.LearnedPositionalEmbedding.init(6, 3, random_state=rng)
    x = rng.normal(size=(2, 4, 3))
    _close(_k(x) + frameworks.to_keras(pos)(tf.range(4)), pos(x))


# ------------------------------------------------------------------------------ the transformer block

def test_pre_ln_block_equals_a_keras_composition(rng):
    block = nn.TransformerBlock.init(8, 2, 16, random_state=rng)
    x = rng.normal(size=(3, 5, 8))
    valid = np.arange(5)[None] < np.array([[5], [4], [2]])
    mask = nn.causal_mask(5) & nn.padding_mask(valid)
    y, A = block(x, mask=mask)
    norm1, mha, ffn, norm2 = (frameworks.to_keras(p) for p in (block.norm1, block.attention, block.ffn, block.norm2))
    xk, mk = _k(x), tf.constant(mask)
    z = norm1(xk)
    a, k_A = mha(z, z, attention_mask=mk, return_attention_scores=True)
    h = xk + a
    _close(h + tf.reshape(ffn(tf.reshape(norm2(h), (-1, 8))), h.shape), y)  # the FFN copy reads (positions, d)
    _close(k_A, A)
    with pytest.raises(TypeError, match="compose"):
        frameworks.to_keras(block)
