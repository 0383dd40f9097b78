"""The B-Mamba mixer as autograd Functions around the Triton kernels; the wide GEMMs stay in cuBLAS.

Reference twins: :func:`videomamba.ops.bimamba.bimamba_inner_ref` (``BiMambaInnerFn``) and
in_proj → ``bimamba_inner_ref`` → out_proj (``BiMambaMixerFn``).

Forward of one mixer, per direction d ∈ {f, b} (both directions share every launch):

    xz = h @ W_inᵀ                                  GEMM (mixer Function only)
    xc = SiLU(conv_d(x))          (2, B, L, E)      conv_fwd_kernel: x read once for both directions
    x_dbl = xc @ W_x,dᵀ           (2, B·L, P)       one batched GEMM, widened to fp32; columns [B | C | δ_low | pad]
    δ = x_dbl[:, 2N:2N+R] @ W_dt,dᵀ (2, B·L, E)     dt_proj_kernel (half precision; fp32: a batched GEMM)
    y = [gated y_f | gated y_b]   (B, L, 2E)        scan_fwd_kernel (LOCAL pass, then main pass), both
                                                    directions in one launch
    out = y @ [W_out | W_out]ᵀ                      the sum of the two directions happens in the GEMM

Backward: the scan's forward-time pass and reverse walk (scan.py), then the x_proj / dt_proj gradients (proj_grad.py in
half precision: cuBLAS ran those tall-skinny shapes far from their bytes; the d x_dbl pass also adds x_proj's part of
d xc), the conv backward (one walk: dx, dw, db), the gate backward, and the in_proj / out_proj GEMMs.

Saved for backward: ``h`` (mixer) or ``xz`` (inner), and in a training call of the mixer (:class:`Kept`) the scan's
segment start states (2, B, segments, E, N) fp32 (33 MB per layer at tiny, 64 frames, batch 8: segments of ≈ 152
steps), which spare the backward its LOCAL pass, and x_proj's fp32 output (38 MB), which spares it the x_proj GEMM.
Everything else (xz, conv, δ, the states) is recomputed, which keeps training memory to about one (B, L, D)
activation and these per layer, plus the residual stream.

The stacked/cast parameters (``_Params``) are cached per weight version (:func:`cached_params`).
"""
import collections
import copy
import os
import weakref

import torch

from . import conv, elementwise, proj_grad, scan
from .launch import Launcher, cdiv, next_pow2

# launched without the JIT's per-call binding once compiled (launch.py: the host cost of short clips)
conv_fwd_kernel, conv_bwd_kernel = map(Launcher, (conv.conv_fwd_kernel, conv.conv_bwd_kernel))
gate_bwd_kernel, dt_proj_kernel = map(Launcher, (elementwise.gate_bwd_kernel, elementwise.dt_proj_kernel))
wgrad_kernel, xdbl_grad_kernel = map(Launcher, (proj_grad.wgrad_kernel, proj_grad.xdbl_grad_kernel))
scan_fwd_kernel, scan_bwd_kernel, scan_carry_kernel = map(
    Launcher, (scan.scan_fwd_kernel, scan.scan_bwd_kernel, scan.scan_carry_kernel))

# Tile sizes (docs/perf_notes.md). block_e channels per program (lanes along channels); seg_len = time-segment
# length aimed at, unless that leaves fewer than min_programs programs per launch (then shorter segments; v8 sweep
# in docs/perf_notes.md), rounded up to a multiple of seg_align; seg forces a segment length (tests, to cross
# segment borders on tiny shapes); *_maxnreg caps registers (the y-writing forward runs faster at 128: more warps
# resident; v5 sweep in docs/perf_notes.md);
# fwd_unroll / local_unroll / grad_unroll = steps per load group of the main / LOCAL / backward forward-time pass
# (the forward-time pass: 1 step at 176-200 registers, flat there, with slot_order; perf_notes v20);
# conv_* / conv_bwd_*: the conv walks' rows and channels per program, rows per load group, warps (v18 sweep);
# carry_group = segments whose inputs the carry walk loads at once, carry_warps its warps (latency-bound: v9 sweep).
# dt_block_m / dt_block_e / dt_warps: tiles of the half-precision dt_proj pass (v12 sweep); wg_*: the weight-gradient
# pass (programs aimed at: the rows are split to reach it), xg_*: the d x_dbl pass (proj_grad.py; v13 sweep);
# keep_xdbl: a training forward keeps x_proj's output for the backward (Kept; perf_notes v17).
# slot_order: the backward walks hold each lane's states in a lane-dependent order, so that their dB / dC lane sums
# need no selects (scan._slots; perf_notes v20).
CONFIG = dict(fwd_block_e=32, fwd_warps=1, fwd_unroll=2, local_unroll=2, bwd_block_e=32, bwd_warps=1, seg_align=8,
              seg_len=152, min_programs=2048, seg=None, conv_rows=32, conv_block_e=128, conv_unroll=8, conv_warps=2,
              conv_bwd_rows=64, conv_bwd_block_e=128, conv_bwd_unroll=4, conv_bwd_warps=1,
              bc_pad=True, fwd_maxnreg=72, grad_maxnreg=184, bwd_maxnreg=None, carry_group=32, carry_warps=4,
              grad_unroll=1, dt_block_m=32, dt_block_e=128, dt_warps=4, wg_block_m=64, wg_block_e=64,
              wg_programs=512, wg_warps=4, wg_stages=3, xg_block_m=64, xg_block_e=128, xg_warps=4,
              keep_xdbl=True, slot_order=True)


def _regs(key):
    """Optional register cap of a scan launch (CONFIG[key]; None = the compiler's choice)."""
    v = CONFIG.get(key)
    return {} if v is None or not _fast() else {"maxnreg": v}


def _fast():
    """MUFU approximations through inline PTX (compiled kernels only; the interpreter runs the exact ops).
    Fixed at import, like the kernels' own compiled-or-interpreted mode."""
    return _FAST


_FAST = os.environ.get("TRITON_INTERPRET") != "1"


# diagnostics (tools/kernel_dev/grad_diag_inner.py): set to a dict to receive the backward's intermediate gradients
DEBUG = None


def _segments(Bsz, L, E, block_e):
    """(segment length, number of segments): a multiple of ``seg_align``. Segments of about ``seg_len`` steps: each
    costs a LOCAL pass over it and a program's fixed work, so shorter ones only pay while the GPU lacks programs."""
    if CONFIG["seg"]:
        seg = CONFIG["seg"]
    else:
        align = CONFIG["seg_align"]
        base = Bsz * 2 * cdiv(E, block_e)
        n = max(cdiv(L, CONFIG["seg_len"]), cdiv(CONFIG["min_programs"], base))
        n = max(1, min(cdiv(L, align), n))
        seg = cdiv(cdiv(L, n), align) * align
    return seg, cdiv(L, seg)


def _slot_order(x_dbl, p, block_e):
    """Whether the backward walks use the lane-dependent state order (scan._slots): the model's tile shape (32
    channels per warp, N = 16) and B/C rows on 16-byte boundaries (each lane loads its own 16-byte blocks)."""
    return bool(CONFIG["slot_order"] and block_e == 32 and p.N == 16 and x_dbl.stride(1) % 4 == 0
                and p.b_off % 4 == 0 and x_dbl.data_ptr() % 16 == 0)


def _guard():
    """Rows a forward walk may read past a segment's end: its last load group's padded steps."""
    return max(CONFIG["fwd_unroll"], CONFIG["local_unroll"], CONFIG["grad_unroll"])


class _Params:
    """Both directions' parameters stacked, in the dtypes the kernels and GEMMs want."""

    def __init__(self, fwd, bwd, dtype):
        self.src = (fwd, bwd)
        k = fwd.conv_weight.shape[-1]
        f32 = torch.float32
        # tap-major (K, E): the conv walks load each tap's weights as a contiguous channel vector
        self.conv_w = [p.conv_weight.reshape(-1, k).t().to(f32).contiguous() for p in (fwd, bwd)]
        self.conv_b = [(p.conv_bias if p.conv_bias is not None else torch.zeros_like(p.D)).to(f32).contiguous()
                       for p in (fwd, bwd)]
        R, N = fwd.dt_proj_weight.shape[1], fwd.A_log.shape[1]
        x_w = torch.stack([fwd.x_proj_weight, bwd.x_proj_weight]).to(dtype)  # (2, R+2N, E)
        if CONFIG["bc_pad"]:
            # x_proj output columns [B | C | δ_low | 0-pad], P a multiple of 16: B_t/C_t start 32-byte
            # aligned, so the scan loads them as 16-byte vectors
            self.P = cdiv(2 * N + R, 16) * 16
            self.x_w = torch.cat([x_w[:, R:], x_w[:, :R], x_w.new_zeros(2, self.P - 2 * N - R, x_w.shape[2])], 1)
            self.b_off, self.dt_off = 0, 2 * N
            # δ_low read with the zero columns after it up to a multiple of 8 (16-byte rows): dt_proj's GEMMs
            # then run on cuBLAS's aligned kernels; with 12 columns the weight gradient fell to a 1.1 ms
            # wmma kernel (align2) per layer (docs/perf_notes.md v6)
            r8 = cdiv(R, 8) * 8
            self.Rp = r8 if 2 * N + r8 <= self.P else R
        else:
            self.P, self.x_w, self.b_off, self.dt_off, self.Rp = 2 * N + R, x_w, R, 0, R
        dt_w = torch.stack([fwd.dt_proj_weight, bwd.dt_proj_weight]).to(dtype)  # (2, E, R)
        self.dt_w = torch.cat([dt_w, dt_w.new_zeros(2, dt_w.shape[1], self.Rp - R)], 2)  # (2, E, Rp), zero-padded
        self.dt_b = torch.stack([fwd.dt_proj_bias, bwd.dt_proj_bias]).to(f32).contiguous()
        self.A = -torch.exp(torch.stack([fwd.A_log, bwd.A_log]).to(f32))  # (2, E, N)
        self._a_blocks = {}
        self.D = torch.stack([fwd.D, bwd.D]).to(f32).contiguous()
        self.K, self.R, self.N = k, fwd.dt_proj_weight.shape[1], fwd.A_log.shape[1]

    def a_blocks(self, block_e):
        """A as the scan's state tiles: (2, E/block_e, N', block_e), zero-padded (N' = N rounded to 2^k)."""
        if block_e not in self._a_blocks:
            self._a_blocks[block_e] = state_blocks(self.A.transpose(1, 2), block_e)
        return self._a_blocks[block_e]


_PARAMS_CACHE = collections.OrderedDict()
_PARAMS_CACHE_SIZE = 128  # mixer layers


def cached_params(flat, dtype, extra=()):
    """:class:`_Params` of the 14 direction tensors, and ``extra`` weights cast to ``dtype``, built once per
    weight version and reused.

    Building them costs ~20 small kernels and their launches per call, which dominates short clips (8
    frames). An entry is keyed by the source tensors' identities and used only while every one of them is
    the very same live object (weak references) at the same ``_version`` (an optimizer step or any in-place
    change bumps it); the entry keeps no source tensor alive, so a new model that reuses freed memory or ids
    can never read a stale entry."""
    from ..bimamba import DirectionParams
    srcs = tuple(flat) + tuple(t for t in extra if t is not None)
    key = (tuple(map(id, srcs)), dtype)
    try:
        versions = tuple(t._version for t in srcs)
    except RuntimeError:  # inference tensors (made under torch.inference_mode) have no version counter
        key = versions = None
    hit = _PARAMS_CACHE.get(key) if key is not None else None
    if hit is not None and hit[1] == versions and all(r() is t for r, t in zip(hit[0], srcs)):
        _PARAMS_CACHE.move_to_end(key)
        value = hit[2]
    else:
        value = _Params(DirectionParams(*flat[:7]), DirectionParams(*flat[7:]), dtype)
        value.src = None
        casts = [None if t is None else t.to(dtype) for t in extra]
        # casts that are copies are cached; a cast that returns the tensor itself is not (no strong reference)
        value.extra = tuple(None if c is t else c for c, t in zip(casts, extra))
        if extra:  # the mixer's out_proj weight [W_out | W_out]: the GEMM sums the two directions
            value.w2 = torch.cat([casts[2]] * 2, 1)
        if key is not None:
            _PARAMS_CACHE[key] = (tuple(weakref.ref(t) for t in srcs), versions, value)
            while len(_PARAMS_CACHE) > _PARAMS_CACHE_SIZE:
                _PARAMS_CACHE.popitem(last=False)
    p = copy.copy(value)  # per call: the live sources and uncached casts
    p.src = (DirectionParams(*flat[:7]), DirectionParams(*flat[7:]))
    p.extra = tuple(c if c is not None else t for c, t in zip(value.extra, extra))
    return p


def state_blocks(t, block_e):
    """(2, N, E) → (2, n_eb, N', block_e) zero-padded: every [N', block_e] tile one contiguous block."""
    two, N, E = t.shape
    n_eb, BN = cdiv(E, block_e), next_pow2(N)
    out = t.new_zeros(two, BN, n_eb * block_e)
    out[:, :N, :E] = t
    return out.view(two, BN, n_eb, block_e).transpose(1, 2).contiguous()


def from_state_blocks(t, N, E):
    """Inverse of :func:`state_blocks`: (2, n_eb, N', block_e) → (2, N, E)."""
    two, n_eb, BN, be = t.shape
    return t.transpose(1, 2).reshape(two, BN, n_eb * be)[:, :N, :E]


def _conv_fwd(xz, p, dtype):
    """SiLU(conv) of both directions from the x half of ``xz`` (B, L, 2E): (2, B, L, E) in ``dtype``."""
    Bsz, L, E2 = xz.shape
    E = E2 // 2
    xc = torch.empty(2, Bsz, L, E, dtype=dtype, device=xz.device)
    rows, be = CONFIG["conv_rows"], CONFIG["conv_block_e"]
    conv_fwd_kernel[(Bsz, cdiv(L, rows), cdiv(E, be))](
        xz, p.conv_w[0], p.conv_b[0], p.conv_w[1], p.conv_b[1], xc, Bsz, L, E, rows, SX=xz.stride(1), K=p.K,
        BLOCK_E=be, U=CONFIG["conv_unroll"], FAST=_fast(), EVEN=E % be == 0, num_warps=CONFIG["conv_warps"])
    return xc


# bmm(..., out_dtype=) (half-precision operands, fp32 result) exists from torch 2.8 on
_FP32_OUT_BMM = "dtype" in torch.ops.aten.bmm.overloads()


def _xproj_fp32(xc2, w):
    """x_proj of both directions as fp32 (the scan reads B_t/C_t as fp32 vectors: no per-lane bf16 unpacking
    in its loop). Half-precision operands: cuBLAS writes fp32 directly (bmm ``out_dtype``; 0.053 ms per layer
    against 0.081 ms for a half-precision GEMM then a widening copy, tiny 64 f, H200, perf_notes v9: v5 had
    measured this call on a 20× slower fallback kernel, so re-check with tools/kernel_dev/xproj_bench.py when
    torch changes), which also keeps B, C and δ_low unrounded. Else (fp32, CPU, a torch without ``out_dtype``)
    the GEMM in the operands' dtype, then widened."""
    if xc2.is_cuda and xc2.dtype != torch.float32 and _FP32_OUT_BMM:
        return torch.bmm(xc2, w.transpose(1, 2), out_dtype=torch.float32)
    return torch.bmm(xc2, w.transpose(1, 2)).float()


def _guard_rows(x_dbl, rows):
    """x_dbl as a view into a buffer with ``rows`` zero rows before and after it. The scan reads up to U-1 B/C
    rows past a segment's end (steps with Δ = 0); those land in the other direction's rows, which covers them
    only when B·L ≥ U, so shorter inputs get this guard (a copy of a few rows)."""
    two, bl, P = x_dbl.shape
    buf = x_dbl.new_zeros(two * bl + 2 * rows, P)
    buf[rows:rows + two * bl] = x_dbl.reshape(two * bl, P)
    return buf[rows:rows + two * bl].view(two, bl, P)


def _projections(xc, p, x_dbl=None):
    """(x_dbl fp32 (2, BL, P), Δ before bias (2, BL, E) in xc's dtype); ``x_dbl`` given (kept by the training
    forward): only Δ."""
    _, Bsz, L, E = xc.shape
    if x_dbl is None:
        x_dbl = _xproj_fp32(xc.view(2, Bsz * L, E), p.x_w)
        if Bsz * L < _guard():
            x_dbl = _guard_rows(x_dbl, _guard())
    dt_low = x_dbl[..., p.dt_off:p.dt_off + p.Rp]
    if dt_low.dtype == xc.dtype:  # fp32: cuBLAS reads the strided columns in place (its TF32 setting applies)
        return x_dbl, torch.bmm(dt_low, p.dt_w.transpose(1, 2))
    # half precision: δ_low rounded as it is loaded and Δ in one pass (dt_proj_kernel)
    dt = torch.empty(2, Bsz * L, E, dtype=xc.dtype, device=xc.device)
    bm, be = CONFIG["dt_block_m"], CONFIG["dt_block_e"]
    dt_proj_kernel[(cdiv(Bsz * L, bm), cdiv(E, be), 2)](
        dt_low, p.dt_w, dt, Bsz * L, E, x_dbl.stride(0), S_SRC=x_dbl.stride(1), RP=p.Rp, BLOCK_M=bm, BLOCK_E=be,
        BLOCK_K=max(16, next_pow2(p.Rp)), num_warps=CONFIG["dt_warps"])
    return x_dbl, dt


def _carry(src, sdel, p, block_e, dst, reverse):
    """Segment carries (start states, or with ``reverse`` the backward's adjoint carries) into ``dst``."""
    two, Bsz, n_seg, n_eb, BN, be = dst.shape
    scan_carry_kernel[(Bsz, 2 * n_eb)](src, sdel, p.a_blocks(block_e), p.D, p.dt_b, dst, 1, Bsz, p.D.shape[1],
                                       n_seg, N=p.N, BLOCK_N=BN, BLOCK_E=block_e, REVERSE=reverse,
                                       G=CONFIG["carry_group"], num_warps=CONFIG["carry_warps"])


class Adjoint(collections.namedtuple("Adjoint", "g ypre nu hend ht dyf dbc dA")):
    """Inputs and outputs of the backward's forward-time pass (``_scan_fwd(adj=...)``): g = dLoss/d(gated
    output) (B, L, E); written: ypre (B, L, 2E), per segment ν, end state and end tangent
    (2, B, n_seg, E/block_e, N', block_e) fp32, dyf (2, B, L, E) fp32; added to: dC (columns N:2N of dbc, (2, B·L,
    2N)) and dA (2, E/block_e, N', block_e)."""


def _scan_fwd(xc, dt, x_dbl, xz, p, y, block_e=None, warps=None, h0=None, save_h0=False, adj=None, seg=None):
    """Forward scan of both directions, writing y (if given), or with ``adj`` (an :class:`Adjoint`) the
    backward's forward-time pass.

    ``seg``: the segment length (default: :func:`_segments`). ``h0``: the segment start states,
    (2, B, n_seg, E/block_e, N', block_e) fp32: read (no LOCAL pass), or, with ``save_h0``, allocated, written
    and returned. Returns (SEG, n_seg, ΣΔ per segment, h0)."""
    _, Bsz, L, E = xc.shape
    N = p.N
    be = block_e or CONFIG["fwd_block_e"]
    nw = warps or CONFIG["fwd_warps"]
    if seg is None:
        seg, n_seg = _segments(Bsz, L, E, be)
    else:
        n_seg = cdiv(L, seg)
    z = xz[..., E:]
    n_eb = cdiv(E, be)
    BN = next_pow2(N)
    # ΣΔ per segment: written by the LOCAL pass (segments 0..n_seg-2, all the forward carry reads) or the ADJ pass
    sdel = torch.empty(2, Bsz, n_seg, E, dtype=torch.float32, device=xc.device)
    # row strides are compile-time constants of the kernel (one compile per model width); the walk past the
    # sequence's end reads B/C rows of the other direction (or guard rows, _guard_rows), so x_dbl must be one
    # (2, B·L, P) block
    assert xc.is_contiguous() and dt.is_contiguous() and x_dbl.is_contiguous(), "scan inputs must be contiguous"
    assert y is None or y.stride(2) == 1, "y rows must be contiguous"
    common = dict(N=N, BLOCK_N=BN, BLOCK_E=be, num_warps=nw, FAST=_fast(), E=E, SBC=x_dbl.stride(1),
                  SZ=xz.stride(1))
    state_shape = (2, Bsz, n_seg, n_eb, BN, be)
    if h0 is not None:
        assert h0.shape == state_shape, f"segment start states {tuple(h0.shape)} do not match {state_shape}"
    elif n_seg > 1:
        hloc = torch.empty(state_shape, dtype=torch.float32, device=xc.device)
        scan_fwd_kernel[(Bsz, 2 * n_eb, n_seg - 1)](
            xc, dt, x_dbl, z, p.a_blocks(be), p.D, p.dt_b, xc, hloc, sdel, xc, xc, xc, xc, xc, xc, xc, 1, Bsz, L,
            p.b_off, seg, n_seg, SY=0, SG=0, LOCAL=True, WRITE_Y=False, U=CONFIG["local_unroll"], **common)
        h0 = torch.empty(state_shape, dtype=torch.float32, device=xc.device)
        _carry(hloc, sdel, p, be, h0, reverse=False)
        del hloc
    elif save_h0:  # one segment: it starts from zero
        h0 = torch.zeros(state_shape, dtype=torch.float32, device=xc.device)
    if adj is not None:
        for name in ("nu", "hend", "ht"):
            t = getattr(adj, name)
            assert t.shape == state_shape, f"{name} {tuple(t.shape)} does not match {state_shape}"
        out, sy, sg = adj.ypre, adj.ypre.stride(1), adj.g.stride(1)
        rest = (adj.hend, sdel, h0 if h0 is not None else xc, adj.g, adj.nu, adj.ht, adj.dyf, adj.dbc, adj.dA)
    else:
        out, sy, sg = y if y is not None else xc, (y.stride(1) if y is not None else 0), 0
        rest = (xc, sdel, h0 if h0 is not None else xc) + (xc,) * 6
    scan_fwd_kernel[(Bsz, 2 * n_eb, n_seg)](
        xc, dt, x_dbl, z, p.a_blocks(be), p.D, p.dt_b, out, *rest, 1, Bsz, L, p.b_off, seg, n_seg, SY=sy, SG=sg,
        LOCAL=False, WRITE_Y=y is not None, H0=h0 is not None, ADJ=adj is not None,
        PERM=adj is not None and _slot_order(x_dbl, p, be),
        U=CONFIG["grad_unroll" if adj is not None else "fwd_unroll"], **common,
        **_regs("fwd_maxnreg" if adj is None else "grad_maxnreg"))
    if not save_h0:
        h0 = None
    return seg, n_seg, sdel, h0


def _wgrad(*jobs):
    """For each job (a, x, na): (2, na, E) fp32 = a[..., :na]ᵀ · x per direction, a rounded to x's dtype
    (wgrad_kernel: the rows split over the programs). The jobs share x's shape (M, E), so their fp32 partials
    share one buffer and one sum (a reduction launch per job cost ≈ 17 µs)."""
    _, M, E = jobs[0][1].shape
    bm, be = CONFIG["wg_block_m"], CONFIG["wg_block_e"]
    n_e = cdiv(E, be)
    rows = cdiv(cdiv(M, max(1, cdiv(CONFIG["wg_programs"], 2 * n_e))), bm) * bm
    n_split = cdiv(M, rows)
    total = sum(na for _, _, na in jobs)
    part = torch.empty(2, n_split, total, E, dtype=torch.float32, device=jobs[0][1].device)
    r0 = 0
    for a, x, na in jobs:
        assert x.shape == jobs[0][1].shape, "wgrad jobs must share x's shape"
        wgrad_kernel[(n_split, n_e, 2)](a, x, part[:, :, r0:], M, E, rows, a.stride(0), x.stride(0), x.stride(1),
                                        SA=a.stride(1), NA=na, BLOCK_A=max(16, next_pow2(na)), BLOCK_M=bm,
                                        BLOCK_E=be, PART_ROWS=total, num_warps=CONFIG["wg_warps"],
                                        num_stages=CONFIG["wg_stages"])
        r0 += na
    sums = part.sum(1)
    out, r0 = [], 0
    for _, _, na in jobs:
        out.append(sums[:, r0:r0 + na])
        r0 += na
    return out


def _proj_grads_cublas(x_dbl, xc2, dbc, ddt, p, dxc2=None):
    """:func:`_proj_grads` through cuBLAS in ddt's dtype: the route of fp32 models (under cuBLAS's TF32 setting) and,
    in half precision, the v12 route that tools/kernel_dev/proj_grad_bench.py times the Triton passes against."""
    _, M, E = ddt.shape
    P, R, Rp, N2, bo, do = p.P, p.R, p.Rp, 2 * p.N, p.b_off, p.dt_off
    d_xdbl = torch.empty(2, M, P, dtype=ddt.dtype, device=ddt.device)
    d_xdbl[..., do:do + Rp] = torch.bmm(ddt, p.dt_w)  # δ_low's zero pad columns get ddt @ 0
    d_xdbl[..., bo:bo + N2] = dbc
    if P > N2 + Rp:
        d_xdbl[..., N2 + Rp:] = 0  # pad columns (their x_w rows are zero; NaN garbage would still spread)
    # as (Rp, E) = δ_lowᵀ·ddt, the shape cuBLAS ran split-K in v6 (E × R with K = B·L took a 16×16-tile kernel)
    low = x_dbl[..., do:do + Rp].to(ddt.dtype)
    d_dt_w = torch.bmm(low.transpose(1, 2), ddt).transpose(1, 2)[..., :R]  # (2, E, R)
    if dxc2 is not None:
        dxc2.baddbmm_(d_xdbl, p.x_w)
    return d_xdbl, d_dt_w, torch.bmm(d_xdbl.transpose(1, 2), xc2)


def _proj_grads(x_dbl, xc2, dbc, ddt, p, dxc2=None):
    """The x_proj / dt_proj gradients: (d x_dbl (2, BL, P) in x_dbl's column layout and ddt's dtype, the dt_proj
    weight gradient (2, E, R), the x_proj weight gradient (2, P, E) in x_dbl's column order). With ``dxc2``
    (2, BL, E), also adds x_proj's part of d xc to it, d x_dbl @ x_w (in the d x_dbl pass in half precision)."""
    if ddt.dtype == torch.float32:
        return _proj_grads_cublas(x_dbl, xc2, dbc, ddt, p, dxc2)
    _, M, E = ddt.shape
    P, R, Rp, N2, bo, do = p.P, p.R, p.Rp, 2 * p.N, p.b_off, p.dt_off
    d_xdbl = torch.empty(2, M, P, dtype=ddt.dtype, device=ddt.device)
    bm = CONFIG["xg_block_m"]
    xdbl_grad_kernel[(cdiv(M, bm), 2)](ddt, p.dt_w, dbc, d_xdbl, dxc2 if dxc2 is not None else ddt, p.x_w, M, E,
                                       N2=N2, RP=Rp, P=P, BO=bo, DO=do, BLOCK_M=bm, BLOCK_E=CONFIG["xg_block_e"],
                                       BLOCK_R=max(16, next_pow2(Rp)), BLOCK_BC=max(16, next_pow2(N2)),
                                       BLOCK_P=next_pow2(P), ADD_DXC=dxc2 is not None, num_warps=CONFIG["xg_warps"])
    d_dt_w, d_x_w = _wgrad((x_dbl[..., do:do + R], ddt, R), (d_xdbl, xc2, P))
    return d_xdbl, d_dt_w.transpose(1, 2), d_x_w


def _conv_bwd(xz, dxc, p, dxz):
    """The conv backward of both directions in one walk: dx into the x half of ``dxz`` from d xc (2, B, L, E), and the
    conv weight and bias gradients, (2, E, K) and (2, E) fp32."""
    Bsz, L, E2 = xz.shape
    E, K, dev = E2 // 2, p.K, xz.device
    rows, be = CONFIG["conv_bwd_rows"], CONFIG["conv_bwd_block_e"]
    n_lc = cdiv(L, rows)
    dwb = torch.empty(Bsz * n_lc, 2, E * (K + 1), dtype=torch.float32, device=dev)  # per program [dw (K, E) | db]
    conv_bwd_kernel[(Bsz, n_lc, cdiv(E, be))](
        xz, dxc, p.conv_w[0], p.conv_b[0], p.conv_w[1], p.conv_b[1], dxz, dwb, Bsz, L, E, rows, SX=xz.stride(1),
        SDX=dxz.stride(1), SLAB=E * (K + 1), K=K, BLOCK_E=be, U=CONFIG["conv_bwd_unroll"], FAST=_fast(),
        EVEN=E % be == 0, num_warps=CONFIG["conv_bwd_warps"])
    dwb = dwb.sum(0)  # per-program partials: one reduction for dw and db
    return dwb[:, :E * K].view(2, K, E).transpose(1, 2), dwb[:, E * K:]


class Kept(collections.namedtuple("Kept", "h0 seg x_dbl")):
    """What a training forward keeps for :func:`inner_backward`: the scan's segment start states
    (2, B, n_seg, E/block_e, N', block_e) fp32 and segment length (None when the backward's channel tiling
    differs; they spare the forward-time pass its LOCAL pass), and x_proj's fp32 output (2, B·L, P), which spares
    the backward the x_proj GEMM (38 MB per layer at tiny, 64 frames, batch 8; ``CONFIG["keep_xdbl"]``)."""


def inner_forward(xz, p, dtype, keep=False):
    """Gated outputs of both directions, (B, L, 2E) = [y_f | y_b] in ``dtype``, and with ``keep`` a
    :class:`Kept` for :func:`inner_backward` (else None)."""
    Bsz, L, E2 = xz.shape
    xc = _conv_fwd(xz, p, dtype)
    x_dbl, dt = _projections(xc, p)
    y = torch.empty(Bsz, L, E2, dtype=dtype, device=xz.device)
    save_h0 = keep and CONFIG["fwd_block_e"] == CONFIG["bwd_block_e"]
    seg, _, _, h0 = _scan_fwd(xc, dt, x_dbl, xz, p, y, save_h0=save_h0)
    if not keep:
        return y, None
    return y, Kept(h0, seg if h0 is not None else None, x_dbl if CONFIG["keep_xdbl"] else None)


def inner_backward(xz, p, g, dtype, kept=None):
    """Given g = dLoss/d(y_f + y_b) (B, L, E) (after the gate), return dxz, the direction parameter grads
    (per direction, as tuples matching DirectionParams) and y_f + y_b (B, L, E) for the out_proj grad.
    ``kept``: the :class:`Kept` of :func:`inner_forward` (with start states, the forward-time pass uses exactly
    the forward's segmentation)."""
    Bsz, L, E2 = xz.shape
    E, R, N = E2 // 2, p.R, p.N
    dev = xz.device
    kept = kept or Kept(None, None, None)
    xc = _conv_fwd(xz, p, dtype)
    x_dbl, dt = _projections(xc, p, kept.x_dbl)
    be, nw = CONFIG["bwd_block_e"], CONFIG["bwd_warps"]
    n_eb = cdiv(E, be)
    BN = next_pow2(N)
    g = g.contiguous()
    z = xz[..., E:]
    h0, seg = (kept.h0, kept.seg) if kept.h0 is not None else (None, _segments(Bsz, L, E, be)[0])
    n_seg = cdiv(L, seg)

    def state():  # per segment, state tiles
        return torch.empty(2, Bsz, n_seg, n_eb, BN, be, dtype=torch.float32, device=dev)
    dbc = torch.zeros(2, Bsz * L, 2 * N, dtype=torch.float32, device=dev)
    # the atomically summed parameter gradients (dA, dD, dΔ-bias) zeroed by one fill
    sums = torch.zeros(2 * n_eb * BN * be + 4 * E, dtype=torch.float32, device=dev)
    dA = sums[:2 * n_eb * BN * be].view(2, n_eb, BN, be)
    dD, dbias = sums[2 * n_eb * BN * be:].view(2, 2, E).unbind(0)
    adj = Adjoint(g, torch.empty(Bsz, L, E2, dtype=dtype, device=dev), state(), state(), state(),
                  torch.empty(2, Bsz, L, E, dtype=torch.float32, device=dev), dbc, dA)
    # forward-time pass: ypre, dC, dyf, dA's local part, ν, end states and tangents
    _, _, sdel, _ = _scan_fwd(xc, dt, x_dbl, xz, p, None, block_e=be, warps=nw, seg=seg, h0=h0, adj=adj)
    ypre = adj.ypre
    m_carry = torch.empty_like(adj.nu)  # adjoint carry entering each segment's last step from the later ones
    _carry(adj.nu, sdel, p, be, m_carry, reverse=True)
    adj = adj._replace(nu=None)  # folded into m_carry
    dxc = torch.empty_like(xc)
    ddt = torch.empty_like(xc)
    scan_bwd_kernel[(Bsz, 2 * n_eb, n_seg)](
        xc, dt, x_dbl, z, p.a_blocks(be), p.D, p.dt_b, m_carry, adj.hend, adj.ht, g, adj.dyf, dxc, ddt, dbc, dA, dD,
        dbias, 1, Bsz, L, seg, n_seg, E=E, R=p.b_off, SBC=x_dbl.stride(1), SZ=xz.stride(1), SG=g.stride(1), N=N,
        BLOCK_N=BN, BLOCK_E=be, num_warps=nw, FAST=_fast(), PERM=_slot_order(x_dbl, p, be), **_regs("bwd_maxnreg"))
    del adj, m_carry
    dA = from_state_blocks(dA, N, E)
    if DEBUG is not None:
        DEBUG.update(dx_scan=dxc.clone(), ddt=ddt.clone(), dbc=dbc.clone(), dA=dA.clone(), dD=dD.clone(),
                     dbias=dbias.clone(), ypre=ypre.clone())
    ddt = ddt.view(2, Bsz * L, E)
    xc2 = xc.view(2, Bsz * L, E)
    d_xdbl, d_dt_w, d_x_w = _proj_grads(x_dbl, xc2, dbc, ddt, p, dxc.view(2, Bsz * L, E))  # d xc: + x_proj's part
    del dbc
    do, bo = p.dt_off, p.b_off
    d_x_w = torch.cat([d_x_w[:, do:do + R], d_x_w[:, bo:bo + 2 * N]], 1)  # (2, R+2N, E), x_proj's row order
    if DEBUG is not None:
        DEBUG.update(dxc=dxc.clone(), d_xdbl=torch.cat([d_xdbl[..., do:do + R], d_xdbl[..., bo:bo + 2 * N]], -1),
                     d_x_w=d_x_w.clone(), d_dt_w=d_dt_w.clone())
    del xc, xc2, x_dbl, ddt, d_xdbl

    dxz = torch.empty(Bsz, L, E2, dtype=xz.dtype, device=dev)
    dw, db = _conv_bwd(xz, dxc, p, dxz)
    y = torch.empty(Bsz, L, E, dtype=dtype, device=dev)
    dz = dxz[..., E:]
    gate_bwd_kernel[(cdiv(Bsz * L, 32), cdiv(E, 128))](
        ypre, g, z, dz, y, Bsz * L, E, ypre.stride(1), g.stride(1), xz.stride(1), dxz.stride(1), y.stride(1),
        BLOCK_M=32, BLOCK_E=128, FAST=_fast(), num_warps=4)
    dA_log = dA.transpose(1, 2) * p.A
    grads = []
    for i, src in enumerate(p.src):
        grads.append((dw[i].reshape(src.conv_weight.shape).to(src.conv_weight.dtype),
                      None if src.conv_bias is None else db[i].to(src.conv_bias.dtype),
                      d_x_w[i].to(src.x_proj_weight.dtype), d_dt_w[i].to(src.dt_proj_weight.dtype).contiguous(),
                      dbias[i].to(src.dt_proj_bias.dtype), dA_log[i].to(src.A_log.dtype), dD[i].to(src.D.dtype)))
    return dxz, grads, y


def _compute_dtype(t):
    dev = t.device.type
    if torch.is_autocast_enabled(dev):
        return torch.get_autocast_dtype(dev)
    return t.dtype


class BiMambaInnerFn(torch.autograd.Function):
    """xz (B, L, 2E) → y_f + y_b (B, L, E), in xz's dtype (the official inner function's contract)."""

    @staticmethod
    def forward(ctx, xz, *flat):
        dtype = xz.dtype
        with torch.autocast(xz.device.type, enabled=False):
            p = cached_params(flat, dtype)
            xz_c = xz if xz.stride(-1) == 1 else xz.contiguous()
            y, _ = inner_forward(xz_c, p, dtype)
            E = xz.shape[-1] // 2
            out = y[..., :E] + y[..., E:]
        ctx.save_for_backward(xz_c, *flat)
        ctx.dtype = dtype
        return out

    @staticmethod
    def backward(ctx, dout):
        xz, *flat = ctx.saved_tensors
        with torch.autocast(xz.device.type, enabled=False):
            p = cached_params(flat, ctx.dtype)
            dxz, grads, _ = inner_backward(xz, p, dout, ctx.dtype)
        return (dxz, *grads[0], *grads[1])


def mixer_forward(h, in_w, in_b, out_w, out_b, keep, flat):
    """The mixer's forward without autograd: (out, (h in the compute dtype, :class:`Kept` or None, compute
    dtype)); no-grad calls use it directly (no autograd node to build)."""
    dtype = _compute_dtype(h)
    with torch.autocast(h.device.type, enabled=False):
        hc = h.to(dtype)
        p = cached_params(flat, dtype, extra=(in_w, in_b, out_w, out_b))
        w_in, b_in, _, b_out = p.extra
        xz = torch.nn.functional.linear(hc, w_in, b_in)
        y, kept = inner_forward(xz, p, dtype, keep=keep)
        out = torch.nn.functional.linear(y, p.w2, b_out)
    return out, (hc, kept, dtype)


class BiMambaMixerFn(torch.autograd.Function):
    """h (B, L, D) → out_proj(bimamba_inner(in_proj(h))) with GEMMs in the autocast dtype; saves h and what
    :class:`Kept` lists."""

    @staticmethod
    def forward(ctx, h, in_w, in_b, out_w, out_b, keep, *flat):
        """``keep``: keep the scan's segment start states and x_proj's output for the backward (a training
        call; :class:`Kept`)."""
        out, (hc, kept, dtype) = mixer_forward(h, in_w, in_b, out_w, out_b, keep, flat)
        kept = kept or Kept(None, None, None)
        ctx.save_for_backward(hc, in_w, in_b, out_w, out_b, kept.h0, kept.x_dbl, *flat)
        ctx.meta = (dtype, h.dtype, kept.seg)
        return out

    @staticmethod
    def backward(ctx, dout):
        hc, in_w, in_b, out_w, out_b, h0, x_dbl, *flat = ctx.saved_tensors
        dtype, h_dtype, seg = ctx.meta
        with torch.autocast(hc.device.type, enabled=False):
            dout = dout.to(dtype)
            p = cached_params(flat, dtype, extra=(in_w, in_b, out_w, out_b))
            w_in, b_in, w_out, _ = p.extra
            xz = torch.nn.functional.linear(hc, w_in, b_in)
            g = dout @ w_out
            dxz, grads, y = inner_backward(xz, p, g, dtype, kept=Kept(h0, seg, x_dbl))
            D = hc.shape[-1]
            dout2, y2 = dout.reshape(-1, dout.shape[-1]), y.reshape(-1, y.shape[-1])
            dxz2 = dxz.reshape(-1, dxz.shape[-1])
            d_out_w = (dout2.t() @ y2).to(out_w.dtype)
            d_out_b = None if out_b is None else dout2.sum(0).to(out_b.dtype)
            dh = (dxz @ w_in).to(h_dtype)
            d_in_w = (dxz2.t() @ hc.reshape(-1, D)).to(in_w.dtype)
            d_in_b = None if in_b is None else dxz2.sum(0).to(in_b.dtype)
        return (dh, d_in_w, d_in_b, d_out_w, d_out_b, None, *grads[0], *grads[1])
