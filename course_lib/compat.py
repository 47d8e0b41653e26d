"""Work-arounds for third-party packages that break each other, each with the failure it prevents.

``preload_triton``: PyPI's default (CUDA) builds of PyTorch install Triton. When TensorFlow is
loaded *before* Triton, importing Triton kills the interpreter with a segmentation fault (measured
with tensorflow-cpu 2.21.0, torch 2.13.0+cu130 and triton 3.7.1 on Python 3.12: ``import
tensorflow; import triton`` crashes, ``import triton; import tensorflow`` works). PyTorch imports
Triton lazily, e.g. in ``torch.use_deterministic_algorithms``, so a lesson or a test run that
touched TensorFlow first would crash there. Loading Triton first (0.3 s; it imports neither NumPy
nor PyTorch) avoids it. The CPU wheels of PyTorch the course pins for Python 3.11 have no Triton:
then this does nothing.

``FASTMATH``: the floating-point freedoms of ImplicitALS's conjugate-gradient kernel. With Numba's
``fastmath=True`` (all of LLVM's flags) that kernel gave different bits depending on whether Numba
compiled it in the running process or loaded it from its on-disk cache, and, when compiled, on which
other signatures of the same kernels the process had compiled before (measured with numba 0.68.1 /
llvmlite 0.50.0, for the host CPU and for ``NUMBA_CPU_NAME=haswell``): a learner's first lesson after
an install could print other digits than the second. It takes ``reassoc`` (sums reordered, e.g.
for SIMD): with ``reassoc`` and ``arcp`` (a division may become a multiplication by a reciprocal)
the float64 kernel varied in the simplest run, with ``reassoc`` alone the float32 kernel varied after
the float64 signatures had been compiled. Without both it is stable, and no slower (ML-100K, 64 factors, best CPU of
5 fits: float64 0.30 s vs 0.33 s, float32 0.17 s vs 0.19 s). The other ``fastmath=True`` kernels
(exact ALS, the fast SGD, BPR and SVD++ epochs) gave the same bits compiled and cached, so they keep
their flags and their digits; ``tests/test_numba_cache.py`` checks each of them both ways.
"""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["FASTMATH", "preload_triton"]

#: LLVM fast-math flags of the conjugate-gradient kernel: Numba's ``fastmath=True`` without ``arcp`` and
#: ``reassoc`` (see the module docstring: with either, a freshly compiled kernel and its cached copy differ)
FASTMATH = {"nnan", "ninf", "nsz", "contract", "afn"}  # a set: Numba refuses a frozenset


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
