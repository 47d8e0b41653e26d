"""Shared helpers of the benchmark scripts: machine description, load average, JSON results.

Every results file written by ``bench_surprise.py``, ``bench_seeds.py`` and ``bench_scaling.py``
has the same envelope::

    {"benchmark": ..., "command": ..., "started": ..., "finished": ..., "machine": {...},
     "load_average": {"start": [1, 5, 15 min], "end": [...]}, ...the benchmark's own keys...}

and is rewritten after every measured row, so an interrupted run leaves its partial results.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the committed results; ``BENCH_RESULTS`` redirects the JSON files (``run_all.py --quick`` uses results/quick)
DEFAULT_RESULTS = ROOT / "benchmarks" / "results"
RESULTS = Path(os.environ.get("BENCH_RESULTS", DEFAULT_RESULTS))

#: what CI and the lessons use: one thread everywhere, quiet TensorFlow, fixed hashing
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                     "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_BACKEND": "tensorflow",
                     "PYTHONHASHSEED": "0"}


def int_list(text: str) -> list[int]:
    """``"42,1,2"`` -> ``[42, 1, 2]``: the argparse ``type`` of the scripts' comma-separated ``--seeds`` (and the like)."""
    return [int(s) for s in text.split(",")]


def stats(values) -> dict:
    """Mean, sample standard deviation (ddof=1; 0 for one value), min, max and count of ``values``."""
    import numpy as np

    v = np.asarray(values, float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(len(v))}


def single_thread() -> None:
    """Set the one-thread environment (before numpy is imported)."""
    for key, value in SINGLE_THREAD_ENV.items():
        os.environ.setdefault(key, value)


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (``uptime``'s numbers)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux
        return []


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:  # pragma: no cover
        pass
    return None


def machine() -> dict:
    """CPU model, logical cores, RAM, OS, and the versions of Python and the main packages."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for pkg in ("numpy", "scipy", "pandas", "numba", "torch", "scikit-surprise"):
        try:
            versions[pkg] = version(pkg).split("+")[0]
        except PackageNotFoundError:
            versions[pkg] = "missing"
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "ram_gib": _ram_gib(),
            "os": f"{platform.system()} {platform.release()}", "versions": versions,
            "threads": os.environ.get("OMP_NUM_THREADS", "unset")}


class Results:
    """A results JSON file that is rewritten whenever it changes (partial results survive a crash)."""

    def __init__(self, name: str, command: str, **extra):
        self.path = RESULTS / f"{name}.json"
        self.data = {"benchmark": name, "command": command, "started": now(), "finished": None,
                     "machine": machine(), "load_average": {"start": load_average(), "end": None}, **extra}
        self.save()

    def save(self) -> None:
        self.data["load_average"]["end"] = load_average()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=float) + "\n")
        tmp.replace(self.path)

    def finish(self) -> None:
        self.data["finished"] = now()
        self.save()


def command_line() -> str:
    """The command that is running, relative to the repository (for the results files)."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    return " ".join([".venv/bin/python", str(script), *sys.argv[1:]])


class Timer:
    """Wall-clock and CPU seconds of a block: ``with Timer() as t: ...; t.wall, t.cpu``."""

    def __enter__(self):
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._w
        self.cpu = time.process_time() - self._c
        return False
