"""Reference neural-network layers in NumPy: the formulas of lesson 05 (and attention, layer norm,
positional embeddings and the transformer block of the sequence lessons), checked against PyTorch and Keras.

Every layer stores its weights in float64 with PyTorch's layout and is computed from its formula
(see each module's docstring for the formula with shapes). ``frameworks.to_torch`` and
``frameworks.to_keras`` copy a layer into the frameworks; the tests check that all three agree
to 1e-5. Importing this package imports neither PyTorch nor TensorFlow.

    from course_lib.nn_numpy import MLP, mse, mse_grad, Adam
    mlp = MLP.init([4, 8, 1], "relu", random_state=0)
"""

from ._shapes import ShapeError
from .activations import ACTIVATIONS, activation_backward, linear, relu, sigmoid, softmax, tanh
from .attention import (MultiHeadAttention, ScaledDotProductAttention, additive_mask, causal_mask, masked_softmax,
                        masked_softmax_backward, merge_heads, padding_mask, scaled_dot_product_attention,
                        scaled_dot_product_attention_backward, split_heads)
from .crossing import (CrossLayer, CrossNetwork, FactorizationMachine, FMInteraction, fm_pairwise,
                       fm_pairwise_naive)
from .conv import (Conv1D, Conv2D, MaxPool1D, MaxPool2D, conv1d, conv2d, conv_output_length, max_pool1d,
                   max_pool2d, resolve_padding)
from .dense import MLP, Dense
from .embedding import Embedding, one_hot
from .gradcheck import gradient_check, numerical_gradient, relative_error
from .losses import (binary_cross_entropy, binary_cross_entropy_grad, categorical_cross_entropy,
                     categorical_cross_entropy_grad, mse, mse_grad)
from .normalization import LayerNorm
from .optim import SGD, Adam
from .positional import LearnedPositionalEmbedding, sinusoidal_positions
from .recurrent import GRU, LSTM, SimpleRNN
from .transformer import TransformerBlock

__all__ = [
    "ShapeError", "ACTIVATIONS", "activation_backward", "linear", "relu", "sigmoid", "softmax", "tanh",
    "Conv1D", "Conv2D", "MaxPool1D", "MaxPool2D", "conv1d", "conv2d", "conv_output_length", "max_pool1d",
    "max_pool2d", "resolve_padding", "MLP", "Dense", "Embedding", "one_hot", "gradient_check",
    "numerical_gradient", "relative_error", "binary_cross_entropy", "binary_cross_entropy_grad",
    "categorical_cross_entropy", "categorical_cross_entropy_grad", "mse", "mse_grad", "SGD", "Adam",
    "GRU", "LSTM", "SimpleRNN", "MultiHeadAttention", "ScaledDotProductAttention", "additive_mask", "causal_mask",
    "masked_softmax", "masked_softmax_backward", "merge_heads", "padding_mask", "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward", "split_heads", "LayerNorm", "LearnedPositionalEmbedding",
    "sinusoidal_positions", "TransformerBlock", "CrossLayer", "CrossNetwork", "FactorizationMachine", "FMInteraction",
    "fm_pairwise", "fm_pairwise_naive",
]
