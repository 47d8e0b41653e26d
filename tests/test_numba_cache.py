"""A compiled kernel gives the same bits whether Numba compiled it in this process or loaded it from
its on-disk cache (``cache=True``).

Found in issue 16's clean-up: with ``fastmath=True`` (which includes LLVM's ``reassoc`` and ``arcp``),
ImplicitALS's conjugate-gradient kernel computed one model in the process that compiled it and
another in every later process that loaded it from the cache, so a learner's first lesson after an
install could print other digits than the second (see ``course_lib.compat.FASTMATH``). Each
``fastmath`` kernel of the library is fitted here twice, in two fresh processes sharing an empty
cache folder: the first compiles and writes the cache, the second must load it and give the same
bytes. The bits also depended on the order in which a process compiled the kernel's signatures
(float64 first, then float32), so the models are fitted in both orders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import hashlib, json
import numpy as np, pandas as pd
from course_lib.models import BPRMF, BiasedMF, ImplicitALS, SVDpp

rng = np.random.default_rng(0)
pairs = np.unique(np.c_[rng.integers(0, 300, 9000), rng.zipf(1.3, 9000) % 200], axis=0)
ratings = pd.DataFrame({"user_id": pairs[:, 0], "item_id": pairs[:, 1],
                        "rating": rng.integers(1, 6, len(pairs)).astype(float)})
models = {
    "ImplicitALS exact": ImplicitALS(16, n_epochs=3),
    "ImplicitALS exact float32": ImplicitALS(16, n_epochs=3, dtype="float32"),
    "ImplicitALS cg": ImplicitALS(16, n_epochs=3, solver="cg"),
    "ImplicitALS cg float32": ImplicitALS(16, n_epochs=3, solver="cg", dtype="float32"),
    "ImplicitALS cg reg_exponent": ImplicitALS(16, n_epochs=3, solver="cg", reg_exponent=0.5),
    "BPRMF fast": BPRMF(n_epochs=3, fast=True),
    "BiasedMF fast": BiasedMF(n_epochs=3, fast=True),
    "SVDpp fast": SVDpp(n_epochs=2, fast=True),
}
digests = {}
order = list(models) if ORDER == "forward" else list(models)[::-1]
for name in order:
    model = models[name]
    model.fit(ratings)
    learned = [v for k, v in sorted(vars(model).items()) if k.endswith("_") and isinstance(v, np.ndarray)]
    digests[name] = hashlib.sha256(b"".join(np.ascontiguousarray(v).tobytes() for v in learned)).hexdigest()
from course_lib.models import factorization, implicit, svdpp
kernels = [implicit._als_half, factorization._sgd_epoch_fast, factorization._bpr_epoch_fast, svdpp._svdpp_epoch_fast]
hits = sum(sum(k.stats.cache_hits.values()) for k in kernels)
print(json.dumps({"digests": digests, "cache_hits": hits}))
"""


def _fit_in_fresh_process(cache: Path, profile: bool, order: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    if profile:  # the lessons' numeric profile: Numba compiles for Haswell
        env.update(NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES="")
    code = f"ORDER = {order!r}\n" + SCRIPT
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("profile, order", [(True, "forward"), (False, "forward"), (False, "reversed")],
                         ids=["haswell-profile", "host-cpu", "host-cpu-reversed"])
def test_a_cached_kernel_gives_the_bits_of_a_freshly_compiled_one(tmp_path, profile, order):
    compiled = _fit_in_fresh_process(tmp_path / "numba-cache", profile, order)
    cached = _fit_in_fresh_process(tmp_path / "numba-cache", profile, order)
    assert compiled["cache_hits"] == 0, "the first process should have compiled every kernel"
    assert cached["cache_hits"] >= 4, "the second process should have loaded the kernels from the cache"
    differ = [name for name in compiled["digests"] if compiled["digests"][name] != cached["digests"][name]]
    assert not differ, f"compiled and cached kernels give other bits for: {differ}"
