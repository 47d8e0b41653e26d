"""What the layer-equality tests (NumPy layers against PyTorch and Keras) share."""

from __future__ import annotations

import numpy as np

#: float32 frameworks against the float64 NumPy layers
ATOL = 1e-5


def assert_close(actual, expected, atol: float = ATOL) -> None:
    """``actual`` (a NumPy array, a PyTorch or TensorFlow tensor) has ``expected``'s shape and equals it
    within ``atol`` (absolute; no relative tolerance)."""
    actual = actual.detach().numpy() if hasattr(actual, "detach") else np.asarray(actual)
    assert actual.shape == np.shape(expected)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=atol)
