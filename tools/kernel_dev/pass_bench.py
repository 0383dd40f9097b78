#!/usr/bin/env python
"""The light elementwise passes of one mixer at the tiny 64-frame shape: the gate backward, timed with the MUFU
sigmoid (FAST) and with Triton's exact one, optionally against the same kernel of another tree (``--old DIR``: a
copy of an older ``videomamba/``, e.g. from ``git archive REV videomamba | tar -x -C DIR``), in one process, next to
its byte floor at the copy bandwidth measured in the same run; then dt_proj (cast + cuBLAS vs ``dt_proj_kernel``'s
tilings). Prints ms per call and the largest difference of each variant's output to the first one's. The conv
passes have their own tool (conv_bench.py) since they became row walks (perf_notes v18)."""
import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tools" / "kernel_dev"))
from benchmark import time_steps  # noqa: E402
from scan_once import add_shape_args, import_copy, scan_inputs  # noqa: E402
from videomamba.ops.triton import elementwise  # noqa: E402


def load_tree(root):
    """The elementwise module of another tree, imported from a copy in its root (old_elementwise); its relative
    imports resolve to this tree's modules (fastmath)."""
    name = "elementwise"
    return {name: import_copy((Path(root) / "videomamba/ops/triton" / f"{name}.py").read_text(),
                              Path(root) / f"old_{name}.py")}


def takes_fast(kernel):
    return "FAST" in kernel.arg_names


def main():
    ap = argparse.ArgumentParser()
    add_shape_args(ap)
    ap.add_argument("--old", default=None, help="root of another tree whose elementwise kernels to time too")
    ap.add_argument("--passes", default="gate_bwd,dt_proj", help="which to time")
    a = ap.parse_args()
    bf, dev = torch.bfloat16, "cuda"
    p, xz, xc, _, _ = scan_inputs(a.dim, a.frames, a.batch, dev, bf)
    Bsz, L, E2 = xz.shape
    E, M = E2 // 2, Bsz * xz.shape[1]
    n = M * E * 2  # bytes of one (B, L, E) bf16 tensor
    src = torch.empty(64 << 20, dtype=torch.uint8, device=dev)
    dst = torch.empty_like(src)
    bw = 2 * src.numel() / time_steps(lambda: dst.copy_(src), 3, 20, min_time=0.3)[0]
    print(f"copy bandwidth {bw / 1e12:.2f} TB/s; tokens {M}, E {E}", flush=True)

    trees = {"new": dict(elementwise=elementwise)}
    if a.old:
        trees["old"] = load_tree(a.old)
    ypre = torch.randn(Bsz, L, 2 * E, device=dev, dtype=bf)
    g = torch.randn(Bsz, L, E, device=dev, dtype=bf)

    def gate(m, fast):
        dxz = torch.empty(Bsz, L, 2 * E, dtype=bf, device=dev)
        y = torch.empty(Bsz, L, E, dtype=bf, device=dev)
        z = xz[..., E:]
        kw = dict(FAST=fast) if takes_fast(m["elementwise"].gate_bwd_kernel) else {}

        def run():
            m["elementwise"].gate_bwd_kernel[(-(-M // 32), -(-E // 128))](
                ypre, g, z, dxz[..., E:], y, M, E, ypre.stride(1), g.stride(1), xz.stride(1), dxz.stride(1),
                y.stride(1), BLOCK_M=32, BLOCK_E=128, num_warps=4, **kw)
            return y
        return run

    # bytes the pass must move: gate reads ypre (2), g, z, writes dz, y
    passes = dict(gate_bwd=(gate, 6 * n))
    for r in range(a.rounds):
        for name, (make, nbytes) in passes.items():
            if name not in a.passes.split(","):
                continue
            first = None
            for tree, m in trees.items():
                for fast in (True, False):
                    fn = make(m, fast)
                    out = fn().float()
                    ms = time_steps(fn, 2, 10, min_time=0.3)[0] * 1e3
                    diff = 0.0 if first is None else ((out - first).abs().max() / first.abs().max()).item()
                    first = out if first is None else first
                    print(f"round {r} {name:9s} {tree} fast={int(fast)}: {ms:.4f} ms  (floor {nbytes / bw * 1e3:.4f};"
                          f" max rel diff {diff:.1e})", flush=True)
    # dt_proj (half precision): δ_low cast + cuBLAS bmm (the route before v12) against dt_proj_kernel's tilings
    from videomamba.ops.triton import mixer
    x_dbl = torch.randn(2, M, p.P, device=dev)
    low = x_dbl[..., p.dt_off:p.dt_off + p.Rp]
    want = torch.bmm(low.to(bf), p.dt_w.transpose(1, 2))

    def cast_bmm():
        return torch.bmm(low.to(bf), p.dt_w.transpose(1, 2))

    def dt_kernel(bm, be, nw):
        out = torch.empty(2, M, E, dtype=bf, device=dev)

        def run():
            mixer.dt_proj_kernel[(-(-M // bm), -(-E // be), 2)](
                low, p.dt_w, out, M, E, x_dbl.stride(0), S_SRC=p.P, RP=p.Rp, BLOCK_M=bm, BLOCK_E=be,
                BLOCK_K=max(16, mixer.next_pow2(p.Rp)), num_warps=nw)
            return out
        return run

    floor = (2 * n + 2 * M * p.Rp * 4) / bw * 1e3
    for r in range(a.rounds if "dt_proj" in a.passes.split(",") else 0):
        ways = [("cast + bmm", cast_bmm)] + [(f"kernel {bm}x{be} w{nw}", dt_kernel(bm, be, nw)) for bm, be, nw in
                                            ((64, 128, 4), (128, 128, 4), (128, 128, 8), (64, 256, 4), (32, 128, 4),
                                             (128, 64, 4), (64, 64, 2))]
        for name, fn in ways:
            out = fn().float()
            ms = time_steps(fn, 2, 10, min_time=0.3)[0] * 1e3
            diff = ((out - want.float()).abs().max() / want.float().abs().max()).item()
            print(f"round {r} dt_proj {name:18s}: {ms:.4f} ms  (floor {floor:.4f}; max rel diff to bmm {diff:.1e})",
                  flush=True)

if __name__ == "__main__":
    main()
