"""Course models. Every model follows the contract in :mod:`course_lib.models.base`."""

from .base import NotFittedError, Prediction, Recommender, UnknownIdError
from .baselines import BaselineOnly, GlobalMean, Popularity
from .factorization import ALS, BPRMF, NMF, BiasedMF, DivergenceError, FunkSVD, PureSVD
from .implicit import EASE, ImplicitALS, ItemKNN
from .neighbors import KNN, KNNBaseline, KNNBasic, KNNWithMeans

__all__ = ["ALS", "BPRMF", "BaselineOnly", "BiasedMF", "DivergenceError", "EASE", "FunkSVD", "ImplicitALS", "ItemKNN", "NMF", "PureSVD", "GlobalMean", "KNN", "KNNBaseline", "KNNBasic", "KNNWithMeans", "NotFittedError", "Popularity", "Prediction", "Recommender", "UnknownIdError"]
