#!/usr/bin/env python
"""Can a layer's backward recompute (in_proj GEMM, conv, dt_proj: ≈ 0.19 ms per layer at tiny, 64 frames, batch 8)
hide behind another layer's inner backward if it runs on a second stream? The recompute needs only what the forward
saved, so the mixer could issue it for the next layer to come while this one's walks run. This tool times, in one
process: the inner backward alone (A), the recompute alone (B), and both issued together: on two streams of equal
priority, and with the inner backward on a high-priority stream (the recompute then only takes what the walks leave
idle). Measured (perf_notes v21): together ≈ A + B in both cases; the walks keep every SM's register file full.
Usage on the GPU: ``python tools/kernel_dev/overlap_bench.py [--rounds 2]``."""
import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tools" / "kernel_dev"))
from benchmark import time_steps  # noqa: E402
from scan_once import add_shape_args, scan_inputs  # noqa: E402
from videomamba.ops.triton import mixer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    add_shape_args(ap)
    a = ap.parse_args()
    bf = torch.bfloat16
    p, xz, xc, x_dbl, dt = scan_inputs(a.dim, a.frames, a.batch)
    E = xz.shape[-1] // 2
    B, L = xz.shape[:2]
    y = torch.empty(*xz.shape, device="cuda", dtype=bf)
    seg, _, _, h0 = mixer._scan_fwd(xc, dt, x_dbl, xz, p, y, save_h0=True)
    kept = mixer.Kept(h0, seg, x_dbl)
    g = torch.randn(B, L, E, device="cuda", dtype=bf)
    h = torch.randn(B, L, a.dim, device="cuda", dtype=bf)  # another layer's saved mixer input
    w_in = torch.randn(2 * E, a.dim, device="cuda", dtype=bf) * a.dim ** -0.5
    low, high = torch.cuda.Stream.priority_range()
    side, fast = torch.cuda.Stream(priority=low), torch.cuda.Stream(priority=high)

    def inner():
        mixer.inner_backward(xz, p, g, bf, kept=kept)

    def recompute():
        xc2 = mixer._conv_fwd(F.linear(h, w_in), p, bf)
        mixer._projections(xc2, p, x_dbl)

    def together(main_stream):
        def step():
            cur = torch.cuda.current_stream()
            for s in (main_stream, side):
                s.wait_stream(cur)
            with torch.cuda.stream(side):
                recompute()
            with torch.cuda.stream(main_stream):
                inner()
            for s in (main_stream, side):
                cur.wait_stream(s)
        return step

    print(f"stream priorities: low {low}, high {high}", flush=True)
    for r in range(a.rounds):
        t = {name: time_steps(fn, 2, 10, min_time=0.5)[0] * 1e3 for name, fn in
             (("inner", inner), ("recompute", recompute), ("same priority", together(torch.cuda.current_stream())),
              ("inner at high priority", together(fast)))}
        alone = t["inner"] + t["recompute"]
        print(f"round {r}: inner backward {t['inner']:.3f} ms, recompute {t['recompute']:.3f} ms (sum {alone:.3f}); "
              + "; ".join(f"together, {k}: {t[k]:.3f} ms ({t[k] - alone:+.3f})"
                          for k in ("same priority", "inner at high priority")), flush=True)


if __name__ == "__main__":
    main()
