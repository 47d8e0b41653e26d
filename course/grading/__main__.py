"""Command line: ``python -m course.grading student|grade|nbgrader ...`` (see ``--help``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# nbformat -> jsonschema imports rfc3987_syntax when it is installed, which builds a parser at
# import time (3 s of CPU). Its only use is validating "iri" string formats, which notebooks do
# not have; a grading run starts one process per submission, so skip it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_worker"]:
        from .batch import work_on_job

        return work_on_job(argv[1])
    parser = argparse.ArgumentParser(prog="python -m course.grading",
                                     description="Student versions of the lessons and batch grading.")
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("student", help="write the learners' copies of every ready lesson (no solutions)")
    st.add_argument("lessons", nargs="*", help="lesson files, stems or numbers (default: every ready lesson)")
    st.add_argument("--out", default="student", help="target folder (default: student/)")
    st.add_argument("--force", action="store_true", help="replace existing copies (a learner's work is lost)")
    gr = sub.add_parser("grade", help="grade a folder or zip of submissions of one lesson")
    gr.add_argument("lesson", help="lesson file, stem or number, e.g. 02")
    gr.add_argument("submissions", help="folder with one subfolder per student, or a zip downloaded from an LMS")
    gr.add_argument("--out", help="output folder (default: grading/work/<lesson>)")
    gr.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    gr.add_argument("--memory-mb", type=int, default=4096, help="memory limit of each kernel: writable private memory, RLIMIT_DATA (default 4096)")
    gr.add_argument("--jobs", type=int, default=2, help="submissions graded at the same time (default 2)")
    gr.add_argument("--wall", type=int, default=1200, help="seconds per submission before it is stopped (default 1200)")
    nb = sub.add_parser("nbgrader", help="grade with nbgrader instead: the master as nbgrader's source, "
                                         "generate_assignment, autograde, export (see course/grading/nbgrader.py)")
    nb.add_argument("lesson", help="lesson file, stem or number, e.g. 03")
    nb.add_argument("submissions", nargs="?", help="folder with one subfolder per student, or an LMS zip")
    nb.add_argument("--course", default="grading/work/nbgrader", help="nbgrader's course directory (default grading/work/nbgrader)")
    nb.add_argument("--step", choices=["all", "generate", "collect", "autograde", "export"], default="all",
                    help="run one step only (default: all)")
    nb.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    args = parser.parse_args(argv)
    if args.command == "nbgrader":
        from .nbgrader import STEPS, run

        steps = STEPS if args.step == "all" else (args.step,)
        if "collect" in steps and not args.submissions:
            print("error: pass the submissions (a folder or zip) to collect them", file=sys.stderr)
            return 2
        try:
            run(args.lesson, Path(args.submissions) if args.submissions else None, Path(args.course), steps,
                timeout=args.timeout)
        except (RuntimeError, FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "student":
        from .lesson import write_student_versions

        written = write_student_versions(Path(args.out), lessons=args.lessons or None, force=args.force)
        print(f"{len(written)} student notebook(s) written to {args.out}/" +
              ("" if args.force else " (existing copies kept; --force replaces them)"))
        return 0
    from .batch import grade
    from .lesson import resolve_lesson
    from .runner import Limits

    import zipfile

    submissions = Path(args.submissions)
    try:
        out = Path(args.out) if args.out else Path("grading/work") / resolve_lesson(args.lesson).stem
        if not submissions.exists():
            raise FileNotFoundError(f"{args.submissions}: no such folder or zip")
        if submissions.is_file() and not zipfile.is_zipfile(submissions):
            raise ValueError(f"{args.submissions}: not a zip file (pass a folder or an LMS zip)")
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    limits = Limits(cell_timeout=args.timeout, memory_mb=args.memory_mb)
    grade(args.lesson, submissions, out, limits, jobs=args.jobs, wall=args.wall)
    return 0


if __name__ == "__main__":
    sys.exit(main())
