"""course_lib.compat: Triton is loaded before TensorFlow, so PyTorch's later use of it cannot crash."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from course_lib import compat


def test_preload_triton_refuses_once_tensorflow_is_loaded(monkeypatch):
    monkeypatch.delitem(sys.modules, "triton", raising=False)
    monkeypatch.setitem(sys.modules, "tensorflow", object())
    assert compat.preload_triton() is False


def test_preload_triton_without_triton_does_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "triton", raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert compat.preload_triton() is False
    assert "triton" not in sys.modules


@pytest.mark.skipif(importlib.util.find_spec("triton") is None or importlib.util.find_spec("tensorflow") is None,
                    reason="needs Triton (a CUDA build of PyTorch) and TensorFlow")
def test_keras_models_then_deterministic_torch_does_not_crash():
    """``import tensorflow; import triton`` is a segmentation fault; through course_lib it must not be."""
    code = ("import course_lib.models.keras_models, torch; torch.use_deterministic_algorithms(True); "
            "import course; course.setup(seed=0, torch=True, tensorflow=True); print('ok')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-2000:]
