"""Browser tests, in Debian's Chromium driven by Playwright.

1. ``make lab`` works: JupyterLab started as the README's first command starts it (headless, on a
   free port, with a token) opens the first lesson, runs its first cells with the course kernel and
   shows their output.
2. The course site (``tools/build_site.py``) renders: every lesson page has typeset math, loaded
   figures, and no broken internal link or anchor, and loads nothing from outside the site.

Screenshots are kept in build/artifacts/. Both tests skip, saying why, without Playwright's Python
package or without /usr/bin/chromium (``apt-get install chromium``; ``.ci/run`` installs it).
Playwright never downloads a browser here: it launches Debian's.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "build" / "artifacts"
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
FIRST_LESSON = "student/00_welcome.ipynb"  # what `make lab` opens: the learner's copy
KERNEL = "recsys-course"

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright's Python package is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"Chromium is not installed at {CHROMIUM}: apt-get install chromium (.ci/run installs it)")


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


# --------------------------------------------------------------------------- JupyterLab


def _lab_settings(folder: Path) -> None:
    """User settings for the test's JupyterLab: never autosave the committed lesson, no news pop-ups."""
    settings = {
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false", "checkForUpdates": False},
    }
    for name, values in settings.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer {url.split('?')[0]} within {timeout} s:\n{log.read_text()[-3000:]}")


def _stop_server(proc: subprocess.Popen, base: str, token: str) -> None:
    """Ask the server to shut down (it stops its kernels), then end the process group it leads."""
    if proc.poll() is None:
        try:
            request = urllib.request.Request(f"{base}/api/shutdown", method="POST",
                                             headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(request, timeout=10).close()
        except (urllib.error.URLError, OSError):
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:  # kernels the server started, if any outlived it; the group is ours (start_new_session)
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab as `make lab` starts it (same executable, root flag and file), headless on 127.0.0.1."""
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL not in KernelSpecManager().find_kernel_specs():
        pytest.fail(f"the {KERNEL!r} kernel is not registered: run `make setup` (make lab and make test do)")
    jupyter = Path(sys.executable).with_name("jupyter")
    if not jupyter.exists():
        pytest.skip(f"no jupyter command beside {sys.executable}")
    port, token = _free_port(), secrets.token_hex(16)
    _lab_settings(tmp_path / "settings")
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    root_flag = ["--allow-root"] if os.geteuid() == 0 else []
    from course.grading.lesson import write_student_versions

    write_student_versions(tmp_path / "student", lessons=["00"])  # as `make student` does
    command = [str(jupyter), "lab", *root_flag, "--ServerApp.root_dir=student", FIRST_LESSON,
               "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]
    log = tmp_path / "jupyterlab.log"
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield {"base": base, "token": token, "log": log, "lesson": tmp_path / FIRST_LESSON}
    finally:
        _stop_server(proc, base, token)


def _first_code_cells(path: Path, count: int) -> list[int]:
    cells = json.loads(path.read_text())["cells"]
    return [i for i, cell in enumerate(cells) if cell["cell_type"] == "code"][:count]


def test_jupyterlab_runs_the_first_lesson(jupyterlab, browser):
    lesson = jupyterlab["lesson"]
    committed = lesson.read_bytes()
    checkpoint = lesson.parent / ".ipynb_checkpoints" / f"{lesson.stem}-checkpoint.ipynb"
    had_checkpoint = checkpoint.exists()
    setup_cell, report_cell = _first_code_cells(lesson, 2)  # course.setup(...), environment_report()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        # The server's root is student/, so the lesson sits at the top of the tree.
        page.goto(f"{jupyterlab['base']}/lab/tree/{lesson.name}?token={jupyterlab['token']}")
        notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        notebook.wait_for(timeout=60_000)
        status = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar-kernelName")
        playwright_api.expect(status).to_have_text(re.compile(r"Python 3 \(recsys-course\)"), timeout=60_000)
        idle = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']")
        idle.wait_for(timeout=90_000)

        cells = notebook.locator(".jp-Cell")
        report = cells.nth(report_cell)
        playwright_api.expect(report.locator(".jp-OutputArea-output")).to_have_count(1)  # committed output

        # What a learner does: clear the saved outputs, then Shift+Enter from the top.
        page.get_by_role("menuitem", name="Edit", exact=True).click()
        page.get_by_role("menuitem", name="Clear Outputs of All Cells").click()
        playwright_api.expect(report.locator(".jp-OutputArea-output")).to_have_count(0)
        cells.nth(0).locator(".jp-InputPrompt").click()  # the gutter: the first cell holds links
        page.keyboard.press("Escape")
        for _ in range(report_cell + 1):
            page.keyboard.press("Shift+Enter")

        output = report.locator(".jp-OutputArea-output")
        playwright_api.expect(output).to_have_count(1, timeout=120_000)
        playwright_api.expect(report.locator(".jp-InputPrompt")).to_have_text("[2]:", timeout=30_000)
        playwright_api.expect(cells.nth(setup_cell).locator(".jp-InputPrompt")).to_have_text("[1]:")
        table = output.locator("table")
        playwright_api.expect(table).to_contain_text("numpy")
        statuses = [s.strip() for s in table.locator("tbody tr td:last-child").all_inner_texts()]
        assert statuses and all(s == "ok" for s in statuses), f"environment report in the browser: {statuses}"
        report.scroll_into_view_if_needed()
        page.screenshot(path=str(_artifact("jupyterlab_00_welcome.png")))
    except Exception:
        page.screenshot(path=str(_artifact("jupyterlab_failure.png")))
        raise
    finally:
        context.close()
        if not had_checkpoint:  # JupyterLab checkpoints a notebook when it opens it
            checkpoint.unlink(missing_ok=True)
            try:
                checkpoint.parent.rmdir()
            except OSError:  # not empty: someone else's checkpoints
                pass
    # Nothing was saved over the committed lesson.
    assert lesson.read_bytes() == committed


# --------------------------------------------------------------------------- course site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    sys.path.insert(0, str(ROOT / "tools"))
    import build_site

    out = tmp_path_factory.mktemp("site") / "site"
    summary = build_site.build(out)
    print(f"site build: {len(summary['pages'])} pages in {summary['seconds']:.1f} s")
    handler = partial(_QuietHandler, directory=str(out))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"out": out, "summary": summary, "base": f"http://127.0.0.1:{server.server_port}/",
               "lessons": build_site.ready_lessons()}
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


_PAGE_STATE = r"""() => {
  const frames = [...document.querySelectorAll('script[type^="math/tex"]')];
  const markdown = [...document.querySelectorAll('.jp-RenderedMarkdown')].map(e => e.innerText).join('\n');
  const rendered = frames.map(s => document.getElementById(s.id + '-Frame')).filter(Boolean);
  return {
    math: frames.length,
    typeset: rendered.length,
    // TeX errors, and undefined macros (MathJax shows those as their red \name)
    errors: document.querySelectorAll('.merror, .MathJax_Error').length
            + rendered.filter(e => /\\[A-Za-z]/.test(e.textContent)).length,
    markdown: markdown,
    images: [...document.images].map(i => ({src: i.src.slice(0, 60), complete: i.complete, width: i.naturalWidth})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    ids: [...document.querySelectorAll('[id], a[name]')].map(e => e.id || e.getAttribute('name')),
  };
}"""
_MATHJAX_DONE = """() => new Promise(resolve => {
  MathJax.Hub.Queue(() => resolve(true));  // runs once the initial typesetting is done
  setTimeout(() => resolve(false), 60000);
})"""
RAW_TEX = re.compile(r"\$\$|\\(frac|sum|hat|mathbf|mathrm|text|cdot|left|right|sqrt|lambda|sigma)\b")


def _notebook_expectations(path: Path) -> tuple[bool, int]:
    """(has math in its markdown, number of image outputs) of a committed lesson."""
    cells = json.loads(path.read_text())["cells"]
    math = any(re.search(r"\$[^$\s][^$]*\$", "".join(c["source"])) for c in cells if c["cell_type"] == "markdown")
    images = sum(1 for c in cells for o in c.get("outputs", []) if any(k.startswith("image/") for k in o.get("data", {})))
    return math, images


def test_course_site_renders_math_figures_and_links(site, browser):
    summary, base = site["summary"], site["base"]
    assert not summary["broken"], summary["broken"]
    pages = summary["pages"]
    assert pages[0] == "index.html" and pages[1:] == [Path(l.file).with_suffix(".html").name for l in site["lessons"]]

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside = []

    def record_outside(request):  # a CDN script or font would not load offline: the site must not need one
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and not request.url.startswith(base):
            outside.append(request.url)

    context.on("request", record_outside)
    page = context.new_page()
    states, problems, shot = {}, [], None
    try:
        for name in pages:
            t0 = time.perf_counter()
            response = page.goto(base + name, wait_until="load")
            assert response is not None and response.ok, f"{name}: HTTP {response and response.status}"
            if name != "index.html":
                assert page.evaluate("() => !!window.MathJax"), f"{name}: MathJax did not load (is mathjax/ in the site?)"
                try:
                    page.wait_for_function("() => MathJax.isReady", timeout=60_000)
                except playwright_api.TimeoutError:
                    pytest.fail(f"{name}: MathJax did not start within 60 s")
                assert page.evaluate(_MATHJAX_DONE), f"{name}: MathJax did not finish typesetting"
            state = page.evaluate(_PAGE_STATE)
            print(f"{name}: {time.perf_counter() - t0:.1f} s, {state['math']} formulas, {len(state['images'])} images")
            states[name] = state
            for image in state["images"]:
                if not (image["complete"] and image["width"] > 0):
                    problems.append(f"{name}: image {image['src']}... did not load")
            if name == "index.html":
                continue
            position = pages.index(name)  # the navigation bar leads home and to both neighbours
            neighbours = {"index.html", pages[position - 1] if position > 1 else "index.html",
                          pages[position + 1] if position + 1 < len(pages) else "index.html"}
            missing = {n for n in neighbours if base + n not in state["links"]}
            if missing:
                problems.append(f"{name}: no navigation link to {sorted(missing)}")
            has_math, n_images = _notebook_expectations(ROOT / "notebooks" / Path(name).with_suffix(".ipynb").name)
            if has_math and state["math"] == 0:
                problems.append(f"{name}: the lesson has math but MathJax found none")
            if state["typeset"] != state["math"] or state["errors"]:
                problems.append(f"{name}: {state['math']} formulas, {state['typeset']} typeset, {state['errors']} errors")
            raw = RAW_TEX.search(state["markdown"])
            if raw:
                context_text = state["markdown"][max(0, raw.start() - 60):raw.end() + 60]
                problems.append(f"{name}: raw TeX left in the text: ...{context_text!r}...")
            if len(state["images"]) < n_images:
                problems.append(f"{name}: {len(state['images'])} images on the page, {n_images} figure outputs in the lesson")
            display = page.locator(".MathJax_Display")
            if not shot and display.count():  # the first lesson with a displayed formula
                display.first.scroll_into_view_if_needed()
                page.screenshot(path=str(_artifact("site_lesson.png")))
                shot = name
        page.goto(base + "index.html")
        page.screenshot(path=str(_artifact("site_index.png")), full_page=True)
    finally:
        context.close()

    # Every internal link leads to a page (or file) of the site, and to an anchor that exists there.
    ids = {name: set(state["ids"]) for name, state in states.items()}
    checked = set()
    for name, state in states.items():
        for link in state["links"]:
            parts = urlsplit(link)
            if not link.startswith(base) or (parts.path, parts.fragment) in checked:
                continue
            checked.add((parts.path, parts.fragment))
            target = parts.path[len(urlsplit(base).path):] or "index.html"
            if target not in ids:
                if not (site["out"] / unquote(target)).is_file():
                    problems.append(f"{name}: broken link {link}")
                continue
            if parts.fragment and not {parts.fragment, unquote(parts.fragment)} & ids[target]:
                problems.append(f"{name}: link {link} has no anchor in {target}")
    assert checked, "no internal links found"
    assert shot, "no lesson page shows a displayed formula"
    assert not outside, f"the site asked for files outside itself: {sorted(set(outside))[:5]}"
    assert not problems, "\n".join(problems)
