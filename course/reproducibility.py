"""One call at the top of every lesson (seeds, threads, quiet logs, plotting style), and the
numeric profile that makes a lesson's outputs the same on every x86-64 machine.

Why a profile. The numerical libraries under the course pick their code at run time from the
CPU they find: PyTorch's ATen kernels (AVX-512 or AVX2), Intel MKL's matrix products (one path
per CPU vendor and instruction set), oneDNN (used by PyTorch's convolutions and by
TensorFlow's matrix products), NumPy's ufuncs (``np.exp`` has an AVX-512 version), OpenBLAS
(a kernel per CPU family) and Numba (code compiled for the host CPU). Each path rounds
differently in the last bit, and training amplifies one bit into the third decimal of a metric
within a few epochs. :data:`NUMERIC_PROFILE` pins every one of them to the code an AVX2 CPU
would run (Intel since Haswell, 2013; AMD since Zen, 2017) and MKL to its vendor-independent
``COMPATIBLE`` branch, so that the same lesson prints the same digits on any such machine.
``tools/portability.py`` checks it by emulating other CPUs; the README gives the measurements.

The profile is read by the libraries when they load, so it must be in the environment before
the kernel starts: ``make lab`` writes it into the course kernel's spec, ``make test`` and
``make notebooks`` set it for the kernels they start. :func:`setup` sets what can still be set
and warns when the kernel was started without it. ``COURSE_NUMERIC_PROFILE=native`` turns it off
(faster on AVX-512 machines; the committed outputs may then differ in the last digits).
"""

from __future__ import annotations

import os
import platform
import random
import sys
import warnings

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

#: The code paths pinned on x86-64 CPUs with AVX2 and FMA, and why. The value is the path an AVX2
#: machine takes by itself, so an AVX2 machine and an AVX-512 one compute the same bits. On an AMD
#: EPYC with AVX-512, removing any one of ATEN_CPU_CAPABILITY, MKL_CBWR, ONEDNN_MAX_CPU_ISA,
#: OPENBLAS_CORETYPE, NPY_ENABLE_CPU_FEATURES or NUMBA_CPU_NAME/FEATURES changed a trained model or a
#: NumPy result (``tools/portability.py --attribute``); MKL_DYNAMIC, FBGEMM_ENABLE_INSTRUCTIONS and
#: CUDA_VISIBLE_DEVICES changed nothing there and are kept as precautions (threads, int8 layers, GPUs).
NUMERIC_PROFILE = {
    # PyTorch's element-wise and reduction kernels (ATen): AVX2, not AVX-512.
    "ATEN_CPU_CAPABILITY": "avx2",
    # Intel MKL (PyTorch's matrix products): the branch documented to give the same results on
    # Intel and non-Intel CPUs (the AVX2 branch is Intel-only: on AMD, MKL falls back to AUTO).
    "MKL_CBWR": "COMPATIBLE",
    "MKL_DYNAMIC": "FALSE",
    # oneDNN: PyTorch's convolutions, TensorFlow's matrix products (its contraction kernel).
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    # FBGEMM: PyTorch's int8 (quantised) layers.
    "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
    # OpenBLAS inside NumPy and SciPy: the Haswell kernels (Intel AVX-512 CPUs would pick SkylakeX).
    "OPENBLAS_CORETYPE": "Haswell",
    # NumPy's own SIMD dispatch (np.exp, np.log1p ...): x86-64-v3 = AVX2 + FMA, no AVX-512.
    "NPY_ENABLE_CPU_FEATURES": "X86_V3",
    # Numba: compile for a Haswell CPU with its own features (an empty list), not the host's.
    "NUMBA_CPU_NAME": "haswell",
    "NUMBA_CPU_FEATURES": "",
    # The course computes on the CPU: a GPU would round differently again.
    "CUDA_VISIBLE_DEVICES": "",
    # faiss: the per-ISA module of builds that ship one (case-sensitive); a no-op for the 1.15.1 wheel.
    "FAISS_OPT_LEVEL": "AVX2",
    # faiss 1.15.1's run-time SIMD dispatch, read when faiss loads: AVX2 kernels, not AVX-512.
    "FAISS_SIMD_LEVEL": "AVX2",
}

#: Variables of the profile that the libraries read lazily (when first used), so that
#: :func:`setup` can still set them in a kernel started without the profile.
_LAZY = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_DYNAMIC", "ONEDNN_MAX_CPU_ISA", "FBGEMM_ENABLE_INSTRUCTIONS",
         "CUDA_VISIBLE_DEVICES", "FAISS_OPT_LEVEL", "FAISS_SIMD_LEVEL")


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def profile_applies() -> bool:
    """True on Linux x86-64 with AVX2 and FMA, where :data:`NUMERIC_PROFILE` pins the code paths.

    Elsewhere (macOS on Apple silicon, Windows, aarch64) the profile cannot apply: outputs may
    differ from the committed ones in the last digits; see the README's tolerant comparison.
    """
    if os.environ.get("COURSE_NUMERIC_PROFILE", "").lower() == "native":
        return False
    if sys.platform != "linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    return {"avx2", "fma"} <= _cpu_flags()


def numeric_environment() -> dict[str, str]:
    """Every variable a course kernel needs: :data:`ENVIRONMENT`, ``PYTHONHASHSEED`` and, where it
    applies, :data:`NUMERIC_PROFILE`."""
    env = {**ENVIRONMENT, "PYTHONHASHSEED": "0"}
    if profile_applies():
        env.update(NUMERIC_PROFILE)
    return env


def profile_problems(torch: bool = False) -> list[str]:
    """What of the numeric profile is *not* in effect in this process (empty when all is).

    Checks the libraries already loaded (NumPy's dispatch, OpenBLAS's kernel, Numba's target,
    PyTorch's capability when ``torch``), not only the environment variables.
    """
    if not profile_applies():
        return []
    problems = [f"{k}={os.environ.get(k)!r} (expected {v!r})" for k, v in NUMERIC_PROFILE.items()
                if os.environ.get(k) != v]
    if "numpy" in sys.modules:
        from numpy._core._multiarray_umath import __cpu_features__

        if __cpu_features__.get("X86_V4"):
            problems.append("NumPy dispatches to AVX-512 (it was imported before NPY_ENABLE_CPU_FEATURES was set)")
        from threadpoolctl import threadpool_info

        for lib in threadpool_info():
            if lib.get("internal_api") == "openblas" and lib.get("architecture") not in (None, "Haswell"):
                problems.append(f"OpenBLAS uses its {lib['architecture']} kernels (loaded before OPENBLAS_CORETYPE was set)")
    if "numba" in sys.modules:
        from numba import config

        if config.CPU_NAME != NUMERIC_PROFILE["NUMBA_CPU_NAME"] or config.CPU_FEATURES != "":
            problems.append("Numba compiles for the host CPU (imported before NUMBA_CPU_NAME was set)")
    if "faiss" in sys.modules:
        level = sys.modules["faiss"].SIMDConfig.get_level_name()
        if level != NUMERIC_PROFILE["FAISS_SIMD_LEVEL"]:
            problems.append(f"faiss runs its {level} kernels (imported before FAISS_SIMD_LEVEL was set)")
    if torch and "torch" in sys.modules:
        import torch as _torch

        if _torch.backends.cpu.get_cpu_capability() != "AVX2":
            problems.append(f"PyTorch runs its {_torch.backends.cpu.get_cpu_capability()} kernels")
    return list(dict.fromkeys(problems))


def setup(seed: int = 42, *, torch: bool = False, tensorflow: bool = False, threads: int = 1) -> None:
    """Make a lesson reproducible: call it in the first code cell, before any framework import.

    * seeds Python's ``random`` and NumPy's global generator (library code never uses them:
      it takes a ``random_state``);
    * limits BLAS, OpenMP, PyTorch and TensorFlow to ``threads`` threads, since some results
      depend on the thread count and one thread is fastest when two processes share 2 cores;
    * with ``torch=True``: ``torch.manual_seed`` and deterministic algorithms;
    * with ``tensorflow=True``: Keras's seed, op determinism, and no C++ log lines on stderr;
    * sets pandas to show 4 decimals and the course's figure style;
    * checks that the :data:`NUMERIC_PROFILE` is in effect (where it applies) and warns if not:
      the kernel was then started without it, and outputs may differ from the committed ones.
    """
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    if profile_applies():
        for key in _LAZY:  # read when first used: still effective here
            os.environ[key] = NUMERIC_PROFILE[key]
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    from course_lib.compat import preload_triton

    preload_triton()  # before TensorFlow: see course_lib.compat
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
    problems = profile_problems(torch=torch)
    if problems:
        warnings.warn(
            "this kernel was started without the course's numeric profile, so its results may differ "
            "from the committed outputs in the last digits: " + "; ".join(problems) + ". Use the kernel "
            "'Python 3 (recsys-course)' (make lab installs it), or start Jupyter with the variables printed "
            "by `python -m course.reproducibility env`.", RuntimeWarning, stacklevel=2)


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


def install_kernel(prefix: str | None = None) -> str:
    """Install the "Python 3 (recsys-course)" kernel with :func:`numeric_environment` in its spec."""
    from ipykernel.kernelspec import install

    return install(kernel_name="recsys-course", display_name="Python 3 (recsys-course)",
                   prefix=prefix or sys.prefix, env=numeric_environment())


def main(argv: list[str] | None = None) -> int:
    """``python -m course.reproducibility env | kernel | check``."""
    import argparse
    import shlex

    parser = argparse.ArgumentParser(prog="python -m course.reproducibility", description=main.__doc__)
    parser.add_argument("command", choices=["env", "kernel", "check"],
                        help="env: print the kernel environment as KEY=VALUE lines; kernel: install the course "
                             "kernel with it; check: report what of the profile is not in effect here")
    args = parser.parse_args(argv)
    if args.command == "env":
        for key, value in numeric_environment().items():
            print(f"{key}={shlex.quote(value)}")
    elif args.command == "kernel":
        print(f"installed the recsys-course kernel in {install_kernel()}")
    else:
        import numpy  # noqa: F401  (what a lesson loads before setup)

        problems = profile_problems()
        if not profile_applies():
            print("the numeric profile does not apply on this machine (not Linux x86-64 with AVX2 and FMA, or "
                  "COURSE_NUMERIC_PROFILE=native): compare with `make test TOLERANT=1`")
        print("\n".join(problems) if problems else "numeric profile: in effect" if profile_applies() else "")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
