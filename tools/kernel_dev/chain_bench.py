#!/usr/bin/env python
"""Prototype (perf_notes v14): one warp walks a whole chain (batch, direction, CPW channels), the N states of a
channel split over N/SPL lanes, so no time segments are needed: no LOCAL pass, no carries. Timed against the
segmented forward passes (LOCAL and main) on the same inputs; checked against the reference scan.

The prototype only walks the state (like the LOCAL pass) and writes the chain's end state: the question is
whether a walk at one warp per CPW channels (768 warps at tiny, batch 8) is fast enough for latency-bound loops.

    python tools/kernel_dev/chain_bench.py [--dim 192 --frames 64 --batch 8] [--cpw 8,16]
    TRITON_INTERPRET=1 python tools/kernel_dev/chain_bench.py --device cpu --dim 16 --frames 1 --batch 2
"""
import argparse
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tools" / "kernel_dev"))
from ablate import Capture  # noqa: E402
from benchmark import time_steps  # noqa: E402
from scan_once import add_shape_args, scan_inputs  # noqa: E402
from videomamba.ops import selective_scan_ref  # noqa: E402
from videomamba.ops.triton import mixer  # noqa: E402
from videomamba.ops.triton.fastmath import LOG2E, softplus  # noqa: E402


@triton.jit
def _chain_loads(px, pdt, pbc, zero, k0, L, SGN: tl.constexpr, E: tl.constexpr, SBC: tl.constexpr, U: tl.constexpr):
    ld = ()
    for u in tl.static_range(U):
        ok = (zero + k0 + u) < L
        ld = ld + ((tl.load(px + u * SGN * E, mask=ok, other=0.0), tl.load(pdt + u * SGN * E, mask=ok, other=0.0),
                    tl.load(pbc + u * SGN * SBC), ok),)
    return ld


@triton.jit
def _chain_walk(h, px, pdt, pbc, a2, bias, zero, L, REV: tl.constexpr, E: tl.constexpr, SBC: tl.constexpr,
                U: tl.constexpr, FAST: tl.constexpr, PF: tl.constexpr, SP: tl.constexpr):
    """PF: the next group's loads are issued before this group's math (one group ahead); else each group loads
    and then waits on its own loads (v14's prototype). B rows past the chain's end are read unmasked: Δ = 0 there
    and the caller pads the buffer."""
    SGN: tl.constexpr = -1 if REV else 1
    nxt = _chain_loads(px, pdt, pbc, zero, 0, L, SGN, E, SBC, U)
    for k0 in range(0, L, U):
        cur = nxt if PF else _chain_loads(px, pdt, pbc, zero, k0, L, SGN, E, SBC, U)
        px += U * SGN * E
        pdt += U * SGN * E
        pbc += U * SGN * SBC
        if PF:
            nxt = _chain_loads(px, pdt, pbc, zero, k0 + U, L, SGN, E, SBC, U)
        for u in tl.static_range(U):
            x, dt, bt, ok = cur[u]
            if SP:
                delta = tl.where(ok, softplus(dt.to(tl.float32) + bias, FAST), 0.0)
            else:  # Δ given (a dt_proj pass that applies bias and softplus): timing only
                delta = dt.to(tl.float32)
            h = tl.exp2(a2 * delta[None, :]) * h + bt * (delta * x.to(tl.float32))[None, :]
    return h


@triton.jit
def chain_local_kernel(x_ptr, dt_ptr, bc_ptr, a_ptr, bias_ptr, h_ptr, B, L, E: tl.constexpr, SBC: tl.constexpr,
                       N: tl.constexpr, CPW: tl.constexpr, SPL: tl.constexpr, U: tl.constexpr, FAST: tl.constexpr,
                       PF: tl.constexpr = False, SP: tl.constexpr = True):
    """Program (b, direction d, block of CPW channels): lane j holds channel eb·CPW + j // (N/SPL) and its states
    (j % (N/SPL))·SPL + r, r < SPL, as an [SPL, 32] tile whose rows are contiguous in memory (B_t, A: 16-byte
    vectors). Writes the end state h_L (2, B, E, N) from a zero start."""
    LPC: tl.constexpr = N // SPL  # lanes per channel
    pid_b = tl.program_id(0)
    n_eb = E // CPW
    d = tl.program_id(1) // n_eb
    eb = tl.program_id(1) % n_eb
    j = tl.arange(0, CPW * LPC)
    ch = eb * CPW + j // LPC
    n = (j % LPC)[None, :] * SPL + tl.arange(0, SPL)[:, None]  # [SPL, lanes]
    a2 = tl.load(a_ptr + (d * E + ch)[None, :] * N + n) * LOG2E
    bias = tl.load(bias_ptr + d * E + ch)
    h = tl.zeros([SPL, CPW * LPC], dtype=tl.float32)
    row0 = tl.where(d == 1, L - 1, 0)
    base = (pid_b * L + row0).to(tl.int64)
    px = x_ptr + d.to(tl.int64) * B * L * E + base * E + ch
    pdt = dt_ptr + d.to(tl.int64) * B * L * E + base * E + ch
    pbc = bc_ptr + d.to(tl.int64) * B * L * SBC + base * SBC + n
    if d == 1:
        h = _chain_walk(h, px, pdt, pbc, a2, bias, ch * 0, L, True, E, SBC, U, FAST, PF, SP)
    else:
        h = _chain_walk(h, px, pdt, pbc, a2, bias, ch * 0, L, False, E, SBC, U, FAST, PF, SP)
    tl.store(h_ptr + ((d * B + pid_b) * E + ch)[None, :] * N + n, h)


def chain_end_states(xc, dt, x_dbl, p, cpw, spl, u, pf=False, sp=True):
    _, Bsz, L, E = xc.shape
    N = p.N
    assert p.b_off == 0 and E % cpw == 0 and (N // spl) * cpw == 32, "prototype: B at column 0, one warp per program"
    h = torch.empty(2, Bsz, E, N, device=xc.device, dtype=torch.float32)
    A = p.A.contiguous()  # (2, E, N)
    chain_local_kernel[(Bsz, 2 * E // cpw)](xc, dt, x_dbl, A, p.dt_b, h, Bsz, L, E=E, SBC=x_dbl.stride(1), N=N,
                                             CPW=cpw, SPL=spl, U=u, FAST=mixer._fast(), PF=pf, SP=sp,
                                             num_warps=1)
    return h


def end_states_ref(xc, dt, x_dbl, p):
    """(2, B, E, N) end states from a zero start: the package's reference scan per direction (the backward one on
    the time-reversed sequence)."""
    _, Bsz, L, E = xc.shape
    out = []
    for d in range(2):
        u = xc[d].transpose(1, 2).float()  # (B, E, L)
        delta = dt[d].view(Bsz, L, E).transpose(1, 2).float()
        bm = x_dbl[d].view(Bsz, L, -1)[..., p.b_off:p.b_off + p.N].transpose(1, 2).float()  # (B, N, L)
        if d == 1:
            u, delta, bm = (t.flip(-1) for t in (u, delta, bm))
        _, h = selective_scan_ref(u, delta, p.A[d], bm, bm, delta_bias=p.dt_b[d], delta_softplus=True,
                                  return_last_state=True)
        out.append(h)
    return torch.stack(out)


def local_pass(xc, dt, x_dbl, xz, p):
    """The segmented forward's LOCAL launch alone, captured from a real ``mixer._scan_fwd`` call (its first launch
    when there are several segments): (a callable that relaunches it, the segment count)."""
    cap = Capture(mixer.scan_fwd_kernel)
    mixer.scan_fwd_kernel = cap
    try:
        mixer._scan_fwd(xc, dt, x_dbl, xz, p, torch.empty(*xz.shape, device=xz.device, dtype=xz.dtype))
    finally:
        mixer.scan_fwd_kernel = cap.kernel
    grid, args, kw = cap.calls[0]
    assert kw["LOCAL"], "one segment: there is no LOCAL pass to compare with"
    return (lambda: cap.kernel[grid](*args, **kw)), grid[2] + 1


def main():
    ap = argparse.ArgumentParser()
    add_shape_args(ap)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--cpw", default="8,16", help="channels per warp (32 / lanes per channel)")
    ap.add_argument("--unroll", default="2,4")
    ap.add_argument("--nosp", action="store_true", help="also time each config with Δ given (no softplus)")
    ap.add_argument("--pf", default="0", help="comma list of 0/1: the next load group issued a group ahead")
    a = ap.parse_args()
    cuda = a.device == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    p, xz, xc, x_dbl, dt = scan_inputs(a.dim, a.frames, a.batch, a.device, dtype)
    N = p.N
    check = None if cuda else end_states_ref(xc, dt, x_dbl, p)
    y = torch.empty(*xz.shape, device=a.device, dtype=dtype)
    fwd = lambda: mixer._scan_fwd(xc, dt, x_dbl, xz, p, y)  # noqa: E731  LOCAL + carry + main
    loc, n_seg = local_pass(xc, dt, x_dbl, xz, p)
    for cpw in map(int, a.cpw.split(",")):
        spl = N * cpw // 32
        for u, pf in [(u, pf) for u in map(int, a.unroll.split(",")) for pf in map(int, a.pf.split(","))]:
            h = chain_end_states(xc, dt, x_dbl, p, cpw, spl, u, bool(pf))
            if check is not None:
                err = ((h - check).abs().max() / check.abs().max()).item()
                print(f"cpw {cpw} (states per lane {spl}), unroll {u}, pf {pf}: max rel. err. vs "
                      f"selective_scan_ref {err:.2e}")
                assert err < 1e-4
        if cuda:
            for r in range(a.rounds):
                t_loc = time_steps(loc, 2, 10, min_time=0.5)[0] * 1e3
                t_fwd = time_steps(fwd, 2, 10, min_time=0.5)[0] * 1e3
                row = [f"round {r}: segmented LOCAL {t_loc:.3f} ms ({n_seg - 1} segments), LOCAL+carry+main "
                       f"{t_fwd:.3f} ms"]
                for u in map(int, a.unroll.split(",")):
                    for pf in map(int, a.pf.split(",")):
                        t = time_steps(lambda: chain_end_states(xc, dt, x_dbl, p, cpw, spl, u, bool(pf)), 2, 10,
                                       min_time=0.5)[0] * 1e3
                        row.append(f"chain cpw {cpw} U {u} pf {pf}: {t:.3f} ms")
                        if a.nosp:
                            t = time_steps(lambda: chain_end_states(xc, dt, x_dbl, p, cpw, spl, u, bool(pf), False),
                                           2, 10, min_time=0.5)[0] * 1e3
                            row.append(f"(no softplus {t:.3f})")
                print(" | ".join(row), flush=True)


if __name__ == "__main__":
    main()
