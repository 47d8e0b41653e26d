"""pytest's set-up for the whole repository: the unit tests and the lessons (nbval).

The course's numeric environment (threads, seeds and, on x86-64 with AVX2, the numeric profile of
:mod:`course.reproducibility`) is put in place here, before any test imports NumPy and before nbval
starts a kernel, so ``pytest``, ``pytest tests/...`` and ``pytest notebooks/07_....ipynb`` validate
the lessons exactly as ``make test`` does. Fixtures live in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from course.reproducibility import numeric_environment

os.environ.update(numeric_environment())
if "numpy" in sys.modules:  # then only the kernels and subprocesses get the profile, not this process
    sys.stderr.write("conftest: NumPy was imported before the numeric profile was set\n")

# Test modules import TensorFlow and PyTorch in any order: load Triton (if a CUDA build of PyTorch
# installed it) before TensorFlow, or PyTorch's first use of it crashes (see course_lib.compat).
from course_lib.compat import preload_triton  # noqa: E402

preload_triton()

# Tolerant comparison (make test TOLERANT=1), for machines the numeric profile cannot pin (macOS on
# Apple silicon, Windows, aarch64): see tools/nbcompare.py.
if os.environ.get("COURSE_NBVAL_TOLERANT", "") not in ("", "0"):
    sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))
    from nbcompare import install_tolerant_comparison

    install_tolerant_comparison()
