"""Execute a prepared submission in a resource-limited kernel, cell by cell, and score it.

With a :class:`~course.grading.plan.Plan`, the cells that come from the master (lesson cells,
self-checks, hidden tests) are not sent as they are: the kernel's guard
(:mod:`course.grading.guard`) runs the master's code for them against pristine state, and a
graded cell passes only if its execute reply is ``ok`` *and* the guard reported, with the plan's
token, that the test ran to the end untouched. The guard's reports are removed from the graded
notebook. Each cell keeps at most ``Limits.output_kb`` KiB of output; messages above 64 MiB are
refused at the socket. Every process the kernel started is killed after each kernel's run
(:mod:`course.grading.processes`).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import zmq
import zmq.asyncio
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from . import processes
from .guard import MIME
from .lesson import LessonSpec
from .plan import Plan

KERNEL_NAME = "course-grading"
MAX_MESSAGE = 64 * 2**20    # bytes: a larger message from the kernel drops its connection


@dataclass
class Limits:
    cell_timeout: int = 120          # seconds per cell
    memory_mb: int = 4096            # RLIMIT_DATA of the kernel (writable private memory)
    cpu_seconds: int = 1800          # RLIMIT_CPU of the kernel
    restarts: int = 2                # re-runs after a dead or stuck kernel
    startup_timeout: int = 120
    output_kb: int = 1024            # output kept per cell (KiB)


class _CappedClient(NotebookClient):
    """A notebook client that keeps at most ``limit`` bytes of outputs per cell (the guard's
    reports and error messages always pass, the latter shortened)."""

    def __init__(self, *args, limit: int, **kwargs):
        super().__init__(*args, **kwargs)
        self._limit, self._used, self._cut = limit, {}, set()

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        if msg["msg_type"] == "error":
            content["evalue"] = str(content.get("evalue", ""))[:4000]
            content["traceback"] = [str(line)[:4000] for line in content.get("traceback", [])[-60:]]
            return super().output(outs, msg, display_id, cell_index)
        data = content.get("data") or {}
        if MIME in data:
            return super().output(outs, msg, display_id, cell_index)
        size = len(content.get("text", "")) + sum(len(str(v)) for v in data.values())
        used = self._used.get(cell_index, 0)
        if used + size > self._limit:
            if cell_index not in self._cut:
                self._cut.add(cell_index)
                outs.append(nbformat.v4.new_output(
                    "stream", name="stderr", text=f"[output truncated: this cell sent more than {self._limit // 1024} KiB]\n"))
            return None
        self._used[cell_index] = used + size
        return super().output(outs, msg, display_id, cell_index)


@dataclass
class RunResult:
    nb: nbformat.NotebookNode
    outcome: dict[int, str]                          # code cell index -> ok | error | timeout | skipped | not run
    notes: list[tuple[str, str]] = field(default_factory=list)
    kernel_cpu: float = 0.0                          # CPU seconds of the kernels (Linux; 0 elsewhere)


def _kernel_cpu(client: NotebookClient) -> float:
    """CPU seconds the kernel process used so far, from /proc (best effort, 0 if unknown)."""
    try:
        pid = client.km.provisioner.process.pid
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except Exception:  # noqa: BLE001 - not Linux, or the kernel is gone
        return 0.0


def write_kernelspec(folder: Path, limits: Limits) -> Path:
    """A kernel spec whose argv starts :mod:`course.grading.kernel` with the limits."""
    spec_dir = folder / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "course.grading.kernel",
                     "--memory-mb", str(limits.memory_mb), "--cpu-seconds", str(limits.cpu_seconds),
                     "--output-kb", str(limits.output_kb), "-f", "{connection_file}"],
            "display_name": "recsys-course grading (limited)", "language": "python"}
    text, target = json.dumps(spec, indent=1), spec_dir / "kernel.json"
    if not target.is_file() or target.read_text() != text:
        # Workers grading in parallel share the spec: write it whole or not at all (another worker
        # reading a half-written file would fail to start its kernel).
        tmp = spec_dir / f".kernel.{os.getpid()}.json"
        tmp.write_text(text)
        os.replace(tmp, target)
    return folder


def _error_output(ename: str, evalue: str):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _has_error(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def _reports(cell, plan: Plan, index: int) -> list[dict]:
    """The guard's reports in ``cell``'s outputs (removed from them), checked against the plan."""
    found, kept = [], []
    for out in cell.get("outputs", []):
        data = out.get("data") or {}
        if out.get("output_type") == "display_data" and MIME in data:
            payload = data[MIME]
            if isinstance(payload, str):
                try:
                    payload = json.loads(payload)
                except ValueError:
                    payload = {}
            if isinstance(payload, dict) and payload.get("token") == plan.token and payload.get("cell") == index:
                found.append(payload)
            continue
        kept.append(out)
    cell.outputs = kept
    return found


def _hide_call(cell) -> None:
    """Drop the traceback entry of the call that ran a master cell (the cell's own code follows it)."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            out["traceback"] = [line for line in out.get("traceback", []) if "course.grading.guard" not in line]


class _StartFailed(RuntimeError):
    """The kernel did not start (a port taken by another kernel starting at the same moment ...)."""


def execute(nb: nbformat.NotebookNode, cwd: Path, kernels: Path, limits: Limits, plan: Plan | None = None) -> RunResult:
    """Run every code cell with a per-cell timeout; survive errors, timeouts and dead kernels.

    A cell that raises is recorded and the next cell runs. If a cell exceeds the timeout or the
    kernel dies, the kernel is stopped and the whole notebook re-run in a fresh kernel without
    that cell (at most ``limits.restarts`` times): the other exercises are still graded, in a clean
    kernel state (an interrupted kernel can be left inconsistent, and a loop that catches
    ``KeyboardInterrupt`` cannot be interrupted at all). A kernel that fails to start is started
    again (twice at most). With a ``plan``, master cells run through the kernel's guard (see the
    module docstring).
    """
    skip: set[int] = set()
    notes: list[tuple[str, str]] = []
    cpu = 0.0
    for attempt in range(limits.restarts + 1):
        for start in range(3):
            try:
                work, outcome, stopped_at, used = _run_once(nb, cwd, kernels, limits, plan, skip, notes, attempt)
                break
            except _StartFailed as exc:
                if start == 2:
                    raise exc.__cause__ or exc
                notes.append(("", f"a kernel did not start ({str(exc)[:120]}); started another"))
        cpu += used
        if stopped_at is None:
            return RunResult(work, outcome, notes, cpu)
        if attempt < limits.restarts:
            skip.add(stopped_at)
            notes.append(("", f"re-ran the notebook in a fresh kernel without cell {stopped_at}"))
    notes.append(("incomplete", f"gave up after {limits.restarts + 1} runs; cells after {stopped_at} not run"))
    return RunResult(work, outcome, notes, cpu)


def _run_once(nb, cwd: Path, kernels: Path, limits: Limits, plan: Plan | None, skip: set[int],
              notes: list[tuple[str, str]], attempt: int):
    """One kernel's run of the notebook: ``(notebook, outcome, index of the cell that stopped it, CPU s)``."""
    work = copy.deepcopy(nb)
    outcome: dict[int, str] = {}
    replies: dict[int, dict] = {}
    marker = processes.new_marker()
    extra = []
    if plan is not None:
        plans = Path(kernels).parent / "plans"
        plans.mkdir(parents=True, exist_ok=True)
        extra = ["--plan", str(plan.write(plans / f"{Path(cwd).name}-{attempt}.json"))]

    def on_executed(cell, cell_index, execute_reply, replies=replies):
        replies[cell_index] = (execute_reply or {}).get("content", {})

    context = zmq.asyncio.Context()
    context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
    km = AsyncKernelManager(kernel_name=KERNEL_NAME, context=context,
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    client = _CappedClient(work, km=km, timeout=limits.cell_timeout, allow_errors=True,
                           interrupt_on_timeout=False, startup_timeout=limits.startup_timeout,
                           record_timing=False, shutdown_kernel="immediate", on_cell_executed=on_executed,
                           resources={"metadata": {"path": str(cwd)}}, extra_arguments=extra,
                           limit=limits.output_kb * 1024)
    order = [i for i, cell in enumerate(work.cells) if cell.cell_type == "code" and cell.source.strip()]
    stopped_at = None
    kernel_pid, tree, cpu = None, [], 0.0
    env = {**os.environ, processes.MARKER: marker}
    try:
        with client.setup_kernel(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            kernel_pid = client.km.provisioner.process.pid
            dirty = False
            try:
                for pos, i in enumerate(order):
                    cell = work.cells[i]
                    if stopped_at is not None:
                        outcome[i] = "not run"
                        continue
                    if i in skip:
                        cell.outputs = [_error_output("Skipped", "not run: it stopped the kernel in an earlier run")]
                        outcome[i] = "skipped"
                        continue
                    master = plan is not None and plan.is_master(i)
                    source = cell.source
                    if master:
                        following = next((j for j in order[pos + 1:] if j not in skip), None)
                        cell.source = plan.call(i, dirty, following is not None and not plan.is_master(following))
                    try:
                        client.execute_cell(cell, i)
                    except CellTimeoutError:
                        outcome[i] = "timeout"
                        cell.outputs.append(_error_output("Timeout", f"the cell ran longer than {limits.cell_timeout} s"))
                        notes.append(("timeout", f"cell {i} ran longer than {limits.cell_timeout} s"))
                        stopped_at = i
                        continue
                    except DeadKernelError:
                        outcome[i] = "error"
                        cell.outputs.append(_error_output("DeadKernel", "the kernel died while running this cell"))
                        notes.append(("kernel died", f"the kernel died in cell {i}"))
                        stopped_at = i
                        continue
                    finally:
                        cell.source = source
                    # The execute reply decides, not the outputs (they arrive on another channel).
                    reply = replies.get(i, {})
                    ok = reply.get("status") == "ok"
                    if master:
                        dirty = False
                        reports = _reports(cell, plan, i)
                        _hide_call(cell)
                        for report in reports:
                            notes += [("tampering", f"cell {i}: {note}") for note in report.get("notes", [])]
                        if plan.roles[i] in ("check", "hidden") and ok and not any(r.get("passed") for r in reports):
                            ok = False
                            if not _has_error(cell):
                                cell.outputs.append(_error_output(
                                    "NotGraded", "the test did not report a result: something in the notebook "
                                                 "stopped it from running to the end"))
                    else:
                        dirty = True
                    if ok:
                        outcome[i] = "ok"
                    else:
                        outcome[i] = "error"
                        if not _has_error(cell):
                            cell.outputs.append(_error_output(reply.get("ename", "Error"), reply.get("evalue", "no reply")))
                cpu = _kernel_cpu(client)
            finally:
                tree = [p.pid for p in processes.descendants(kernel_pid)]
        # Leaving setup_kernel shuts the kernel down (killed at once: a stuck cell cannot block it).
    except Exception as exc:
        if kernel_pid is None:
            raise _StartFailed(str(exc) or type(exc).__name__) from exc
        raise
    finally:
        processes.kill_tree([p for p in [kernel_pid, *tree] if p], marker=marker)
        context.destroy(linger=0)
    return work, outcome, stopped_at, cpu


def score(result: RunResult, spec: LessonSpec) -> tuple[dict[str, float], list[dict]]:
    """Points per exercise (all or nothing per graded cell) and one record per graded cell."""
    index = {}
    for i, cell in enumerate(result.nb.cells):
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if gid and gid not in index:
            index[gid] = i
    points = {ex: 0.0 for ex in spec.exercises}
    records = []
    for ec in spec.cells:
        if not ec.points:
            continue
        i = index.get(ec.grade_id)
        state = result.outcome.get(i, "not run") if i is not None else "missing"
        message = ""
        if i is not None:
            for out in result.nb.cells[i].get("outputs", []):
                if out.get("output_type") == "error":
                    message = f"{out.get('ename', '')}: {out.get('evalue', '')}".strip(": ")
                    break
        passed = state == "ok"
        if passed:
            points[ec.exercise] += ec.points
        records.append({"grade_id": ec.grade_id, "exercise": ec.exercise, "kind": ec.kind, "points": ec.points,
                        "earned": ec.points if passed else 0.0, "state": state, "message": message})
    return points, records


def run_notes(result: RunResult, spec: LessonSpec) -> list[tuple[str, str]]:
    """Flags for errors in cells that are not tests (the learner's code or the lesson's)."""
    graded = {ec.grade_id for ec in spec.cells if ec.points}
    notes = []
    for i, cell in enumerate(result.nb.cells):
        if result.outcome.get(i) != "error" or (cell.metadata.get("nbgrader") or {}).get("grade_id") in graded:
            continue
        err = next((o for o in cell.outputs if o.get("output_type") == "error"), {})
        ename = err.get("ename", "")
        if ename == "DeadKernel":
            continue
        flag = "memory limit" if ename == "MemoryError" else "cell error"
        notes.append((flag, f"cell {i} raised {ename}: {str(err.get('evalue', ''))[:120]}".rstrip(": ")))
    if any(o.get("ename") == "MemoryError" for c in result.nb.cells if c.cell_type == "code"
           for o in c.get("outputs", []) if o.get("output_type") == "error") and not any(f == "memory limit" for f, _ in notes):
        notes.append(("memory limit", "a test cell ran out of memory"))
    return notes
