"""Depthwise conv + SiLU of both B-Mamba directions from one read of x, forward and backward.

Reference twin: :func:`videomamba.ops.causal_conv1d.causal_conv1d_ref` (forward direction on x, backward
direction on x flipped). In original token order the backward direction is anti-causal:

    pre_f[t] = b_f + Σ_k w_f[k] x[t - (K-1) + k]        pre_b[t] = b_b + Σ_k w_b[k] x[t + (K-1) - k]

Both outputs are written to one (2, B, L, E) buffer in original order, so ``x_proj`` stays a plain GEMM
over tokens for either direction.
"""
import triton
import triton.language as tl

from .fastmath import sigmoid


@triton.jit
def _load_rows(x_ptr, pid_b, t, L, stride_x, offs_e, mask_e):
    ok = (t >= 0) & (t < L)
    ptr = x_ptr + (pid_b * L + t).to(tl.int64)[:, None] * stride_x + offs_e[None, :]
    return tl.load(ptr, mask=ok[:, None] & mask_e[None, :], other=0.0).to(tl.float32)


@triton.jit
def _window(x_ptr, pid_b, t, L, stride_x, offs_e, mask_e, K: tl.constexpr):
    """The 2K-1 row tiles x[t-(K-1)] .. x[t+(K-1)] (fp32): they serve both directions' taps."""
    xs = ()
    for j in tl.static_range(2 * K - 1):
        xs = xs + (_load_rows(x_ptr, pid_b, t - (K - 1) + j, L, stride_x, offs_e, mask_e),)
    return xs


@triton.jit
def _pre_act(xs, ws, bias, d: tl.constexpr, K: tl.constexpr):
    """Direction d's conv output before SiLU: forward tap k reads x[t-(K-1)+k] (window row k), backward tap k
    reads x[t+(K-1)-k] (window row 2K-2-k)."""
    p = bias[d]
    for k in tl.static_range(K):
        p += ws[k][d] * xs[k if d == 0 else 2 * K - 2 - k]
    return p


@triton.jit
def _taps(wf_ptr, bf_ptr, wb_ptr, bb_ptr, offs_e, mask_e, K: tl.constexpr):
    """Both directions' biases and per-tap weights as [1, BLOCK_E] rows: (bias[d], ws[k][d])."""
    bias = (tl.load(bf_ptr + offs_e, mask=mask_e, other=0.0)[None, :],
            tl.load(bb_ptr + offs_e, mask=mask_e, other=0.0)[None, :])
    ws = ()
    for k in tl.static_range(K):
        ws = ws + ((tl.load(wf_ptr + offs_e * K + k, mask=mask_e, other=0.0)[None, :],
                    tl.load(wb_ptr + offs_e * K + k, mask=mask_e, other=0.0)[None, :]),)
    return bias, ws


@triton.jit
def conv_fwd_kernel(x_ptr, wf_ptr, bf_ptr, wb_ptr, bb_ptr, out_ptr, B, L, E, stride_x,
                    K: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_E: tl.constexpr, FAST: tl.constexpr):
    # Each direction loads its own K rows (x tiles are L1 hits the second time) and folds them in as they
    # arrive: a shared window of 2K-1 tiles held 168 registers instead of 123 and ran 19 % slower (perf_notes v12)
    pid_b = tl.program_id(0)
    t = tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)
    offs_e = tl.program_id(2) * BLOCK_E + tl.arange(0, BLOCK_E)
    mask_e = offs_e < E
    m2 = (t < L)[:, None] & mask_e[None, :]
    out = out_ptr + (pid_b * L + t).to(tl.int64)[:, None] * E + offs_e[None, :]
    for d in tl.static_range(2):
        w_ptr = wf_ptr if d == 0 else wb_ptr
        p = tl.load((bf_ptr if d == 0 else bb_ptr) + offs_e, mask=mask_e, other=0.0)[None, :]
        for k in tl.static_range(K):
            # forward tap k reads x[t-(K-1)+k], backward tap k reads x[t+(K-1)-k]
            row = t - (K - 1) + k if d == 0 else t + (K - 1) - k
            w = tl.load(w_ptr + offs_e * K + k, mask=mask_e, other=0.0)
            p += w[None, :] * _load_rows(x_ptr, pid_b, row, L, stride_x, offs_e, mask_e)
        tl.store(out + d * B * L * E, (p * sigmoid(p, FAST)).to(out_ptr.dtype.element_ty), mask=m2)


@triton.jit
def conv_dpre_kernel(x_ptr, dout_ptr, wf_ptr, bf_ptr, wb_ptr, bb_ptr, dw_ptr, db_ptr, B, L, E, stride_x, ROWS,
                     K: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_E: tl.constexpr, FAST: tl.constexpr,
                     PREFETCH: tl.constexpr = False, SLAB: tl.constexpr = None):
    """First half of the conv backward: dpre = dout * silu'(pre) of both directions, written over ``dout``
    in place ((2, B, L, E); each program reads and writes only its own rows), plus per-program partial dw and
    db. ``conv_dx_kernel`` then forms dx from the shifted dpre rows. Two light passes instead of one that
    recomputes pre for every tap (K² work).

    A program walks ROWS rows (a multiple of BLOCK_L) in blocks of BLOCK_L and keeps the dw/db products as
    [BLOCK_L, BLOCK_E] tiles, summed over rows once at its end: one cross-thread reduction per program
    instead of one per row block (those reductions made this pass 1.3 ms per layer; docs/perf_notes.md v6).
    PREFETCH: a block's x window and dout rows are loaded while the previous block is computed.
    SLAB: elements per (program, direction) in the partial buffers: dw and db in one buffer, each slab [dw (E, K) |
    db (E)] (``db_ptr`` = ``dw_ptr`` + E·K), so that one reduction sums both and leaves both contiguous; None: dw
    (programs, 2, E, K) and db (programs, 2, E) apart."""
    pid_b = tl.program_id(0)
    pid_l = tl.program_id(1)
    offs_e = tl.program_id(2) * BLOCK_E + tl.arange(0, BLOCK_E)
    mask_e = offs_e < E
    part = (pid_b * tl.num_programs(1) + pid_l).to(tl.int64) * 2
    bias, ws = _taps(wf_ptr, bf_ptr, wb_ptr, bb_ptr, offs_e, mask_e, K)
    zero = tl.zeros([BLOCK_L, BLOCK_E], dtype=tl.float32)
    db_acc = (zero, zero)
    taps0 = ()
    for k in tl.static_range(K):
        taps0 = taps0 + (zero,)
    dw_acc = (taps0, taps0)  # [direction][tap]
    lo = pid_l * ROWS
    hi = tl.minimum(lo + ROWS, L)
    if PREFETCH:
        nxt = _dpre_loads(x_ptr, dout_ptr, pid_b, lo + tl.arange(0, BLOCK_L), hi, B, L, E, stride_x, offs_e, mask_e,
                          K)
    for l0 in range(lo, hi, BLOCK_L):
        t = l0 + tl.arange(0, BLOCK_L)
        m2 = (t < L)[:, None] & mask_e[None, :]
        rows = (pid_b * L + t).to(tl.int64)[:, None] * E + offs_e[None, :]
        if PREFETCH:
            xs, gs = nxt
            nxt = _dpre_loads(x_ptr, dout_ptr, pid_b, t + BLOCK_L, hi, B, L, E, stride_x, offs_e, mask_e, K)
        else:
            xs, gs = _dpre_loads(x_ptr, dout_ptr, pid_b, t, hi, B, L, E, stride_x, offs_e, mask_e, K)
        new_db = ()
        new_dw = ()
        for d in tl.static_range(2):
            p = _pre_act(xs, ws, bias, d, K)
            g = gs[d].to(tl.float32)
            sg = sigmoid(p, FAST)
            dp = tl.where(m2, g * sg * (1.0 + p * (1.0 - sg)), 0.0)
            tl.store(dout_ptr + d * B * L * E + rows, dp.to(dout_ptr.dtype.element_ty), mask=m2)
            new_db = new_db + (db_acc[d] + dp,)
            taps = ()
            for k in tl.static_range(K):
                taps = taps + (dw_acc[d][k] + dp * xs[k if d == 0 else 2 * K - 2 - k],)
            new_dw = new_dw + (taps,)
        db_acc = new_db
        dw_acc = new_dw
    for d in tl.static_range(2):
        slab_w = (part + d) * E * K if SLAB is None else (part + d) * SLAB
        slab_b = (part + d) * E if SLAB is None else (part + d) * SLAB
        tl.store(db_ptr + slab_b + offs_e, tl.sum(db_acc[d], axis=0), mask=mask_e)
        for k in tl.static_range(K):
            tl.store(dw_ptr + slab_w + offs_e * K + k, tl.sum(dw_acc[d][k], axis=0), mask=mask_e)


@triton.jit
def _dpre_loads(x_ptr, dout_ptr, pid_b, t, hi, B, L, E, stride_x, offs_e, mask_e, K: tl.constexpr):
    """What the dpre pass reads for rows t: the x window (fp32) and both directions' dout rows (as stored), the
    latter only below ``hi`` (the program's last row: the rows after it are another program's, rewritten in
    place)."""
    m2 = (t < hi)[:, None] & mask_e[None, :]
    rows = (pid_b * L + t).to(tl.int64)[:, None] * E + offs_e[None, :]
    gs = (tl.load(dout_ptr + rows, mask=m2, other=0.0), tl.load(dout_ptr + B * L * E + rows, mask=m2, other=0.0))
    return _window(x_ptr, pid_b, t, L, stride_x, offs_e, mask_e, K), gs


@triton.jit
def conv_dx_kernel(dpre_ptr, wf_ptr, wb_ptr, dx_ptr, B, L, E, stride_dx,
                   K: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_E: tl.constexpr):
    """dx[t] = Σ_k w_f[k] dpre_f[t+K-1-k] + Σ_k w_b[k] dpre_b[t-(K-1)+k], written into the x half of dxz."""
    pid_b = tl.program_id(0)
    t = tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)
    offs_e = tl.program_id(2) * BLOCK_E + tl.arange(0, BLOCK_E)
    mask_e = offs_e < E
    dx = tl.zeros([BLOCK_L, BLOCK_E], dtype=tl.float32)
    for k in tl.static_range(K):
        wf = tl.load(wf_ptr + offs_e * K + k, mask=mask_e, other=0.0)
        wb = tl.load(wb_ptr + offs_e * K + k, mask=mask_e, other=0.0)
        dpf = _load_rows(dpre_ptr, pid_b, t + (K - 1) - k, L, E, offs_e, mask_e)
        dpb = _load_rows(dpre_ptr + B * L * E, pid_b, t - (K - 1) + k, L, E, offs_e, mask_e)
        dx += wf[None, :] * dpf + wb[None, :] * dpb
    m2 = (t < L)[:, None] & mask_e[None, :]
    tl.store(dx_ptr + (pid_b * L + t).to(tl.int64)[:, None] * stride_dx + offs_e[None, :],
             dx.to(dx_ptr.dtype.element_ty), mask=m2)
