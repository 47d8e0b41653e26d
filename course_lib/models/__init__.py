"""Course models. Every model follows the contract in :mod:`course_lib.models.base`.

NumPy/SciPy/Numba models are imported here; the PyTorch models live in
:mod:`course_lib.models.torch_models` and the Keras ones in :mod:`course_lib.models.keras_models`
(importing ``course_lib.models`` never imports a deep-learning framework). Save and load any of
them with :func:`save_model` / :func:`load_model`.
"""

from .base import NotFittedError, Prediction, Recommender, UnknownIdError, check_is_fitted
from .bayesian import BayesianMF
from .baselines import BaselineOnly, GlobalMean, Popularity
from .co_clustering import CoClustering
from .content import ContentBased
from .factorization import ALS, BPRMF, NMF, BiasedMF, FunkSVD, PureSVD
from .implicit import EASE, ImplicitALS, ItemKNN
from .neighbors import KNN, KNNBaseline, KNNBasic, KNNWithMeans
from .persistence import load_model, save_model
from .sequential import LastItemKNN
from .slope_one import SlopeOne
from .svdpp import SVDpp
from .training import DivergenceError

__all__ = ["ALS", "BPRMF", "BaselineOnly", "BayesianMF", "BiasedMF", "CoClustering", "ContentBased", "DivergenceError", "EASE", "FunkSVD",
           "GlobalMean", "ImplicitALS", "ItemKNN", "KNN", "KNNBaseline", "KNNBasic", "KNNWithMeans", "LastItemKNN",
           "NMF", "NotFittedError", "Popularity", "Prediction", "PureSVD", "Recommender", "SVDpp", "SlopeOne",
           "UnknownIdError", "check_is_fitted", "load_model", "save_model"]
