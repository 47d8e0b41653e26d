"""PyTorch recommenders: dot product, GMF, MLP, NeuMF, feature-aware, two-tower, sequence, graph and autoencoder models; training, quantisation.

Importing this package imports PyTorch (``course_lib.models`` itself never does). Every model follows
:mod:`course_lib.models.base`; save and load them with :func:`course_lib.models.save_model` /
:func:`course_lib.models.load_model` (also re-exported here).
"""

from __future__ import annotations

from ..persistence import load_model, save_model
from .attention import BERT4Rec, BERT4RecNet, SASRec, SASRecNet
from .autoencoders import AutoRec, AutoRecNet, MultDAE, MultVAE, MultVAENet
from .features import AttentionFusion, ConcatFusion, FeatureAware, FeatureAwareNet, TextEncoder
from .graph import LightGCN, LightGCNNet, normalized_adjacency
from .models import GMF, MLP, DotProduct, NeuMF
from .networks import DotProductNet, GMFNet, MLPNet, NeuMFNet
from .rankers import DCNRanker, DeepFMRanker, FMRanker, LogisticRanker
from .quantization import Int8Embedding, quantize, scoring_seconds, serialized_size
from .sequence import Caser, CaserNet, GRU4Rec, LSTMRec, RNNNet, seen_mask
from .training import fit_network, fit_pairs, make_optimiser, score_all_batched, torch_random
from .two_tower import Tower, TwoTower, TwoTowerNet

__all__ = ["AttentionFusion", "Caser", "CaserNet", "ConcatFusion", "DotProduct", "DotProductNet", "FeatureAware",
           "FeatureAwareNet", "GMF", "GMFNet", "GRU4Rec", "Int8Embedding", "LSTMRec", "LightGCN", "LightGCNNet", "MLP",
           "MLPNet", "NeuMF", "NeuMFNet", "RNNNet", "TextEncoder", "fit_network", "fit_pairs", "load_model",
           "make_optimiser", "normalized_adjacency", "quantize", "score_all_batched", "save_model", "scoring_seconds",
           "seen_mask", "serialized_size", "torch_random", "Tower", "TwoTower", "TwoTowerNet",
           "BERT4Rec", "BERT4RecNet", "SASRec", "SASRecNet",
           "AutoRec", "AutoRecNet", "MultDAE", "MultVAE", "MultVAENet",
           "DCNRanker", "DeepFMRanker", "FMRanker", "LogisticRanker"]
