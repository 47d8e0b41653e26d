"""Grade a folder (or LMS zip) of submissions: gradebook.csv, feedback/*.html, graded/*.ipynb."""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import nbformat

from . import processes
from .lesson import LessonSpec, load_lesson
from .plan import build_plan
from .runner import Limits, execute, run_notes, score, write_kernelspec
from .scan import scan_notebook
from .submission import NotGraded, Submission, discover, extract_zip, prepare, unique_names

#: Flags in the order they appear in the status column (most serious first).
PRIORITY = ("missing notebook", "invalid notebook", "grader error", "grading timed out", "tampering",
            "suspicious code", "incomplete", "kernel died", "timeout", "memory limit", "cell error",
            "tests restored", "lesson cells restored", "metadata restored", "renamed notebook")
NOT_GRADED = {"missing notebook", "invalid notebook", "grader error", "grading timed out"}
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][^\s/\\'\"<>:]+){2,}[/\\]?")


def scrub(text: str) -> str:
    """Remove machine-specific paths from a message (keep the last component)."""
    return _PATH.sub(lambda m: "…/" + Path(m.group(0).rstrip("/\\")).name, text)


def status_of(flags: list[str]) -> str:
    present = [f for f in PRIORITY if f in flags]
    return "; ".join(present) if present else "ok"


def grade_submission(spec: LessonSpec, sub: Submission, out: Path, limits: Limits, name: str) -> dict:
    """Pre-check, run and score one submission (runs inside a worker subprocess); ``name`` is
    the student's file-name stem (:func:`~course.grading.submission.unique_names`)."""
    result = {"student": sub.student, "file": name, "points": None, "total": None, "max": spec.max_points,
              "records": [], "notes": []}
    try:
        prepared = prepare(sub, spec)
    except NotGraded as exc:
        result["notes"] = [(exc.status, exc.detail)]
        return _finish(result)
    cwd = out / "work" / name
    if cwd.exists():
        shutil.rmtree(cwd)
    cwd.mkdir(parents=True)
    nbformat.write(prepared.nb, cwd / spec.file)
    plan = build_plan(prepared.nb, spec)
    run = execute(prepared.nb, cwd, write_kernelspec(out / "work" / "kernels", limits), limits, plan=plan)
    points, records = score(run, spec)
    (out / "graded").mkdir(parents=True, exist_ok=True)
    nbformat.write(run.nb, out / "graded" / f"{name}.ipynb")
    result.update(points=points, total=sum(points.values()), records=records,
                  notes=prepared.notes + scan_notebook(prepared.nb, spec) + _merge(run.notes) + run_notes(run, spec),
                  cpu_seconds=round(run.kernel_cpu + time.process_time(), 2))
    return _finish(result)


def _merge(notes: list[tuple[str, str]], limit: int = 4) -> list[tuple[str, str]]:
    """At most ``limit`` tampering notes (a patch undone before every lesson cell repeats)."""
    out, seen = [], 0
    for flag, text in notes:
        if flag == "tampering":
            seen += 1
            if seen > limit:
                continue
        out.append((flag, text))
    if seen > limit:
        out.append(("tampering", f"{seen - limit} more cell(s) with tampering notes"))
    return out


def _finish(result: dict) -> dict:
    result["notes"] = [(flag, scrub(text)) for flag, text in result["notes"]]
    for rec in result["records"]:
        rec["message"] = scrub(rec["message"])[:400]
    result["status"] = status_of([flag for flag, _ in result["notes"]])
    result["detail"] = "; ".join(text for _, text in result["notes"] if text)
    return result


def work_on_job(job_file: str) -> int:
    """Grade one submission described by ``job_file`` (the child process of ``grade``); exit status."""
    job = json.loads(Path(job_file).read_text())
    processes.become_subreaper()   # orphans of the kernel's processes come back to this worker
    spec = load_lesson(job["lesson"])
    sub = Submission(job["student"], [Path(p) for p in job["files"]], job["others"])
    try:
        result = grade_submission(spec, sub, Path(job["out"]), Limits(**job["limits"]), job["name"])
    finally:
        processes.kill_tree(adopted=True)
    Path(job["result"]).write_text(json.dumps(result))
    return 0


def _tail(path: Path, size: int = 4096) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _run_worker(spec: LessonSpec, sub: Submission, out: Path, limits: Limits, wall: int, name: str) -> dict:
    """Grade one submission in a subprocess, so that nothing a submission does stops the batch."""
    jobs = out / "work" / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    job, res, log = jobs / f"{name}.json", jobs / f"{name}.result.json", jobs / f"{name}.stderr.txt"
    res.unlink(missing_ok=True)
    job.write_text(json.dumps({"lesson": str(spec.path), "student": sub.student, "files": [str(p) for p in sub.files],
                               "others": sub.others, "out": str(out), "result": str(res), "limits": asdict(limits),
                               "name": name}))
    base = {"student": sub.student, "file": name, "points": None, "total": None, "max": spec.max_points, "records": []}
    with open(log, "wb") as err_file:   # a file, not a pipe: nothing the worker prints piles up in memory
        proc = subprocess.Popen([sys.executable, "-m", "course.grading", "_worker", str(job)],
                                stdout=subprocess.DEVNULL, stderr=err_file, start_new_session=True)
        try:
            proc.wait(timeout=wall)
        except subprocess.TimeoutExpired:
            processes.kill_tree([proc.pid])   # the worker, its kernel and what they started
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            return _finish({**base, "notes": [("grading timed out", f"grading took longer than {wall} s and was stopped")]})
    if proc.returncode == 0 and res.is_file():
        return json.loads(res.read_text())
    lines = [l for l in _tail(log).splitlines() if l.strip()]
    last = lines[-1] if lines else f"exit code {proc.returncode}"
    hint = "; the kernel could not start: is --memory-mb too low?" if "before replying to kernel_info" in last else ""
    return _finish({**base, "notes": [("grader error", f"the grader failed on this submission ({last[:200]}){hint}")]})


def grade(lesson: str | Path, submissions: Path, out: Path, limits: Limits | None = None, jobs: int = 2,
          wall: int = 1200, log=print) -> list[dict]:
    """Grade every submission in ``submissions`` (a folder or a zip); write the reports into ``out``."""
    limits = limits or Limits()
    spec = load_lesson(lesson)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    submissions = Path(submissions)
    root = extract_zip(submissions, out / "work" / "unzipped") if submissions.is_file() else submissions
    subs = discover(root, spec.file)
    log(f"{spec.file}: {len(subs)} submission(s), {jobs} at a time, {limits.cell_timeout} s per cell")
    start = time.perf_counter()
    results = []
    names = unique_names([sub.student for sub in subs])

    def one(sub):
        r = _run_worker(spec, sub, out, limits, wall, names[sub.student])
        total = "—" if r["total"] is None else f"{r['total']:g}/{r['max']:g}"
        log(f"  {sub.student}: {total} ({r['status']})")
        return r

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, subs))
    write_gradebook(spec, results, out / "gradebook.csv")
    for r in results:
        write_feedback(spec, r, out / "feedback" / f"{names[r['student']]}.html")
    (out / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    log(f"graded {len(results)} in {time.perf_counter() - start:.0f} s: {out.name}/gradebook.csv, {out.name}/feedback/")
    return results


def _num(x) -> str:
    return "" if x is None else f"{x:g}"


def write_gradebook(spec: LessonSpec, results: list[dict], path: Path) -> None:
    exercises = list(spec.exercises)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *exercises, "total", "max", "status", "detail", "feedback"])
        for r in sorted(results, key=lambda r: r["student"]):
            pts = r["points"] or {}
            writer.writerow([r["student"], *(_num(pts.get(ex)) if r["points"] is not None else "" for ex in exercises),
                             _num(r["total"]), _num(r["max"]), r["status"], r["detail"],
                             f"{r.get('file') or ''}.html" if r.get("file") else ""])


def write_feedback(spec: LessonSpec, r: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    e = html.escape
    title = f"{spec.file[:-6]}: feedback for {r['student']}"
    rows = []
    for ex, maximum in spec.exercises.items():
        got = "—" if r["points"] is None else _num(r["points"].get(ex, 0))
        rows.append(f"<tr><th>{e(ex.replace('ex', 'Exercise ').replace('_', '.'))}</th><td>{got} / {_num(maximum)}</td></tr>")
    tests = []
    for rec in r["records"]:
        kind = "visible self-check" if rec["kind"] == "check" else "hidden tests"
        verdict = "passed" if rec["earned"] else {"missing": "missing", "not run": "not run", "skipped": "not run",
                                                  "timeout": "timed out"}.get(rec["state"], "failed")
        msg = rec["message"] if rec["kind"] == "check" else rec["message"].split(":")[0]
        tests.append(f"<tr class='{'ok' if rec['earned'] else 'ko'}'><td>{e(rec['grade_id'])}</td><td>{kind}</td>"
                     f"<td>{_num(rec['earned'])} / {_num(rec['points'])}</td><td>{verdict}</td>"
                     f"<td><pre>{e(msg)}</pre></td></tr>")
    total = "not graded" if r["total"] is None else f"{_num(r['total'])} / {_num(r['max'])}"
    path.write_text(f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:.3em .8em;text-align:left;vertical-align:top}}
tr.ok td{{background:#e8f5e9}} tr.ko td{{background:#fdecea}} pre{{margin:0;white-space:pre-wrap}}</style></head>
<body><h1>{e(title)}</h1>
<p><b>Total: {e(total)}</b> &nbsp; Status: {e(r['status'])}</p>
{f"<p>{e(r['detail'])}</p>" if r['detail'] else ""}
<table>{''.join(rows)}</table>
<h2>Tests</h2>
<table><tr><th>cell</th><th>kind</th><th>points</th><th>result</th><th>message</th></tr>{''.join(tests)}</table>
<p>Each test cell scores all or nothing. Hidden tests check other inputs and edge cases than the
self-checks; their code stays hidden, only whether they passed is shown.</p>
</body></html>
""", encoding="utf-8")
