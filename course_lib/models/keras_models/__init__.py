"""Keras 3 (TensorFlow backend) recommenders: the dot-product model, NeuMF and two-tower retrieval.

Importing this package imports Keras and TensorFlow (``course_lib.models`` itself never does).
Call ``course.setup(seed, tensorflow=True)`` first so the run is deterministic.
"""

from __future__ import annotations

from ...compat import preload_triton

preload_triton()  # before TensorFlow loads: see course_lib.compat

from .models import DotProduct, NeuMF, build_dot_product, build_neumf  # noqa: E402
from .two_tower import TwoTower, build_two_tower  # noqa: E402

__all__ = ["DotProduct", "NeuMF", "TwoTower", "build_dot_product", "build_neumf", "build_two_tower"]
