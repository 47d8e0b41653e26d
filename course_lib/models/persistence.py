r"""Save any fitted course model to one file and load it back, in a fresh process, without pickle.

:func:`save_model` writes a zip file (suffix ``.model`` by convention) holding

* ``model.json``: the class, its hyperparameters (``get_params``) and a description of every learned
  attribute (NumPy arrays, numbers, strings, tuples, lists, dicts, DataFrames, sparse matrices, the
  training ``Interactions`` with its side tables, a :class:`~course_lib.features.FeatureEncoder`);
* ``arrays.npz``: every array, stored with ``allow_pickle=False``;
* ``net.pt`` (a PyTorch ``state_dict``, read back with ``torch.load(weights_only=True)``) or
  ``net.weights.h5`` (Keras weights) for neural models, whose network is rebuilt by the model's
  ``build_network()`` from the hyperparameters and the other learned attributes, then filled.

Loading never runs code from the file: the class must be one of ``course_lib``'s models (looked up by
module and name inside ``course_lib.models``) or a class the caller passes (``classes=``), every value
is data, and an unknown kind of value is an error. The loaded model predicts and recommends exactly as the saved one (tested for every model
in ``tests/test_contract.py``, in a fresh process). Fitting-only inputs are not kept: a ``NeuMF``
loses ``pretrained`` (its weights are already in ``net_``).
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..interactions import Interactions
from .base import Recommender, check_is_fitted

__all__ = ["load_model", "save_model"]

FORMAT, VERSION = "course_lib.model", 1
_NET = "net_"


def _column_values(column: pd.Series) -> np.ndarray:
    """A column as a plain NumPy array: nullable numbers become float with NaN for missing values."""
    if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(column.dtype):
        return column.astype("float64").to_numpy()
    if pd.api.types.is_string_dtype(column.dtype) and not pd.api.types.is_object_dtype(column.dtype):
        return column.astype(object).where(column.notna(), None).to_numpy()
    return column.to_numpy()


class _Writer:
    """Turns values into JSON descriptions, collecting arrays on the side."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def _store(self, a: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = a
        return key

    def array(self, a: np.ndarray) -> dict:
        a = np.asarray(a)
        if a.dtype != object:
            return {"kind": "array", "key": self._store(a)}
        values = a.ravel().tolist()
        if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in values):
            return {"kind": "array", "key": self._store(a.astype(np.int64))}
        missing = [x is None or (isinstance(x, float) and np.isnan(x)) for x in values]
        if all(isinstance(x, str) or m for x, m in zip(values, missing)):  # text, maybe with gaps (NaN)
            text = np.array(["" if m else x for x, m in zip(values, missing)], dtype=str).reshape(a.shape)
            return {"kind": "strings", "key": self._store(text), "missing": self._store(np.array(missing).reshape(a.shape))}
        kinds = sorted({type(x).__name__ for x in values})
        raise TypeError(f"cannot save an object array holding {kinds}")

    def value(self, v, where: str) -> dict:
        if v is None or isinstance(v, (bool, str)):
            return {"kind": "plain", "value": v}
        if isinstance(v, (int, float, np.integer, np.floating, np.bool_)):
            return {"kind": "plain", "value": v.item() if isinstance(v, np.generic) else v}
        if isinstance(v, np.ndarray):
            return self.array(v)
        if isinstance(v, (tuple, list)):
            return {"kind": type(v).__name__, "items": [self.value(x, f"{where}[{k}]") for k, x in enumerate(v)]}
        if isinstance(v, dict):
            return {"kind": "dict", "keys": self.value(list(v.keys()), f"{where} keys"),
                    "values": [self.value(x, f"{where}[{k!r}]") for k, x in v.items()]}
        if isinstance(v, pd.DataFrame):
            return {"kind": "frame", "columns": [str(c) for c in v.columns], "index_name": v.index.name,
                    "index": self.array(v.index.to_numpy()), "dtypes": [str(v[c].dtype) for c in v.columns],
                    "data": [self.array(_column_values(v[c])) for c in v.columns]}
        if isinstance(v, pd.Series):
            return {"kind": "series", "name": v.name, "index": self.array(v.index.to_numpy()),
                    "data": self.array(v.to_numpy())}
        if sp.issparse(v):
            m = sp.csr_matrix(v)
            return {"kind": "csr", "shape": list(m.shape), "data": self.array(m.data),
                    "indices": self.array(m.indices), "indptr": self.array(m.indptr)}
        if isinstance(v, Interactions):
            fields = {f.name: self.value(getattr(v, f.name), f"{where}.{f.name}")
                      for f in dataclasses.fields(v) if f.name != "_cache"}
            return {"kind": "interactions", "fields": fields}
        if dataclasses.is_dataclass(v) and type(v).__module__.startswith("course_lib."):
            return {"kind": "dataclass", "class": f"{type(v).__module__}:{type(v).__qualname__}",
                    "fields": {f.name: self.value(getattr(v, f.name), f"{where}.{f.name}") for f in dataclasses.fields(v)}}
        raise TypeError(f"save_model cannot store {where} of type {type(v).__name__}")


class _Reader:
    def __init__(self, arrays):
        self.arrays = arrays

    def value(self, d: dict):
        kind = d["kind"]
        if kind == "plain":
            return d["value"]
        if kind == "array":
            return self.arrays[d["key"]]
        if kind == "strings":
            text = self.arrays[d["key"]].astype(object)
            text[self.arrays[d["missing"]]] = np.nan
            return text
        if kind in ("tuple", "list"):
            items = [self.value(x) for x in d["items"]]
            return tuple(items) if kind == "tuple" else items
        if kind == "dict":
            return dict(zip(self.value(d["keys"]), (self.value(x) for x in d["values"])))
        if kind == "frame":
            index = pd.Index(self.value(d["index"]), name=d["index_name"])
            columns = {c: pd.Series(self.value(x), index=index).astype(t)
                       for c, x, t in zip(d["columns"], d["data"], d["dtypes"])}
            return pd.DataFrame(columns, index=index)
        if kind == "series":
            return pd.Series(self.value(d["data"]), index=self.value(d["index"]), name=d["name"])
        if kind == "csr":
            return sp.csr_matrix((self.value(d["data"]), self.value(d["indices"]), self.value(d["indptr"])),
                                 shape=tuple(d["shape"]))
        if kind == "interactions":
            return Interactions(**{k: self.value(x) for k, x in d["fields"].items()})
        if kind == "dataclass":
            cls = _course_class(d["class"], package="course_lib.")
            return cls(**{k: self.value(x) for k, x in d["fields"].items()})
        raise ValueError(f"unknown kind of value {kind!r} in the model file")


def _course_class(path: str, package: str = "course_lib.models"):
    module, _, name = path.partition(":")
    if not module.startswith(package):
        raise ValueError(f"the model file names {path!r}, which is not a class of {package.rstrip('.')}: "
                         "only course_lib's own classes are loaded")
    return getattr(importlib.import_module(module), name)


def _framework(model) -> str | None:
    import sys

    net = getattr(model, _NET, None)
    if net is None:
        return None
    if "torch" in sys.modules and isinstance(net, sys.modules["torch"].nn.Module):
        return "torch"
    if "keras" in sys.modules and isinstance(net, sys.modules["keras"].Model):
        return "keras"
    return type(net).__name__


def save_model(model: Recommender, path: str | Path) -> None:
    """Write a fitted model (hyperparameters, learned state, network weights) to ``path``."""
    check_is_fitted(model)
    writer = _Writer()
    params = {k: v for k, v in model.get_params(deep=False).items() if k != "pretrained"}
    learned = {}
    for name, value in vars(model).items():
        if name.endswith("_") and name != _NET:
            learned[name] = writer.value(value, name)
    framework = _framework(model)
    meta = {"format": FORMAT, "version": VERSION, "class": f"{type(model).__module__}:{type(model).__qualname__}",
            "params": writer.value(params, "hyperparameters"), "learned": learned, "framework": framework}
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.json", json.dumps(meta, indent=1))
        buf = io.BytesIO()
        np.savez(buf, **writer.arrays)
        z.writestr("arrays.npz", buf.getvalue())
        if framework == "torch":
            import torch

            buf = io.BytesIO()
            torch.save(model.net_.state_dict(), buf)
            z.writestr("net.pt", buf.getvalue())
        elif framework == "keras":
            import tempfile

            with tempfile.TemporaryDirectory() as folder:
                weights = Path(folder) / "net.weights.h5"
                model.net_.save_weights(weights)
                z.writestr("net.weights.h5", weights.read_bytes())
        elif framework is not None:
            raise TypeError(f"save_model does not know how to save a {framework} network")
    tmp.replace(path)


def load_model(path: str | Path, *, classes=()) -> Recommender:
    """Read a model written by :func:`save_model`, ready to ``predict``, ``test`` and ``recommend``.

    The class named in the file must be one of ``course_lib.models``, or one of ``classes``: your own
    model classes, given explicitly (the file never decides which code is imported).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        z = zipfile.ZipFile(path)
        meta = json.loads(z.read("model.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a model file written by course_lib's save_model ({exc})") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a model file written by course_lib's save_model")
    if meta.get("version") != VERSION:
        raise ValueError(f"{path} has model format version {meta.get('version')!r}; this course_lib reads {VERSION}")
    with z:
        arrays = dict(np.load(io.BytesIO(z.read("arrays.npz")), allow_pickle=False))
        reader = _Reader(arrays)
        own = {f"{c.__module__}:{c.__qualname__}": c for c in classes}
        cls = own[meta["class"]] if meta["class"] in own else _course_class(meta["class"])
        if not (isinstance(cls, type) and issubclass(cls, Recommender)):
            raise ValueError(f"{meta['class']} is not a course model")
        model = cls(**reader.value(meta["params"]))
        for name, description in meta["learned"].items():
            setattr(model, name, reader.value(description))
        if meta["framework"] == "torch":
            import torch

            model.net_ = model.build_network()
            model.net_.load_state_dict(torch.load(io.BytesIO(z.read("net.pt")), weights_only=True))
            model.net_.eval()
        elif meta["framework"] == "keras":
            import tempfile

            model.net_ = model.build_network()
            with tempfile.TemporaryDirectory() as folder:
                weights = Path(folder) / "net.weights.h5"
                weights.write_bytes(z.read("net.weights.h5"))
                model.net_.load_weights(weights)
    return model
