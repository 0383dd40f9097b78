#!/usr/bin/env python
"""Data-loading throughput per worker process: decord vs PyAV, 8/16/32 frames, sparse vs dense sampling.

    python tools/benchmark_data.py [--anno train.csv --prefix ROOT --split ,] [--clips 6]
                                   [--frames 8 16 32] [--backends decord pyav] [--json out.json]

Without ``--anno`` it writes its own test videos (``--videos`` files of ``--seconds`` s at ``--fps``,
``--width``x``--height``, h264, default GOP) into ``--workdir``. Everything runs in this one process with
``torch.set_num_threads(1)``, as in a DataLoader worker, so the numbers are clips/s *per worker*: divide
your GPU's clips/s by them to size ``num_workers``.

Columns: ``decode`` = open + sample + decode the clip; ``train`` = decode + the full training transform
(RandAugment rand-m7-n4-mstd0.5-inc1, normalise, random resized crop to --size, flip, random erasing).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from videomamba.data.decoding import open_video  # noqa: E402
from videomamba.data.sampling import dense_indices, sparse_indices  # noqa: E402


def make_benchmark_video(path: str, seconds: float, fps: int, height: int, width: int, seed: int) -> None:
    """Textured background + moving blobs, encoded frame by frame (h264, libx264 defaults, GOP 250)."""
    import av

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(height // 8, width // 8, 3), dtype=np.uint8)
    base = np.kron(base, np.ones((8, 8, 1), np.uint8))[:height, :width]  # blocky texture
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for i in range(int(seconds * fps)):
            frame = np.roll(base, shift=(i * 2, i * 3), axis=(0, 1)).copy()
            y, x = int(height / 2 + height / 3 * np.sin(i / 9)), int(width / 2 + width / 3 * np.cos(i / 7))
            frame[max(0, y - 20):y + 20, max(0, x - 20):x + 20] = (255, 255, 0)
            frame = np.clip(frame.astype(np.int16) + rng.integers(-8, 9, frame.shape), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def sample(kind: str, vlen: int, frames: int, rate: int):
    if kind == "sparse":
        return sparse_indices(vlen, frames, "train")
    return dense_indices(vlen, frames, rate, "train")


def run_config(videos, backend, frames, kind, clips, rate, transform):
    """-> (decode clips/s, train-pipeline clips/s)."""
    decode_time = pipeline_time = 0.0
    for k in range(clips):
        path = videos[k % len(videos)]
        start = time.perf_counter()
        with open_video(path, backend) as reader:
            buffer = reader.get_frames(sample(kind, reader.num_frames, frames, rate))
        decoded = time.perf_counter()
        transform(buffer)
        done = time.perf_counter()
        decode_time += decoded - start
        pipeline_time += done - start
    return clips / decode_time, clips / pipeline_time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--anno", help="annotation file of real videos (default: generate test videos)")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--split", default=",")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "videomamba_bench_videos"))
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--width", type=int, default=340)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--clips", type=int, default=6, help="clips timed per configuration")
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--samplings", nargs="+", default=["sparse", "dense"])
    parser.add_argument("--backends", nargs="+", default=["decord", "pyav"])
    parser.add_argument("--sampling-rate", type=int, default=4, help="dense frame stride")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--json", help="also write the results as JSON here")
    args = parser.parse_args(argv)

    import torch

    from videomamba.data.annotations import read_video_annotations
    from videomamba.data.transforms import VideoTrainTransform

    torch.set_num_threads(1)  # what a DataLoader worker gets
    random.seed(0)
    np.random.seed(0)
    if args.anno:
        videos = [r.full_path for r in read_video_annotations(args.anno, args.prefix, args.split)]
        source = f"{len(videos)} videos from {args.anno}"
    else:
        os.makedirs(args.workdir, exist_ok=True)
        videos = []
        for i in range(args.videos):
            path = os.path.join(args.workdir, f"bench_{args.width}x{args.height}_{args.seconds:g}s_{args.fps}fps_{i}.mp4")
            if not os.path.isfile(path):
                make_benchmark_video(path + ".tmp.mp4", args.seconds, args.fps, args.height, args.width, i)
                os.replace(path + ".tmp.mp4", path)
            videos.append(path)
        source = (f"{args.videos} generated h264 videos, {args.width}x{args.height}, {args.seconds:g} s at "
                  f"{args.fps} fps")
    transform = VideoTrainTransform(args.size)
    for backend in args.backends:  # warm-up (imports, codec init)
        with open_video(videos[0], backend) as reader:
            transform(reader.get_frames([0, 1]))

    rows = []
    for backend in args.backends:
        for kind in args.samplings:
            for frames in args.frames:
                dec, train = run_config(videos, backend, frames, kind, args.clips, args.sampling_rate, transform)
                rows.append(dict(backend=backend, sampling=kind, frames=frames, decode_clips_s=round(dec, 2),
                                 train_clips_s=round(train, 2)))
                print(f"  {backend:7s} {kind:6s} {frames:3d} frames: decode {dec:6.2f} clips/s, "
                      f"train pipeline {train:6.2f} clips/s", file=sys.stderr)

    machine = f"{cpu_name()}, {os.cpu_count()} CPU cores, {platform.system()}"
    if hasattr(os, "getloadavg"):
        machine += f", load average {os.getloadavg()[0]:.1f} at the end"
    header = (f"Per-worker throughput (1 process, torch threads = 1), {args.size}x{args.size} crops, "
              f"{args.clips} clips per cell, dense stride {args.sampling_rate}\nSource: {source}\nMachine: {machine}\n")
    table = ["| backend | sampling | frames | decode clips/s | train pipeline clips/s |",
             "|---|---|---:|---:|---:|"]
    table += [f"| {r['backend']} | {r['sampling']} | {r['frames']} | {r['decode_clips_s']:.2f} | "
              f"{r['train_clips_s']:.2f} |" for r in rows]
    print(header)
    print("\n".join(table))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"source": source, "machine": machine, "size": args.size, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
