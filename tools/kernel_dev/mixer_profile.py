#!/usr/bin/env python
"""Per-layer timings of the triton mixer pieces at one shape (default: tiny, 64 frames, batch 8) and a tile
sweep; prints the byte/FLOP floor next to each (see docs/perf_notes.md)."""
import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmark import time_steps  # noqa: E402
from videomamba.models import BiMamba  # noqa: E402
from videomamba.ops.triton import add_norm_triton, mixer  # noqa: E402


def bench(fn, reps=10):
    """Milliseconds per call after one warm-up call (the benchmark tool's CUDA-event timer)."""
    return time_steps(fn, 1, reps)[0] * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--kernels", action="store_true", help="per-kernel CUDA times of one forward and one backward")
    ap.add_argument("--fwd-layouts", action="store_true",
                    help="forward scan time by channels per program and segment count (1 segment = no LOCAL pass)")
    ap.add_argument("--bc-pad", type=int, choices=(0, 1), default=None,
                    help="override CONFIG['bc_pad'] (x_proj output [B | C | δ_low | pad], 16-byte vector loads)")
    a = ap.parse_args()
    if a.bc_pad is not None:
        mixer.CONFIG["bc_pad"] = bool(a.bc_pad)
    print(f"CONFIG {mixer.CONFIG}")
    torch.backends.cuda.matmul.allow_tf32 = True
    dev = "cuda"
    L = a.frames * 196 + 1
    x = torch.empty(1 << 28, device=dev, dtype=torch.uint8)
    y = torch.empty_like(x)
    ms = bench(lambda: y.copy_(x))
    bw = 2 * x.numel() / ms / 1e6
    print(f"copy bandwidth {bw:.0f} GB/s")
    del x, y
    m = BiMamba(a.dim, backend="triton").to(dev)
    h = torch.randn(a.batch, L, a.dim, device=dev, dtype=torch.bfloat16, requires_grad=True)
    res = torch.randn(a.batch, L, a.dim, device=dev)
    w = torch.ones(a.dim, device=dev, requires_grad=True)
    ac = torch.autocast("cuda", dtype=torch.bfloat16)
    tok, E = a.batch * L, 2 * a.dim

    def fwd():
        with torch.no_grad(), ac:
            m(h)

    def fwd_bwd():
        with ac:
            o = m(h)
        o.backward(torch.ones_like(o))

    def norm_fb():
        yy, s = add_norm_triton(h, w, None, res, 1e-5, True, True)
        torch.autograd.backward([yy, s], [torch.ones_like(yy), torch.ones_like(s)])

    print(f"tokens {tok}, E {E}: mixer fwd {bench(fwd):.3f} ms, fwd+bwd {bench(fwd_bwd):.3f} ms, "
          f"add_norm fwd+bwd {bench(norm_fb):.3f} ms")
    xz = torch.randn(a.batch, L, 2 * E, device=dev, dtype=torch.bfloat16)
    p = mixer._Params(m.direction_params(False), m.direction_params(True), torch.bfloat16)
    xc = mixer._conv_fwd(xz, p, torch.bfloat16)
    x_dbl, dt = mixer._projections(xc, p)
    yb = torch.empty(a.batch, L, 2 * E, device=dev, dtype=torch.bfloat16)
    t_conv = bench(lambda: mixer._conv_fwd(xz, p, torch.bfloat16))
    t_proj = bench(lambda: mixer._projections(xc, p))
    t_scan = bench(lambda: mixer._scan_fwd(xc, dt, x_dbl, xz, p, yb))
    scan_bytes = tok * E * 2 * (2 + 2 + 1 + 1)  # x, dt per direction, z (read twice), y
    print(f"conv {t_conv:.3f} ms (floor {tok * E * 2 * 3 / bw / 1e6:.3f}); projections {t_proj:.3f} ms; "
          f"scan fwd {t_scan:.3f} ms (byte floor {scan_bytes / bw / 1e6:.3f})")
    t_bwd = bench(lambda: mixer.inner_backward(xz, p, xz[..., :E], torch.bfloat16))
    seg, _, _, h0 = mixer._scan_fwd(xc, dt, x_dbl, xz, p, yb, save_h0=True)
    kept0 = mixer.Kept(h0, seg, x_dbl)
    t_bwd0 = bench(lambda: mixer.inner_backward(xz, p, xz[..., :E], torch.bfloat16, kept=kept0))
    print(f"inner backward (recompute + scan bwd + GEMMs + conv bwd) {t_bwd:.3f} ms; with the forward's kept "
          f"state (segment start states, x_proj output) {t_bwd0:.3f} ms")
    if a.kernels:
        from torch.profiler import ProfilerActivity, profile
        for name, fn in (("mixer fwd+bwd", fwd_bwd), ("inner backward", lambda: mixer.inner_backward(
                xz, p, xz[..., :E], torch.bfloat16))):
            fn()
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                fn()
                torch.cuda.synchronize()
            print(f"--- {name}: kernels by CUDA time")
            print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=60))
    if a.fwd_layouts:
        base = dict(mixer.CONFIG)
        one_seg = -(-L // mixer.CONFIG["seg_align"]) * mixer.CONFIG["seg_align"]
        for be, sl, un, lu in [(32, None, 2, 2), (32, None, 2, 4), (32, None, 2, 8), (32, None, 2, 1),
                               (32, 296, 2, 4), (16, None, 2, 2), (16, one_seg, 2, 2), (32, one_seg, 2, 2)]:
            mixer.CONFIG.update(fwd_unroll=un, local_unroll=lu, seg=sl)
            seg, n_seg = mixer._segments(a.batch, L, E, be)
            t = bench(lambda: mixer._scan_fwd(xc, dt, x_dbl, xz, p, yb, block_e=be), 5)
            print(f"fwd layout block_e={be} segments={n_seg} unroll={un} local unroll={lu}: {t:.3f} ms")
        mixer.CONFIG.update(base)
    if a.sweep:
        base = dict(mixer.CONFIG)
        for sl, un, mr in [(152, 2, 128), (152, 4, 128), (296, 2, 128), (152, 2, 96)]:
            mixer.CONFIG.update(seg_len=sl, fwd_unroll=un, fwd_maxnreg=mr)
            t = bench(lambda: mixer._scan_fwd(xc, dt, x_dbl, xz, p, yb), 5)
            print(f"fwd seg_len={sl} unroll={un} maxnreg={mr}: {t:.3f} ms")
        mixer.CONFIG.update(base)
        for u, g_mr, b_mr in [(4, None, None), (2, None, None), (4, 168, None), (4, 128, None), (4, None, 128),
                              (4, None, 96)]:
            mixer.CONFIG.update(grad_unroll=u, grad_maxnreg=g_mr, bwd_maxnreg=b_mr)
            sg, _, _, hh = mixer._scan_fwd(xc, dt, x_dbl, xz, p, yb, save_h0=True)
            kept = mixer.Kept(hh, sg, x_dbl)
            t = bench(lambda: mixer.inner_backward(xz, p, xz[..., :E], torch.bfloat16, kept=kept), 3)
            print(f"bwd (saved starts) grad_unroll={u} grad_maxnreg={g_mr} bwd_maxnreg={b_mr}: {t:.3f} ms")
        mixer.CONFIG.update(base)


if __name__ == "__main__":
    main()
