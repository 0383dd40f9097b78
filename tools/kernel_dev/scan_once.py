#!/usr/bin/env python
"""One forward scan (LOCAL + main launches) and one inner backward at the tiny 64-frame shape, for a profiler
(`ncu --kernel-name regex:scan_|adjoint ... python tools/kernel_dev/scan_once.py`). Warm-up first, so the
profiled launches are not the compiling ones."""
import importlib.util
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from videomamba.models import BiMamba  # noqa: E402
from videomamba.ops.triton import mixer  # noqa: E402


def add_shape_args(ap):
    """The shape and repetition options shared by the kernel_dev timing tools (defaults: tiny, 64 frames, batch 8)."""
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)


def import_copy(src, path):
    """Import the source text ``src`` of a videomamba/ops/triton module as a module of its own, written to ``path``
    (its stem is the module's name). The copy lives outside the package, so its relative imports become absolute:
    they resolve to this tree's modules (e.g. fastmath). Shared by ablate.py and pass_bench.py."""
    path = Path(path)
    path.write_text(src.replace("from .", "from videomamba.ops.triton."))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def scan_inputs(dim=192, frames=64, batch=8, device="cuda", dtype=torch.bfloat16):
    """A fresh mixer's stacked parameters and the scan's inputs at a video shape (frames·196 + 1 tokens):
    (p, xz, xc, x_dbl, dt), as the triton mixer builds them. Shared by the kernel_dev tools."""
    L, E = frames * 196 + 1, 2 * dim
    m = BiMamba(dim, backend="triton").to(device)
    with torch.no_grad():
        p = mixer._Params(m.direction_params(False), m.direction_params(True), dtype)
    xz = torch.randn(batch, L, 2 * E, device=device, dtype=dtype)
    xc = mixer._conv_fwd(xz, p, dtype)
    x_dbl, dt = mixer._projections(xc, p)
    return p, xz, xc, x_dbl, dt


def main(dim=192, frames=64, batch=8):
    bf = torch.bfloat16
    p, xz, xc, x_dbl, dt = scan_inputs(dim, frames, batch)
    E = 2 * dim
    y = torch.empty(*xz.shape, device="cuda", dtype=bf)
    for _ in range(2):  # the first round compiles; ncu's --launch-skip passes over it
        # as in training: LOCAL + main pass keeping the segment start states, then the backward's forward-time
        # pass and reverse walk (4 scan launches a round)
        seg, _, _, h0 = mixer._scan_fwd(xc, dt, x_dbl, xz, p, y, save_h0=True)
        mixer.inner_backward(xz, p, xz[..., :E], bf, kept=mixer.Kept(h0, seg, x_dbl))
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
