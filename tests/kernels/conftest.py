"""Kernel tests run on the GPU when there is one, else on CPU through the Triton interpreter.

``TRITON_INTERPRET`` must be set before the kernels are decorated (import time), so this conftest sets it,
imports the kernels, and then restores the environment; the autouse fixture sets it again only while a
kernel test runs, so other test directories never see it.
"""
import os
import sys

import pytest
import torch

ON_GPU = torch.cuda.is_available()
_PREVIOUS = os.environ.get("TRITON_INTERPRET")
if not ON_GPU:
    if "videomamba.ops.triton" in sys.modules and _PREVIOUS != "1":
        _LOAD_ERROR = "videomamba.ops.triton was imported before TRITON_INTERPRET=1 could be set"
    os.environ["TRITON_INTERPRET"] = "1"
try:
    import videomamba.ops.triton as vt  # noqa: E402  (decorates the kernels in interpreter mode on CPU)
    from videomamba.ops.triton import mixer  # noqa: E402
    _LOAD_ERROR = None if vt.availability()[0] else vt.availability()[1]
finally:
    if not ON_GPU:
        if _PREVIOUS is None:
            os.environ.pop("TRITON_INTERPRET", None)
        else:
            os.environ["TRITON_INTERPRET"] = _PREVIOUS

DEVICE = torch.device("cuda" if ON_GPU else "cpu")


@pytest.fixture(autouse=True)
def triton_env(monkeypatch):
    if _LOAD_ERROR:
        pytest.skip(f"triton backend unavailable: {_LOAD_ERROR}")
    if not ON_GPU:
        monkeypatch.setenv("TRITON_INTERPRET", "1")
        # small tiles so that the tiny CPU shapes still cross segment and channel-block borders
        monkeypatch.setattr(mixer, "CONFIG", dict(mixer.CONFIG, seg_align=4, seg=8, fwd_block_e=8, bwd_block_e=8,
                                                  conv_rows=8, conv_block_e=16, conv_unroll=3, conv_bwd_rows=8,
                                                  conv_bwd_block_e=16, conv_bwd_unroll=3))
    torch.manual_seed(0)
    yield


@pytest.fixture
def device():
    return DEVICE
