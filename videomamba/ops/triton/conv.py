"""Depthwise conv + SiLU of both B-Mamba directions from one read of x, forward and backward.

Reference twin: :func:`videomamba.ops.causal_conv1d.causal_conv1d_ref` (forward direction on x, backward
direction on x flipped). In original token order the backward direction is anti-causal:

    pre_f[t] = b_f + Σ_k w_f[k] x[t - (K-1) + k]        pre_b[t] = b_b + Σ_k w_b[k] x[t + (K-1) - k]

Both outputs are written to one (2, B, L, E) buffer in original order, so ``x_proj`` stays a plain GEMM
over tokens for either direction.
"""
import triton
import triton.language as tl


@triton.jit
def _load_rows(x_ptr, pid_b, t, L, stride_x, offs_e, mask_e):
    ok = (t >= 0) & (t < L)
    ptr = x_ptr + (pid_b * L + t).to(tl.int64)[:, None] * stride_x + offs_e[None, :]
    return tl.load(ptr, mask=ok[:, None] & mask_e[None, :], other=0.0).to(tl.float32)


@triton.jit
def _pre_act(x_ptr, pid_b, t, L, stride_x, offs_e, mask_e, w_ptr, b_ptr, E, K: tl.constexpr,
             BACKWARD: tl.constexpr):
    """Conv output before SiLU at rows t (fp32)."""
    bias = tl.load(b_ptr + offs_e, mask=mask_e, other=0.0)
    if BACKWARD:
        acc = bias[None, :] + tl.load(w_ptr + offs_e * K, mask=mask_e, other=0.0)[None, :] * _load_rows(
            x_ptr, pid_b, t + (K - 1), L, stride_x, offs_e, mask_e)
    else:
        acc = bias[None, :] + tl.load(w_ptr + offs_e * K, mask=mask_e, other=0.0)[None, :] * _load_rows(
            x_ptr, pid_b, t - (K - 1), L, stride_x, offs_e, mask_e)
    for k in tl.static_range(1, K):
        w = tl.load(w_ptr + offs_e * K + k, mask=mask_e, other=0.0)
        if BACKWARD:
            xs = _load_rows(x_ptr, pid_b, t + (K - 1) - k, L, stride_x, offs_e, mask_e)
        else:
            xs = _load_rows(x_ptr, pid_b, t - (K - 1) + k, L, stride_x, offs_e, mask_e)
        acc += w[None, :] * xs
    return acc


@triton.jit
def conv_fwd_kernel(x_ptr, wf_ptr, bf_ptr, wb_ptr, bb_ptr, out_ptr, B, L, E, stride_x,
                    K: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_E: tl.constexpr):
    pid_b = tl.program_id(0)
    t = tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)
    offs_e = tl.program_id(2) * BLOCK_E + tl.arange(0, BLOCK_E)
    mask_e = offs_e < E
    m2 = (t < L)[:, None] & mask_e[None, :]
    out = out_ptr + (pid_b * L + t).to(tl.int64)[:, None] * E + offs_e[None, :]
    pf = _pre_act(x_ptr, pid_b, t, L, stride_x, offs_e, mask_e, wf_ptr, bf_ptr, E, K, False)
    tl.store(out, (pf * tl.sigmoid(pf)).to(out_ptr.dtype.element_ty), mask=m2)
    pb = _pre_act(x_ptr, pid_b, t, L, stride_x, offs_e, mask_e, wb_ptr, bb_ptr, E, K, True)
    tl.store(out + B * L * E, (pb * tl.sigmoid(pb)).to(out_ptr.dtype.element_ty), mask=m2)


@triton.jit
def _dpre(x_ptr, dout_ptr, pid_b, t, L, stride_x, offs_e, mask_e, w_ptr, b_ptr, E, K: tl.constexpr,
          BACKWARD: tl.constexpr):
    """dLoss/dpre at rows t (zero outside [0, L)), recomputing pre."""
    p = _pre_act(x_ptr, pid_b, t, L, stride_x, offs_e, mask_e, w_ptr, b_ptr, E, K, BACKWARD)
    g = _load_rows(dout_ptr, pid_b, t, L, E, offs_e, mask_e)
    s = tl.sigmoid(p)
    return g * s * (1.0 + p * (1.0 - s))


@triton.jit
def conv_bwd_kernel(x_ptr, dout_ptr, wf_ptr, bf_ptr, wb_ptr, bb_ptr, dx_ptr, dw_ptr, db_ptr,
                    B, L, E, stride_x, stride_dx,
                    K: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_E: tl.constexpr):
    """dx (written into the x half of dxz) and per-program partial dw, db of both directions.

    ``dout``: (2, B, L, E) gradient w.r.t. the SiLU outputs. dx[t] = Σ_k w_f[k] dpre_f[t+K-1-k]
    + Σ_k w_b[k] dpre_b[t-(K-1)+k]; the shifted dpre rows are recomputed (cache hits, not extra bytes).
    """
    pid_b = tl.program_id(0)
    pid_l = tl.program_id(1)
    t = pid_l * BLOCK_L + tl.arange(0, BLOCK_L)
    offs_e = tl.program_id(2) * BLOCK_E + tl.arange(0, BLOCK_E)
    mask_e = offs_e < E
    m2 = (t < L)[:, None] & mask_e[None, :]
    dout_b = dout_ptr + B * L * E
    dx = tl.zeros([BLOCK_L, BLOCK_E], dtype=tl.float32)
    part = (pid_b * tl.num_programs(1) + pid_l).to(tl.int64) * 2
    for k in tl.static_range(K):
        wf = tl.load(wf_ptr + offs_e * K + k, mask=mask_e, other=0.0)
        wb = tl.load(wb_ptr + offs_e * K + k, mask=mask_e, other=0.0)
        dpf = _dpre(x_ptr, dout_ptr, pid_b, t + (K - 1) - k, L, stride_x, offs_e, mask_e, wf_ptr, bf_ptr, E, K,
                    False)
        dpb = _dpre(x_ptr, dout_b, pid_b, t - (K - 1) + k, L, stride_x, offs_e, mask_e, wb_ptr, bb_ptr, E, K,
                    True)
        dx += wf[None, :] * dpf + wb[None, :] * dpb
    # weight/bias partials over this program's rows
    dpf0 = _dpre(x_ptr, dout_ptr, pid_b, t, L, stride_x, offs_e, mask_e, wf_ptr, bf_ptr, E, K, False)
    dpb0 = _dpre(x_ptr, dout_b, pid_b, t, L, stride_x, offs_e, mask_e, wb_ptr, bb_ptr, E, K, True)
    tl.store(db_ptr + part * E + offs_e, tl.sum(dpf0, axis=0), mask=mask_e)
    tl.store(db_ptr + (part + 1) * E + offs_e, tl.sum(dpb0, axis=0), mask=mask_e)
    for k in tl.static_range(K):
        xf = _load_rows(x_ptr, pid_b, t - (K - 1) + k, L, stride_x, offs_e, mask_e)
        xb = _load_rows(x_ptr, pid_b, t + (K - 1) - k, L, stride_x, offs_e, mask_e)
        tl.store(dw_ptr + part * E * K + offs_e * K + k, tl.sum(dpf0 * xf, axis=0), mask=mask_e)
        tl.store(dw_ptr + (part + 1) * E * K + offs_e * K + k, tl.sum(dpb0 * xb, axis=0), mask=mask_e)
    tl.store(dx_ptr + (pid_b * L + t).to(tl.int64)[:, None] * stride_dx + offs_e[None, :],
             dx.to(dx_ptr.dtype.element_ty), mask=m2)
