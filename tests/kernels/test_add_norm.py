"""Fused add + RMSNorm kernel against :func:`videomamba.ops.norm.add_norm_ref`."""
import pytest
import torch

from videomamba.ops import add_norm_ref
from videomamba.ops.triton import add_norm_triton

from conftest import ON_GPU
from helpers import rel_err

ROWS = [(1, 1), (3, 37), (8, 3137)] if ON_GPU else [(1, 1), (3, 7)]


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("dim", [64, 192, 576] if ON_GPU else [24, 64])
@pytest.mark.parametrize("case", ["first_block", "later_block", "final_norm", "half_x"])
def test_add_rms_norm_matches_reference(rows, dim, case, device):
    x_dtype = torch.float16 if case == "half_x" else torch.float32
    x = (torch.randn(*rows, dim, device=device) * 2).to(x_dtype).requires_grad_()
    w = (torch.rand(dim, device=device) + 0.5).requires_grad_()
    residual = None if case == "first_block" else torch.randn(*rows, dim, device=device).requires_grad_()
    prenorm = case != "final_norm"
    kw = dict(eps=1e-5, prenorm=prenorm, residual_in_fp32=True)
    out = add_norm_triton(x, w, None, residual, **kw)
    ref = add_norm_ref(x, w, None, residual, **kw)
    outs, refs = (out, ref) if prenorm else ((out,), (ref,))
    tol = 1e-2 if x_dtype == torch.float16 else 1e-5
    for o, r in zip(outs, refs):
        assert o.dtype == r.dtype and o.shape == r.shape
        assert rel_err(o, r) < tol
    tensors = [t for t in (x, w, residual) if t is not None]
    gs = [torch.randn_like(r, dtype=torch.float32) for r in refs]
    got = torch.autograd.grad(sum((o.float() * g).sum() for o, g in zip(outs, gs)), tensors)
    want = torch.autograd.grad(sum((r.float() * g).sum() for r, g in zip(refs, gs)), tensors)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype
        assert rel_err(a, b) < max(tol, 1e-4)


@pytest.mark.parametrize("programs", [1, 3, 10_000])
def test_backward_row_split_gives_the_same_gradients(programs, device, monkeypatch):
    """The backward's programs each walk several row blocks (BWD_PROGRAMS few) or one (many): the weight gradient's
    per-program partial sums and the row gradients must not depend on the split (partial last blocks included)."""
    from videomamba.ops.triton import norm
    monkeypatch.setattr(norm, "BWD_PROGRAMS", programs)
    x = torch.randn(5, 37, 48, device=device).requires_grad_()
    w = (torch.rand(48, device=device) + 0.5).requires_grad_()
    res = torch.randn(5, 37, 48, device=device).requires_grad_()
    kw = dict(eps=1e-5, prenorm=True, residual_in_fp32=True)
    gy, gs = torch.randn(5, 37, 48, device=device), torch.randn(5, 37, 48, device=device)
    y, s = add_norm_triton(x, w, None, res, **kw)
    got = torch.autograd.grad((y * gy).sum() + (s * gs).sum(), (x, w, res))
    y, s = add_norm_ref(x, w, None, res, **kw)
    want = torch.autograd.grad((y * gy).sum() + (s * gs).sum(), (x, w, res))
    for a, b in zip(got, want):
        assert rel_err(a, b) < 1e-5


def test_residual_dtype_follows_incoming_residual(device):
    x = torch.randn(2, 5, 32, device=device, dtype=torch.float16)
    res = torch.randn(2, 5, 32, device=device, dtype=torch.float16)
    w = torch.ones(32, device=device)
    y, s = add_norm_triton(x, w, None, res, 1e-5, True, True)
    assert y.dtype == torch.float16 and s.dtype == torch.float16
    y, s = add_norm_triton(x, w, None, None, 1e-5, True, True)
    assert s.dtype == torch.float32
    torch.testing.assert_close(s, x.float())


def test_layer_norm_falls_back_to_reference(device):
    x = torch.randn(3, 16, device=device)
    w, b = torch.rand(16, device=device), torch.randn(16, device=device)
    torch.testing.assert_close(add_norm_triton(x, w, b, None, 1e-5, False, False, is_rms=False),
                               add_norm_ref(x, w, b, None, 1e-5, False, False, is_rms=False))


@pytest.mark.parametrize("x_dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("with_residual", [True, False])
def test_per_sample_scale_is_a_drop_path_folded_into_the_add(x_dtype, with_residual, device):
    """x_scale (a drop path's 0 or 1/keep per sample) gives what a separate multiply in x's dtype then the add gives:
    outputs and every gradient (x's through the factor), on a (B, L, D) input whose samples span several rows."""
    b, length, dim = (3, 37, 192) if ON_GPU else (3, 5, 24)
    x = (torch.randn(b, length, dim, device=device) * 2).to(x_dtype).requires_grad_()
    w = (torch.rand(dim, device=device) + 0.5).requires_grad_()
    residual = torch.randn(b, length, dim, device=device).requires_grad_() if with_residual else None
    scale = torch.tensor([1 / 0.9, 0.0, 1 / 0.9], device=device).to(x_dtype)
    kw = dict(eps=1e-5, prenorm=True, residual_in_fp32=True)
    out = add_norm_triton(x, w, None, residual, **kw, x_scale=scale)
    ref = add_norm_ref(x * scale.view(-1, 1, 1), w, None, residual, **kw)  # the unfused drop path
    tol = 1e-2 if x_dtype == torch.float16 else 1e-5
    for o, r in zip(out, ref):
        assert o.dtype == r.dtype and rel_err(o, r) < tol
    assert (out[1][1] == (residual[1] if with_residual else 0)).all()  # the dropped sample adds nothing
    tensors = [t for t in (x, w, residual) if t is not None]
    gs = [torch.randn_like(r, dtype=torch.float32) for r in ref]
    got = torch.autograd.grad(sum((o.float() * g).sum() for o, g in zip(out, gs)), tensors)
    want = torch.autograd.grad(sum((r.float() * g).sum() for r, g in zip(ref, gs)), tensors)
    for a, bb in zip(got, want):
        assert a.dtype == bb.dtype and rel_err(a, bb) < max(tol, 1e-4)
    assert (got[0][1] == 0).all()
    with pytest.raises(ValueError, match="one factor per sample"):
        add_norm_triton(x, w, None, residual, **kw, x_scale=scale[:2])
