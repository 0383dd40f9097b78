#!/usr/bin/env python
"""x_proj of both directions with an fp32 output (the scan reads B/C as fp32), three ways, at the tiny 64-frame
shape: the bf16 GEMM then a widening copy (what the mixer does), and cuBLAS with an fp32 output directly
(``out_dtype``), batched and per direction. Prints ms per call and checks the results agree."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmark import time_steps  # noqa: E402


def main(batch=8, frames=64, E=384, P=48):
    bl = batch * (frames * 196 + 1)
    xc = torch.randn(2, bl, E, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(2, P, E, device="cuda", dtype=torch.bfloat16) * E ** -0.5
    ways = {
        "bmm bf16 + float()": lambda: torch.bmm(xc, w.transpose(1, 2)).float(),
        "bmm out_dtype=fp32": lambda: torch.bmm(xc, w.transpose(1, 2), out_dtype=torch.float32),
        "mm out_dtype=fp32 x2": lambda: torch.stack([torch.mm(xc[i], w[i].t(), out_dtype=torch.float32)
                                                     for i in range(2)]),
    }
    ref = ways["bmm bf16 + float()"]()
    for name, fn in ways.items():
        try:
            out = fn()
            err = ((out - ref).abs().max() / ref.abs().max()).item()
            ms = time_steps(fn, 3, 20, min_time=0.5)[0] * 1e3
            print(f"{name:24s} {ms:.4f} ms  (max rel diff to the first {err:.1e})", flush=True)
        except Exception as e:  # an unsupported way is reported
            print(f"{name:24s} failed: {type(e).__name__}: {str(e)[:200]}", flush=True)


if __name__ == "__main__":
    main()
