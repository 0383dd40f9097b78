"""The x_proj / dt_proj gradients of the mixer's backward (half precision): tall-skinny GEMMs as Triton passes.

cuBLAS ran these shapes far from their bytes (tiny, 64 frames, batch 8, H200; docs/perf_notes.md v13): the two
weight gradients, K = B·L ≈ 100 k rows into 48 × 384 and 16 × 384 outputs, on a few dozen CTAs without split-K,
0.15 and 0.14 ms per layer against ≈ 0.05 ms of bytes; d x_dbl was a K = E GEMM into a temporary and two strided
copies into x_dbl's column layout (≈ 0.10 ms). Here the weight gradients split the rows over the programs (fp32
partials, summed by the caller: deterministic), and d x_dbl is one pass.

Reference twins:

* :func:`wgrad_kernel`: ``part.sum(1) == torch.bmm(a[..., :NA].to(x.dtype).transpose(1, 2), x)`` (fp32 sums; with
  PART_ROWS, of the slab's first NA rows);
* :func:`xdbl_grad_kernel`: ``out[..., DO:DO+RP] = ddt @ w``, ``out[..., BO:BO+2N] = dbc``, other columns 0; with
  ADD_DXC also ``dxc.baddbmm_(out, xw)``.
"""
import triton
import triton.language as tl


@triton.jit
def wgrad_kernel(a_ptr, x_ptr, part_ptr, M, E, ROWS, stride_a_d, stride_x_d, stride_x,
                 SA: tl.constexpr, NA: tl.constexpr, BLOCK_A: tl.constexpr, BLOCK_M: tl.constexpr,
                 BLOCK_E: tl.constexpr, PART_ROWS: tl.constexpr = None):
    """part[d, s] (NA, E) fp32 = a[d][rows]ᵀ · x[d][rows] over the ROWS rows of split s (program axis 0), for both
    directions d (axis 2). ``a``: the first NA columns of rows SA apart, any float dtype, rounded to x's dtype as
    it is loaded (x_dbl's fp32 δ_low columns need no cast pass); ``x``: (M, E) rows ``stride_x`` apart.
    PART_ROWS: rows of one (d, s) slab of ``part`` (default NA): several weight gradients share one buffer, and
    one sum over the splits."""
    PR: tl.constexpr = NA if PART_ROWS is None else PART_ROWS
    pid_s = tl.program_id(0)
    d = tl.program_id(2)
    cols = tl.program_id(1) * BLOCK_E + tl.arange(0, BLOCK_E)
    ka = tl.arange(0, BLOCK_A)
    mc, mk = cols < E, ka < NA
    a_base = a_ptr + d.to(tl.int64) * stride_a_d
    x_base = x_ptr + d.to(tl.int64) * stride_x_d
    lo = pid_s * ROWS
    hi = tl.minimum(lo + ROWS, M)
    acc = tl.zeros([BLOCK_A, BLOCK_E], dtype=tl.float32)
    for m0 in range(lo, hi, BLOCK_M):
        rows = m0 + tl.arange(0, BLOCK_M)
        mr = rows < hi
        r64 = rows.to(tl.int64)
        a = tl.load(a_base + r64[None, :] * SA + ka[:, None], mask=mk[:, None] & mr[None, :], other=0.0)
        x = tl.load(x_base + r64[:, None] * stride_x + cols[None, :], mask=mr[:, None] & mc[None, :], other=0.0)
        acc = tl.dot(a.to(x.dtype), x, acc)
    out = part_ptr + ((d * tl.num_programs(0) + pid_s).to(tl.int64) * PR + ka[:, None]) * E + cols[None, :]
    tl.store(out, acc, mask=mk[:, None] & mc[None, :])


@triton.jit
def xdbl_grad_kernel(ddt_ptr, w_ptr, dbc_ptr, out_ptr, dxc_ptr, xw_ptr, M, E,
                     N2: tl.constexpr, RP: tl.constexpr, P: tl.constexpr, BO: tl.constexpr, DO: tl.constexpr,
                     BLOCK_M: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_BC: tl.constexpr,
                     BLOCK_P: tl.constexpr, ADD_DXC: tl.constexpr = False):
    """d x_dbl of both directions (program axis 1) as (2, M, P) in ddt's dtype, in x_dbl's column layout: the
    δ_low columns DO..DO+RP = ddt[d] (M, E) @ w[d] (E, RP) (fp32 accumulation), the B|C columns BO..BO+N2 = dbc
    (fp32 (2, M, N2), rounded), every other (pad) column 0 (its x_proj weight row is zero, but garbage could be
    NaN).

    ADD_DXC: also x_proj's part of d xc, dxc[d] (M, E) += d x_dbl[d] (as stored) @ xw[d] (P, E) (fp32 accumulation,
    one rounding), from the tile in registers: the separate baddbmm re-read d x_dbl and ran at 0.116 ms per layer
    for 0.074 ms of bytes (tiny, 64 frames; docs/perf_notes.md v17). Pad columns contribute nothing (zero)."""
    d = tl.program_id(1)
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    mr = rows < M
    grow = (d * M + rows).to(tl.int64)  # row of the (2·M) stacked buffers
    kr = tl.arange(0, BLOCK_R)
    mk = kr < RP
    acc = tl.zeros([BLOCK_M, BLOCK_R], dtype=tl.float32)
    for e0 in range(0, E, BLOCK_E):
        cols = e0 + tl.arange(0, BLOCK_E)
        mc = cols < E
        x = tl.load(ddt_ptr + grow[:, None] * E + cols[None, :], mask=mr[:, None] & mc[None, :], other=0.0)
        w = tl.load(w_ptr + (d * E + cols[:, None]).to(tl.int64) * RP + kr[None, :], mask=mc[:, None] & mk[None, :],
                    other=0.0)
        acc = tl.dot(x, w, acc)
    dst = out_ptr + grow[:, None] * P
    ty = out_ptr.dtype.element_ty
    tl.store(dst + DO + kr[None, :], acc.to(ty), mask=mr[:, None] & mk[None, :])
    cb = tl.arange(0, BLOCK_BC)
    mb = mr[:, None] & (cb < N2)[None, :]
    bc = tl.load(dbc_ptr + grow[:, None] * N2 + cb[None, :], mask=mb, other=0.0)
    tl.store(dst + BO + cb[None, :], bc.to(ty), mask=mb)
    cp = tl.arange(0, BLOCK_P)
    pad = (cp < P) & ((cp < BO) | (cp >= BO + N2)) & ((cp < DO) | (cp >= DO + RP))
    tl.store(dst + cp[None, :], tl.zeros([BLOCK_M, BLOCK_P], dtype=ty), mask=mr[:, None] & pad[None, :])
    if ADD_DXC:
        lo_dt = acc.to(ty)  # d x_dbl as stored (rounded), the operands the baddbmm had
        lo_bc = bc.to(ty)
        xw = xw_ptr + d.to(tl.int64) * P * E
        for e0 in range(0, E, BLOCK_E):
            cols = e0 + tl.arange(0, BLOCK_E)
            mc = cols < E
            w_dt = tl.load(xw + (DO + kr[:, None]) * E + cols[None, :], mask=mk[:, None] & mc[None, :], other=0.0)
            w_bc = tl.load(xw + (BO + cb[:, None]) * E + cols[None, :], mask=(cb < N2)[:, None] & mc[None, :],
                           other=0.0)
            part = tl.dot(lo_dt, w_dt.to(ty), tl.dot(lo_bc, w_bc.to(ty)))
            ptr = dxc_ptr + grow[:, None] * E + cols[None, :]
            m2 = mr[:, None] & mc[None, :]
            cur = tl.load(ptr, mask=m2, other=0.0).to(tl.float32)
            tl.store(ptr, (cur + part).to(dxc_ptr.dtype.element_ty), mask=m2)
