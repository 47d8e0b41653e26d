"""A resource-limited IPython kernel for grading: ``python -m course.grading.kernel -f CONN``.

The launcher trims the environment, applies ``setrlimit`` limits, caps what a cell may print and,
given ``--plan FILE``, installs :mod:`course.grading.guard` (which snapshots the protected
libraries) before ``ipykernel`` runs any cell. The limits hold for the learner's code and for
every process it starts.

What is isolated
    * a separate process per submission (a fresh kernel, nothing shared with the grader or with
      other students' kernels); the grader itself runs each submission in its own subprocess;
    * the tests' view of the notebook (:mod:`course.grading.guard`): lesson cells, self-checks and
      hidden tests run against pristine builtins, pristine protected modules (NumPy, pandas, SciPy,
      ``math``, ``course``, ``course_lib`` ...) and the lesson's own variables; they take only the
      answer names from the learner's namespace; a test passes only when the guard reports it did;
    * processes: every process the kernel starts is killed when the submission's grading ends,
      detached ones included (``start_new_session``, ``setsid``, ``nohup``, double forks):
      :mod:`course.grading.processes`;
    * memory: ``RLIMIT_DATA`` (default 4096 MiB): the writable private memory the kernel
      allocates (heap, NumPy arrays, thread stacks), not the address space its libraries map.
      Allocating beyond it raises ``MemoryError`` in the cell; a kernel the OS kills anyway is
      restarted and the notebook is re-run without the cell that killed it. (An address-space limit,
      ``RLIMIT_AS``, would count mapped code too: PyPI's CUDA build of PyTorch with TensorFlow maps
      4.5 GB of address space for 1.1 GB of data on import, measured on Python 3.12, and a 4 GiB
      ``RLIMIT_AS`` made the lesson's setup cell raise ``MemoryError``.)
    * time: a per-cell timeout (the kernel is killed and the notebook re-run without that cell),
      a CPU-time cap ``RLIMIT_CPU`` for the whole kernel, and a wall-clock cap per submission;
    * output: at most ``--output-kb`` KiB (default 1024) of printed text per cell are sent (the
      rest is replaced by one line), and the grader keeps at most that much per cell whatever the
      kernel sends; written file size: ``RLIMIT_FSIZE`` (256 MiB); no core dumps;
    * environment: only the variables in ``KEEP_ENV`` reach the kernel (no tokens or keys that
      the instructor's shell happens to hold), with the course's numeric profile
      (:func:`course.reproducibility.numeric_environment`: one thread, AVX2 code paths) set, so a
      submission computes what the lesson computed; the working directory is a per-student copy;
    * tests: locked test cells and lesson cells are replaced by the master's before running, so
      editing or deleting them does not change the score.

What is NOT isolated (use containers, e.g. nbgrader or otter inside Docker, or a VM, for that)
    * the file system: the kernel runs as the instructor's user and can read the master notebooks
      (with solutions), other submissions and the gradebook, and write anywhere that user can;
    * the network, and the number of processes or threads it starts while it runs;
    * code aimed at the grader itself: the guard lives in the kernel process, so ``ctypes``,
      ``gc`` or frame introspection can reach its snapshots. :mod:`course.grading.scan` flags such
      code ("suspicious code" in the gradebook); read the graded notebook (``graded/``) of a
      flagged or surprising score.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys

from ..reproducibility import ENVIRONMENT, NUMERIC_PROFILE, numeric_environment

KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONHASHSEED", "PYTHONPATH",
            "VIRTUAL_ENV", "COURSE_DATA_DIR", "COURSE_DATA_MIRROR", "MPLCONFIGDIR", "MPLBACKEND",
            "SURPRISE_DATA_FOLDER", "KERAS_HOME", "JPY_PARENT_PID", "JPY_SESSION_NAME", "USER", "LOGNAME",
            "LD_LIBRARY_PATH", "CONDA_PREFIX", "SSL_CERT_FILE", "COURSE_NUMERIC_PROFILE", "COURSE_GRADING_RUN",
            *ENVIRONMENT, *NUMERIC_PROFILE)


def _limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, hard))


def apply_limits(memory_mb: int, cpu_seconds: int, file_mb: int = 256) -> None:
    """Memory (``RLIMIT_DATA``: writable private memory, see the module docstring), CPU time,
    written file size, no core dumps. A limit of 0 or less leaves that resource as it was."""
    if memory_mb > 0:
        _limit(resource.RLIMIT_DATA, memory_mb * 2**20)
    if cpu_seconds > 0:
        _limit(resource.RLIMIT_CPU, cpu_seconds)
    if file_mb > 0:
        _limit(resource.RLIMIT_FSIZE, file_mb * 2**20)
    _limit(resource.RLIMIT_CORE, 0)


def trim_environment() -> None:
    """Keep only :data:`KEEP_ENV`, then set the course's numeric environment (threads, seeds of
    hashing, the numeric profile where it applies), as the course kernel and ``make test`` do."""
    for key in list(os.environ):
        if key not in KEEP_ENV:
            del os.environ[key]
    os.environ.update(numeric_environment())


def cap_output(shell, kb: int) -> None:
    """Send at most ``kb`` KiB of stdout and stderr per cell, then one line saying it was cut.

    Applies to ``print``, to writes on ``sys.stdout``/``sys.stderr`` and to what subprocesses and
    C code write on file descriptors 1 and 2 (ipykernel forwards those through the same streams).
    """
    if kb <= 0:
        return
    limit = kb * 1024
    state = {"left": limit, "noted": False}

    def reset(*_args) -> None:
        state["left"], state["noted"] = limit, False

    shell.events.register("pre_execute", reset)
    for stream in (sys.stdout, sys.stderr):
        write = stream.write

        def capped(text, _write=write):
            size = len(text)
            if size <= state["left"]:
                state["left"] -= size
                return _write(text)
            if state["left"] > 0:
                _write(text[: state["left"]])
                state["left"] = 0
            if not state["noted"]:
                state["noted"] = True
                _write(f"\n[output truncated: this cell printed more than {kb} KiB]\n")
            return size

        stream.write = capped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--memory-mb", type=int, default=4096)
    parser.add_argument("--cpu-seconds", type=int, default=1800)
    parser.add_argument("--output-kb", type=int, default=1024)
    parser.add_argument("--plan", default=None)
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    trim_environment()
    apply_limits(args.memory_mb, args.cpu_seconds)
    sys.argv = [sys.argv[0], *rest]
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(rest)
    cap_output(app.shell, args.output_kb)
    if args.plan:
        from .guard import install

        install(args.plan, app.shell, app.kernel)
    app.start()


if __name__ == "__main__":
    main()
