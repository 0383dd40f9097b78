"""Test-session setup shared by every test directory.

* The repository root is importable when the package is not installed.
* Without a GPU, the Triton kernels are tested through the Triton interpreter. The interpreter must be
  chosen before ``triton`` is first imported — and importing timm already imports it — so the choice is
  made here, once, before any test module is collected.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402  (does not import triton)

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
