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


#: Packages every lesson relies on (the distribution name, and the module to import).
CORE_PACKAGES = {
    "numpy": "numpy", "scipy": "scipy", "pandas": "pandas", "matplotlib": "matplotlib",
    "scikit-learn": "sklearn", "scikit-surprise": "surprise", "numba": "numba", "torch": "torch",
    "tensorflow-cpu": "tensorflow", "tqdm": "tqdm", "ipywidgets": "ipywidgets", "jupyterlab": "jupyterlab",
    "nbval": "nbval",
}


def environment_report():
    """A table of the course's packages: pinned version, installed version, and what to do if they differ.

    It reads the pins from ``requirements.txt`` when the course is a checkout, finds installed
    versions without importing the (slow) frameworks, and never raises: a missing package is a
    row that says which command fixes it.
    """
    from importlib.metadata import PackageNotFoundError, version
    from importlib.util import find_spec
    from pathlib import Path

    import pandas as pd

    pins = {}
    req = Path(__file__).resolve().parents[1] / "requirements.txt"
    if req.is_file():
        for line in req.read_text().splitlines():
            if "==" in line and not line.startswith("#"):
                name, rest = line.split("==", 1)
                pins.setdefault(name.strip().lower(), rest.split(";")[0].strip())
    rows = []
    for dist, module in CORE_PACKAGES.items():
        try:
            installed = version(dist)
        except PackageNotFoundError:
            installed = version("tensorflow") if dist == "tensorflow-cpu" and find_spec("tensorflow") else None
        pinned = pins.get(dist, "")
        if installed is None:
            status = "missing: run `make setup` (or pip install -r requirements.txt) and restart the kernel"
        elif pinned and installed.split("+")[0] != pinned:
            status = f"differs from the pin {pinned}: results may differ from the committed outputs"
        else:
            status = "ok"
        shown = installed.split("+")[0] if installed else "-"  # drop local tags such as +cpu
        rows.append({"package": dist, "import": module, "installed": shown, "status": status})
    return pd.DataFrame(rows).set_index("package")


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
