"""Do the lessons print the same digits on other CPUs? Re-execute them under emulated CPUs and compare.

    python tools/portability.py                        # every lesson, every setting -> benchmarks/results/portability.*
    python tools/portability.py --lessons 07 09        # some lessons
    python tools/portability.py --settings mkl-intel   # some settings
    python tools/portability.py --lessons 09 --merge   # re-run lessons, replace their rows in the report
    python tools/portability.py --control              # also the settings without the numeric profile
    python tools/portability.py --attribute            # which pin of the profile changes what (a probe, ~2 min)
    make check-portability                             # the full matrix with the control

Each (setting, lesson) is executed from a fresh kernel with the course's kernel environment
(:func:`course.reproducibility.numeric_environment`) plus the setting's variables, and every
compared cell is checked against the committed notebook with nbval's rules (``tools/nbcompare.py``).
Cells are numbered as nbval numbers them (``Cell N`` = the N-th code cell).

The settings emulate what another x86-64 CPU changes:

``host``            this machine as it is (the CI run).
``mkl-avx2``        MKL restricted to AVX2 (``MKL_ENABLE_INSTRUCTIONS=AVX2``): a CPU without AVX-512.
``mkl-intel``       MKL believes the CPU is an Intel one (a two-function library preloaded with
                    ``LD_PRELOAD`` answers MKL's vendor check, as on a Xeon): MKL then takes its Intel
                    code paths, which differ from the AMD ones. Built with the C compiler at first use.
``mkl-intel-avx2``  both: an Intel CPU without AVX-512 (Haswell to Alder Lake).
``threads-2``       two OpenMP / MKL / OpenBLAS threads in the environment (``setup()`` must bring them to one).

The other libraries need no emulation: the profile pins each of them (PyTorch's ATen, oneDNN, FBGEMM,
OpenBLAS, NumPy, Numba) to the code an AVX2 CPU selects by itself, on any CPU. MKL is the library whose
pin (``MKL_CBWR=COMPATIBLE``) does not name a code path directly, so it is the one these settings vary.
With ``--control`` each setting also runs without the profile (``COURSE_NUMERIC_PROFILE=native``):
the differences it finds show that the emulation changes real code paths and that the check would see them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "results" / "portability"
SHIM_DIR = ROOT / ".home" / "portability"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from course.reproducibility import NUMERIC_PROFILE, numeric_environment, profile_applies  # noqa: E402
from course.syllabus import ready_lessons  # noqa: E402

SHIM_SOURCE = """\
/* Answer Intel MKL's vendor check with "Intel": MKL then dispatches as on an Intel CPU. */
int mkl_serv_intel_cpu_true(void) { return 1; }
int mkl_serv_intel_cpu(void) { return 1; }
"""

SETTINGS = {
    "host": ({}, "this machine"),
    "mkl-avx2": ({"MKL_ENABLE_INSTRUCTIONS": "AVX2"}, "MKL without AVX-512"),
    "mkl-intel": ({"LD_PRELOAD": "{shim}"}, "MKL on an Intel CPU"),
    "mkl-intel-avx2": ({"LD_PRELOAD": "{shim}", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}, "MKL on an Intel AVX2 CPU"),
    "threads-2": ({"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"},
                  "two threads in the environment"),
}


def build_shim() -> Path | None:
    """The preloadable library of ``mkl-intel`` (built once with ``cc``); ``None`` without a compiler."""
    target = SHIM_DIR / "libfakeintel.so"
    if target.is_file():
        return target
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        return None
    SHIM_DIR.mkdir(parents=True, exist_ok=True)
    # Names of this process's own: two processes building at once (a test run beside the check) must
    # not rename each other's files away (seen: FileNotFoundError on the shared 'libfakeintel.tmp').
    source = SHIM_DIR / f"fakeintel.{os.getpid()}.c"
    tmp = SHIM_DIR / f"libfakeintel.{os.getpid()}.tmp"
    try:
        source.write_text(SHIM_SOURCE)
        subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(tmp), str(source)], check=True)
        tmp.replace(target)  # atomic: a concurrent builder's identical library may already be there
    finally:
        source.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return target


def setting_environment(name: str, profile: bool = True) -> dict[str, str] | None:
    """The full environment of a kernel under setting ``name`` (``None`` if it cannot be emulated here)."""
    extra, _ = SETTINGS[name]
    env = {k: v for k, v in os.environ.items() if k not in NUMERIC_PROFILE and k != "COURSE_NUMERIC_PROFILE"}
    if profile:
        env.update(numeric_environment())
    else:
        env.update({k: v for k, v in numeric_environment().items() if k not in NUMERIC_PROFILE})
        env["COURSE_NUMERIC_PROFILE"] = "native"
    for key, value in extra.items():
        if "{shim}" in value:
            shim = build_shim()
            if shim is None:
                return None
            value = value.format(shim=shim)
        env[key] = value
    return env


def execute_copy(lesson_file: str, out: Path, env: dict[str, str], timeout: int) -> float:
    """Execute a copy of the lesson next to the real ones (same relative paths) in a subprocess."""
    code = (
        "import sys, time, nbformat; from nbclient import NotebookClient\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        "t = time.perf_counter()\n"
        "NotebookClient(nb, timeout=int(sys.argv[4]), kernel_name='python3', allow_errors=True,\n"
        "               resources={'metadata': {'path': sys.argv[3]}}).execute()\n"
        "print(round(time.perf_counter() - t, 1))\n"
        "nbformat.write(nb, sys.argv[2])\n")
    proc = subprocess.run([sys.executable, "-c", code, str(NOTEBOOKS / lesson_file), str(out), str(NOTEBOOKS),
                           str(timeout)], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{lesson_file} failed to execute: {proc.stderr.strip()[-2000:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def check(lessons, settings, *, control: bool = False, timeout: int = 900, verbose: bool = True) -> dict:
    """Run the matrix; return ``{"runs": [...]}`` with the differing cells of every (setting, lesson)."""
    import nbformat
    from nbcompare import compare_notebooks

    runs = []
    plan = [(s, True) for s in settings] + ([(s, False) for s in settings] if control else [])
    with tempfile.TemporaryDirectory() as tmp:
        for setting, profile in plan:
            env = setting_environment(setting, profile)
            label = setting if profile else f"{setting} (no profile)"
            for lesson in lessons:
                row = {"setting": setting, "profile": profile, "lesson": lesson.file,
                       "at": time.strftime("%Y-%m-%d %H:%M"), "load": round(os.getloadavg()[0], 1)}
                if env is None:
                    row.update(status="skipped", reason="no C compiler to build the MKL shim")
                else:
                    out = Path(tmp) / f"{setting}-{int(profile)}-{lesson.file}"
                    try:
                        row["seconds"] = execute_copy(lesson.file, out, env, timeout)
                        diffs = compare_notebooks(nbformat.read(NOTEBOOKS / lesson.file, as_version=4),
                                                  nbformat.read(out, as_version=4))
                        row.update(status="identical" if not diffs else "differs",
                                   cells={str(k): v for k, v in diffs.items()})
                    except RuntimeError as exc:
                        row.update(status="error", reason=str(exc))
                runs.append(row)
                if verbose:
                    cells = ", ".join(row.get("cells", {})) or row.get("reason", "")
                    print(f"{label:<28} {lesson.file:<42} {row['status']:<10} {row.get('seconds', ''):>6} {cells}",
                          flush=True)
    return {"runs": runs}


# -- attribution: which pin of the profile matters, on a small probe --------------------------------
PROBE = r"""
import hashlib, sys
import numpy as np
import course.reproducibility as R
R._LAZY = ()  # setup() would otherwise set the lazily-read pins itself, hiding what each one does
import warnings; warnings.simplefilter("ignore")
R.setup(seed=42, torch=True, tensorflow=True)
import torch
from course_lib.data import load_movielens
r = load_movielens("ml-100k").ratings
small = r[r.user_id < 300]
def h(arrays):
    return hashlib.sha1(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()[:10]
out = {}
x = np.random.default_rng(0).random((400, 400))
out["numpy exp/log1p"] = h([np.exp(x * 10 - 5), np.log1p(x)])
out["numpy inverse (OpenBLAS)"] = h([np.linalg.inv(x @ x.T + 400 * np.eye(400))])
from course_lib.models import BiasedMF
out["BiasedMF fast (Numba)"] = h([BiasedMF(n_epochs=3, fast=True, random_state=0).fit(r).user_factors_])
from course_lib.models.torch_models import MLP, Caser, GRU4Rec
for name, m in {"MLP (PyTorch)": MLP(n_epochs=2, progress=False), "Caser (PyTorch conv)": Caser(n_epochs=1),
                "GRU4Rec (PyTorch)": GRU4Rec(n_epochs=1)}.items():
    m.fit(small)
    out[name] = h([p.detach().numpy() for p in m.net_.parameters()])
lin = torch.nn.Linear(64, 64)
q = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear}, dtype=torch.qint8)
out["int8 Linear (FBGEMM)"] = h([q(torch.randn(256, 64)).numpy()])
from course_lib.models.keras_models import NeuMF
out["NeuMF (Keras)"] = h(NeuMF(n_epochs=1).fit(small).net_.get_weights())
import json; print(json.dumps(out))
"""


def attribute(verbose: bool = True) -> dict:
    """Fingerprints of a probe (NumPy, OpenBLAS, Numba, PyTorch, FBGEMM, Keras) with the full profile,
    with each pin removed in turn, without the profile, and under the emulated settings."""
    base = setting_environment("host")
    variants = {"profile": base, "no profile": setting_environment("host", profile=False)}
    for key in NUMERIC_PROFILE:
        env = dict(base)
        env.pop(key)
        variants[f"without {key}"] = env
    env = dict(base, OPENBLAS_CORETYPE="SkylakeX")
    variants["OPENBLAS_CORETYPE=SkylakeX (an Intel AVX-512 CPU's choice)"] = env
    for name in ("mkl-intel", "mkl-intel-avx2", "mkl-avx2"):
        if setting_environment(name) is not None:
            variants[f"profile, {name}"] = setting_environment(name)
            variants[f"no profile, {name}"] = setting_environment(name, profile=False)
    prints = {}
    for label, env in variants.items():
        proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"probe failed under {label}: {proc.stderr[-1500:]}")
        prints[label] = json.loads(proc.stdout.strip().splitlines()[-1])
        if verbose:
            base = prints["no profile" if label.startswith("no profile,") else "profile"]
            changed = [k for k, v in prints[label].items() if v != base[k]]
            print(f"{label:<62} changes: {', '.join(changed) or 'nothing'}", flush=True)
    return prints


def _machine() -> dict:
    flags = set()
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"cpu": model, "avx512f": "avx512f" in flags, "avx2": "avx2" in flags, "python": platform.python_version(),
            "profile_applies": profile_applies(), "cores": os.cpu_count()}


def merge(previous: dict, result: dict) -> dict:
    """``previous`` report with ``result``'s runs in place of the same (setting, profile, lesson) rows.

    A lesson whose committed notebook is newer than its run in ``previous`` is not told apart here:
    re-run every setting of a changed lesson (its older rows would compare another notebook)."""
    key = lambda r: (r["setting"], r["profile"], r["lesson"])  # noqa: E731
    new = {key(r) for r in result["runs"]}
    runs = [r for r in previous.get("runs", []) if key(r) not in new] + result["runs"]
    return {**previous, "machine": result["machine"], "runs": runs,
            "at": f"{previous.get('at', '?')}; merged {result['at']} ({len(result['runs'])} runs)"}


def write_report(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Portability check", "",
             f"`python tools/portability.py` on {result['machine']['cpu']} (AVX-512: {result['machine']['avx512f']}), "
             f"Python {result['machine']['python']}, {result['at']}. Each lesson re-executed from a fresh kernel "
             "under each setting and compared with the committed notebook by nbval's rules "
             "(cells numbered as nbval numbers them). Settings: see `tools/portability.py`.", ""]
    runs = result.get("runs", [])
    if runs:
        labels = sorted(dict.fromkeys((r["setting"], r["profile"]) for r in runs),
                        key=lambda sp: (list(SETTINGS).index(sp[0]), not sp[1]))  # the settings' order, profile first
        header = [f"{s}" + ("" if p else " (no profile)") for s, p in labels]
        lines += ["| lesson | " + " | ".join(header) + " |", "|---" * (len(labels) + 1) + "|"]
        for lesson in sorted(dict.fromkeys(r["lesson"] for r in runs)):
            cells = []
            for s, p in labels:
                r = next((r for r in runs if r["lesson"] == lesson and r["setting"] == s and r["profile"] == p), None)
                if r is None:
                    cells.append("")
                elif r["status"] == "differs":
                    cells.append("cells " + ", ".join(r["cells"]))
                else:
                    cells.append(r["status"] + (f" ({r['seconds']:.0f} s)" if "seconds" in r else ""))
            lines.append(f"| {lesson} | " + " | ".join(cells) + " |")
        lines.append("")
    if result.get("attribution"):
        prints = result["attribution"]
        lines += ["## Which pin matters", "",
                  "Fingerprints (SHA-1 of the trained weights or the results) of a probe: each variant is compared "
                  "with the full profile, and `no profile, <setting>` with `no profile` on this machine. "
                  "`setup()` is kept from setting the lazily-read pins itself, so each pin's own effect shows.", "",
                  "| variant | what changes |", "|---|---|"]
        for label, fp in prints.items():
            if label != "profile":
                base = prints["no profile" if label.startswith("no profile,") else "profile"]
                changed = [k for k, v in fp.items() if v != base[k]]
                lines.append(f"| {label} | {', '.join(changed) or 'nothing'} |")
        lines.append("")
    if result.get("notes"):  # what the table cannot say (kept across runs in the JSON)
        lines += [result["notes"].rstrip(), ""]
    path.with_suffix(".md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lessons", nargs="*", help="lesson numbers (default: every lesson)")
    parser.add_argument("--settings", nargs="*", choices=list(SETTINGS), help="default: all")
    parser.add_argument("--control", action="store_true", help="also run each setting without the numeric profile")
    parser.add_argument("--attribute", action="store_true", help="only the probe: which pin changes what")
    parser.add_argument("--out", type=Path, default=None, help="report path without suffix "
                        "(default benchmarks/results/portability for a full run; none for a partial one)")
    parser.add_argument("--merge", action="store_true", help="replace these runs' rows in the report "
                        "(benchmarks/results/portability unless --out) and keep the others")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    if not profile_applies():
        print("the numeric profile does not apply on this machine (it needs Linux x86-64 with AVX2 and FMA): "
              "use `make test TOLERANT=1` to compare outputs with a tolerance instead")
        return 2
    result = {"machine": _machine(), "at": time.strftime("%Y-%m-%d %H:%M")}
    full = not args.lessons and not args.settings
    if args.attribute:
        result["attribution"] = attribute()
        write_report(result, args.out or RESULTS.with_name("portability-attribution"))
        return 0
    lessons = [lesson for lesson in ready_lessons() if not args.lessons or f"{lesson.number:02d}" in args.lessons]
    result.update(check(lessons, args.settings or list(SETTINGS), control=args.control, timeout=args.timeout))
    out = args.out or (RESULTS if full or args.merge else None)
    if out is not None:
        previous = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").is_file() else {}
        # a partial run is merged in; a full one replaces the runs but keeps the report's notes
        result = merge(previous, result) if args.merge and previous else {**result, "notes": previous.get("notes", "")}
        write_report(result, out)
        print(f"report: {out.with_suffix('.md').relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    bad = [r for r in result["runs"] if r["profile"] and r["status"] in ("differs", "error")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
