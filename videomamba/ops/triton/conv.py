"""Depthwise conv + SiLU of both B-Mamba directions from one read of x, forward and backward, as row walks.

Reference twin: :func:`videomamba.ops.causal_conv1d.causal_conv1d_ref` (forward direction on x, backward
direction on x flipped). In original token order the backward direction is anti-causal:

    pre_f[t] = b_f + Σ_k w_f[k] x[t - (K-1) + k]        pre_b[t] = b_b + Σ_k w_b[k] x[t + (K-1) - k]

Both outputs are written to one (2, B, L, E) buffer in original order, so ``x_proj`` stays a plain GEMM
over tokens for either direction.

A program owns (b, a block of channels, a range of rows) and walks its rows one at a time, each thread holding its
channels' sliding window of x in registers: every row is loaded once per program (plus K-1 halo rows at each end),
nothing is summed across threads, and the backward keeps dpre in registers (dx[t] is complete K-1 rows later), so
no dpre buffer goes through memory. The tile passes these replace (one [rows, channels] tile per program, the x window
as 2K-1 shifted tiles; the backward as a dpre pass then a dx pass) ran 1.2× (forward) and 2.4× (backward) longer at
tiny, 64 frames (docs/perf_notes.md v18).
"""
import triton
import triton.language as tl

from .fastmath import sigmoid


@triton.jit
def _mask(offs_e, mask_e, row, lo, hi, EVEN: tl.constexpr):
    """Mask of row ``row``'s channel vector: lo ≤ row < hi (scalars), and the channel inside E unless EVEN (E a
    multiple of the channel block: no per-channel test)."""
    r = offs_e * 0 + row  # full-shape: the interpreter takes no scalar masks
    ok = (r >= lo) & (r < hi)
    if not EVEN:
        ok = ok & mask_e
    return ok


@triton.jit
def _row(base, row, S: tl.constexpr, lim, offs_e, mask_e, EVEN: tl.constexpr):
    """Row ``row`` (a scalar; rows outside 0 ≤ row < lim read as 0) of a (rows, S) buffer as an fp32 channel
    vector."""
    return tl.load(base + row * S + offs_e, mask=_mask(offs_e, mask_e, row, 0, lim, EVEN), other=0.0).to(tl.float32)


@triton.jit
def _taps(wf_ptr, bf_ptr, wb_ptr, bb_ptr, E, offs_e, mask_e, K: tl.constexpr):
    """Both directions' biases and per-tap weights as channel vectors: (bias_f, bias_b), ((w_f[k], w_b[k]) per k). The
    weights are stored tap-major, (K, E): contiguous like every other channel vector, so all of them get one register
    layout (with (E, K) weights Triton moved every store's value through shared memory to re-lay it)."""
    bias = (tl.load(bf_ptr + offs_e, mask=mask_e, other=0.0), tl.load(bb_ptr + offs_e, mask=mask_e, other=0.0))
    ws = ()
    for k in tl.static_range(K):
        ws = ws + ((tl.load(wf_ptr + k * E + offs_e, mask=mask_e, other=0.0),
                    tl.load(wb_ptr + k * E + offs_e, mask=mask_e, other=0.0)),)
    return bias, ws


@triton.jit
def _pre_act(win, ws, bias, d: tl.constexpr, K: tl.constexpr):
    """Direction d's conv output before SiLU at the window's centre row t (``win`` = rows t-(K-1) .. t+(K-1)), taps
    summed in order k = 0 .. K-1 (the forward and the backward's recomputation round alike)."""
    p = bias[d]
    for k in tl.static_range(K):
        p += ws[k][d] * win[k if d == 0 else 2 * K - 2 - k]
    return p


@triton.jit
def _drop_first(tup, n: tl.constexpr):
    """``tup[1:]`` for a tuple of n values (constexpr indexing only)."""
    out = ()
    for j in tl.static_range(1, n):
        out = out + (tup[j],)
    return out


@triton.jit
def conv_fwd_kernel(x_ptr, wf_ptr, bf_ptr, wb_ptr, bb_ptr, out_ptr, B, L, E, ROWS,
                    SX: tl.constexpr, K: tl.constexpr, BLOCK_E: tl.constexpr, U: tl.constexpr, FAST: tl.constexpr,
                    EVEN: tl.constexpr = False):
    """out[d, b, t] = SiLU(pre_d[t]) for both directions (module docstring), rows lo .. lo+ROWS-1 of batch b, from
    x rows SX apart and tap-major (K, E) weights. The loads of the next group of U rows are issued before this
    group's math. EVEN: E is a multiple of BLOCK_E."""
    pid_b = tl.program_id(0)
    lo = tl.program_id(1) * ROWS
    hi = tl.minimum(lo + ROWS, L)
    offs_e = tl.program_id(2) * BLOCK_E + tl.arange(0, BLOCK_E)
    mask_e = offs_e < E
    bias, ws = _taps(wf_ptr, bf_ptr, wb_ptr, bb_ptr, E, offs_e, mask_e, K)
    xb = x_ptr + pid_b.to(tl.int64) * L * SX
    ob = out_ptr + pid_b.to(tl.int64) * L * E
    ob_b = ob + tl.cast(B, tl.int64) * L * E  # the backward direction's plane: B·L·E may pass 2^31
    lim = tl.minimum(L, hi + (K - 1))  # the last x row this program needs, + 1
    win = ()  # rows t-(K-1) .. t+(K-2) before step t
    for j in tl.static_range(2 * K - 2):
        win = win + (_row(xb, lo - (K - 1) + j, SX, lim, offs_e, mask_e, EVEN),)
    nxt = _fwd_loads(xb, lo, SX, lim, offs_e, mask_e, K, U, EVEN)
    for t0 in range(lo, hi, U):
        cur = nxt
        nxt = _fwd_loads(xb, t0 + U, SX, lim, offs_e, mask_e, K, U, EVEN)
        for u in tl.static_range(U):
            win = win + (cur[u],)
            ok = _mask(offs_e, mask_e, t0 + u, lo, hi, EVEN)
            for d in tl.static_range(2):
                p = _pre_act(win, ws, bias, d, K)
                tl.store((ob if d == 0 else ob_b) + (t0 + u) * E + offs_e,
                         (p * sigmoid(p, FAST)).to(out_ptr.dtype.element_ty), mask=ok)
            win = _drop_first(win, 2 * K - 1)


@triton.jit
def conv_bwd_kernel(x_ptr, dout_ptr, wf_ptr, bf_ptr, wb_ptr, bb_ptr, dx_ptr, dwb_ptr, B, L, E, ROWS,
                    SX: tl.constexpr, SDX: tl.constexpr, SLAB: tl.constexpr, K: tl.constexpr, BLOCK_E: tl.constexpr,
                    U: tl.constexpr, FAST: tl.constexpr, EVEN: tl.constexpr = False):
    """The conv backward of rows lo .. hi-1 (hi = lo+ROWS) of batch b in one walk: dpre_d = dout_d · SiLU'(pre_d)
    in registers, the program's partial dw/db (each thread its own channels: no cross-thread sums), and

        dx[t] = Σ_k w_f[k] dpre_f[t+K-1-k] + Σ_k w_b[k] dpre_b[t-(K-1)+k]

    written into ``dx`` (rows SDX apart). The walk covers rows s = lo-(K-1) .. hi+K-2: the backward direction's
    part of dx[t] is complete at s = t (its dpre rows t-(K-1) .. t, the first K-1 from the halo before lo) and waits
    in a K-1 deep delay line; the forward direction's at s = t+K-1 (the last K-1 steps are the halo after hi),
    when dx[t] is stored. Halo rows count toward neither dw nor db. ``dout``: (2, B, L, E); weights tap-major (K, E);
    ``dwb``: per program and direction a slab of SLAB floats [dw (K, E) | db (E)]. EVEN: E is a multiple of BLOCK_E."""
    pid_b = tl.program_id(0)
    pid_l = tl.program_id(1)
    lo = pid_l * ROWS
    hi = tl.minimum(lo + ROWS, L)
    offs_e = tl.program_id(2) * BLOCK_E + tl.arange(0, BLOCK_E)
    mask_e = offs_e < E
    bias, ws = _taps(wf_ptr, bf_ptr, wb_ptr, bb_ptr, E, offs_e, mask_e, K)
    xb = x_ptr + pid_b.to(tl.int64) * L * SX
    gb = dout_ptr + pid_b.to(tl.int64) * L * E
    gb_b = gb + tl.cast(B, tl.int64) * L * E  # the backward direction's plane: B·L·E may pass 2^31
    dxb = dx_ptr + pid_b.to(tl.int64) * L * SDX
    lim_x = tl.minimum(L, hi + 2 * (K - 1))
    lim_g = tl.minimum(L, hi + (K - 1))
    s_lo = lo - (K - 1)
    zero = tl.zeros([BLOCK_E], dtype=tl.float32)
    win = ()  # x rows s-(K-1) .. s+(K-2) before step s
    for j in tl.static_range(2 * K - 2):
        win = win + (_row(xb, s_lo - (K - 1) + j, SX, lim_x, offs_e, mask_e, EVEN),)
    dpf = ()  # dpre_f rows s-(K-1) .. s-1
    dpb = ()  # dpre_b rows s-(K-1) .. s-1
    late = ()  # the backward direction's part of dx rows s-(K-1) .. s-1
    for j in tl.static_range(K - 1):
        dpf = dpf + (zero,)
        dpb = dpb + (zero,)
        late = late + (zero,)
    db = (zero, zero)
    taps0 = ()
    for k in tl.static_range(K):
        taps0 = taps0 + (zero,)
    dw = (taps0, taps0)  # [direction][tap]
    nxt = _bwd_loads(xb, gb, gb_b, s_lo, E, SX, lim_x, lim_g, offs_e, mask_e, K, U, EVEN)
    for s0 in range(s_lo, hi + (K - 1), U):
        cur = nxt
        nxt = _bwd_loads(xb, gb, gb_b, s0 + U, E, SX, lim_x, lim_g, offs_e, mask_e, K, U, EVEN)
        for u in tl.static_range(U):
            s = s0 + u
            xn, gf, gbk = cur[u]
            win = win + (xn,)
            # dw/db take rows lo .. hi-1 only: the halo rows are other programs'
            own = tl.where((s >= lo) & (s < hi), 1.0, 0.0)
            dps = ()
            for d in tl.static_range(2):
                p = _pre_act(win, ws, bias, d, K)
                sg = sigmoid(p, FAST)
                dp = (gf if d == 0 else gbk) * sg * (1.0 + p * (1.0 - sg))
                dps = dps + (dp,)
                dpo = dp * own
                db = (db[0] + dpo, db[1]) if d == 0 else (db[0], db[1] + dpo)
                taps = ()
                for k in tl.static_range(K):
                    taps = taps + (dw[d][k] + dpo * win[k if d == 0 else 2 * K - 2 - k],)
                dw = (taps, dw[1]) if d == 0 else (dw[0], taps)
            dpf = dpf + (dps[0],)
            dpb = dpb + (dps[1],)
            # the backward direction's part of dx[s], complete now
            part_b = ws[0][1] * dpb[0]
            for k in tl.static_range(1, K):
                part_b += ws[k][1] * dpb[k]
            late = late + (part_b,)
            # dx[s-(K-1)]: its forward part is complete now
            t = s - (K - 1)
            dx = late[0]
            for k in tl.static_range(K):
                dx += ws[k][0] * dpf[K - 1 - k]
            own_t = _mask(offs_e, mask_e, t, lo, hi, EVEN)
            tl.store(dxb + t * SDX + offs_e, dx.to(dx_ptr.dtype.element_ty), mask=own_t)
            win = _drop_first(win, 2 * K - 1)
            dpf = _drop_first(dpf, K)
            dpb = _drop_first(dpb, K)
            late = _drop_first(late, K)
    part = (pid_b * tl.num_programs(1) + pid_l).to(tl.int64) * 2
    for d in tl.static_range(2):
        slab = dwb_ptr + (part + d) * SLAB
        tl.store(slab + E * K + offs_e, db[d], mask=mask_e)
        for k in tl.static_range(K):
            tl.store(slab + k * E + offs_e, dw[d][k], mask=mask_e)


@triton.jit
def _fwd_loads(xb, t0, SX: tl.constexpr, lim, offs_e, mask_e, K: tl.constexpr, U: tl.constexpr, EVEN: tl.constexpr):
    """Per step t = t0 .. t0+U-1: the new x row t+K-1 (0 outside the rows below ``lim``)."""
    ld = ()
    for u in tl.static_range(U):
        ld = ld + (_row(xb, t0 + u + (K - 1), SX, lim, offs_e, mask_e, EVEN),)
    return ld


@triton.jit
def _bwd_loads(xb, gf, gb, s0, E, SX: tl.constexpr, lim_x, lim_g, offs_e, mask_e, K: tl.constexpr, U: tl.constexpr,
               EVEN: tl.constexpr):
    """Per step s = s0 .. s0+U-1: the new x row s+K-1 and both directions' dout rows s (0 outside the sequence)."""
    ld = ()
    for u in tl.static_range(U):
        s = s0 + u
        ld = ld + ((_row(xb, s + (K - 1), SX, lim_x, offs_e, mask_e, EVEN),
                    _row(gf, s, E, lim_g, offs_e, mask_e, EVEN),
                    _row(gb, s, E, lim_g, offs_e, mask_e, EVEN)),)
    return ld
