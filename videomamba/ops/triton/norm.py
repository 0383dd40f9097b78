"""Fused residual add + RMSNorm (spec §2.1), forward and backward, as an autograd Function.

Reference twin: :func:`videomamba.ops.norm.add_norm_ref`. ``s = float(x) + float(residual)`` is the new
residual stream (stored fp32 with ``residual_in_fp32``), ``y = s * rsqrt(mean(s²) + eps) * w`` in x's dtype.
Only ``s`` (which *is* the residual stream, so it costs no extra memory) and one rstd per row are saved.

``x_scale`` (B,): a drop path folded into the add, x·scale rounded to x's dtype as the separate multiply rounds it
(bit-identical forward); in the backward dx = round(round(ds)·scale), the same two roundings. It saves the drop
path's own pass over x forward and backward (46 non-vectorised broadcast multiplies, ≈ 2.3 ms of a 129 ms training
step at tiny, 64 frames; docs/perf_notes.md v17).
"""
import torch
import triton
import triton.language as tl

from ..norm import add_norm_ref, check_sample_factors
from .launch import Launcher, cdiv, next_pow2


@triton.jit
def add_rms_fwd_kernel(x_ptr, res_ptr, w_ptr, y_ptr, s_ptr, rstd_ptr, scale_ptr, M, D, eps, SAMPLE_ROWS,
                       HAS_RES: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr,
                       HAS_SCALE: tl.constexpr = False):
    rows = (tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    cols = tl.arange(0, BLOCK_D)
    m = (rows < M)[:, None] & (cols < D)[None, :]
    off = rows[:, None] * D + cols[None, :]
    s = tl.load(x_ptr + off, mask=m, other=0.0)
    if HAS_SCALE:  # x · scale[sample], rounded to x's dtype like the separate drop path
        f = tl.load(scale_ptr + rows // SAMPLE_ROWS, mask=rows < M, other=0.0).to(tl.float32)
        s = (s.to(tl.float32) * f[:, None]).to(x_ptr.dtype.element_ty)
    s = s.to(tl.float32)
    if HAS_RES:
        s += tl.load(res_ptr + off, mask=m, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(s * s, axis=1) / D + eps)
    w = tl.load(w_ptr + cols, mask=cols < D, other=0.0).to(tl.float32)
    tl.store(y_ptr + off, (s * rstd[:, None] * w[None, :]).to(y_ptr.dtype.element_ty), mask=m)
    tl.store(s_ptr + off, s.to(s_ptr.dtype.element_ty), mask=m)
    tl.store(rstd_ptr + rows, rstd, mask=rows < M)


@triton.jit
def add_rms_bwd_kernel(dy_ptr, ds_ptr, s_ptr, rstd_ptr, w_ptr, dx_ptr, dres_ptr, dw_ptr, scale_ptr, M, D,
                       SAMPLE_ROWS, ROWS, HAS_DS: tl.constexpr, HAS_DRES: tl.constexpr, BLOCK_M: tl.constexpr,
                       BLOCK_D: tl.constexpr, HAS_SCALE: tl.constexpr = False):
    """A program walks ROWS rows (a multiple of BLOCK_M) in blocks of BLOCK_M and keeps the weight gradient's
    products as a [BLOCK_M, BLOCK_D] tile, summed over rows once at its end into its row of ``dw_ptr``: one
    cross-warp reduction per program and a partial buffer ROWS/BLOCK_M times smaller than one row block per program
    (that layout ran at 0.126 ms per layer for 0.074 ms of bytes, tiny 64 frames; docs/perf_notes.md v17)."""
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK_D)
    w = tl.load(w_ptr + cols, mask=cols < D, other=0.0).to(tl.float32)
    dw_acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    lo = pid.to(tl.int64) * ROWS
    hi = tl.minimum(lo + ROWS, M)
    for r0 in range(lo, hi, BLOCK_M):
        rows = r0 + tl.arange(0, BLOCK_M)
        m = (rows < hi)[:, None] & (cols < D)[None, :]
        off = rows[:, None] * D + cols[None, :]
        s = tl.load(s_ptr + off, mask=m, other=0.0).to(tl.float32)
        rstd = tl.load(rstd_ptr + rows, mask=rows < hi, other=0.0)
        dy = tl.load(dy_ptr + off, mask=m, other=0.0).to(tl.float32)
        xhat = s * rstd[:, None]
        wdy = dy * w[None, :]
        dsum = (wdy - xhat * (tl.sum(wdy * xhat, axis=1) / D)[:, None]) * rstd[:, None]
        if HAS_DS:
            dsum += tl.load(ds_ptr + off, mask=m, other=0.0).to(tl.float32)
        dx = dsum.to(dx_ptr.dtype.element_ty)
        if HAS_SCALE:
            f = tl.load(scale_ptr + rows // SAMPLE_ROWS, mask=rows < hi, other=0.0).to(tl.float32)
            dx = (dx.to(tl.float32) * f[:, None]).to(dx_ptr.dtype.element_ty)
        tl.store(dx_ptr + off, dx, mask=m)
        if HAS_DRES:
            tl.store(dres_ptr + off, dsum.to(dres_ptr.dtype.element_ty), mask=m)
        dw_acc += dy * xhat
    tl.store(dw_ptr + pid.to(tl.int64) * D + cols, tl.sum(dw_acc, axis=0), mask=cols < D)


_fwd_launch, _bwd_launch = Launcher(add_rms_fwd_kernel), Launcher(add_rms_bwd_kernel)
BWD_PROGRAMS = 1024  # programs the backward's rows are split over (each sums its weight-gradient rows once)


def needs_graph(*tensors) -> bool:
    """Whether a call must record an autograd node: grad mode on and some (non-None) input requires grad. The
    fused ops run their plain forward otherwise."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _block_sizes(D):
    block_d = next_pow2(D)
    return max(1, min(16, 4096 // block_d)), block_d


def _check_scale(x, x_scale):
    """x_scale as a contiguous (B,) tensor and the rows (of x viewed as (M, D)) per sample."""
    if x_scale is None:
        return None, 1
    check_sample_factors(x, x_scale)
    return x_scale.contiguous(), x[0].numel() // x.shape[-1]


def add_rms_forward(x, weight, residual, eps, prenorm, residual_in_fp32, x_scale=None):
    """The forward without autograd: (outputs, s (M, D), rstd (M,), meta for the backward)."""
    shape, D = x.shape, x.shape[-1]
    scale, sample_rows = _check_scale(x, x_scale)
    x2 = x.reshape(-1, D).contiguous()
    res2 = None if residual is None else residual.reshape(-1, D).contiguous()
    if residual is not None:
        res_dtype = residual.dtype
    else:
        res_dtype = torch.float32 if residual_in_fp32 else x.dtype
    M = x2.shape[0]
    y = torch.empty_like(x2)
    s = torch.empty(M, D, dtype=res_dtype, device=x.device)
    rstd = torch.empty(M, dtype=torch.float32, device=x.device)
    bm, bd = _block_sizes(D)
    _fwd_launch[(cdiv(M, bm),)](x2, res2 if res2 is not None else x2, weight, y, s, rstd,
                                scale if scale is not None else rstd, M, D, eps, sample_rows,
                                HAS_RES=res2 is not None, BLOCK_M=bm, BLOCK_D=bd, HAS_SCALE=scale is not None,
                                num_warps=4)
    meta = (shape, x.dtype, None if residual is None else residual.dtype, prenorm, sample_rows)
    y = y.view(shape)
    out = (y, s.view(shape)) if prenorm else y
    return out, s, rstd, meta


class AddRMSNormFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, residual, eps, prenorm, residual_in_fp32, x_scale=None):
        out, s, rstd, ctx.meta = add_rms_forward(x, weight, residual, eps, prenorm, residual_in_fp32, x_scale)
        ctx.save_for_backward(s, rstd, weight, None if x_scale is None else x_scale.contiguous())
        return out

    @staticmethod
    def backward(ctx, dy, ds=None):
        s, rstd, weight, scale = ctx.saved_tensors
        shape, x_dtype, res_dtype, prenorm, sample_rows = ctx.meta
        M, D = s.shape
        dy2 = dy.reshape(-1, D).contiguous()
        ds2 = None if ds is None else ds.reshape(-1, D).contiguous()
        dx = torch.empty(M, D, dtype=x_dtype, device=s.device)
        dres = None if res_dtype is None else torch.empty(M, D, dtype=res_dtype, device=s.device)
        bm, bd = _block_sizes(D)
        rows = cdiv(cdiv(M, BWD_PROGRAMS), bm) * bm
        grid = cdiv(M, rows)
        dw_part = torch.empty(grid, D, dtype=torch.float32, device=s.device)
        _bwd_launch[(grid,)](dy2, ds2 if ds2 is not None else dy2, s, rstd, weight, dx,
                             dres if dres is not None else dx, dw_part, scale if scale is not None else rstd, M, D,
                             sample_rows, rows, HAS_DS=ds2 is not None, HAS_DRES=dres is not None, BLOCK_M=bm,
                             BLOCK_D=bd, HAS_SCALE=scale is not None, num_warps=4)
        dw = dw_part.sum(0).to(weight.dtype)
        return (dx.view(shape), dw, None if dres is None else dres.view(shape), None, None, None, None)


def add_norm_triton(x, weight, bias=None, residual=None, eps=1e-5, prenorm=False, residual_in_fp32=False,
                    is_rms=True, x_scale=None):
    """Triton backend of ``add_norm``; LayerNorm, a bias or float64 fall back to the reference."""
    if (not is_rms or bias is not None or x.dtype == torch.float64
            or (residual is not None and residual.dtype == torch.float64)):
        return add_norm_ref(x, weight, bias, residual, eps, prenorm, residual_in_fp32, is_rms, x_scale)
    if not needs_graph(x, weight, residual):  # skip the autograd Function (host time of short clips)
        return add_rms_forward(x, weight, residual, eps, prenorm, residual_in_fp32, x_scale)[0]
    return AddRMSNormFn.apply(x, weight, residual, eps, prenorm, residual_in_fp32, x_scale)
