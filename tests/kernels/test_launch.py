"""Direct kernel launches (videomamba/ops/triton/launch.py) and the no-grad paths that skip autograd."""
import pytest
import torch

from videomamba.ops.triton import add_norm_triton, bimamba_mixer_triton, launch
from videomamba.ops.triton.norm import add_rms_fwd_kernel

from conftest import ON_GPU
from helpers import direction_params


def test_key_separates_what_the_jit_specialises_on():
    def key(a):
        return launch.args_key((a,))

    buf = torch.zeros(64)
    assert key(buf) == key(torch.ones(64))  # another tensor, same dtype and alignment
    assert key(buf) != key(buf[1:])  # 4-byte offset: not 16-byte aligned
    assert key(buf) != key(buf.half())
    assert key(1) != key(2) and key(16) != key(32)
    assert key(True) != key(1)  # bool and int specialise differently
    assert key(1e-5) != key(1e-6)
    assert launch.cdiv(10, 4) == 3 and launch.cdiv(8, 4) == 2
    assert [launch.next_pow2(n) for n in (1, 2, 3, 16, 17)] == [1, 2, 4, 16, 32]


def _at_offset(rows, d, device, offset):
    """A (rows, d) fp32 tensor starting ``offset`` elements into its allocation (offset 1: misaligned)."""
    return torch.randn(rows * d + offset, device=device)[offset:].view(rows, d)


def _norm_launch(x, w, device):
    """add_rms_fwd_kernel's arguments with fresh outputs as aligned as ``x``."""
    rows, d = x.shape
    offset = (x.data_ptr() // 4) % 4
    outs = [_at_offset(rows, d, device, offset) for _ in range(2)]
    rstd = torch.empty(rows, device=device)
    args = (x, x, w, *outs, rstd, rstd, rows, d, 1e-5, 1)  # scale_ptr: unused (HAS_SCALE off)
    return args, dict(HAS_RES=False, BLOCK_M=4, BLOCK_D=1 << (d - 1).bit_length(), num_warps=4)


@pytest.mark.skipif(not ON_GPU, reason="direct launches are a CUDA path (the interpreter always uses the JIT)")
def test_direct_launches_match_the_jit(device):
    runner = launch.Launcher(add_rms_fwd_kernel)
    w = torch.rand(48, device=device) + 0.5
    for offset in (0, 1, 0, 1, 0):  # aligned and misaligned inputs alternate: each key must keep its kernel
        x = _at_offset(37, 48, device, offset)
        args, kw = _norm_launch(x, w, device)
        runner[(10,)](*args, **kw)
        ref, _ = _norm_launch(x, w, device)
        add_rms_fwd_kernel[(10,)](*ref, **kw)
        for got, want in zip(args[3:6], ref[3:6]):
            assert torch.equal(got, want)
    assert len(runner._cache) == 2  # aligned and misaligned: two specialisations, both launched directly
    assert all(entry is not None for entry in runner._cache.values())


def test_keyword_tensors_are_refused(device):
    if not launch.ENABLED:
        pytest.skip("direct launches disabled here (interpreter or VIDEOMAMBA_TRITON_DIRECT=0)")
    args, kw = _norm_launch(torch.randn(4, 16, device=device), torch.ones(16, device=device), device)
    with pytest.raises(TypeError, match="positionally"):
        launch.Launcher(add_rms_fwd_kernel)[(1,)](*args[:5], rstd_ptr=args[5], scale_ptr=args[5], M=4, D=16, eps=1e-5,
                                                SAMPLE_ROWS=1, **kw)


def test_no_grad_calls_skip_autograd_with_identical_outputs(device):
    bsz, l, dm, n = (2, 300, 64, 16) if ON_GPU else (2, 10, 8, 4)
    e, r = 2 * dm, max(1, dm // 16)
    h = torch.randn(bsz, l, dm, device=device)
    in_w = (torch.randn(2 * e, dm, device=device) * dm ** -0.5).requires_grad_()
    out_w = (torch.randn(dm, e, device=device) * e ** -0.5).requires_grad_()
    f, b = direction_params(e, n, r, device), direction_params(e, n, r, device)
    with_graph = bimamba_mixer_triton(h, in_w, None, f, b, out_w, None)
    with torch.no_grad():
        plain = bimamba_mixer_triton(h, in_w, None, f, b, out_w, None)
    assert with_graph.grad_fn is not None and plain.grad_fn is None
    assert torch.equal(with_graph.detach(), plain)

    x, res = torch.randn(bsz, l, dm, device=device), torch.randn(bsz, l, dm, device=device)
    w = torch.rand(dm, device=device).requires_grad_()
    kw = dict(eps=1e-5, prenorm=True, residual_in_fp32=True)
    y_graph, s_graph = add_norm_triton(x, w, None, res, **kw)
    with torch.no_grad():
        y_plain, s_plain = add_norm_triton(x, w, None, res, **kw)
    assert y_graph.grad_fn is not None and y_plain.grad_fn is None
    assert torch.equal(y_graph.detach(), y_plain) and torch.equal(s_graph.detach(), s_plain)
