#!/usr/bin/env python
"""Measured and dropped (docs/perf_notes.md, v8): a time-parallel forward scan, against the sequential kernel.

The sequential kernel (videomamba/ops/triton/scan.py) scans every segment but the last twice (LOCAL pass, then
main pass): two exponentials per state update. This prototype needs one. A program owns (batch b, direction
d, BLOCK_E channels) and all of its direction's steps; it walks tiles of ROWS·TC steps, row r of the tile (a
warp, or part of one) taking TC consecutive steps. For each state n (G at a time):

1. every thread scans its TC steps from a zero start, accumulating C_i·hl_i into y_i and keeping
   q_i = C_i ⊙ P_i (P_i = a_1 ⋯ a_i) in registers (one exponential per update);
2. the rows' totals (P, hl) are combined along the tile (``tl.associative_scan`` over the rows, through shared
   memory; the tile's start state folded into row 0); shifted by one row (``tl.gather``) they are every row's
   true start state H_r, and row ROWS-1's is the next tile's start state;
3. y_i += q_i · H_r (h is linear in the start state).

On an H200 (tiny, 64 frames, batch 8) it ran 3.4-6.1 ms against 1.14 ms for the sequential kernel, for every
tiling tried: 14-18 instructions per state update (SASS) instead of the 8 planned, 190-255 registers, and a
barrier per state group with only 8-16 warps per SM. Usage on the GPU:

    python tools/kernel_dev/tp_bench.py [--batch 8] [--tilings be:rows:tc:g,...|none] [--seg-lens 152,296 [--bwd]]

``--seg-lens`` times the sequential kernel at other segment lengths (CONFIG["seg_len"]) instead.
"""
import argparse
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmark import time_steps  # noqa: E402
from scan_once import add_shape_args, scan_inputs  # noqa: E402
from videomamba.ops.triton import mixer  # noqa: E402
from videomamba.ops.triton.scan import LOG2E, _sigmoid, _softplus  # noqa: E402


@triton.jit
def _combine(p1, h1, p2, h2):
    """(decay product, state) of two consecutive stretches, earlier one first."""
    return p1 * p2, h1 * p2 + h2


@triton.jit
def _pack(t, j0, G: tl.constexpr):
    """G states' [ROWS, BLOCK_E] tensors t[j0 .. j0+G-1] as one tensor (extra axes in-thread): one shared-memory
    round trip per scan or gather for all G states."""
    if G == 1:
        return t[j0]
    elif G == 2:
        return tl.join(t[j0], t[j0 + 1])
    else:
        return tl.join(tl.join(t[j0], t[j0 + 1]), tl.join(t[j0 + 2], t[j0 + 3]))


@triton.jit
def _unpack(v, G: tl.constexpr):
    if G == 1:
        return (v,)
    elif G == 2:
        a, b = tl.split(v)
        return (a, b)
    else:
        ab, cd = tl.split(v)
        a, b = tl.split(ab)
        c, d = tl.split(cd)
        return (a, b, c, d)


@triton.jit
def _load_g(ptr, G: tl.constexpr, FAST: tl.constexpr):
    """G consecutive fp32 (B or C of G states) at each pointer: one vector load on the GPU (the row offset is a
    multiple of G floats and rows are 16-byte aligned: the mixer's padded x_proj layout)."""
    if FAST and G == 4:
        return tl.inline_asm_elementwise("ld.global.nc.v4.f32 {$0, $1, $2, $3}, [$4];", "=f,=f,=f,=f,l", [ptr],
                                         dtype=(tl.float32, tl.float32, tl.float32, tl.float32), is_pure=True, pack=1)
    elif FAST and G == 2:
        return tl.inline_asm_elementwise("ld.global.nc.v2.f32 {$0, $1}, [$2];", "=f,=f,l", [ptr],
                                         dtype=(tl.float32, tl.float32), is_pure=True, pack=1)
    elif G == 1:
        return (tl.load(ptr),)
    elif G == 2:
        return (tl.load(ptr), tl.load(ptr + 1))
    else:
        return (tl.load(ptr), tl.load(ptr + 1), tl.load(ptr + 2), tl.load(ptr + 3))


@triton.jit
def _row_gather(v, r, G: tl.constexpr):
    """v's row r (an [ROWS, 1] index per row) for every row, on the packed tensor."""
    if G == 1:
        idx = tl.broadcast_to(r, v.shape)
    elif G == 2:
        idx = tl.broadcast_to(r[:, :, None], v.shape)
    else:
        idx = tl.broadcast_to(r[:, :, None, None], v.shape)
    return tl.gather(v, idx, axis=0)


@triton.jit(do_not_specialize=["one"])
def scan_tp_fwd_kernel(x_ptr, dt_ptr, bc_ptr, z_ptr, a_ptr, d_ptr, bias_ptr, y_ptr,
                       one, B, L, E, R, stride_bc, stride_z, stride_y,
                       N: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_E: tl.constexpr, ROWS: tl.constexpr,
                       TC: tl.constexpr, G: tl.constexpr, FAST: tl.constexpr = False):
    """y[b, t, d*E + e] = (<h_t, C_t> + D x_t) * silu(z_t) for both directions (see the module docstring).
    Token-major buffers and lanes along channels as in scan.py.

    Buffers as :func:`scan.scan_fwd_kernel`; ``a_ptr``: A as (2, E/BLOCK_E, BLOCK_N, BLOCK_E) state blocks."""
    pid_b = tl.program_id(0)
    n_eb = tl.cdiv(E, BLOCK_E)
    d = tl.program_id(1) // n_eb
    eb = tl.program_id(1) % n_eb
    rev = d == 1
    row = tl.arange(0, ROWS)[:, None]                            # [ROWS, 1]
    eo = eb * BLOCK_E + tl.arange(0, BLOCK_E)[None, :] + (one - 1)  # [1, BLOCK_E], alignment unknown
    mask_e = eo < E
    d_skip = tl.load(d_ptr + d * E + eo, mask=mask_e, other=0.0)
    bias = tl.load(bias_ptr + d * E + eo, mask=mask_e, other=0.0)
    a_row = a_ptr + (d * n_eb + eb) * BLOCK_N * BLOCK_E + (eo - eb * BLOCK_E)
    # 64-bit bases of this (direction, batch); 32-bit offsets within the batch
    xb = x_ptr + (d * B + pid_b).to(tl.int64) * L * E + eo
    dtb = dt_ptr + (d * B + pid_b).to(tl.int64) * L * E + eo
    bcb = bc_ptr + (d * B + pid_b).to(tl.int64) * L * stride_bc + R
    zb = z_ptr + pid_b.to(tl.int64) * L * stride_z + eo
    yb = y_ptr + pid_b.to(tl.int64) * L * stride_y + d * E + eo
    prev = tl.maximum(row - 1, 0)
    last = row * 0 + (ROWS - 1)
    TILE_T: tl.constexpr = ROWS * TC
    carry = ()
    for n in tl.static_range(N):
        carry = carry + (tl.zeros([ROWS, BLOCK_E], dtype=tl.float32),)
    for s0 in range(0, L, TILE_T):
        # the tile's per-step inputs; steps past the end read the last row with Δ = 0 (an identity step)
        dl = ()
        uu = ()
        yy = ()
        ob = ()
        for i in tl.static_range(TC):
            s = s0 + row * TC + i
            sc = tl.minimum(s, L - 1)
            t = tl.where(rev, L - 1 - sc, sc)
            x = tl.load(xb + t * E, mask=mask_e, other=0.0).to(tl.float32)
            dtr = tl.load(dtb + t * E, mask=mask_e, other=0.0).to(tl.float32)
            delta = tl.where(s < L, _softplus(dtr + bias, FAST), 0.0)
            dl = dl + (delta,)
            uu = uu + (delta * x,)
            yy = yy + (d_skip * x,)
            ob = ob + (t * stride_bc,)
        new_carry = ()
        for g in tl.static_range(N // G):
            qs = ()
            pe = ()
            he = ()
            hl = ()
            a2 = ()
            for j in tl.static_range(G):
                # (indices inline: Triton 3.6 turns a constexpr assigned to a name into a tensor)
                a2 = a2 + (tl.load(a_row + (g * G + j) * BLOCK_E) * LOG2E,)
                pe = pe + (tl.full([ROWS, BLOCK_E], 1.0, dtype=tl.float32),)
                hl = hl + (tl.zeros([ROWS, BLOCK_E], dtype=tl.float32),)
            for i in tl.static_range(TC):
                bv = _load_g(bcb + ob[i] + g * G, G, FAST)
                cv = _load_g(bcb + ob[i] + (N + g * G), G, FAST)
                y = yy[i]
                nh = ()
                npe = ()
                for j in tl.static_range(G):
                    a = tl.exp2(dl[i] * a2[j])
                    h = a * hl[j] + uu[i] * bv[j]
                    p = pe[j] * a
                    y += cv[j] * h          # the local part of <h_i, C_i>
                    qs = qs + (cv[j] * p,)  # its start-state weight, C_i ⊙ P_i
                    nh = nh + (h,)
                    npe = npe + (p,)
                hl = nh
                pe = npe
                yy = yy[:i] + (y,) + yy[i + 1:]
            he = ()
            for j in tl.static_range(G):
                he = he + (hl[j] + tl.where(row == 0, pe[j] * carry[g * G + j], 0.0),)
            _, h_inc = tl.associative_scan((_pack(pe, 0, G), _pack(he, 0, G)), 0, _combine)
            h_prev = _unpack(_row_gather(h_inc, prev, G), G)
            h_last = _unpack(_row_gather(h_inc, last, G), G)
            hr = ()
            for j in tl.static_range(G):
                hr = hr + (tl.where(row == 0, carry[g * G + j], h_prev[j]),)  # true start state of the row
                new_carry = new_carry + (h_last[j],)
            ny = ()
            for i in tl.static_range(TC):
                y = yy[i]
                for j in tl.static_range(G):
                    y += qs[i * G + j] * hr[j]
                ny = ny + (y,)
            yy = ny
        carry = new_carry
        for i in tl.static_range(TC):
            s = s0 + row * TC + i
            sc = tl.minimum(s, L - 1)
            t = tl.where(rev, L - 1 - sc, sc)
            z = tl.load(zb + t * stride_z, mask=mask_e, other=0.0).to(tl.float32)
            y = yy[i] * z * _sigmoid(z, FAST)
            tl.store(yb + t * stride_y, y.to(y_ptr.dtype.element_ty), mask=mask_e & (s < L))


def scan_tp_fwd(xc, dt, x_dbl, xz, p, y, block_e, rows, tc, g):
    """The prototype on the mixer's buffers (as mixer._scan_fwd for inference)."""
    _, Bsz, L, E = xc.shape
    while p.N % g:
        g //= 2
    n_eb = triton.cdiv(E, block_e)
    scan_tp_fwd_kernel[(Bsz, 2 * n_eb)](
        xc, dt, x_dbl, xz[..., E:], p.a_blocks(block_e), p.D, p.dt_b, y, 1, Bsz, L, E, p.b_off, x_dbl.stride(1),
        xz.stride(1), y.stride(1), N=p.N, BLOCK_N=triton.next_power_of_2(p.N), BLOCK_E=block_e, ROWS=rows, TC=tc,
        G=g, num_warps=max(1, rows * block_e // 32), FAST=mixer._fast())


# (block_e, rows, tc, g)
TILINGS = [(32, 8, 8, 4), (32, 8, 8, 2), (32, 4, 8, 4), (16, 16, 8, 4), (16, 8, 8, 4), (32, 8, 16, 2),
           (32, 16, 4, 4), (32, 4, 16, 4)]


def main():
    ap = argparse.ArgumentParser()
    add_shape_args(ap)
    ap.add_argument("--tilings", default=None, help="be:rows:tc:g,... ('none': sequential kernel only)")
    ap.add_argument("--seg-lens", default="", help="also time the sequential kernel at these CONFIG seg_len values")
    ap.add_argument("--bwd", action="store_true", help="with --seg-lens: also the inner backward on those segments")
    a = ap.parse_args()
    tilings = TILINGS if not a.tilings else [] if a.tilings == "none" else [
        tuple(int(v) for v in t.split(":")) for t in a.tilings.split(",")]
    dev, dt = "cuda", torch.bfloat16
    p, xz, xc, x_dbl, dtv = scan_inputs(a.dim, a.frames, a.batch, dev, dt)
    y_ref = torch.empty(*xz.shape, device=dev, dtype=dt)
    y = torch.empty_like(y_ref)

    def seq():
        mixer._scan_fwd(xc, dtv, x_dbl, xz, p, y_ref)

    def tp(t):
        return lambda: scan_tp_fwd(xc, dtv, x_dbl, xz, p, y, *t)

    seq()
    scale = y_ref.float().abs().max().item()
    for t in tilings:
        try:
            y.fill_(float("nan"))
            tp(t)()
            err = (y.float() - y_ref.float()).abs().max().item() / scale
            print(f"tiling {t}: max rel err vs sequential {err:.2e}", flush=True)
        except Exception as e:  # a tiling that does not compile is reported, not fatal
            print(f"tiling {t}: failed: {type(e).__name__}: {str(e)[:200]}", flush=True)
            tilings = [u for u in tilings if u != t]
    for r in range(a.rounds):
        ms = time_steps(seq, 2, 10)[0] * 1e3
        print(f"round {r} sequential (LOCAL + main): {ms:.3f} ms", flush=True)
        for seg_len in filter(None, a.seg_lens.split(",")):
            old = mixer.CONFIG["seg_len"]
            mixer.CONFIG["seg_len"] = int(seg_len)
            ms_t = time_steps(seq, 2, 10)[0] * 1e3
            extra = ""
            if a.bwd:  # the training backward, which reuses the forward's segments (saved start states)
                seg, n_seg, _, h0 = mixer._scan_fwd(xc, dtv, x_dbl, xz, p, y_ref, save_h0=True)
                g = xz[..., :2 * a.dim]
                kept = mixer.Kept(h0, seg, x_dbl)
                ms_b = time_steps(lambda: mixer.inner_backward(xz, p, g, dt, kept=kept), 1, 5)[0] * 1e3
                extra = f"; {n_seg} segments, inner backward {ms_b:.3f} ms"
            mixer.CONFIG["seg_len"] = old
            print(f"round {r} sequential, seg_len {seg_len}: {ms_t:.3f} ms  ({ms / ms_t:.2f}x){extra}", flush=True)
        for t in tilings:
            ms_t = time_steps(tp(t), 2, 10)[0] * 1e3
            print(f"round {r} tp be={t[0]} rows={t[1]} tc={t[2]} g={t[3]}: {ms_t:.3f} ms  ({ms / ms_t:.2f}x)",
                  flush=True)


if __name__ == "__main__":
    main()
