#!/usr/bin/env python
"""Is a benchmark row bound by the host? For each frame count, the inference step of VideoMamba and of the
flash-attention ViT (tools/benchmark.py's models, batch 8, bf16 autocast) timed three ways in one process:

* eager: as tools/benchmark.py times it (CUDA events around back-to-back calls);
* host: CPU time to issue one call (perf_counter around the call, no synchronisation, queue kept short);
* graph: one CUDA-graph replay of the same call (the GPU time alone, no Python, no launch overhead).

eager ≈ host > graph means the row measures the host (launches and Python), not the kernels. ``--ab`` adds a
VideoMamba row with the direct kernel launches off (``videomamba.ops.triton.launch``: every launch through the
JIT's binder) next to the default; ``--profile K`` prints the K most expensive functions (cProfile, cumulative)
of 10 eager VideoMamba steps at the first frame count. Usage on the GPU:

    python tools/kernel_dev/host_bound.py [--size tiny] [--frames 8,16,32,64] [--ab] [--profile 40]
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmark import build_mamba, build_vit, time_steps  # noqa: E402


def host_ms(step, n=20):
    """Mean CPU milliseconds to issue ``step()``, synchronising between calls so the queue never throttles."""
    total = 0.0
    for _ in range(n):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        total += time.perf_counter() - t0
    torch.cuda.synchronize()
    return 1e3 * total / n


def graph_ms(step):
    """GPU milliseconds of one CUDA-graph replay of ``step()`` (captured after warm-up on a side stream)."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        step()
    return time_steps(g.replay, 3, 20, min_time=0.5)[0] * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--frames", default="8,16,32,64")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--ab", action="store_true", help="also time VideoMamba with the direct launches off")
    ap.add_argument("--profile", type=int, default=0, help="cProfile: print this many functions")
    a = ap.parse_args()
    from videomamba.ops.triton import launch
    default = launch.ENABLED  # (False where this Triton or VIDEOMAMBA_TRITON_DIRECT=0 keeps the JIT path)
    dev = torch.device("cuda")
    print("| frames | model | eager ms/step | host ms/step | graph ms/step | eager / graph |")
    print("|---|---|---|---|---|---|")
    variants = [("videomamba", build_mamba, True), ("vit-flash", build_vit, True)]
    if a.ab:
        variants.insert(1, ("videomamba, JIT launches", build_mamba, False))
    for i, frames in enumerate(map(int, a.frames.split(","))):
        for name, build, direct in variants:
            launch.ENABLED = direct and default
            model = build(a.size, frames, dev).eval()
            x = torch.randn(a.batch, 3, frames, 224, 224, device=dev)

            def step():
                with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                    model(x)

            eager = time_steps(step, 3, 5, min_time=1.0)[0] * 1e3
            host = host_ms(step)
            try:
                graph = graph_ms(step)
                ratio = f"{eager / graph:.2f}"
                graph = f"{graph:.2f}"
            except Exception as e:  # report, do not hide: a model that cannot be captured
                graph, ratio = f"capture failed ({type(e).__name__})", "–"
            print(f"| {frames} | {name} | {eager:.2f} | {host:.2f} | {graph} | {ratio} |", flush=True)
            if a.profile and i == 0 and name == "videomamba":
                profile(step, a.profile)
            del model, x
            torch.cuda.empty_cache()
    launch.ENABLED = default


def profile(step, top):
    import cProfile
    import pstats
    pr = cProfile.Profile()
    torch.cuda.synchronize()
    pr.enable()
    for _ in range(10):
        step()
    torch.cuda.synchronize()
    pr.disable()
    pstats.Stats(pr, stream=sys.stdout).sort_stats("cumulative").print_stats(top)


if __name__ == "__main__":
    main()
