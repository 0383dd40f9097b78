"""Selective scan of both B-Mamba directions, forward and backward: sequential in time, state in registers.

Reference twins: :func:`videomamba.ops.selective_scan.selective_scan_ref` per direction and
:func:`videomamba.ops.bimamba.bimamba_inner_ref` for the pair.

Layout (all token-major, original sequence order; nothing is flipped in memory):

* ``x``  (2, B, L, E): conv+SiLU output of each direction (the backward one from an anti-causal conv);
* ``dt`` (2, B, L, E): Δ before bias and softplus (the ``dt_proj`` GEMM output);
* ``bc`` (2, B, L, R + 2N): ``x_proj`` output; B at columns ``R:R+N``, C at ``R+N:R+2N``;
* ``z``: the gate half of ``xz`` (row stride 2E).

A program owns (batch b, direction d, a block of BLOCK_E channels, a segment of SEG steps) and walks its
segment step by step in its direction's time (the backward direction reads row ``L-1-s`` at step ``s``),
with the state h as an [N, BLOCK_E] fp32 tile in registers: lanes run along the channels, so each thread
holds the N (or N/2) states of its channel and the sum over N for y stays inside the thread. (Tile offsets are multiplied by a runtime ``one``
so that the compiler sees no contiguity and keeps that one layout for every tile instead of converting.) The
inputs of a group of U steps are all loaded before the group's math, so that U loads are in flight
at once instead of one (the loop is latency-bound otherwise).

Segments make enough programs to fill the GPU. Because h_t is linear in the segment's start state,
``h_end = hloc + exp(A·ΣΔ) ⊙ h_start`` where ``hloc`` is the end state from a zero start; a light first
pass (``LOCAL``) writes (hloc, ΣΔ) per segment and the main pass folds the previous segments' pairs into
its true start state (a few [N, BLOCK_E] FMAs per segment). The backward does the same for the adjoint
λ in reverse time (``adjoint_local_kernel``).

Backward (``scan_bwd_kernel``): the forward pass stores the state at every CH-step boundary (checkpoints,
(2, B, L/CH, N, E) fp32); the backward walks its segment's chunks in reverse, recomputes the chunk's CH
states into a per-program scratch (CH+1 slots, L1/L2 resident), then runs the adjoint recurrence
λ_t = C_t dy_t + a_{t+1} λ_{t+1} backwards in registers. dB/dC of a step are summed over the program's
channels and added atomically into an fp32 (2, B·L, 2N) buffer; dA, dD and dΔ-bias are accumulated per
program and added atomically at the end.
"""
import triton
import triton.language as tl

LOG2E = tl.constexpr(1.4426950408889634)


@triton.jit
def _softplus(v):
    # torch's softplus (threshold 20); log(1 + e^v) loses nothing that matters at fp32 for v > -15
    return tl.where(v > 20.0, v, tl.where(v < -15.0, tl.exp(v), tl.log(1.0 + tl.exp(v))))


@triton.jit
def _row(pid_b, s, L, rev):
    t = tl.where(rev, L - 1 - s, s)
    return (pid_b * L + t).to(tl.int64)


@triton.jit
def _load_xdt(x_ptr, dt_ptr, dir_off, row, E, offs_e, m):
    xe = dir_off + row * E + offs_e
    x = tl.load(x_ptr + xe, mask=m, other=0.0).to(tl.float32)
    dt = tl.load(dt_ptr + xe, mask=m, other=0.0).to(tl.float32)
    return x, dt


@triton.jit
def _load_n(ptr, offs_n, mask_n, zero_e, one, BC_VEC: tl.constexpr):
    """B_t or C_t (fp32) as an [N, 1] column (BC_VEC) or an [N, BLOCK_E] tile. Either way each thread ends
    up loading the N values itself (Triton rematerialises the [N] load in the broadcast layout instead of
    converting through shared memory); the [N] form needs N addresses instead of an N×BLOCK_E pointer
    tile, which cut the forward scan by ≈ 27 % (docs/perf_notes.md, v3)."""
    if BC_VEC:
        v = tl.load(ptr + offs_n, mask=mask_n, other=0.0).to(tl.float32)[:, None]
    else:
        v = tl.load(ptr + offs_n[:, None] * one + zero_e[None, :], mask=mask_n[:, None], other=0.0).to(tl.float32)
    return v


@triton.jit
def _ids(E, BLOCK_E: tl.constexpr):
    pid_b = tl.program_id(0)
    n_eb = tl.cdiv(E, BLOCK_E)
    d = tl.program_id(1) // n_eb
    eb = tl.program_id(1) % n_eb
    pid_s = tl.program_id(2)
    return pid_b, d, eb, pid_s


@triton.jit(do_not_specialize=["one"])
def scan_fwd_kernel(x_ptr, dt_ptr, bc_ptr, z_ptr, a_ptr, d_ptr, bias_ptr, y_ptr, hloc_ptr, sdel_ptr, ck_ptr,
                    one, B, L, E, R, SEG, n_seg, n_ck, stride_bc, stride_z, stride_y,
                    N: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_E: tl.constexpr, CH: tl.constexpr,
                    U: tl.constexpr, LOCAL: tl.constexpr, WRITE_Y: tl.constexpr, WRITE_CK: tl.constexpr,
                    BC_VEC: tl.constexpr = False):
    """LOCAL: write (hloc, ΣΔ) of the segment from a zero start (segments 0..n_seg-2 only).
    Else: fold the previous segments into the start state, then y[b, t, d*E + e] = (<h_t, C_t> + D x_t) *
    silu(z_t) (WRITE_Y) and the state entering every CH-th step (WRITE_CK)."""
    pid_b, d, eb, pid_s = _ids(E, BLOCK_E)
    rev = d == 1
    offs_e = eb * BLOCK_E + tl.arange(0, BLOCK_E)
    offs_n = tl.arange(0, BLOCK_N)
    zero_e = tl.zeros([BLOCK_E], dtype=tl.int32)
    mask_e = offs_e < E
    mask_n = offs_n < N
    ne = offs_n[:, None] * (E * one) + offs_e[None, :] * one  # [N, E] tile offsets in (.., N, E) buffers
    mask_ne = mask_n[:, None] & mask_e[None, :]
    a2 = tl.load(a_ptr + d * E * N + ne, mask=mask_ne, other=0.0) * LOG2E
    d_skip = tl.load(d_ptr + d * E + offs_e, mask=mask_e, other=0.0)
    bias = tl.load(bias_ptr + d * E + offs_e, mask=mask_e, other=0.0)
    dir_off = d.to(tl.int64) * B * L * E
    bc_off = d.to(tl.int64) * B * L * stride_bc
    seg_base = (d * B + pid_b).to(tl.int64) * n_seg
    h = tl.zeros([BLOCK_N, BLOCK_E], dtype=tl.float32)
    if not LOCAL:
        for j in range(0, pid_s):
            hl = tl.load(hloc_ptr + (seg_base + j) * N * E + ne, mask=mask_ne, other=0.0)
            sd = tl.load(sdel_ptr + (seg_base + j) * E + offs_e, mask=mask_e, other=0.0)
            h = hl + tl.exp2(a2 * sd[None, :]) * h
    s0 = pid_s * SEG
    seg_len = tl.minimum(SEG, L - s0)
    sum_delta = tl.zeros([BLOCK_E], dtype=tl.float32)
    ck_base = (d * B + pid_b).to(tl.int64) * n_ck
    # groups of U steps: all U steps' loads are issued first, then the U steps' math (U divides CH)
    for k0 in range(0, seg_len, U):
        ld = ()
        for u in tl.static_range(U):
            ok = k0 + u < seg_len
            row = _row(pid_b, tl.where(ok, s0 + k0 + u, s0), L, rev)
            me = mask_e & (zero_e + k0 + u < seg_len)
            x, dtr = _load_xdt(x_ptr, dt_ptr, dir_off, row, E, offs_e, me)
            bcp = bc_ptr + bc_off + row * stride_bc + R
            bm = _load_n(bcp, offs_n, mask_n, zero_e, one, BC_VEC)
            if WRITE_Y:
                cm = _load_n(bcp + N, offs_n, mask_n, zero_e, one, BC_VEC)
                z = tl.load(z_ptr + row * stride_z + offs_e, mask=me, other=0.0)
            else:
                cm = bm
                z = x
            ld = ld + ((row, me, x, dtr, bm, cm, z),)
        for u in tl.static_range(U):
            row, me, x, dtr, bm, cm, z = ld[u]
            if WRITE_CK:
                s = s0 + k0 + u
                if (s % CH == 0) & (k0 + u < seg_len):
                    tl.store(ck_ptr + (ck_base + s // CH) * N * E + ne, h, mask=mask_ne)
            delta = tl.where(me, _softplus(dtr + bias), 0.0)
            h = tl.exp2(a2 * delta[None, :]) * h + bm * (delta * x)[None, :]
            if LOCAL:
                sum_delta += delta
            if WRITE_Y:
                zf = z.to(tl.float32)
                y = tl.sum(h * cm, axis=0) + d_skip * x
                y = y * zf * tl.sigmoid(zf)
                tl.store(y_ptr + row * stride_y + d * E + offs_e, y.to(y_ptr.dtype.element_ty), mask=me)
    if LOCAL:
        tl.store(hloc_ptr + (seg_base + pid_s) * N * E + ne, h, mask=mask_ne)
        tl.store(sdel_ptr + (seg_base + pid_s) * E + offs_e, sum_delta, mask=mask_e)


@triton.jit(do_not_specialize=["one"])
def adjoint_local_kernel(dt_ptr, bc_ptr, z_ptr, g_ptr, a_ptr, bias_ptr, nu_ptr,
                         one, B, L, E, R, SEG, n_seg, stride_bc, stride_z, stride_g,
                         N: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_E: tl.constexpr,
                         BC_VEC: tl.constexpr = False):
    """Segments 1..n_seg-1: ν = a_{start} ⊙ λ_start of the adjoint run backwards from a zero end value."""
    pid_b, d, eb, pid_s = _ids(E, BLOCK_E)
    pid_s = pid_s + 1
    rev = d == 1
    offs_e = eb * BLOCK_E + tl.arange(0, BLOCK_E)
    offs_n = tl.arange(0, BLOCK_N)
    zero_e = tl.zeros([BLOCK_E], dtype=tl.int32)
    mask_e = offs_e < E
    mask_n = offs_n < N
    ne = offs_n[:, None] * (E * one) + offs_e[None, :] * one
    mask_ne = mask_n[:, None] & mask_e[None, :]
    a2 = tl.load(a_ptr + d * E * N + ne, mask=mask_ne, other=0.0) * LOG2E
    bias = tl.load(bias_ptr + d * E + offs_e, mask=mask_e, other=0.0)
    dir_off = d.to(tl.int64) * B * L * E
    bc_off = d.to(tl.int64) * B * L * stride_bc
    s0 = pid_s * SEG
    seg_len = tl.minimum(SEG, L - s0)
    m = tl.zeros([BLOCK_N, BLOCK_E], dtype=tl.float32)
    for kk in range(0, seg_len):
        s = s0 + seg_len - 1 - kk
        row = _row(pid_b, s, L, rev)
        dtr = tl.load(dt_ptr + dir_off + row * E + offs_e, mask=mask_e, other=0.0).to(tl.float32)
        cm = _load_n(bc_ptr + bc_off + row * stride_bc + R + N, offs_n, mask_n, zero_e, one, BC_VEC)
        z = tl.load(z_ptr + row * stride_z + offs_e, mask=mask_e, other=0.0).to(tl.float32)
        g = tl.load(g_ptr + row * stride_g + offs_e, mask=mask_e, other=0.0).to(tl.float32)
        delta = tl.where(mask_e, _softplus(dtr + bias), 0.0)
        dy = g * z * tl.sigmoid(z)
        m = tl.exp2(a2 * delta[None, :]) * (cm * dy[None, :] + m)
    tl.store(nu_ptr + ((d * B + pid_b).to(tl.int64) * n_seg + pid_s) * N * E + ne, m, mask=mask_ne)


@triton.jit(do_not_specialize=["one"])
def scan_bwd_kernel(x_ptr, dt_ptr, bc_ptr, z_ptr, a_ptr, d_ptr, bias_ptr, ck_ptr, sdel_ptr, nu_ptr, g_ptr,
                    scratch_ptr, dx_ptr, ddt_ptr, dbc_ptr, da_ptr, dd_ptr, dbias_ptr, ypre_ptr,
                    one, B, L, E, R, SEG, n_seg, n_ck, stride_bc, stride_z, stride_g, stride_ypre,
                    N: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_E: tl.constexpr, CH: tl.constexpr,
                    BC_VEC: tl.constexpr = False):
    """Gradients of the gated scan given ``g`` = dLoss/d(gated output) (shared by both directions).

    Writes dx, dΔ (pre softplus) and the un-gated outputs (for dz and the out_proj weight gradient);
    adds dB/dC (fp32, (2, B·L, 2N)), dA (2, E, N), dD and dΔ-bias (2, E) atomically (zero them first).
    """
    pid_b, d, eb, pid_s = _ids(E, BLOCK_E)
    rev = d == 1
    offs_e = eb * BLOCK_E + tl.arange(0, BLOCK_E)
    offs_n = tl.arange(0, BLOCK_N)
    zero_e = tl.zeros([BLOCK_E], dtype=tl.int32)
    mask_e = offs_e < E
    mask_n = offs_n < N
    ne = offs_n[:, None] * (E * one) + offs_e[None, :] * one
    mask_ne = mask_n[:, None] & mask_e[None, :]
    a_nat = tl.load(a_ptr + d * E * N + ne, mask=mask_ne, other=0.0)
    a2 = a_nat * LOG2E
    d_skip = tl.load(d_ptr + d * E + offs_e, mask=mask_e, other=0.0)
    bias = tl.load(bias_ptr + d * E + offs_e, mask=mask_e, other=0.0)
    dir_off = d.to(tl.int64) * B * L * E
    bc_off = d.to(tl.int64) * B * L * stride_bc
    dbc_off = d.to(tl.int64) * B * L * 2 * N
    seg_base = (d * B + pid_b).to(tl.int64) * n_seg
    ck_base = (d * B + pid_b).to(tl.int64) * n_ck
    pid_lin = (tl.program_id(2) * tl.num_programs(1) + tl.program_id(1)) * tl.num_programs(0) + tl.program_id(0)
    scr = scratch_ptr + pid_lin.to(tl.int64) * (CH + 1) * BLOCK_N * BLOCK_E \
        + tl.arange(0, BLOCK_N)[:, None] * (BLOCK_E * one) + tl.arange(0, BLOCK_E)[None, :] * one
    # adjoint carry entering the segment's last step from the later segments: m = a_{end} ⊙ λ_{end}
    m = tl.zeros([BLOCK_N, BLOCK_E], dtype=tl.float32)
    for jj in range(0, n_seg - 1 - pid_s):
        j = n_seg - 1 - jj
        nu = tl.load(nu_ptr + (seg_base + j) * N * E + ne, mask=mask_ne, other=0.0)
        sd = tl.load(sdel_ptr + (seg_base + j) * E + offs_e, mask=mask_e, other=0.0)
        m = nu + tl.exp2(a2 * sd[None, :]) * m
    da_acc = tl.zeros([BLOCK_N, BLOCK_E], dtype=tl.float32)
    dd_acc = tl.zeros([BLOCK_E], dtype=tl.float32)
    dbias_acc = tl.zeros([BLOCK_E], dtype=tl.float32)
    s_seg = pid_s * SEG
    seg_len = tl.minimum(SEG, L - s_seg)
    n_ch = tl.cdiv(seg_len, CH)
    for cc in range(0, n_ch):
        c = n_ch - 1 - cc
        s0 = s_seg + c * CH
        clen = tl.minimum(CH, seg_len - c * CH)
        h = tl.load(ck_ptr + (ck_base + s0 // CH) * N * E + ne, mask=mask_ne, other=0.0)
        tl.store(scr, h)
        for i in range(0, clen):
            row = _row(pid_b, s0 + i, L, rev)
            x, dtr = _load_xdt(x_ptr, dt_ptr, dir_off, row, E, offs_e, mask_e)
            bm = _load_n(bc_ptr + bc_off + row * stride_bc + R, offs_n, mask_n, zero_e, one, BC_VEC)
            delta = tl.where(mask_e, _softplus(dtr + bias), 0.0)
            h = tl.exp2(a2 * delta[None, :]) * h + bm * (delta * x)[None, :]
            tl.store(scr + (i + 1) * BLOCK_N * BLOCK_E, h)
        tl.debug_barrier()
        for ii in range(0, clen):
            i = clen - 1 - ii
            row = _row(pid_b, s0 + i, L, rev)
            h_prev = tl.load(scr + i * BLOCK_N * BLOCK_E)
            x, dtr = _load_xdt(x_ptr, dt_ptr, dir_off, row, E, offs_e, mask_e)
            bcr = bc_ptr + bc_off + row * stride_bc + R
            bm = _load_n(bcr, offs_n, mask_n, zero_e, one, BC_VEC)
            cm = _load_n(bcr + N, offs_n, mask_n, zero_e, one, BC_VEC)
            z = tl.load(z_ptr + row * stride_z + offs_e, mask=mask_e, other=0.0).to(tl.float32)
            g = tl.load(g_ptr + row * stride_g + offs_e, mask=mask_e, other=0.0).to(tl.float32)
            delta = tl.where(mask_e, _softplus(dtr + bias), 0.0)
            decay = tl.exp2(a2 * delta[None, :])
            dy = g * z * tl.sigmoid(z)
            ypre = tl.sum(h * cm, axis=0) + d_skip * x
            tl.store(ypre_ptr + row * stride_ypre + d * E + offs_e, ypre.to(ypre_ptr.dtype.element_ty), mask=mask_e)
            lam = cm * dy[None, :] + m
            lam_b = tl.sum(lam * bm, axis=0)
            w = lam * decay * h_prev
            dx = d_skip * dy + delta * lam_b
            ddelta = x * lam_b + tl.sum(w * a_nat, axis=0)
            ddt = tl.where(mask_e, ddelta * tl.sigmoid(dtr + bias), 0.0)
            tl.store(dx_ptr + dir_off + row * E + offs_e, dx.to(dx_ptr.dtype.element_ty), mask=mask_e)
            tl.store(ddt_ptr + dir_off + row * E + offs_e, ddt.to(ddt_ptr.dtype.element_ty), mask=mask_e)
            db = tl.sum(lam * (delta * x)[None, :], axis=1)
            dc = tl.sum(h * dy[None, :], axis=1)
            dbc_row = dbc_ptr + dbc_off + row * (2 * N) + offs_n
            tl.atomic_add(dbc_row, db, mask=mask_n, sem="relaxed")
            tl.atomic_add(dbc_row + N, dc, mask=mask_n, sem="relaxed")
            da_acc += w * delta[None, :]
            dd_acc += dy * x
            dbias_acc += ddt
            m = decay * lam
            h = h_prev
        tl.debug_barrier()
    tl.atomic_add(da_ptr + d * E * N + ne, da_acc, mask=mask_ne, sem="relaxed")
    tl.atomic_add(dd_ptr + d * E + offs_e, dd_acc, mask=mask_e, sem="relaxed")
    tl.atomic_add(dbias_ptr + d * E + offs_e, dbias_acc, mask=mask_e, sem="relaxed")
