"""Same outputs on every machine: the numeric profile, the emulated CPUs, the comparison modes.

* the profile is what the kernels get (``make test`` / ``pytest`` / the kernel spec / ``make notebooks``);
* the MKL shim of ``tools/portability.py`` really changes MKL's code path (a training run without
  the profile changes under it), and with the profile the same run is bit-identical under it;
* a slice of the portability check in CI: lesson 07 (PyTorch MLP and NeuMF, Keras NeuMF) executed as if
  on an Intel CPU gives the committed outputs;
* the tolerant comparison (``make test TOLERANT=1``) accepts last-digit drift and rejects a real change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import nbcompare  # noqa: E402
import portability  # noqa: E402

from course.reproducibility import NUMERIC_PROFILE, numeric_environment, profile_applies  # noqa: E402

needs_profile = pytest.mark.skipif(not profile_applies(), reason="the numeric profile needs Linux x86-64 with AVX2")


# -- the profile ------------------------------------------------------------------------------------
@needs_profile
def test_pytest_kernels_get_the_profile():
    for key, value in NUMERIC_PROFILE.items():
        assert os.environ.get(key) == value, key


@needs_profile
def test_a_kernel_process_sees_the_profile_in_effect():
    code = ("import course, warnings; warnings.simplefilter('error'); "
            "course.setup(seed=0, torch=True); import torch; print(torch.backends.cpu.get_cpu_capability())")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "AVX2"


@needs_profile
def test_setup_warns_in_a_kernel_started_without_the_profile():
    env = {k: v for k, v in os.environ.items() if k not in NUMERIC_PROFILE}
    code = "import numpy, course; course.setup(seed=0)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0
    assert "without the course's numeric profile" in out.stderr and "NPY_ENABLE_CPU_FEATURES" in out.stderr


def test_the_profile_can_be_turned_off():
    env = dict(os.environ, COURSE_NUMERIC_PROFILE="native")
    code = "from course.reproducibility import numeric_environment as e; print(sorted(e()))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "ATEN_CPU_CAPABILITY" not in out.stdout and "OMP_NUM_THREADS" in out.stdout


@needs_profile
def test_the_course_kernel_spec_carries_the_profile(tmp_path):
    from course.reproducibility import install_kernel

    path = Path(install_kernel(prefix=str(tmp_path)))
    spec = json.loads((path / "kernel.json").read_text())
    assert spec["display_name"] == "Python 3 (recsys-course)"
    assert spec["env"] == numeric_environment()


# -- emulated CPUs ----------------------------------------------------------------------------------
TRAIN = textwrap.dedent("""
    import hashlib, warnings
    warnings.simplefilter("ignore")
    import course
    course.setup(seed=0, torch=True)
    import torch
    net = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(4096, 64, generator=g), torch.randn(4096, 1, generator=g)
    for step in range(30):
        loss = ((net(x) - y) ** 2).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    print(hashlib.sha1(b"".join(p.detach().numpy().tobytes() for p in net.parameters())).hexdigest())
""")


def _train(setting: str, profile: bool) -> str:
    env = portability.setting_environment(setting, profile)
    if env is None:
        pytest.skip("no C compiler to build the MKL shim")
    out = subprocess.run([sys.executable, "-c", TRAIN], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_processes_building_the_shim_at_once_all_get_it(tmp_path):
    """A test run beside ``make check-portability`` builds the shim at the same moment (seen on Python 3.13)."""
    if portability.shutil.which("cc") is None and portability.shutil.which("gcc") is None:
        pytest.skip("no C compiler to build the MKL shim")
    tools = Path(portability.__file__).resolve().parent
    code = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); import portability; "
            "portability.SHIM_DIR = Path(sys.argv[2]); print(portability.build_shim())")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tools), str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-500:] for _, err in results]
    assert {out.strip() for out, _ in results} == {str(tmp_path / "libfakeintel.so")}
    assert sorted(f.name for f in tmp_path.iterdir()) == ["libfakeintel.so"]  # no leftovers


@needs_profile
def test_the_intel_emulation_changes_mkl_and_the_profile_neutralises_it():
    assert _train("mkl-intel", profile=False) != _train("host", profile=False), \
        "the shim no longer changes MKL's code path: the portability check would emulate nothing"
    assert _train("mkl-intel", profile=True) == _train("host", profile=True)
    assert _train("mkl-intel-avx2", profile=True) == _train("host", profile=True)


@needs_profile
def test_lesson_07_gives_the_committed_outputs_on_an_emulated_intel_cpu():
    """The CI slice of ``make check-portability``: PyTorch MLP/NeuMF and Keras NeuMF under another MKL path."""
    lesson = next(lesson for lesson in portability.ready_lessons() if lesson.number == 7)
    result = portability.check([lesson], ["mkl-intel"], verbose=False)
    (run,) = result["runs"]
    if run["status"] == "skipped":
        pytest.skip(run["reason"])
    assert run["status"] == "identical", run


def test_merged_report_replaces_rerun_rows_and_keeps_the_rest_and_its_notes(tmp_path):
    def run(setting, lesson, status, seconds):
        return {"setting": setting, "profile": True, "lesson": lesson, "status": status, "seconds": seconds, "cells": {}}
    machine = {"cpu": "x", "avx512f": False, "python": "3.11"}
    old = {"machine": machine, "at": "day 1", "notes": "## Why\n\nkept across runs.",
           "runs": [run("host", "07_a.ipynb", "identical", 60), run("threads-2", "07_a.ipynb", "identical", 61),
                    run("host", "09_b.ipynb", "identical", 90)]}
    new = {"machine": machine, "at": "day 2", "runs": [run("host", "07_a.ipynb", "differs", 62) | {"cells": {"13": ""}},
                                                      run("mkl-avx2", "09_b.ipynb", "identical", 91)]}
    merged = portability.merge(old, new)
    rows = {(r["setting"], r["lesson"]): r for r in merged["runs"]}
    assert len(merged["runs"]) == 4 and rows["host", "07_a.ipynb"]["status"] == "differs"
    assert rows["threads-2", "07_a.ipynb"]["seconds"] == 61 and rows["host", "09_b.ipynb"]["seconds"] == 90
    assert "day 1" in merged["at"] and "day 2" in merged["at"]
    portability.write_report(merged, tmp_path / "report")
    text = (tmp_path / "report.md").read_text()
    assert "| 07_a.ipynb | cells 13 |  | identical (61 s) |" in text  # host, mkl-avx2, threads-2
    assert text.rstrip().endswith("kept across runs.")
    assert json.loads((tmp_path / "report.json").read_text())["notes"] == old["notes"]


SEQUENCE_MODELS = textwrap.dedent("""
    import hashlib, sys, warnings
    warnings.simplefilter("ignore")
    import course
    course.setup(seed=0, torch=True)
    import numpy as np, pandas as pd
    from course_lib.models.torch_models import Caser, LSTMRec
    rng = np.random.default_rng(0)
    rows = [(u, int(i), 4.0, t) for u in range(60) for t, i in enumerate(rng.choice(80, 25, replace=False))]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    model = {"LSTMRec": LSTMRec(max_len=10, n_epochs=2, batch_size=16),
             "Caser": Caser(n_epochs=2, batch_size=64, dropout=0.0)}[sys.argv[1]].fit(ratings)
    print(hashlib.sha1(b"".join(p.detach().numpy().tobytes() for p in model.net_.parameters())).hexdigest())
""")


@needs_profile
@pytest.mark.parametrize("model", ["LSTMRec", "Caser"])
def test_sequence_models_do_not_depend_on_onednn_kernels(model):
    """PyTorch's LSTM and convolutions run oneDNN's kernels, whose rounding depends on the CPU; the profile
    caps their instruction set, but not everything oneDNN picks per CPU. Lesson 09's LSTMRec and Caser keep
    out of them: trained with oneDNN's AVX2 and its SSE4.1 kernels they give the same bits."""
    prints = set()
    for isa in ("AVX2", "SSE41"):
        env = dict(portability.setting_environment("host", profile=False), ONEDNN_MAX_CPU_ISA=isa)
        out = subprocess.run([sys.executable, "-c", SEQUENCE_MODELS, model], env=env, capture_output=True,
                             text=True, cwd=ROOT)
        assert out.returncode == 0, out.stderr[-2000:]
        prints.add(out.stdout.strip().splitlines()[-1])
    assert len(prints) == 1, f"{model} trains to other bits under another oneDNN kernel"


# -- comparisons ------------------------------------------------------------------------------------
@pytest.mark.parametrize("ref, test, ok", [
    ("NDCG@10 0.349\n", "NDCG@10 0.347\n", True),          # last-digit drift
    ("NDCG@10 0.349\n", "NDCG@10 0.359\n", False),         # a real change of 0.01
    ("RMSE 0.9121", "RMSE 0.9221", False),                 # 0.01 > max(0.005, 1 % of 0.92)
    ("loss 12.50", "loss 12.61", True),                     # 1 % of a larger value
    ("rank 5", "rank 4", False),                            # integers must match
    ("model  0.35\nother  0.12", "model  0.349\nother  0.121", True),  # padding of table columns
    ("popularity 0.25", "popularity 0.25 extra", False),   # the text changed
    ("a 0.25 b 0.3", "a 0.25", False),                      # values missing
])
def test_tolerant_equal(ref, test, ok):
    assert nbcompare.tolerant_equal(ref, test) is ok


def _notebook(source: str, output: str, tags=()) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source, execution_count=1, metadata={"tags": list(tags)})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
    nb.cells = [nbformat.v4.new_markdown_cell("x"), cell]
    return nb


def test_compare_notebooks_numbers_cells_like_nbval_and_skips_ignored_ones():
    ref = _notebook("print(x)", "0.349\n")
    assert nbcompare.compare_notebooks(ref, _notebook("print(x)", "0.349\n")) == {}
    assert list(nbcompare.compare_notebooks(ref, _notebook("print(x)", "0.347\n"))) == [0]
    assert nbcompare.compare_notebooks(ref, _notebook("print(x)", "0.347\n"), tolerant=True) == {}
    ignored = _notebook("# NBVAL_IGNORE_OUTPUT\nprint(x)", "0.349\n")
    assert nbcompare.compare_notebooks(ignored, _notebook("print(x)", "9\n")) == {}


@pytest.mark.parametrize("committed, passes", [("0.3491\n", True), ("0.3591\n", False)])
def test_tolerant_mode_under_nbval(tmp_path, committed, passes):
    nb = _notebook("print(round(0.3493, 4))", committed)
    path = tmp_path / "lesson.ipynb"
    nbformat.write(nb, path)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tools"), COURSE_NBVAL_TOLERANT="1")
    cmd = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "nbcompare", "-q",
           "-p", "no:cacheprovider", "--rootdir", str(tmp_path), "-c", os.devnull, str(path)]
    tolerant = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path)
    exact = subprocess.run(cmd, env=dict(env, COURSE_NBVAL_TOLERANT="0"), capture_output=True, text=True,
                           cwd=tmp_path)
    assert (tolerant.returncode == 0) is passes, tolerant.stdout[-2000:]
    assert exact.returncode != 0, "the exact comparison must reject any drift"
