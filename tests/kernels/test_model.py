"""Whole video models: the triton backend gives the torch backend's logits and gradients."""
import pytest
import torch

import videomamba  # noqa: F401  (registers the timm models)
from videomamba.models.videomamba import VideoMamba
from videomamba.ops import use_backend

from conftest import ON_GPU
from helpers import rel_err


def _run(model, x, backend, autocast):
    model.zero_grad(set_to_none=True)
    with use_backend(backend), torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
        logits = model(x)
    logits.float().logsumexp(-1).sum().backward()
    return logits.detach().float(), {n: p.grad.detach().float().clone() for n, p in model.named_parameters()}


def _compare(model, x, autocast, tol_logits, tol_grad):
    ref_logits, ref_grads = _run(model, x, "torch", autocast)
    logits, grads = _run(model, x, "triton", autocast)
    assert rel_err(logits, ref_logits) < tol_logits
    bad = {n: rel_err(grads[n], g) for n, g in ref_grads.items() if rel_err(grads[n], g) > tol_grad}
    assert not bad, bad


def test_tiny_model_fp32(device):
    """CPU interpreter: a depth-2, width-64 model; GPU: the same at fp32 (exact-ish)."""
    # one patch per frame, 4 frames: L = 5 tokens (the interpreter scans element by element)
    model = VideoMamba(img_size=16, patch_size=16, depth=2, embed_dim=64, num_frames=4, num_classes=5,
                       drop_path_rate=0.0).to(device)
    x = torch.randn(1, 3, 4, 16, 16, device=device)
    _compare(model, x, autocast=False, tol_logits=1e-4, tol_grad=1e-3)


@pytest.mark.skipif(not ON_GPU, reason="full-size models: GPU only")
@pytest.mark.parametrize("name", ["videomamba_tiny", "videomamba_small"])
def test_full_models_bf16_autocast(name, device):
    import timm
    model = timm.create_model(name, num_frames=8, num_classes=400, drop_path_rate=0.0).to(device)
    x = torch.randn(2, 3, 8, 224, 224, device=device)
    _compare(model, x, autocast=True, tol_logits=3e-2, tol_grad=8e-2)
