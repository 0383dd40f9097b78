"""Selective scan of both B-Mamba directions in one launch, forward and backward.

Reference twins: :func:`videomamba.ops.selective_scan.selective_scan_ref` per direction and
:func:`videomamba.ops.bimamba.bimamba_inner_ref` for the pair.

Layout (all token-major, original sequence order; nothing is flipped in memory):

* ``x``  (2, B, L, E): conv+SiLU output of each direction (the backward one from an anti-causal conv);
* ``dt`` (2, B, L, E): Δ before bias and softplus (the ``dt_proj`` GEMM output);
* ``bc`` (2, B, L, R + 2N): ``x_proj`` output; B at columns ``R:R+N``, C at ``R+N:R+2N``;
* ``z``: the gate half of ``xz`` (row stride 2E).

Program (b, channel block, direction) walks the sequence in *its direction's* time: the backward direction
simply reads row ``L-1-s`` at its step ``s``. A chunk of ``BLOCK_T`` steps is loaded as a tile and scanned
with ``tl.associative_scan`` over (decay, input) pairs; the state h (BLOCK_E × N, fp32) is carried from
chunk to chunk in registers. Masked steps get Δ = 0, i.e. decay 1 and no input, so they are neutral.
"""
import triton
import triton.language as tl

LOG2E = tl.constexpr(1.4426950408889634)


@triton.jit
def _linear_combine(a1, b1, a2, b2):
    # (a1, b1) applied first, then (a2, b2): h -> a2 * (a1 * h + b1) + b2
    return a1 * a2, b1 * a2 + b2


@triton.jit
def _softplus(v):
    # torch's softplus (threshold 20); log(1 + e^v) loses nothing that matters at fp32 for v > -15
    return tl.where(v > 20.0, v, tl.where(v < -15.0, tl.exp(v), tl.log(1.0 + tl.exp(v))))


@triton.jit
def _rows(pid_b, c, L, rev, BLOCK_T: tl.constexpr, SHIFT: tl.constexpr):
    """Step indices s (direction time) of chunk c, shifted by SHIFT, their validity and token rows."""
    s = c * BLOCK_T + tl.arange(0, BLOCK_T) + SHIFT
    valid = s < L
    t = tl.where(rev, L - 1 - s, s)
    t = tl.where(valid, t, 0)
    return valid, (pid_b * L + t).to(tl.int64)


@triton.jit
def scan_fwd_kernel(x_ptr, dt_ptr, bc_ptr, z_ptr, a_ptr, d_ptr, bias_ptr, y_ptr, state_ptr,
                    B, L, E, R, stride_bc, stride_z, stride_y,
                    N: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_E: tl.constexpr,
                    WRITE_Y: tl.constexpr, WRITE_STATES: tl.constexpr):
    """y[b, t, dir*E + e] = (<h_t, C_t> + D x_t) * silu(z_t); optionally the state entering every chunk."""
    pid_b = tl.program_id(0)
    pid_e = tl.program_id(1)
    d = tl.program_id(2)
    rev = d == 1
    offs_e = pid_e * BLOCK_E + tl.arange(0, BLOCK_E)
    offs_n = tl.arange(0, BLOCK_N)
    mask_e = offs_e < E
    mask_n = offs_n < N
    en = offs_e[:, None] * N + offs_n[None, :]
    mask_en = mask_e[:, None] & mask_n[None, :]
    a2 = tl.load(a_ptr + d * E * N + en, mask=mask_en, other=0.0) * LOG2E
    d_skip = tl.load(d_ptr + d * E + offs_e, mask=mask_e, other=0.0)
    bias = tl.load(bias_ptr + d * E + offs_e, mask=mask_e, other=0.0)
    dir_off = d.to(tl.int64) * B * L * E
    bc_off = d.to(tl.int64) * B * L * stride_bc
    n_chunks = tl.cdiv(L, BLOCK_T)
    h = tl.zeros([BLOCK_E, BLOCK_N], dtype=tl.float32)
    for c in range(0, n_chunks):
        valid, row = _rows(pid_b, c, L, rev, BLOCK_T, 0)
        m2 = valid[:, None] & mask_e[None, :]
        xe = row[:, None] * E + offs_e[None, :]
        x = tl.load(x_ptr + dir_off + xe, mask=m2, other=0.0).to(tl.float32)
        dtr = tl.load(dt_ptr + dir_off + xe, mask=m2, other=0.0).to(tl.float32) + bias[None, :]
        delta = tl.where(m2, _softplus(dtr), 0.0)
        mbc = valid[:, None] & mask_n[None, :]
        bc_rows = bc_ptr + bc_off + row[:, None] * stride_bc + offs_n[None, :]
        bm = tl.load(bc_rows + R, mask=mbc, other=0.0).to(tl.float32)
        decay = tl.exp2(delta[:, :, None] * a2[None, :, :])
        inject = (delta * x)[:, :, None] * bm[:, None, :]
        cum, local = tl.associative_scan((decay, inject), 0, _linear_combine)
        hs = local + cum * h[None, :, :]
        if WRITE_STATES:
            st = state_ptr + ((d * B + pid_b).to(tl.int64) * n_chunks + c) * E * N
            tl.store(st + en, h, mask=mask_en)
        h = tl.sum(tl.where((tl.arange(0, BLOCK_T) == BLOCK_T - 1)[:, None, None], hs, 0.0), axis=0)
        if WRITE_Y:
            cm = tl.load(bc_rows + R + N, mask=mbc, other=0.0).to(tl.float32)
            y = tl.sum(hs * cm[:, None, :], axis=2) + d_skip[None, :] * x
            z = tl.load(z_ptr + row[:, None] * stride_z + offs_e[None, :], mask=m2, other=0.0).to(tl.float32)
            y = y * z * tl.sigmoid(z)
            tl.store(y_ptr + row[:, None] * stride_y + d * E + offs_e[None, :], y.to(y_ptr.dtype.element_ty),
                     mask=m2)


@triton.jit
def scan_bwd_kernel(x_ptr, dt_ptr, bc_ptr, z_ptr, a_ptr, d_ptr, bias_ptr, state_ptr, g_ptr,
                    dx_ptr, ddt_ptr, dbc_ptr, da_ptr, dd_ptr, dbias_ptr, ypre_ptr,
                    B, L, E, R, stride_bc, stride_z, stride_g, stride_ypre,
                    N: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_E: tl.constexpr):
    """Gradients of the gated scan given ``g`` = dLoss/d(gated output) (shared by both directions).

    Walks each direction's time backwards chunk by chunk. In a chunk, the states are recomputed from the
    stored chunk-start state (forward associative scan), and the adjoint ``λ_s = dy_s C_s + a_{s+1} λ_{s+1}``
    (``a`` = decay) by a reverse associative scan whose decays are read one step ahead. Writes dx, dΔ (pre
    softplus), per-channel-block partial sums of dB/dC (summed over blocks by the caller), per-batch partial
    dA/dD/dΔ-bias, and the un-gated outputs (for dz and the out_proj weight gradient).
    """
    pid_b = tl.program_id(0)
    pid_e = tl.program_id(1)
    d = tl.program_id(2)
    rev = d == 1
    offs_e = pid_e * BLOCK_E + tl.arange(0, BLOCK_E)
    offs_n = tl.arange(0, BLOCK_N)
    offs_t = tl.arange(0, BLOCK_T)
    mask_e = offs_e < E
    mask_n = offs_n < N
    en = offs_e[:, None] * N + offs_n[None, :]
    mask_en = mask_e[:, None] & mask_n[None, :]
    a_nat = tl.load(a_ptr + d * E * N + en, mask=mask_en, other=0.0)
    a2 = a_nat * LOG2E
    d_skip = tl.load(d_ptr + d * E + offs_e, mask=mask_e, other=0.0)
    bias = tl.load(bias_ptr + d * E + offs_e, mask=mask_e, other=0.0)
    dir_off = d.to(tl.int64) * B * L * E
    bc_off = d.to(tl.int64) * B * L * stride_bc
    dbc_off = (pid_e * 2 + d).to(tl.int64) * B * L * 2 * N
    n_chunks = tl.cdiv(L, BLOCK_T)
    lam_carry = tl.zeros([BLOCK_E, BLOCK_N], dtype=tl.float32)
    da_acc = tl.zeros([BLOCK_E, BLOCK_N], dtype=tl.float32)
    dd_acc = tl.zeros([BLOCK_E], dtype=tl.float32)
    dbias_acc = tl.zeros([BLOCK_E], dtype=tl.float32)
    for cc in range(0, n_chunks):
        c = n_chunks - 1 - cc
        valid, row = _rows(pid_b, c, L, rev, BLOCK_T, 0)
        m2 = valid[:, None] & mask_e[None, :]
        xe = row[:, None] * E + offs_e[None, :]
        x = tl.load(x_ptr + dir_off + xe, mask=m2, other=0.0).to(tl.float32)
        dtr = tl.load(dt_ptr + dir_off + xe, mask=m2, other=0.0).to(tl.float32) + bias[None, :]
        delta = tl.where(m2, _softplus(dtr), 0.0)
        # Δ one step later in this direction's time: the decay that carries λ back to this step
        valid1, row1 = _rows(pid_b, c, L, rev, BLOCK_T, 1)
        m21 = valid1[:, None] & mask_e[None, :]
        dtr1 = tl.load(dt_ptr + dir_off + row1[:, None] * E + offs_e[None, :], mask=m21,
                       other=0.0).to(tl.float32) + bias[None, :]
        delta1 = tl.where(m21, _softplus(dtr1), 0.0)
        mbc = valid[:, None] & mask_n[None, :]
        bc_rows = bc_ptr + bc_off + row[:, None] * stride_bc + offs_n[None, :]
        bm = tl.load(bc_rows + R, mask=mbc, other=0.0).to(tl.float32)
        cm = tl.load(bc_rows + R + N, mask=mbc, other=0.0).to(tl.float32)
        z = tl.load(z_ptr + row[:, None] * stride_z + offs_e[None, :], mask=m2, other=0.0).to(tl.float32)
        g = tl.load(g_ptr + row[:, None] * stride_g + offs_e[None, :], mask=m2, other=0.0).to(tl.float32)

        # states of this chunk
        dx_in = delta * x
        inject = dx_in[:, :, None] * bm[:, None, :]
        cum, local = tl.associative_scan((tl.exp2(delta[:, :, None] * a2[None, :, :]), inject), 0,
                                         _linear_combine)
        st = state_ptr + ((d * B + pid_b).to(tl.int64) * n_chunks + c) * E * N
        h0 = tl.load(st + en, mask=mask_en, other=0.0)
        hs = local + cum * h0[None, :, :]
        ypre = tl.sum(hs * cm[:, None, :], axis=2) + d_skip[None, :] * x
        tl.store(ypre_ptr + row[:, None] * stride_ypre + d * E + offs_e[None, :],
                 ypre.to(ypre_ptr.dtype.element_ty), mask=m2)

        # adjoint
        dy = g * z * tl.sigmoid(z)
        decay1 = tl.exp2(delta1[:, :, None] * a2[None, :, :])
        carry, lam_local = tl.associative_scan((decay1, dy[:, :, None] * cm[:, None, :]), 0, _linear_combine,
                                               reverse=True)
        lam = lam_local + carry * lam_carry[None, :, :]
        lam_carry = tl.sum(tl.where((offs_t == 0)[:, None, None], lam, 0.0), axis=0)

        lam_b = tl.sum(lam * bm[:, None, :], axis=2)
        prev_decayed = hs - inject  # = decay_s * h_{s-1}
        lam_prev = lam * prev_decayed
        dx = d_skip[None, :] * dy + delta * lam_b
        ddelta = x * lam_b + tl.sum(lam_prev * a_nat[None, :, :], axis=2)
        ddt = tl.where(m2, ddelta * tl.sigmoid(dtr), 0.0)
        tl.store(dx_ptr + dir_off + xe, dx.to(dx_ptr.dtype.element_ty), mask=m2)
        tl.store(ddt_ptr + dir_off + xe, ddt.to(ddt_ptr.dtype.element_ty), mask=m2)
        db = tl.sum(lam * dx_in[:, :, None], axis=1)
        dc = tl.sum(hs * dy[:, :, None], axis=1)
        dbc_rows = dbc_ptr + dbc_off + row[:, None] * (2 * N) + offs_n[None, :]
        tl.store(dbc_rows, db, mask=mbc)
        tl.store(dbc_rows + N, dc, mask=mbc)
        da_acc += tl.sum(lam_prev * delta[:, :, None], axis=0)
        dd_acc += tl.sum(dy * x, axis=0)
        dbias_acc += tl.sum(ddt, axis=0)
    part = (d * B + pid_b).to(tl.int64)
    tl.store(da_ptr + part * E * N + en, da_acc, mask=mask_en)
    tl.store(dd_ptr + part * E + offs_e, dd_acc, mask=mask_e)
    tl.store(dbias_ptr + part * E + offs_e, dbias_acc, mask=mask_e)
