"""One call at the top of every lesson: seeds, thread counts, quiet logs, plotting style."""

from __future__ import annotations

import os
import random
import sys

import numpy as np

#: Environment that must be in place before TensorFlow or PyTorch start their thread pools.
#: ``make notebooks`` and ``make test`` export the same values, so outputs match everywhere.
ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "KERAS_BACKEND": "tensorflow",
}


def setup(seed: int = 42, *, torch: bool = False, tensorflow: bool = False, threads: int = 1) -> None:
    """Make a lesson reproducible: call it in the first code cell, before any framework import.

    * seeds Python's ``random`` and NumPy's global generator (library code never uses them:
      it takes a ``random_state``);
    * limits BLAS, OpenMP, PyTorch and TensorFlow to ``threads`` threads, since some results
      depend on the thread count and one thread is fastest when two processes share 2 cores;
    * with ``torch=True``: ``torch.manual_seed`` and deterministic algorithms;
    * with ``tensorflow=True``: Keras's seed, op determinism, and no C++ log lines on stderr;
    * sets pandas to show 4 decimals and the course's figure style.
    """
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    random.seed(seed)
    np.random.seed(seed)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    if torch:
        import torch as _torch

        _torch.manual_seed(seed)
        _torch.set_num_threads(threads)
        _torch.use_deterministic_algorithms(True)
    if tensorflow:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TensorFlow already ran an op: the pools are fixed now
            pass
        tf.config.experimental.enable_op_determinism()
        import keras

        keras.utils.set_random_seed(seed)
        tf.get_logger().setLevel("ERROR")
    import pandas as pd

    pd.set_option("display.precision", 4)
    pd.set_option("display.max_columns", 30)
    from .plots import use_course_style

    use_course_style()


def versions() -> dict[str, str]:
    """Versions of Python and the course's main packages (``"missing"`` where not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("numpy", "pandas", "scipy", "matplotlib", "scikit-surprise", "torch", "tensorflow-cpu",
                "keras", "jupyterlab", "nbval", "nbgrader"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "missing"
    return out
