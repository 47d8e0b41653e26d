"""Course models. Every model follows the contract in :mod:`course_lib.models.base`."""

from .base import NotFittedError, Prediction, Recommender, UnknownIdError
from .baselines import BaselineOnly, GlobalMean, Popularity

__all__ = ["BaselineOnly", "GlobalMean", "NotFittedError", "Popularity", "Prediction", "Recommender", "UnknownIdError"]
