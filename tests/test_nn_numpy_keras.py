"""course_lib.nn_numpy against Keras 3 (TensorFlow backend): every layer's output, and the MLP's
gradients, agree to 1e-5 once the weights are copied (transposed, reordered, channels last)."""

from __future__ import annotations

import os

for _key, _value in {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_BACKEND": "tensorflow"}.items():
    os.environ.setdefault(_key, _value)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from layer_checks import assert_close as _close  # noqa: E402

import course_lib.nn_numpy as nn  # noqa: E402
from course_lib.nn_numpy import frameworks  # noqa: E402
from course_lib.nn_numpy.frameworks import channels_first, channels_last  # noqa: E402

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

ATOL = 1e-5


def _k(x):
    return tf.constant(np.asarray(x, dtype=np.float32))


@pytest.fixture
def rng():
    return np.random.default_rng(1)


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh", "softmax"])
def test_dense_equals_keras(rng, activation):
    layer = nn.Dense.init(6, 4, activation, random_state=rng)
    layer.b = rng.normal(size=4)
    x = rng.normal(size=(8, 6))
    dense = frameworks.to_keras(layer)
    assert dense.kernel.shape == (6, 4)  # Keras stores W transposed: (in, out)
    _close(dense(_k(x)), layer(x))


def test_mlp_forward_and_gradients_equal_keras_gradient_tape(rng):
    mlp = nn.MLP.init([5, 8, 6, 3], ["relu", "tanh", "softmax"], random_state=rng)
    for layer in mlp.layers:
        layer.b += rng.normal(scale=0.1, size=layer.b.shape)
    x, y = rng.normal(size=(10, 5)), nn.one_hot(rng.integers(0, 3, size=10), 3)
    y_hat = mlp(x)
    mlp.backward(nn.categorical_cross_entropy_grad(y_hat, y))
    model = frameworks.to_keras(mlp)
    with tf.GradientTape() as tape:
        out = model(_k(x))
        loss = keras.losses.CategoricalCrossentropy()(_k(y), out)
    _close(out, y_hat)
    assert abs(float(loss) - nn.categorical_cross_entropy(y_hat, y)) < ATOL
    grads = tape.gradient(loss, model.trainable_variables)  # kernel, bias of each Dense
    for k, (ours, theirs) in enumerate(zip(mlp.grads, grads)):
        _close(np.asarray(theirs).T if k % 2 == 0 else theirs, ours)


@pytest.mark.parametrize("kwargs", [dict(stride=1, padding=0), dict(stride=2, padding=1),
                                    dict(stride=1, padding=(2, 1)), dict(stride=1, padding="same"),
                                    dict(stride=3, padding="same"), dict(stride=1, padding="valid", dilation=2)],
                         ids=str)
def test_conv1d_equals_keras(rng, kwargs):
    layer = nn.Conv1D.init(3, 4, 4, random_state=rng, **kwargs)
    x = rng.normal(size=(2, 3, 11))  # (N, C, L); Keras takes (N, L, C)
    _close(channels_first(frameworks.to_keras(layer)(_k(channels_last(x)))), layer(x))


@pytest.mark.parametrize("kwargs", [dict(stride=1, padding=0), dict(stride=(2, 1), padding=(1, 2)),
                                    dict(stride=2, padding="same")], ids=str)
def test_conv2d_equals_keras(rng, kwargs):
    layer = nn.Conv2D.init(2, 3, (3, 2), random_state=rng, **kwargs)
    x = rng.normal(size=(2, 2, 7, 6))
    _close(channels_first(frameworks.to_keras(layer)(_k(channels_last(x)))), layer(x))


def test_max_pooling_equals_keras(rng):
    x1, x2 = rng.normal(size=(2, 3, 10)), rng.normal(size=(2, 3, 7, 8))
    for layer, x in ((nn.MaxPool1D(3), x1), (nn.MaxPool1D(3, 2), x1), (nn.MaxPool2D(2), x2),
                     (nn.MaxPool2D((3, 2), (2, 3)), x2)):
        _close(channels_first(frameworks.to_keras(layer)(_k(channels_last(x)))), layer(x))


def test_embedding_equals_keras(rng):
    emb, idx = nn.Embedding.init(7, 3, random_state=rng), np.array([[0, 6, 2], [2, 2, 1]])
    _close(frameworks.to_keras(emb)(tf.constant(idx)), emb(idx))


def test_simple_rnn_equals_keras(rng):
    rnn, x = nn.SimpleRNN.init(4, 5, random_state=rng), rng.normal(size=(3, 6, 4))
    _close(frameworks.to_keras(rnn)(_k(x)), rnn(x))


def test_lstm_equals_keras_including_the_cell_state(rng):
    lstm, x = nn.LSTM.init(4, 5, random_state=rng), rng.normal(size=(3, 6, 4))
    h0, c0 = rng.normal(scale=0.5, size=(3, 5)), rng.normal(scale=0.5, size=(3, 5))
    keras_lstm = frameworks.to_keras(lstm)
    hs, cs = lstm(x, h0, c0)
    _close(keras_lstm(_k(x), initial_state=[_k(h0), _k(c0)]), hs)
    keras_lstm.return_state = True
    _, h_n, c_n = keras_lstm(_k(x), initial_state=[_k(h0), _k(c0)])
    _close(h_n, hs[:, -1])
    _close(c_n, cs[:, -1])


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_equals_keras_in_both_variants(rng, reset_after):
    gru, x = nn.GRU.init(4, 5, random_state=rng, reset_after=reset_after), rng.normal(size=(3, 6, 4))
    keras_gru = frameworks.to_keras(gru)
    assert tuple(keras_gru.cell.bias.shape) == ((2, 15) if reset_after else (15,))
    _close(keras_gru(_k(x)), gru(x))


def test_losses_equal_keras(rng):
    y_hat, y = rng.normal(size=(6, 1)), rng.normal(size=(6, 1))
    p, t = rng.uniform(0.05, 0.95, size=(6, 1)), rng.integers(0, 2, size=(6, 1)).astype(float)
    probs, onehot = nn.softmax(rng.normal(size=(6, 4))), nn.one_hot(rng.integers(0, 4, size=6), 4)
    L = keras.losses
    assert abs(float(L.MeanSquaredError()(_k(y), _k(y_hat))) - nn.mse(y_hat, y)) < ATOL
    assert abs(float(L.BinaryCrossentropy()(_k(t), _k(p))) - nn.binary_cross_entropy(p, t)) < ATOL
    assert abs(float(L.BinaryCrossentropy(from_logits=True)(_k(t), _k(y_hat)))
               - nn.binary_cross_entropy(y_hat, t, from_logits=True)) < ATOL
    assert abs(float(L.CategoricalCrossentropy()(_k(onehot), _k(probs)))
               - nn.categorical_cross_entropy(probs, onehot)) < ATOL


@pytest.mark.parametrize("ours, theirs", [
    (lambda ps: nn.SGD(ps, lr=0.1, momentum=0.9), lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)),
    (lambda ps: nn.Adam(ps, lr=0.05, eps=1e-7, variant="keras"), lambda: keras.optimizers.Adam(learning_rate=0.05)),
    (lambda ps: nn.Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-3, variant="keras"),
     lambda: keras.optimizers.Adam(learning_rate=0.05, beta_1=0.8, beta_2=0.99, epsilon=1e-3)),
], ids=["sgd-momentum", "adam", "adam-large-epsilon"])
def test_optimiser_steps_equal_keras(rng, ours, theirs):
    """Keras writes momentum as v = mu v - lr g, p += v (the same steps); its Adam adds epsilon before
    the bias correction (variant="keras"; the torch variant differs by about 1e-5 here)."""
    params = [rng.normal(size=(3, 2))]
    var = keras.Variable(params[0].astype(np.float32))
    opt, kopt = ours(params), theirs()
    for _ in range(5):
        g = rng.normal(size=(3, 2))
        opt.step([g])
        kopt.apply_gradients([(_k(g), var)])
    _close(var.numpy(), params[0])


def test_from_keras_reads_keras_initialised_layers(rng):
    """Keras's own initialisation (GRU with both bias rows non-zero after a bias tweak) read into NumPy."""
    keras.utils.set_random_seed(0)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    for layer in (keras.layers.SimpleRNN(4, return_sequences=True), keras.layers.LSTM(4, return_sequences=True),
                  keras.layers.GRU(4, return_sequences=True),
                  keras.layers.GRU(4, return_sequences=True, reset_after=False)):
        layer.build((None, None, 3))
        w = layer.get_weights()
        layer.set_weights(w[:2] + [rng.normal(scale=0.3, size=w[2].shape)])
        ours = frameworks.from_keras(layer)
        _close(layer(x), ours(x)[0] if isinstance(ours, nn.LSTM) else ours(x))
    mlp = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(2)])
    _close(mlp(x[0]), frameworks.from_keras(mlp)(x[0]))
    conv = keras.layers.Conv1D(2, 3, strides=2, padding="same")
    _close(channels_first(conv(x)), frameworks.from_keras(conv)(channels_first(x)))
    conv2 = keras.layers.Conv2D(3, (2, 3), padding="valid")
    img = rng.normal(size=(1, 5, 6, 2)).astype(np.float32)
    _close(channels_first(conv2(img)), frameworks.from_keras(conv2)(channels_first(img)))
