#!/usr/bin/env python
"""The mixer backward's projection gradients at the tiny 64-frame shape, as cuBLAS ran them (v12: a bmm into a
temporary and two strided copies for d x_dbl, bmm weight gradients with K = B·L) against the Triton route
(``proj_grad.py``: one d x_dbl pass, rows-split weight gradients), alone and with x_proj's part of d xc (the
cuBLAS route's baddbmm against the d x_dbl pass's ADD_DXC), then tile sweeps (``--sweep``). Prints ms per call and
each result's largest difference to the cuBLAS route's (perf_notes v13, v17). The v13 sweep also timed x_proj's part
of d xc as a tensor-core dot inside the conv backward's dpre pass (since v18 the conv backward is one walk): 0.44 ms
against 0.11 + 0.23 (dropped)."""
import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tools" / "kernel_dev"))
from benchmark import time_steps  # noqa: E402
from scan_once import add_shape_args, scan_inputs  # noqa: E402
from videomamba.ops.triton import mixer  # noqa: E402


def rel(a, b):
    return ((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1e-30)).item()


def main():
    ap = argparse.ArgumentParser()
    add_shape_args(ap)
    ap.add_argument("--sweep", action="store_true", help="tilings of the three passes")
    a = ap.parse_args()
    bf, dev = torch.bfloat16, "cuda"
    p, xz, xc, x_dbl, _ = scan_inputs(a.dim, a.frames, a.batch, dev, bf)
    Bsz, L, E2 = xz.shape
    E, M, N2, P = E2 // 2, Bsz * L, 2 * p.N, p.P
    xc2 = xc.view(2, M, E)
    ddt = torch.randn(2, M, E, device=dev, dtype=bf)
    dbc = torch.randn(2, M, N2, device=dev)
    dxc0 = torch.randn(2, M, E, device=dev, dtype=bf)
    dxc = torch.empty_like(dxc0)

    cublas_proj = lambda: mixer._proj_grads_cublas(x_dbl, xc2, dbc, ddt, p)  # noqa: E731 (the v12 route)
    triton_proj = lambda: mixer._proj_grads(x_dbl, xc2, dbc, ddt, p)  # noqa: E731

    def with_dxc(route):  # d xc starts from the same values in both routes (the copy is paid by both)
        def run():
            dxc.copy_(dxc0)
            out = route(x_dbl, xc2, dbc, ddt, p, dxc)
            return (*out, dxc.clone())  # (the buffer is reused by the other route)
        return run

    def timed(name, fn, ref=None):
        out = fn()
        ms = time_steps(fn, 2, 10, min_time=0.3)[0] * 1e3
        diff = "" if ref is None else "  max rel diff " + " ".join(f"{rel(o, r):.1e}" for o, r in zip(out, ref))
        print(f"{name:44s} {ms:.4f} ms{diff}", flush=True)
        return out

    for r in range(a.rounds):
        timed(f"round {r} copy of d xc", lambda: dxc.copy_(dxc0))
        ref = timed(f"round {r} cuBLAS route: projections", cublas_proj)
        timed(f"round {r} Triton route: projections", triton_proj, ref)
        ref = timed(f"round {r} cuBLAS route + baddbmm into d xc", with_dxc(mixer._proj_grads_cublas))
        timed(f"round {r} Triton route adding into d xc", with_dxc(mixer._proj_grads), ref)
    if not a.sweep:
        return
    want = torch.bmm(xc2.transpose(1, 2).float(), xc2[..., :P].float())  # any (P, E) product: a = xc's first P cols
    for bm, be, nw, st in ((64, 128, 4, 3), (128, 128, 8, 3), (64, 64, 4, 3), (32, 128, 4, 4), (128, 64, 4, 3),
                           (64, 256, 8, 3)):
        for progs in (512, 1024, 2048):
            mixer.CONFIG.update(wg_block_m=bm, wg_block_e=be, wg_warps=nw, wg_stages=st, wg_programs=progs)
            timed(f"wgrad P={P} {bm}x{be} w{nw} s{st} programs {progs}", lambda: mixer._wgrad((xc2, xc2, P)),
                  (want.transpose(1, 2),))
    for bm, be, nw in ((64, 128, 4), (128, 128, 8), (32, 128, 4), (64, 64, 4), (128, 64, 4), (32, 256, 4)):
        mixer.CONFIG.update(xg_block_m=bm, xg_block_e=be, xg_warps=nw)
        timed(f"xdbl_grad {bm}x{be} w{nw}", lambda: mixer._proj_grads(x_dbl, xc2, dbc, ddt, p)[:1])


if __name__ == "__main__":
    main()
