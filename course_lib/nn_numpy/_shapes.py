"""Shape checks with errors that say which dimension is wrong and what was expected."""

from __future__ import annotations

import numpy as np


class ShapeError(ValueError):
    """An array does not have the shape a layer needs; the message names the dimension."""


def as_float_array(x, name: str) -> np.ndarray:
    """``x`` as a float64 array (a clear error for strings, objects or ragged lists)."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__} ({exc})") from None
    return arr


def check_ndim(x: np.ndarray, ndim: int, name: str, layout: str) -> None:
    """Fail unless ``x`` has ``ndim`` dimensions, naming the expected ``layout``."""
    if x.ndim != ndim:
        raise ShapeError(f"{name} must have {ndim} dimensions {layout}, got shape {x.shape} ({x.ndim} dimensions)")


def check_dim(x: np.ndarray, axis: int, expected: int, name: str, what: str, because: str) -> None:
    """Fail unless ``x.shape[axis] == expected``; ``what`` names the dimension, ``because`` the reason."""
    if x.shape[axis] != expected:
        pos = axis if axis >= 0 else x.ndim + axis
        raise ShapeError(
            f"{name} has {x.shape[axis]} {what} (dimension {pos} of shape {x.shape}), "
            f"expected {expected} because {because}"
        )


def check_shape(x: np.ndarray, expected: tuple[int, ...], name: str, meaning: str) -> None:
    """Fail unless ``x.shape == expected``, pointing at the first dimension that differs."""
    if x.shape != tuple(expected):
        if x.ndim != len(expected):
            raise ShapeError(f"{name} must have shape {tuple(expected)} {meaning}, got {x.shape}")
        axis = next(i for i, (a, b) in enumerate(zip(x.shape, expected)) if a != b)
        raise ShapeError(
            f"{name} must have shape {tuple(expected)} {meaning}; dimension {axis} is {x.shape[axis]}, "
            f"expected {expected[axis]} (got shape {x.shape})"
        )


class LayerStack:
    """What a stack of layers shares: ``layers``, and ``params`` / ``grads`` gathered layer by layer."""

    layers: list

    @property
    def params(self) -> list[np.ndarray]:
        """Every layer's parameters in order (the arrays themselves: optimisers update them in place)."""
        return [p for layer in self.layers for p in layer.params]

    @property
    def grads(self) -> list[np.ndarray]:
        """Every layer's gradients after ``backward``, in the order of :attr:`params`."""
        return [g for layer in self.layers for g in layer.grads]
