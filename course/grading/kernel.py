"""A resource-limited IPython kernel for grading: ``python -m course.grading.kernel -f CONN``.

The launcher applies ``setrlimit`` limits and trims the environment, then starts ``ipykernel``
in the same process, so the limits hold for the student's code and for every process it starts.

What is isolated
    * a separate process per submission (a fresh kernel, nothing shared with the grader or with
      other students' kernels); the grader itself runs each submission in its own subprocess;
    * memory: ``RLIMIT_AS`` (address space, default 4096 MiB). Allocating beyond it raises
      ``MemoryError`` in the cell; a kernel the OS kills anyway is restarted and the notebook is
      re-run without the cell that killed it;
    * time: a per-cell timeout (the kernel is killed and the notebook re-run without that cell),
      a CPU-time cap ``RLIMIT_CPU`` for the whole kernel, and a wall-clock cap per submission;
    * written file size: ``RLIMIT_FSIZE`` (256 MiB); no core dumps (``RLIMIT_CORE`` = 0);
    * environment: only the variables in ``KEEP_ENV`` reach the kernel (no tokens or keys that
      the instructor's shell happens to hold); the working directory is a per-student copy;
    * tests: locked test cells are replaced by the master's before running, so editing or deleting
      a test cell does not change the score.

What is NOT isolated (use containers, e.g. nbgrader or otter inside Docker, for that)
    * the file system: the kernel runs as the instructor's user and can read the master notebooks
      (with solutions), other submissions and the gradebook, and write anywhere that user can;
    * the network, and the number of processes or threads it starts;
    * the test namespace: tests run in the student's namespace, so code that monkeypatches
      ``course.exercises``, NumPy or IPython's error display can make failing tests pass.
      Read the graded notebooks (``graded/``) of surprising scores.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys

KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONHASHSEED", "PYTHONPATH",
            "VIRTUAL_ENV", "COURSE_DATA_DIR", "COURSE_DATA_MIRROR", "MPLCONFIGDIR", "MPLBACKEND",
            "SURPRISE_DATA_FOLDER", "KERAS_HOME", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "KERAS_BACKEND",
            "JPY_PARENT_PID", "JPY_SESSION_NAME", "USER", "LOGNAME", "LD_LIBRARY_PATH", "CONDA_PREFIX",
            "SSL_CERT_FILE")
THREAD_DEFAULTS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                   "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}


def _limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, hard))


def apply_limits(memory_mb: int, cpu_seconds: int, file_mb: int = 256) -> None:
    if memory_mb > 0:
        _limit(resource.RLIMIT_AS, memory_mb * 2**20)
    if cpu_seconds > 0:
        _limit(resource.RLIMIT_CPU, cpu_seconds)
    if file_mb > 0:
        _limit(resource.RLIMIT_FSIZE, file_mb * 2**20)
    _limit(resource.RLIMIT_CORE, 0)


def trim_environment() -> None:
    for key in list(os.environ):
        if key not in KEEP_ENV:
            del os.environ[key]
    for key, value in THREAD_DEFAULTS.items():
        os.environ.setdefault(key, value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--memory-mb", type=int, default=4096)
    parser.add_argument("--cpu-seconds", type=int, default=1800)
    args, rest = parser.parse_known_args(argv)
    trim_environment()
    apply_limits(args.memory_mb, args.cpu_seconds)
    sys.argv = [sys.argv[0], *rest]
    from ipykernel.kernelapp import launch_new_instance

    launch_new_instance()


if __name__ == "__main__":
    main()
