"""PyTorch recommenders: dot product, GMF, MLP, NeuMF, feature-aware, sequence and graph models; training, save/load, quantisation.

Importing this package imports PyTorch (``course_lib.models`` itself never does).
"""

from __future__ import annotations

from .graph import LightGCN, LightGCNNet, normalized_adjacency
from .sequence import Caser, CaserNet, GRU4Rec, LSTMRec, RNNNet, SequenceRecommender
from .features import AttentionFusion, ConcatFusion, FeatureAware, TextEncoder
from .models import GMF, MLP, DotProduct, NeuMF, NeuralRecommender
from .networks import DotProductNet, GMFNet, MLPNet, NeuMFNet
from .persistence import load_model, save_model
from .quantization import Int8Embedding, quantize, scoring_seconds, serialized_size
from .training import sample_unseen, train_network

__all__ = ["Caser", "CaserNet", "GRU4Rec", "LSTMRec", "LightGCN", "LightGCNNet", "RNNNet", "SequenceRecommender",
           "normalized_adjacency", "AttentionFusion", "ConcatFusion", "FeatureAware", "TextEncoder", "GMF", "MLP", "DotProduct", "DotProductNet", "GMFNet", "MLPNet", "NeuMF", "NeuMFNet",
           "NeuralRecommender", "load_model", "sample_unseen", "save_model", "train_network",
           "Int8Embedding", "quantize", "scoring_seconds", "serialized_size"]
