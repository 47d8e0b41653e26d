"""Every process a submission starts is gone when its grading ends, detached ones included.

A learner's code can start processes that outlive the kernel: ``subprocess.Popen(...,
start_new_session=True)``, ``setsid``, ``nohup ... &`` or a double fork (the grandchild is
orphaned at once). A process group or session kill misses all of these, because they leave the
group. Three nets catch them:

* the kernel's process tree (``psutil``), collected before and after the kernel shuts down:
  a new session or process group does not change a process's parent;
* the grading worker is a *child subreaper* (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``): orphans
  of the kernel's tree are re-parented to the worker instead of ``init``, so double-forked
  daemons stay in its tree;
* an environment marker (``COURSE_GRADING_RUN=<random token>``) that every process the kernel
  starts inherits unless it clears its environment.

:func:`kill_tree` stops all of them first (``SIGSTOP``: a stopped process cannot fork again),
then kills them and reaps the worker's adopted children. Not caught: processes started through
another service (``systemd-run``, ``at``, ``cron``, an ssh session), which run outside the
worker's tree; that needs a container.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import sys

import psutil

PR_SET_CHILD_SUBREAPER = 36
MARKER = "COURSE_GRADING_RUN"
_REAPER = [False]


def become_subreaper() -> bool:
    """Make this process adopt its descendants' orphans (Linux); ``False`` where unsupported.

    Only for a process that owns all its children (the grading worker): it must then reap them.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _REAPER[0] = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        _REAPER[0] = False
    return _REAPER[0]


def new_marker() -> str:
    return secrets.token_hex(8)


def _marked(marker: str) -> list[psutil.Process]:
    found = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(MARKER) == marker:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def descendants(root: int | None) -> list[psutil.Process]:
    if root is None:
        return []
    try:
        return psutil.Process(root).children(recursive=True)
    except psutil.Error:
        return []


def kill_tree(pids: list[int] | None = None, marker: str | None = None, adopted: bool | None = None,
              rounds: int = 10) -> int:
    """Kill the given processes, their descendants, processes carrying ``marker`` and (with
    ``adopted``, by default when this process is a subreaper) every child of this process.
    Returns how many were killed."""
    adopted = _REAPER[0] if adopted is None else adopted
    killed: set[int] = set()
    for _ in range(rounds):
        targets: dict[int, psutil.Process] = {}
        for pid in pids or []:
            try:
                proc = psutil.Process(pid)
                targets[pid] = proc
                for child in proc.children(recursive=True):
                    targets[child.pid] = child
            except psutil.Error:
                pass
        if adopted:
            for child in psutil.Process().children(recursive=True):
                targets[child.pid] = child
        if marker:
            for proc in _marked(marker):
                targets[proc.pid] = proc
                for child in descendants(proc.pid):
                    targets[child.pid] = child
        targets.pop(os.getpid(), None)
        alive = [p for p in targets.values() if _alive(p)]
        if not alive:
            break
        for proc in alive:
            _signal(proc, signal.SIGSTOP)
        for proc in alive:
            _signal(proc, signal.SIGKILL)
            killed.add(proc.pid)
        psutil.wait_procs(alive, timeout=2)
        if adopted:
            _reap()
    if adopted:
        _reap()
    return len(killed)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _signal(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except psutil.Error:
        pass


def _reap() -> None:
    """Collect the exit status of adopted orphans (a subreaper must, or they stay zombies)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
