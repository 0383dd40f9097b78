#!/usr/bin/env python
"""The conv walks of one mixer at the tiny 64-frame shape (conv.py): the forward (x → both directions' SiLU(conv))
and the backward (d xc → dx, dw, db), each next to its byte floor at the copy bandwidth measured in the same run.
``--sweep`` times their tilings (rows per program, channels:warps per program, rows per load group). The v18 A/B
against the tile passes they replaced (forward 0.091 → 0.070 ms, backward 0.349 → 0.146 ms, both in one process
while the two coexisted behind a switch) is in docs/bench/v18_conv_walk_sweep*.log."""
import argparse
import itertools
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


def main():
    ap = argparse.ArgumentParser()
    add_shape_args(ap)
    ap.add_argument("--sweep", action="store_true", help="the walks' tilings")
    ap.add_argument("--rows", default="64,128,256", help="sweep: rows per program")
    ap.add_argument("--blocks", default="64:1,64:2,128:1,128:2,256:1,256:2", help="sweep: channels:warps per program")
    ap.add_argument("--unrolls", default="2,4", help="sweep: rows per load group")
    ap.add_argument("--passes", default="conv,conv_bwd", help="sweep: conv (forward walk), conv_bwd (backward walk)")
    a = ap.parse_args()
    bf, dev = torch.bfloat16, "cuda"
    p, xz, _, _, _ = scan_inputs(a.dim, a.frames, a.batch, dev, bf)
    Bsz, L, E2 = xz.shape
    E = E2 // 2
    n = Bsz * L * E * 2  # bytes of one (B, L, E) bf16 tensor
    src = torch.empty(64 << 20, dtype=torch.uint8, device=dev)
    dst = torch.empty_like(src)
    bw = 2 * src.numel() / time_steps(lambda: dst.copy_(src), 3, 20, min_time=0.3)[0]
    print(f"copy bandwidth {bw / 1e12:.2f} TB/s; tokens {Bsz * L}, E {E}", flush=True)
    dxc = torch.randn(2, Bsz, L, E, device=dev, dtype=bf)
    dxz = torch.empty(Bsz, L, E2, device=dev, dtype=bf)

    def fwd():
        return mixer._conv_fwd(xz, p, bf)

    def bwd():
        return mixer._conv_bwd(xz, dxc, p, dxz)

    def ms(f):
        return time_steps(f, 3, 20, min_time=0.3)[0] * 1e3

    # bytes: x in, both directions out; x and both directions' d xc in, dx out
    print(f"conv fwd {ms(fwd):.4f} ms (floor {3 * n / bw * 1e3:.4f}), conv bwd {ms(bwd):.4f} ms "
          f"(floor {4 * n / bw * 1e3:.4f})", flush=True)
    if a.sweep:
        base = dict(mixer.CONFIG)
        ints = lambda s: [int(v) for v in s.split(",")]  # noqa: E731
        blocks = [tuple(ints(b.replace(":", ","))) for b in a.blocks.split(",")]
        for pre, f in (("conv", fwd), ("conv_bwd", bwd)):
            if pre not in a.passes.split(","):
                continue
            for rows, (be, nw), u in itertools.product(ints(a.rows), blocks, ints(a.unrolls)):
                mixer.CONFIG.update({f"{pre}_rows": rows, f"{pre}_block_e": be, f"{pre}_unroll": u,
                                     f"{pre}_warps": nw})
                try:
                    print(f"{pre} rows={rows} block_e={be} U={u} warps={nw}: {ms(f):.4f} ms", flush=True)
                except Exception as e:  # noqa: BLE001 (a tiling that does not compile is reported, not fatal)
                    print(f"{pre} rows={rows} block_e={be} U={u} warps={nw}: failed ({type(e).__name__})")
            mixer.CONFIG.clear()
            mixer.CONFIG.update(base)


if __name__ == "__main__":
    main()
