#!/usr/bin/env python
"""Where a whole-model step spends its GPU time: torch.profiler kernel table of one inference step and one
training step of VideoMamba (default tiny, 64 frames, batch 8; the benchmark tool's protocol), with each
kernel's share of the step. The per-layer mixer view is ``mixer_profile.py``; this one also shows what runs
outside the mixers (patch embedding, add+RMSNorm, head, casts)."""
import argparse
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmark import build_mamba, time_steps  # noqa: E402


GEMM_OPS = {"mm", "bmm", "baddbmm", "addmm", "matmul", "linear", "addbmm"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rows", type=int, default=25)
    ap.add_argument("--ops", action="store_true",
                    help="also a table of aten ops by input shapes (which GEMM a kernel name belongs to)")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    model = build_mamba(a.size, a.frames, "cuda")
    x = torch.randn(a.batch, 3, a.frames, 224, 224, device="cuda")
    ac = torch.autocast("cuda", dtype=torch.bfloat16)

    def infer():
        with torch.no_grad(), ac:
            model(x)

    def train():
        with ac:
            loss = model(x).float().logsumexp(-1).mean()
        loss.backward()

    for name, step, mode in (("inference", infer, False), ("training", train, True)):
        model.train(mode)
        sec, _ = time_steps(step, 2, 5)
        acts = [ProfilerActivity.CUDA] + ([ProfilerActivity.CPU] if a.ops else [])
        with profile(activities=acts, record_shapes=a.ops) as prof:
            step()
            torch.cuda.synchronize()
        events = [e for e in prof.key_averages() if e.device_type.name == "CUDA"]
        total = sum(e.self_device_time_total for e in events)
        print(f"=== {name}: {sec * 1e3:.2f} ms per step ({a.batch / sec:.1f} clips/s); kernels sum "
              f"{total / 1e3:.2f} ms")
        for e in sorted(events, key=lambda e: -e.self_device_time_total)[:a.rows]:
            t = e.self_device_time_total
            print(f"{t / 1e3:9.3f} ms {100 * t / total:5.1f} % {e.count:5d}x  {e.key[:90]}")
        if a.ops:  # GEMM-like aten ops with their shapes and the device time of the kernels they launched
            ops = [e for e in prof.key_averages(group_by_input_shape=True)
                   if e.device_type.name == "CPU" and e.key.split("::")[-1] in GEMM_OPS]
            print(f"--- {name}: GEMM ops by input shapes")
            for e in sorted(ops, key=lambda e: -e.device_time_total)[:a.rows]:
                print(f"{e.device_time_total / 1e3:9.3f} ms {e.count:5d}x  {e.key} {e.input_shapes}")


if __name__ == "__main__":
    main()
