#!/usr/bin/env python
"""Eval forward throughput eager vs ``GraphedInference`` (``eval.cuda_graph``), tools/benchmark.py's models, batch 8,
bf16 autocast, same process. Usage on the GPU: python tools/kernel_dev/graphed_eval.py [--size tiny] [--frames 8,16,32]
"""
import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmark import build_mamba, time_steps  # noqa: E402

from videomamba.engine.graphed import GraphedInference  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--frames", default="8,16,32")
    ap.add_argument("--batch", type=int, default=8)
    a = ap.parse_args()
    dev = torch.device("cuda")
    print("| frames | eager clips/s | graphed clips/s | graphed / eager |")
    print("|---|---|---|---|")
    for frames in map(int, a.frames.split(",")):
        model = build_mamba(a.size, frames, dev).eval()
        x = torch.randn(a.batch, 3, frames, 224, 224, device=dev)
        graphed = GraphedInference(model, "bf16")

        def eager():
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                model(x)

        def replay():
            with torch.no_grad():
                graphed(x)

        t_e = time_steps(eager, 3, 5, min_time=1.0)[0]
        t_g = time_steps(replay, 3, 5, min_time=1.0)[0]
        print(f"| {frames} | {a.batch / t_e:.1f} | {a.batch / t_g:.1f} | {t_e / t_g:.2f} |", flush=True)
        del model, x, graphed
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
