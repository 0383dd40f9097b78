#!/usr/bin/env python
"""Whole-model step time under several values of one or more mixer CONFIG keys, interleaved in one process.

The scan launches' tiles and segment lengths interact with occupancy and with how many waves of programs a
launch makes, which a single-launch bench (ablate.py) times one launch at a time; this tool times what the
benchmark times, the whole training (or inference) step, for each setting, in rounds so that drift between
settings shows. Usage on the GPU:

    python tools/kernel_dev/config_sweep.py --set seg_len=128,152,192 [--mode train] [--rounds 2]
    python tools/kernel_dev/config_sweep.py --set seg_len=152,192 --set grad_maxnreg=160,168

Several ``--set`` options sweep their product. Each setting's first step compiles what it needs (warm-up).
"""
import argparse
import itertools
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
from benchmark import build_mamba, measure  # noqa: E402
from videomamba.ops import use_backend  # noqa: E402
from videomamba.ops.triton import mixer  # noqa: E402


def parse_sets(sets):
    """[(key, [values])] from 'key=v1,v2' strings; values are ints, or None/True/False."""
    out = []
    for s in sets:
        if "=" not in s:
            raise SystemExit(f"--set {s!r}: expected key=v1,v2,...")
        key, vals = s.split("=", 1)
        if key not in mixer.CONFIG:
            raise SystemExit(f"--set {key}: not a mixer CONFIG key (known: {', '.join(sorted(mixer.CONFIG))})")
        conv = {"None": None, "True": True, "False": False}
        out.append((key, [conv[v] if v in conv else int(v) for v in vals.split(",")]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", required=True, help="key=v1,v2,...")
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--mode", default="train", choices=("train", "infer"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=2.0)
    a = ap.parse_args()
    sets = parse_sets(a.set)
    keys = [k for k, _ in sets]
    combos = list(itertools.product(*[v for _, v in sets]))
    default = tuple(mixer.CONFIG[k] for k in keys)
    use_backend("triton")
    model = build_mamba(a.size, a.frames, "cuda")
    x = torch.randn(a.batch, 3, a.frames, 224, 224, device="cuda")
    print(f"{a.size} {a.frames} f batch {a.batch} {a.mode}; default {dict(zip(keys, default))}", flush=True)
    results = {c: [] for c in combos}
    for r in range(a.rounds):
        for c in combos:
            mixer.CONFIG.update(zip(keys, c))
            clips, peak = measure(model, x, a.mode, 2, 5, a.min_time)
            results[c].append(clips)
            print(f"round {r} {dict(zip(keys, c))}: {1e3 * a.batch / clips:.2f} ms/step, {clips:.2f} clips/s, "
                  f"{peak:.2f} GiB", flush=True)
    mixer.CONFIG.update(zip(keys, default))
    print("summary (best of rounds):")
    for c in sorted(combos, key=lambda c: -max(results[c])):
        mark = " (default)" if c == default else ""
        print(f"  {dict(zip(keys, c))}: {max(results[c]):.2f} clips/s{mark}")


if __name__ == "__main__":
    main()
