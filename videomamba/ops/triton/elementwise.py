"""Small fused elementwise passes around the scan.

Reference twin of :func:`gate_bwd_kernel`: with ``u = y_f + y_b`` (un-gated scan outputs),
``y = u * silu(z)`` and ``dz = g * u * silu'(z)`` (see :func:`videomamba.ops.bimamba.mamba_direction`).
Reference twin of :func:`dt_proj_kernel`: its docstring.
"""
import triton
import triton.language as tl

from .fastmath import sigmoid


@triton.jit
def gate_bwd_kernel(ypre_ptr, g_ptr, z_ptr, dz_ptr, y_ptr, M, E, stride_ypre, stride_g, stride_z, stride_dz,
                    stride_y, BLOCK_M: tl.constexpr, BLOCK_E: tl.constexpr, FAST: tl.constexpr):
    rows = (tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    cols = tl.program_id(1) * BLOCK_E + tl.arange(0, BLOCK_E)
    m = (rows < M)[:, None] & (cols < E)[None, :]
    r, c = rows[:, None], cols[None, :]
    u = (tl.load(ypre_ptr + r * stride_ypre + c, mask=m, other=0.0).to(tl.float32)
         + tl.load(ypre_ptr + r * stride_ypre + E + c, mask=m, other=0.0).to(tl.float32))
    z = tl.load(z_ptr + r * stride_z + c, mask=m, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + r * stride_g + c, mask=m, other=0.0).to(tl.float32)
    s = sigmoid(z, FAST)
    tl.store(dz_ptr + r * stride_dz + c, (g * u * s * (1.0 + z * (1.0 - s))).to(dz_ptr.dtype.element_ty), mask=m)
    tl.store(y_ptr + r * stride_y + c, (u * z * s).to(y_ptr.dtype.element_ty), mask=m)


@triton.jit
def dt_proj_kernel(src_ptr, w_ptr, dst_ptr, M, E, stride_src_d, S_SRC: tl.constexpr, RP: tl.constexpr,
                   BLOCK_M: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_K: tl.constexpr):
    """dst[d] (M, E) = round(src[d][:, :RP]) @ w[d]ᵀ for both directions d (program axis 2): src is x_proj's fp32
    output at δ_low's first column (rows S_SRC apart), rounded to dst's dtype as it is loaded; w (2, E, RP) in
    dst's dtype; fp32 accumulation, one tensor-core dot per tile (K = RP ≤ BLOCK_K, zero-padded).

    Reference twin: ``torch.bmm(src[..., :RP].to(dst.dtype), w.transpose(1, 2))``. It replaces that cast and
    cuBLAS's K = 16 GEMM, which ran at ≈ 1.3× its bytes' time (53 vs 40 µs per layer, tiny 64 f, H200)."""
    pid_m = tl.program_id(0)
    pid_e = tl.program_id(1)
    d = tl.program_id(2)
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = pid_e * BLOCK_E + tl.arange(0, BLOCK_E)
    ks = tl.arange(0, BLOCK_K)
    mr, mc, mk = rows < M, cols < E, ks < RP
    a = tl.load(src_ptr + d.to(tl.int64) * stride_src_d + rows.to(tl.int64)[:, None] * S_SRC + ks[None, :],
                mask=mr[:, None] & mk[None, :], other=0.0).to(dst_ptr.dtype.element_ty)
    w = tl.load(w_ptr + d * E * RP + cols[None, :] * RP + ks[:, None], mask=mk[:, None] & mc[None, :], other=0.0)
    acc = tl.dot(a, w)
    dst = dst_ptr + (d.to(tl.int64) * M + rows.to(tl.int64))[:, None] * E + cols[None, :]
    tl.store(dst, acc.to(dst_ptr.dtype.element_ty), mask=mr[:, None] & mc[None, :])
