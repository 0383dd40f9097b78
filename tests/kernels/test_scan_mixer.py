"""Triton B-Mamba kernels (conv + scan of both directions, gate) against the sequential reference."""
import pytest
import torch

from videomamba.ops import DirectionParams, bimamba_inner_ref
from videomamba.ops.bimamba import bimamba_mixer_ref
from videomamba.ops.triton import bimamba_inner_triton, bimamba_mixer_triton

from conftest import ON_GPU
from helpers import TOL, direction_params, rel_err

NAMES = ["xz"] + [f"{d}.{n}" for d in "fb" for n in DirectionParams._fields]

# (batch, length, channels E, state N, dt rank R): single token, odd lengths crossing chunk borders,
# channels not a multiple of the channel block, the model's N = 16, an N that is not a power of two (the
# state rows are padded: masked B/C loads).
CPU_SHAPES = [(1, 1, 8, 4, 1), (2, 19, 12, 4, 3), (1, 21, 16, 16, 2), (2, 19, 12, 6, 3)]
GPU_SHAPES = [(1, 1, 8, 4, 1), (2, 19, 12, 4, 3), (3, 1000, 200, 16, 13), (2, 3137, 384, 16, 12),
              (1, 517, 768, 16, 24), (2, 300, 64, 12, 5)]


def _inputs(b, l, e, n, r, device, dtype):
    xz = torch.randn(b, l, 2 * e, device=device).to(dtype).requires_grad_()
    return xz, direction_params(e, n, r, device), direction_params(e, n, r, device)


def _check(out, ref, tensors, tol, names, ref_tensors=None):
    assert out.dtype == ref.dtype and out.shape == ref.shape
    assert torch.isfinite(out).all()
    assert rel_err(out, ref) < tol, f"output rel err {rel_err(out, ref)}"
    g = torch.randn_like(ref)
    got = torch.autograd.grad((out.float() * g).sum(), tensors, allow_unused=True)
    want = torch.autograd.grad((ref.float() * g).sum(), ref_tensors or tensors, allow_unused=True)
    for name, t, a, w in zip(names, tensors, got, want):
        assert a is not None and a.dtype == t.dtype and a.shape == w.shape, name
        assert rel_err(a, w) < 5 * tol, f"{name}: rel err {rel_err(a, w)}"


@pytest.mark.parametrize("shape", GPU_SHAPES if ON_GPU else CPU_SHAPES)
def test_bimamba_inner_fp32_matches_reference(shape, device):
    xz, f, b = _inputs(*shape, device, torch.float32)
    ref = bimamba_inner_ref(xz, f, b)
    out = bimamba_inner_triton(xz, f, b)
    _check(out, ref, [xz, *f, *b], TOL[torch.float32], NAMES)


def test_odd_segment_length_matches_reference(device, monkeypatch):
    """Segments of odd length: the load groups (U steps) of every forward pass end past each segment's end (masked
    steps), the reverse walk starts on odd rows, and the carries cross odd borders, in both directions."""
    from videomamba.ops.triton import mixer
    seg = 5 if not ON_GPU else 7
    monkeypatch.setattr(mixer, "CONFIG", dict(mixer.CONFIG, seg=seg))
    shape = (2, 19, 12, 4, 3) if not ON_GPU else (2, 1000, 200, 16, 13)
    xz, f, b = _inputs(*shape, device, torch.float32)
    _check(bimamba_inner_triton(xz, f, b), bimamba_inner_ref(xz, f, b), [xz, *f, *b], TOL[torch.float32], NAMES)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16] if ON_GPU else [torch.float16])
def test_bimamba_inner_half_inputs(dtype, device):
    """Half-precision xz: scan math in fp32, projections in the input dtype, output in the input dtype."""
    shape = (2, 700, 128, 16, 8) if ON_GPU else (1, 11, 8, 4, 2)
    xz, f, b = _inputs(*shape, device, dtype)
    # reference: same rounded inputs, everything else in fp32
    xz32 = xz.detach().float().requires_grad_()
    ref = bimamba_inner_ref(xz32, f, b)
    out = bimamba_inner_triton(xz, f, b)
    assert out.dtype == dtype
    _check(out.float(), ref, [xz, *f, *b], TOL[dtype], NAMES, ref_tensors=[xz32, *f, *b])


def test_directions_are_independent(device):
    """Perturbing the backward direction's parameters must not change a forward-only quantity: with the
    backward D = 0 and its x_proj C rows zero, y_b = 0 and the output equals the forward direction alone."""
    e, n, r = 8, 4, 2
    xz = torch.randn(1, 13, 2 * e, device=device)
    f = direction_params(e, n, r, device)
    b = direction_params(e, n, r, device)
    with torch.no_grad():
        b.D.zero_()
        b.x_proj_weight[r + n:].zero_()
    both = bimamba_inner_triton(xz, f, b)
    with torch.no_grad():
        b.conv_weight.mul_(3)
        b.A_log.add_(1)
    again = bimamba_inner_triton(xz, f, b)
    assert both.abs().max() > 0
    torch.testing.assert_close(both, again)
    torch.testing.assert_close(both, bimamba_inner_ref(xz, f, b), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("with_bias", [False, True])
def test_mixer_function_matches_composed_reference(with_bias, device):
    bsz, l, dm, n = (2, 1500, 192, 16) if ON_GPU else (2, 10, 8, 4)
    e, r = 2 * dm, max(1, dm // 16)
    h = torch.randn(bsz, l, dm, device=device, requires_grad=True)
    in_w = (torch.randn(2 * e, dm, device=device) * dm ** -0.5).requires_grad_()
    out_w = (torch.randn(dm, e, device=device) * e ** -0.5).requires_grad_()
    in_b = torch.randn(2 * e, device=device, requires_grad=True) if with_bias else None
    out_b = torch.randn(dm, device=device, requires_grad=True) if with_bias else None
    f, b = direction_params(e, n, r, device), direction_params(e, n, r, device)
    ref = bimamba_mixer_ref(h, in_w, in_b, f, b, out_w, out_b, backend="ref")
    out = bimamba_mixer_triton(h, in_w, in_b, f, b, out_w, out_b)
    extra = [t for t in (in_b, out_b) if t is not None]
    names = ["h", "in_w", "out_w"] + (["in_b", "out_b"] if with_bias else []) + NAMES[1:]
    _check(out, ref, [h, in_w, out_w, *extra, *f, *b], TOL[torch.float32], names)


@pytest.mark.skipif(not ON_GPU, reason="autocast bf16 GEMMs: GPU only")
def test_mixer_under_bf16_autocast_matches_torch_backend(device):
    from videomamba.models import BiMamba
    m = BiMamba(192).to(device)
    h = torch.randn(4, 2000, 192, device=device, requires_grad=True)
    outs, grads = [], []
    for backend in ("torch", "triton"):
        m.backend = backend
        with torch.autocast("cuda", dtype=torch.bfloat16):
            o = m(h)
        g = torch.autograd.grad(o.float().square().sum(), [h, *m.parameters()])
        outs.append(o)
        grads.append(g)
    assert outs[1].dtype == torch.bfloat16
    assert rel_err(outs[1], outs[0]) < 2e-2
    for (name, _), a, w in zip([("h", None), *m.named_parameters()], grads[1], grads[0]):
        assert rel_err(a, w) < 5e-2, f"{name}: {rel_err(a, w)}"


def test_warp_reduction_path_matches_reference(device, monkeypatch):
    """The backward's recursive-halving reductions over the warp's lanes (dC in the forward-time pass, dB in the
    reverse walk) are taken when a program owns 32 channels and N = 16 (the model's shape): check them, with a
    partial second channel block (E = 40)."""
    from videomamba.ops.triton import mixer
    monkeypatch.setattr(mixer, "CONFIG", dict(mixer.CONFIG, fwd_block_e=32, bwd_block_e=32))
    xz, f, b = _inputs(2, 13, 40, 16, 3, device, torch.float32)
    ref = bimamba_inner_ref(xz, f, b)
    out = bimamba_inner_triton(xz, f, b)
    _check(out, ref, [xz, *f, *b], TOL[torch.float32], NAMES)


def test_parameter_cache_follows_in_place_updates(device):
    """The triton mixer caches the stacked/cast parameters per weight version: an in-place update (what an
    optimizer step does) must be seen by the next call, for every parameter kind."""
    xz, f, b = _inputs(1, 9, 8, 4, 2, device, torch.float32)
    first = bimamba_inner_triton(xz, f, b)
    torch.testing.assert_close(bimamba_inner_triton(xz, f, b), first)  # cache hit: same result
    for t in (f.A_log, b.x_proj_weight, f.conv_weight, b.dt_proj_bias, f.D):
        with torch.no_grad():
            t.add_(0.25)
        got = bimamba_inner_triton(xz, f, b)
        torch.testing.assert_close(got, bimamba_inner_ref(xz, f, b), rtol=1e-4, atol=1e-5)
        assert not torch.equal(got, first)
        first = got


def test_backward_from_kept_forward_state_matches_recompute(device):
    """A training forward keeps the scan's segment start states and x_proj's output; the backward then skips its
    LOCAL pass and the x_proj GEMM. Every route must give the same gradients (and the saved states must exist for a
    multi-segment scan)."""
    from videomamba.ops.triton import mixer
    xz, f, b = _inputs(2, 21, 12, 4, 3, device, torch.float32)
    p = mixer.cached_params((*f, *b), torch.float32)
    xz = xz.detach()
    _, kept = mixer.inner_forward(xz, p, torch.float32, keep=True)
    assert kept.h0 is not None and kept.h0.shape[2] > 1 and kept.x_dbl is not None
    g = torch.randn(2, 21, 12, device=device)
    dxz_a, grads_a, y_a = mixer.inner_backward(xz, p, g, torch.float32)
    for k in (kept, kept._replace(x_dbl=None), kept._replace(h0=None, seg=None)):
        dxz_b, grads_b, y_b = mixer.inner_backward(xz, p, g, torch.float32, kept=k)
        torch.testing.assert_close(dxz_b, dxz_a, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(y_b, y_a, rtol=1e-5, atol=1e-6)
        for ga, gb in zip(grads_a, grads_b):
            for ta, tb in zip(ga, gb):
                if ta is not None:
                    torch.testing.assert_close(tb, ta, rtol=1e-5, atol=1e-6)


def test_inference_mode_parameters(device):
    """Parameters created under torch.inference_mode have no version counter: no cache, same result."""
    with torch.inference_mode():
        xz, f, b = _inputs(1, 9, 8, 4, 2, device, torch.float32)
        got = bimamba_inner_triton(xz, f, b)
        want = bimamba_inner_ref(xz, f, b)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("n_seg", [1, 2, 5, 8])
def test_segment_carry_walk_matches_loop(n_seg, reverse, device, monkeypatch):
    """scan_carry_kernel loads carry_group segments' inputs before their updates: every segment count around
    the group size (3 here: a partial last group, an exact one, none) must give the plain sequential fold,
    in both directions, with a partial channel block (E = 12, blocks of 8)."""
    from videomamba.ops.triton import mixer
    monkeypatch.setitem(mixer.CONFIG, "carry_group", 3)
    e, n, bsz, be = 12, 4, 2, 8
    f, b = direction_params(e, n, 2, device), direction_params(e, n, 2, device)
    p = mixer.cached_params((*f, *b), torch.float32)
    a = p.a_blocks(be)  # (2, n_eb, N, be), zero-padded channels
    src = torch.randn(2, bsz, n_seg, *a.shape[1:], device=device)
    sdel = torch.rand(2, bsz, n_seg, e, device=device)
    dst = torch.full_like(src, float("nan"))
    mixer._carry(src, sdel, p, be, dst, reverse)
    sd = torch.nn.functional.pad(sdel, (0, a.shape[1] * be - e)).view(2, bsz, n_seg, a.shape[1], 1, be)
    want = torch.empty_like(src)
    h = torch.zeros_like(src[:, :, 0])
    order = range(n_seg - 1, -1, -1) if reverse else range(n_seg)
    for k in order:
        want[:, :, k] = h
        h = src[:, :, k] + torch.exp(a[:, None] * sd[:, :, k]) * h
    torch.testing.assert_close(dst, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("length", [1, 3, 8])
def test_short_inputs_get_guard_rows_around_x_proj_output(length, device):
    """The forward walks read up to U-1 B/C rows past a segment's end (their last load group); with B·L < U the
    other direction's rows do not cover them, so x_dbl must sit between U zero rows on each side (same values, same
    (2, B·L, P) layout)."""
    from videomamba.ops.triton import mixer
    e, n, r = 8, 4, 2
    f, b = direction_params(e, n, r, device), direction_params(e, n, r, device)
    p = mixer.cached_params((*f, *b), torch.float32)
    xc = torch.randn(2, 1, length, e, device=device)
    x_dbl, _ = mixer._projections(xc, p)
    want = torch.bmm(xc.view(2, length, e), p.x_w.transpose(1, 2))
    torch.testing.assert_close(x_dbl, want)
    assert x_dbl.is_contiguous() and x_dbl.shape == (2, length, p.P)
    ch, row = mixer._guard(), p.P * x_dbl.element_size()
    if length < ch:
        store = x_dbl.untyped_storage()
        before = x_dbl.storage_offset() * x_dbl.element_size()
        after = store.nbytes() - before - x_dbl.numel() * x_dbl.element_size()
        assert before >= ch * row and after >= ch * row
        full = torch.empty(0, device=device).set_(store, 0, (store.nbytes() // 4,))
        assert (full[:x_dbl.storage_offset()] == 0).all() and (full[x_dbl.storage_offset() + x_dbl.numel():] == 0).all()
    else:
        assert x_dbl.storage_offset() == 0


@pytest.mark.parametrize("rows, e, na, width, col0", [(1, 8, 12, 48, 32), (300, 200, 48, 48, 0),
                                                     (77, 384, 24, 64, 32), (1000, 40, 64, 64, 0)])
def test_wgrad_matches_bmm(rows, e, na, width, col0, device, monkeypatch):
    """The rows-split weight gradient (mixer._wgrad) against torch.bmm: a read from a strided fp32 view (x_dbl's
    δ_low columns, rounded as loaded) or a half tensor, partial row/channel tiles, several row splits, and two jobs
    sharing one partial buffer (the second at a row offset in each slab)."""
    from videomamba.ops.triton import mixer
    monkeypatch.setitem(mixer.CONFIG, "wg_block_m", 16)
    monkeypatch.setitem(mixer.CONFIG, "wg_block_e", 32)
    monkeypatch.setitem(mixer.CONFIG, "wg_programs", 16)  # several splits even at 300 rows
    for dtype in (torch.bfloat16, torch.float16) if ON_GPU else (torch.float16,):
        x = torch.randn(2, rows, e, device=device).to(dtype)
        src = torch.randn(2, rows, width, device=device)
        a_views = (src[..., col0:col0 + na], src[..., :na].to(dtype).contiguous())
        x2 = torch.randn(2, rows, e, device=device).to(dtype)
        got_all = (*mixer._wgrad((a_views[0], x, na)), *mixer._wgrad((a_views[1], x, na), (src, x2, 5)))
        for got, a, xx in zip(got_all, (a_views[0], a_views[1], src[..., :5]), (x, x, x2)):
            want = torch.bmm(a.to(dtype).float().transpose(1, 2), xx.float())  # exact products, fp32 sums
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4 * rows ** 0.5)


@pytest.mark.parametrize("rows, e, n, r", [(1, 8, 4, 3), (300, 200, 16, 12), (77, 384, 16, 24), (65, 64, 6, 36)])
def test_proj_grads_match_the_fp32_route(rows, e, n, r, device, monkeypatch):
    """Half-precision d x_dbl and both weight gradients (xdbl_grad_kernel, wgrad_kernel) against the cuBLAS route
    that fp32 runs (mixer._proj_grads) on the same rounded inputs, in x_dbl's column layout with its pad columns
    (P a multiple of 16) and without them (bc_pad off: [δ_low | B | C]); and x_proj's part of d xc added in the d x_dbl
    pass against the baddbmm of the same half d x_dbl."""
    from videomamba.ops.triton import mixer
    for bc_pad in (True, False):
        monkeypatch.setitem(mixer.CONFIG, "bc_pad", bc_pad)
        f, b = direction_params(e, n, r, device), direction_params(e, n, r, device)
        p16 = mixer._Params(f, b, torch.float16)
        p32 = mixer._Params(f, b, torch.float32)
        p32.dt_w = p16.dt_w.float()  # the same rounded weight on both routes
        x_dbl = torch.randn(2, rows, p16.P, device=device)
        xc = torch.randn(2, rows, e, device=device).half()
        ddt = torch.randn(2, rows, e, device=device).half()
        dbc = torch.randn(2, rows, 2 * n, device=device)
        dxc0 = torch.randn(2, rows, e, device=device).half()
        dxc = dxc0.clone()
        got = mixer._proj_grads(x_dbl, xc, dbc, ddt, p16, dxc)
        want_dxc = torch.baddbmm(dxc0.float(), got[0].float(), p16.x_w.float())  # fp32 sums, one rounding
        torch.testing.assert_close(dxc.float(), want_dxc, rtol=2e-3, atol=2e-3)
        assert not torch.equal(dxc, dxc0)
        x_dbl_r = x_dbl.clone()
        x_dbl_r[..., p16.dt_off:p16.dt_off + p16.Rp] = x_dbl_r[..., p16.dt_off:p16.dt_off + p16.Rp].half().float()
        want = mixer._proj_grads(x_dbl_r, xc.float(), dbc, ddt.float(), p32)
        d_xdbl, want_d_xdbl = got[0].float(), want[0]
        pad = [c for c in range(p16.P) if not (p16.b_off <= c < p16.b_off + 2 * n or p16.dt_off <= c < p16.dt_off + r)]
        assert (d_xdbl[..., pad] == 0).all()
        # d x_dbl: one rounding to half of fp32 sums (B|C: of dbc itself)
        torch.testing.assert_close(d_xdbl, want_d_xdbl, rtol=2e-3, atol=2e-3)
        # the weight gradients from the same half d x_dbl
        want_x_w = torch.bmm(got[0].float().transpose(1, 2), xc.float())
        torch.testing.assert_close(got[2], want_x_w, rtol=1e-5, atol=1e-3)
        torch.testing.assert_close(got[1], want[1], rtol=1e-5, atol=1e-3)
        assert got[1].shape == (2, e, r) and got[2].shape == (2, p16.P, e)


@pytest.mark.parametrize("rows, width, col0, rp, e", [(1, 48, 32, 16, 8), (300, 64, 32, 24, 200), (77, 80, 32, 40, 384)])
def test_dt_proj_matches_cast_then_bmm(rows, width, col0, rp, e, device):
    """Half-precision Δ = round(δ_low) @ W_dtᵀ in one pass (mixer._projections) against the cast and torch.bmm it
    replaces: K = Rp of 16, 24 (padded to 32) and 40 (to 64), partial row and channel tiles."""
    from videomamba.ops.triton import mixer
    src = torch.randn(2, rows, width, device=device)
    view = src[..., col0:col0 + rp]
    for dtype in (torch.bfloat16, torch.float16) if ON_GPU else (torch.float16,):
        w = (torch.randn(2, e, rp, device=device) * rp ** -0.5).to(dtype)
        out = torch.empty(2, rows, e, dtype=dtype, device=device)
        bm, be = mixer.CONFIG["dt_block_m"], mixer.CONFIG["dt_block_e"]
        mixer.dt_proj_kernel[(mixer.cdiv(rows, bm), mixer.cdiv(e, be), 2)](
            view, w, out, rows, e, src.stride(0), S_SRC=width, RP=rp, BLOCK_M=bm, BLOCK_E=be,
            BLOCK_K=max(16, mixer.next_pow2(rp)))
        want = torch.bmm(view.to(dtype).float(), w.float().transpose(1, 2))  # exact products, fp32 sums
        # both sum the same rounded products in fp32 (in other orders), then round once
        torch.testing.assert_close(out.float(), want, rtol=2 * torch.finfo(dtype).eps, atol=1e-3)


@pytest.mark.parametrize("batch, length, rows, unroll", [(2, 37, 8, 3), (1, 5, 16, 4), (2, 19, 4, 2), (1, 1, 8, 3)])
def test_conv_walks_match_reference(batch, length, rows, unroll, device, monkeypatch):
    """The conv walks (forward: both directions' SiLU(conv); backward: dx, dw, db in one walk with dpre in registers)
    against the reference conv and autograd, across program borders (rows per program below, at and above the
    2(K-1) halo rows, load groups that do not divide them), a sequence shorter than one program, one token, and a
    partial channel block; the backward writes only the x half of dxz."""
    from videomamba.ops.causal_conv1d import causal_conv1d_ref
    from videomamba.ops.triton import mixer
    e = 24
    for pre in ("conv", "conv_bwd"):
        monkeypatch.setitem(mixer.CONFIG, f"{pre}_rows", rows)
        monkeypatch.setitem(mixer.CONFIG, f"{pre}_unroll", unroll)
        monkeypatch.setitem(mixer.CONFIG, f"{pre}_block_e", 16)
    f, b = direction_params(e, 4, 2, device), direction_params(e, 4, 2, device)
    p = mixer.cached_params((*f, *b), torch.float32)
    xz = torch.randn(batch, length, 2 * e, device=device)
    dxc = torch.randn(2, batch, length, e, device=device)
    x = xz[..., :e].transpose(1, 2).detach().requires_grad_()
    params = [t.detach().requires_grad_() for t in (f.conv_weight, f.conv_bias, b.conv_weight, b.conv_bias)]
    want = torch.stack([causal_conv1d_ref(x, params[0], params[1]).transpose(1, 2),
                        causal_conv1d_ref(x.flip(-1), params[2], params[3]).flip(-1).transpose(1, 2)])
    want_grads = torch.autograd.grad((want * dxc).sum(), [x, *params])
    got = mixer._conv_fwd(xz, p, torch.float32)
    torch.testing.assert_close(got, want.detach(), rtol=1e-5, atol=1e-6)
    dxz = torch.zeros(batch, length, 2 * e, device=device)
    dw, db = mixer._conv_bwd(xz, dxc, p, dxz)
    got_grads = [dxz[..., :e].transpose(1, 2), dw[0].unsqueeze(1), db[0], dw[1].unsqueeze(1), db[1]]
    for name, a, w in zip(("dx", "dw_f", "db_f", "dw_b", "db_b"), got_grads, want_grads):
        torch.testing.assert_close(a, w, rtol=1e-5, atol=1e-5, msg=name)
    assert torch.equal(dxz[..., e:], torch.zeros_like(dxz[..., e:]))


def test_half_backward_projection_passes_match_fp32(device):
    """The half-precision backward (d x_dbl and the rows-split weight gradients of proj_grad.py) against the fp32
    backward, which runs the cuBLAS route, on the same rounded inputs: every gradient within a few half ulps."""
    from videomamba.ops.triton import mixer
    e, n, r = 12, 4, 3
    f, b = direction_params(e, n, r, device), direction_params(e, n, r, device)
    xz = torch.randn(2, 37, 2 * e, device=device).half()
    g = torch.randn(2, 37, e, device=device).half()
    want_dxz, want, _ = mixer.inner_backward(xz.float(), mixer._Params(f, b, torch.float32), g.float(),
                                             torch.float32)
    dtype = torch.bfloat16 if ON_GPU else torch.float16  # (the interpreter's bf16 stores truncate)
    dxz, grads, _ = mixer.inner_backward(xz.to(dtype), mixer._Params(f, b, dtype), g.to(dtype), dtype)
    tol = 4 * torch.finfo(dtype).eps
    assert rel_err(dxz.float(), want_dxz) < tol
    for d in range(2):
        for name, got, w in zip(DirectionParams._fields, grads[d], want[d]):
            assert rel_err(got.float(), w.float()) < tol, (d, name)
