"""Work-arounds for third-party packages that break each other, each with the failure it prevents.

``preload_triton``: PyPI's default (CUDA) builds of PyTorch install Triton. When TensorFlow is
loaded *before* Triton, importing Triton kills the interpreter with a segmentation fault (measured
with tensorflow-cpu 2.21.0, torch 2.13.0+cu130 and triton 3.7.1 on Python 3.12: ``import
tensorflow; import triton`` crashes, ``import triton; import tensorflow`` works). PyTorch imports
Triton lazily, e.g. in ``torch.use_deterministic_algorithms``, so a lesson or a test run that
touched TensorFlow first would crash there. Loading Triton first (0.3 s; it imports neither NumPy
nor PyTorch) avoids it. The CPU wheels of PyTorch the course pins for Python 3.11 have no Triton:
then this does nothing.
"""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["preload_triton"]


def preload_triton() -> bool:
    """Import Triton now if it is installed and TensorFlow is not loaded yet; True if Triton is loaded."""
    if "triton" in sys.modules:
        return True
    if "tensorflow" in sys.modules:
        return False  # too late: loading Triton now is what crashes
    try:
        if importlib.util.find_spec("triton") is None:
            return False
        import triton  # noqa: F401
    except Exception:  # a broken Triton install: PyTorch will report it when (if) it needs it
        return False
    return True
