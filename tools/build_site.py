"""Build the course website: every ready lesson as static HTML, with its committed outputs.

    python tools/build_site.py --out site/

The notebooks are rendered as committed (nothing is executed) with nbconvert's HTMLExporter and
the "course" template of tools/site_assets/templates (JupyterLab's look, plus a navigation bar
between lessons). Links between lessons (``NN_x.ipynb``) become links between pages
(``NN_x.html``), and ``index.html`` is the syllabus, generated from
``course.syllabus.ready_lessons()``.

Math is typeset in the reader's browser by MathJax 2.7, the version nbconvert's templates are
written for, copied at build time from the ``jupyter-server-mathjax`` package (pinned in
requirements.txt) into ``<out>/mathjax/``. Nothing is loaded from a CDN, so the folder works
offline and can be published as is (GitHub Pages, any static file server, or file:// URLs).

The build ends by checking every internal link and anchor of the pages it wrote; a broken one
is reported, and is an error with ``--strict``.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ASSETS = Path(__file__).resolve().parent / "site_assets"
sys.path.insert(0, str(ROOT))

from course.syllabus import LESSONS, Lesson, ready_lessons  # noqa: E402

COURSE_TITLE = "Deep learning for recommender systems"
MARKER = ".course-site"  # marks a folder this script built, so it may be replaced safely
MATHJAX_DIR = "mathjax"
MATHJAX_URL = f"{MATHJAX_DIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
FOOTER = ("Rendered from the course's committed notebooks. To run the lessons yourself, clone the "
          "repository and run make lab (see its README).")
# A relative link to a notebook in the same folder, optionally with an anchor.
NOTEBOOK_HREF = re.compile(r'href="(?P<name>[^"#?:/\\]+)\.ipynb(?P<fragment>#[^"]*)?"')


def page_name(lesson: Lesson) -> str:
    return Path(lesson.file).with_suffix(".html").name


def mathjax_source() -> Path:
    try:
        import jupyter_server_mathjax
    except ImportError:  # pragma: no cover - the pinned environment has it
        sys.exit("build_site: MathJax comes from the jupyter-server-mathjax package: "
                 "pip install jupyter-server-mathjax (it is pinned in requirements.txt)")
    static = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
    if not (static / "MathJax.js").is_file():  # pragma: no cover
        sys.exit(f"build_site: no MathJax.js in {static}")
    return static


def prepare_output(out: Path) -> None:
    """Create ``out``, replacing it only if it is empty or a site this script built."""
    if out.exists():
        if not out.is_dir():
            sys.exit(f"build_site: {out} exists and is not a folder")
        if any(out.iterdir()) and not (out / MARKER).exists():
            sys.exit(f"build_site: {out} is not empty and was not built by this script; "
                     "choose another --out or remove it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("Built by tools/build_site.py; the whole folder is replaced on rebuild.\n")
    (out / ".nojekyll").write_text("")  # GitHub Pages: serve every file as is


def rewrite_links(body: str) -> str:
    """``NN_x.ipynb#anchor`` -> ``NN_x.html#anchor`` in every href."""
    return NOTEBOOK_HREF.sub(lambda m: f'href="{m["name"]}.html{m["fragment"] or ""}"', body)


@dataclass
class _Neighbour:
    href: str
    label: str


WIDGET_NOTE = "(an interactive control: run this cell in JupyterLab to use it)"


def without_live_widgets(nb) -> None:
    """Replace ipywidgets outputs by a note, in place.

    A widget needs a kernel; nbconvert would otherwise embed the saved widget state and load
    the widget renderer from a CDN (unpkg.com), and the site is self-contained and offline.
    """
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                output["data"] = {"text/plain": WIDGET_NOTE}


def render_lesson(exporter, lesson: Lesson, previous: Lesson | None, following: Lesson | None,
                  notebooks: Path) -> str:
    import nbformat

    from course.grading.lesson import student_version

    # published as learners receive it: no solution code, no hidden tests
    nb = student_version(nbformat.read(notebooks / lesson.file, as_version=4))
    nb.metadata["title"] = f"{lesson.label} · {COURSE_TITLE}"
    without_live_widgets(nb)
    site = {
        "course_title": COURSE_TITLE,
        "previous": _Neighbour(page_name(previous), previous.label) if previous else None,
        "next": _Neighbour(page_name(following), following.label) if following else None,
        "footer": FOOTER,
    }
    body, _ = exporter.from_notebook_node(nb, resources={"site": site})
    return rewrite_links(body)


def render_index(lessons: list[Lesson]) -> str:
    ready = {lesson.file for lesson in lessons}
    rows = []
    for lesson in lessons:
        rows.append(
            f'<tr><td><a href="{page_name(lesson)}">{html.escape(lesson.label)}</a></td>'
            f"<td>{html.escape(lesson.teaches)}</td><td>{html.escape(lesson.frameworks)}</td></tr>")
    planned = [lesson for lesson in LESSONS if lesson.file not in ready]
    planned_html = ""
    if planned:
        items = "".join(f'<li class="planned">{html.escape(lesson.label)}: {html.escape(lesson.teaches)}</li>'
                        for lesson in planned)
        planned_html = f"<h2>Coming later</h2>\n<ul>{items}</ul>\n"
    first = page_name(lessons[0]) if lessons else "index.html"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(COURSE_TITLE)}: syllabus</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="site.css">
</head>
<body class="site-index">
<nav class="site-nav site-nav-top" aria-label="Lessons">
  <a class="site-home" href="index.html">{html.escape(COURSE_TITLE)}</a>
  <span class="site-links"><a class="site-next" rel="next" href="{first}">Start the course ▶</a></span>
</nav>
<main>
<h1>{html.escape(COURSE_TITLE)}</h1>
<p>A course that builds recommender systems from the ground up, from the average rating of a
movie to neighbourhood methods, matrix factorisation, neural networks and a complete movie
recommender on MovieLens. Every idea is built by hand on a tiny table, from scratch in NumPy, and
with the tested <code>course_lib</code> library, and checked against an independent reference.
These pages show each lesson with the outputs it was committed with.</p>
<h2 id="syllabus">Syllabus</h2>
<table class="syllabus">
<thead><tr><th>lesson</th><th>what it teaches</th><th>frameworks</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
{planned_html}</main>
<footer class="site-footer">{html.escape(FOOTER)}</footer>
</body>
</html>
"""


class _LinkParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            value = attrs.get(key)
            if value and not (tag == "a" and key == "src"):
                self.links.append(value)


def broken_links(out: Path) -> list[str]:
    """Internal links and anchors of the built pages that point at nothing."""
    pages = {}
    for page in sorted(out.glob("*.html")):
        parser = _LinkParser()
        parser.feed(page.read_text(encoding="utf-8"))
        pages[page.name] = parser
    problems = []
    for name, parser in pages.items():
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("data:", "javascript:", "mailto:")):
                continue
            target = unquote(parts.path) or name
            if not (out / target).exists():
                problems.append(f"{name}: {link} (no file {target})")
                continue
            # Browsers match the fragment as written, then percent-decoded (nbconvert's heading ids are encoded).
            fragment = parts.fragment
            if fragment and target in pages and not {fragment, unquote(fragment)} & pages[target].ids:
                problems.append(f"{name}: {link} (no anchor #{unquote(fragment)} in {target})")
    return problems


def build(out: Path, notebooks: Path = NOTEBOOKS) -> dict:
    """Build the site into ``out``; returns a summary (pages, seconds, broken links)."""
    from nbconvert import HTMLExporter

    start = time.perf_counter()
    lessons = ready_lessons(notebooks)
    if not lessons:
        sys.exit(f"build_site: no lesson notebooks in {notebooks}")
    prepare_output(out)
    shutil.copytree(mathjax_source(), out / MATHJAX_DIR)
    shutil.copy2(ASSETS / "site.css", out / "site.css")

    exporter = HTMLExporter(template_name="course", extra_template_basedirs=[str(ASSETS / "templates")],
                            mathjax_url=MATHJAX_URL, theme="light")
    pages = []
    for position, lesson in enumerate(lessons):
        previous = lessons[position - 1] if position > 0 else None
        following = lessons[position + 1] if position + 1 < len(lessons) else None
        (out / page_name(lesson)).write_text(render_lesson(exporter, lesson, previous, following, notebooks),
                                             encoding="utf-8")
        pages.append(page_name(lesson))
    (out / "index.html").write_text(render_index(lessons), encoding="utf-8")
    return {"pages": ["index.html", *pages], "seconds": time.perf_counter() - start,
            "broken": broken_links(out)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="output folder (default: site/)")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help=argparse.SUPPRESS)
    parser.add_argument("--strict", action="store_true", help="fail on a broken internal link or anchor")
    args = parser.parse_args(argv)
    summary = build(args.out.resolve(), args.notebooks.resolve())
    for problem in summary["broken"]:
        print(f"broken link: {problem}", file=sys.stderr)
    print(f"built {len(summary['pages'])} pages into {args.out} in {summary['seconds']:.1f} s "
          f"(open {args.out / 'index.html'})")
    return 1 if args.strict and summary["broken"] else 0


if __name__ == "__main__":
    sys.exit(main())
