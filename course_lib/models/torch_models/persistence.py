"""Save a trained PyTorch recommender together with its id mappings, and load it back.

The file (``torch.save``) holds the class name, the hyperparameters, the network's
``state_dict``, the training interactions (raw ids, inner indices, ratings, rating scale: what
``recommend`` needs to map ids and leave out seen items) and the history. It is read back with
``torch.load(weights_only=True)``: no pickled code runs on loading.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ...interactions import Interactions
from . import models

__all__ = ["load_model", "save_model"]


def _plain(values: np.ndarray) -> list:
    return [v.item() if isinstance(v, np.generic) else v for v in values.tolist()]


def save_model(model: models.NeuralRecommender, path: str | Path) -> None:
    """Write a fitted model (network weights, hyperparameters, id mappings, history) to ``path``."""
    model._check_fitted()
    params = {k: v for k, v in model.get_params().items() if k != "pretrained" and not isinstance(v, pd.DataFrame)}
    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}
    data = model.data_
    torch.save({
        "format": 1,
        "class": type(model).__name__,
        "params": params,
        "state_dict": model.net_.state_dict(),
        "user_ids": _plain(data.user_ids), "item_ids": _plain(data.item_ids),
        "u": torch.as_tensor(data.u), "i": torch.as_tensor(data.i), "r": torch.as_tensor(data.r),
        "rating_scale": list(data.rating_scale),
        "history": {c: model.history_[c].tolist() for c in model.history_.columns},
        "epochs": model.history_.index.tolist(),
    }, path)


def load_model(path: str | Path) -> models.NeuralRecommender:
    """Read a model written by :func:`save_model`, ready to ``predict`` and ``recommend``."""
    state = torch.load(path, weights_only=True)
    cls = getattr(models, state["class"])
    params = {k: (tuple(v) if k == "layers" else v) for k, v in state["params"].items()}
    model = cls(**params)
    data = Interactions(np.asarray(state["user_ids"]), np.asarray(state["item_ids"]), state["u"].numpy(),
                        state["i"].numpy(), state["r"].numpy(), tuple(state["rating_scale"]))
    model.data_ = data
    model.global_mean_ = data.global_mean
    model.clip = model.objective == "mse"
    model.net_ = model._network(data.n_users, data.n_items, model._y_range(data))
    model.net_.load_state_dict(state["state_dict"])
    model.net_.eval()
    model.history_ = pd.DataFrame(state["history"], index=pd.Index(state["epochs"], name="epoch"))
    return model
