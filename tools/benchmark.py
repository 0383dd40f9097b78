#!/usr/bin/env python
"""Throughput and peak memory of VideoMamba against a flash-attention ViT, protocol of shared/perf/ANCHORS.md.

Batch 8 clips of 3×T×224², bf16 autocast, TF32 on. ``train`` = forward + ``loss.backward()`` (no optimizer
step), ``infer`` = forward under ``torch.no_grad()``. After ``--warmup`` steps, ``--iters`` steps (on the GPU
at least ``--min-time`` seconds of steps) are timed with CUDA events; clips/s = batch / mean step time;
peak GiB = ``max_memory_allocated`` above what was allocated before the step. The ViT baseline (12 ``timm``
Blocks, attention through ``F.scaled_dot_product_attention``, joint space-time attention over T·196 tokens +
cls, patch embed, head) is measured in the same process, so the ratio column holds on any GPU.

    python tools/benchmark.py                               # the ANCHORS table (tiny/small/middle, 8–64 f)
    python tools/benchmark.py --long                        # 128/256-frame rows, batch 4
    python tools/benchmark.py --sizes tiny --frames 64 --modes train
    python tools/benchmark.py --device cpu --smoke          # seconds-long self-test on CPU
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import videomamba  # noqa: E402,F401  (registers the timm models)
from videomamba.ops import backend_status, use_backend  # noqa: E402

# Official VideoMamba and ViT-flash figures of ANCHORS.md (clips/s): (frames, size) -> (off_inf, off_train,
# vit_inf, vit_train). The official ratio to the ViT is what we must beat.
ANCHORS = {
    (8, "tiny"): (458.0, 121.1, 1970.5, 545.9), (8, "small"): (324.1, 74.7, 1330.2, 413.6),
    (8, "middle"): (161.7, 37.8, None, None),
    (16, "tiny"): (311.0, 70.6, 1121.7, 331.0), (16, "small"): (169.5, 39.3, 621.2, 200.7),
    (16, "middle"): (84.7, 19.8, None, None),
    (32, "tiny"): (162.7, 37.0, 523.0, 151.1), (32, "small"): (87.3, 20.1, 278.9, 86.7),
    (32, "middle"): (43.4, 10.1, None, None),
    (64, "tiny"): (86.2, 20.3, 194.3, 58.9), (64, "small"): (44.2, 10.8, 98.8, 29.9),
    (64, "middle"): (21.7, 5.4, None, None),
    (128, "tiny"): (43.3, 10.2, 60.7, 17.6), (256, "tiny"): (22.3, 5.3, 16.7, 5.0),
    (128, "small"): (21.3, 5.2, 30.5, 9.0),
}
WIDTHS = {"tiny": (192, 3), "small": (384, 6), "middle": (576, 9)}
GIB = 2 ** 30


class VideoViT(nn.Module):
    """Joint space-time ViT: per-frame 16×16 patches → T·HW tokens + cls, 12 timm Blocks, head."""

    def __init__(self, dim, heads, frames, img_size=224, depth=12, num_classes=400):
        from timm.models.vision_transformer import Block
        super().__init__()
        self.patch = nn.Conv3d(3, dim, (1, 16, 16), (1, 16, 16))
        n = frames * (img_size // 16) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio=4.0, qkv_bias=True) for _ in range(depth)])
        for blk in self.blocks:
            blk.attn.fused_attn = True  # F.scaled_dot_product_attention (flash under bf16)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        return self.head(self.norm(self.blocks(x))[:, 0])


def build_mamba(size, frames, device, smoke=False, grad_ckpt=False):
    import timm
    kw = dict(depth=2, img_size=32) if smoke else {}
    model = timm.create_model(f"videomamba_{size}", num_frames=frames, num_classes=400, **kw).to(device)
    if grad_ckpt:
        model.set_grad_checkpointing(True)
    return model


def build_vit(size, frames, device, smoke=False):
    dim, heads = WIDTHS[size]
    return VideoViT(dim, heads, frames, img_size=32 if smoke else 224, depth=2 if smoke else 12).to(device)


def measure(model, x, mode, warmup, iters, min_time=0.0):
    """(clips/s, peak GiB above the pre-step allocation) or raises OutOfMemoryError."""
    dev = x.device
    cuda = dev.type == "cuda"
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda)

    def step():
        if mode == "infer":
            with torch.no_grad(), autocast:
                model(x)
        else:
            with autocast:
                loss = model(x).float().logsumexp(-1).mean()
            loss.backward()

    model.train(mode == "train")
    for p in model.parameters():
        p.grad = None
    seconds, peak = time_steps(step, warmup, iters, cuda, min_time)
    return x.shape[0] / seconds, peak


def time_steps(step, warmup, iters, cuda=True, min_time=0.0):
    """(seconds per call, peak GiB above the allocation before the timed calls) of ``step()``, after
    ``warmup`` calls: CUDA events on the GPU (NaN memory on CPU, timed with the host clock). On the GPU at
    least ``min_time`` seconds are timed (more than ``iters`` calls for short steps: an 8-frame step is
    ~10 ms and launch-bound, and 5 of them varied by ±20 % between runs)."""
    if cuda:
        torch.cuda.synchronize()
    for _ in range(warmup):
        step()
    if cuda and min_time > 0:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        torch.cuda.synchronize()
        iters = max(iters, min(1000, math.ceil(min_time / max(time.perf_counter() - t0, 1e-6))))
    if not cuda:
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        return (time.perf_counter() - t0) / iters, float("nan")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        step()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1e3 / iters, (torch.cuda.max_memory_allocated() - base) / GIB


def run_one(build, mode, batch, frames, device, args):
    img = 32 if args.smoke else 224
    try:
        model = build()
        x = torch.randn(batch, 3, frames, img, img, device=device)
        return measure(model, x, mode, args.warmup, args.iters, args.min_time)
    except torch.cuda.OutOfMemoryError:
        return None
    finally:
        model = x = None
        if device.type == "cuda":
            torch.cuda.empty_cache()


def fmt(r):
    if r is None:
        return "OOM"
    return f"{r[0]:.1f} ({r[1]:.2f})" if not math.isnan(r[1]) else f"{r[0]:.2f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="tiny,small,middle")
    ap.add_argument("--frames", default=None, help="comma list (default 8,16,32,64; --long: 128,256)")
    ap.add_argument("--batch", type=int, default=None, help="default 8 (--long: 4)")
    ap.add_argument("--modes", default="infer,train")
    ap.add_argument("--backends", default="triton", help="comma list of videomamba backends to time")
    ap.add_argument("--no-vit", action="store_true", help="skip the ViT-flash baseline")
    ap.add_argument("--long", action="store_true", help="the 128/256-frame rows of ANCHORS (batch 4)")
    ap.add_argument("--grad-ckpt", action="store_true", help="checkpoint every mixer in training")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds timed at least per row (GPU)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--smoke", action="store_true", help="depth 2, 32² frames, batch 1: a CPU self-test")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)

    device = torch.device(args.device)
    if args.smoke:
        args.warmup, args.iters = 1, 1
    frames = [int(f) for f in (args.frames or ("128,256" if args.long else "8,16,32,64")).split(",")]
    batch = args.batch or (1 if args.smoke else 4 if args.long else 8)
    sizes, modes = args.sizes.split(","), args.modes.split(",")
    backends = []
    for b in args.backends.split(","):
        ok, why = backend_status(b)
        if ok and (device.type == "cuda" or b in ("torch", "ref")):
            backends.append(b)
        else:
            print(f"note: backend {b!r} skipped: {why if not ok else 'needs CUDA'}")
    if "mamba_ssm" not in backends:
        ok, why = backend_status("mamba_ssm")
        if ok and device.type == "cuda":
            backends.append("mamba_ssm")
        else:
            print(f"note: mamba_ssm column skipped ({why})")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}")

    rows = []
    for f in frames:
        for size in sizes:
            for mode in modes:
                row = dict(frames=f, size=size, mode=mode, batch=batch)
                if not args.no_vit and size in WIDTHS and WIDTHS[size][0] <= 384:
                    row["vit"] = run_one(lambda: build_vit(size, f, device, args.smoke), mode, batch, f, device,
                                         args)
                for b in backends:
                    with use_backend(b):
                        row[b] = run_one(lambda: build_mamba(size, f, device, args.smoke,
                                                             args.grad_ckpt and mode == "train"),
                                         mode, batch, f, device, args)
                anchor = ANCHORS.get((f, size))
                if anchor and anchor[2]:
                    i = 0 if mode == "infer" else 1
                    row["official_ratio"] = anchor[i] / anchor[i + 2]
                rows.append(row)
                print(json.dumps(row), flush=True)

    print()
    head = ["frames", "size", "mode"] + [f"{b} clips/s (GiB)" for b in backends]
    head += ["ViT flash", "ratio", "official ratio", "mem ratio", "beats"] if not args.no_vit else []
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        cells = [str(row["frames"]), row["size"], row["mode"]] + [fmt(row.get(b)) for b in backends]
        if not args.no_vit:
            ours, vit = row.get(backends[0]) if backends else None, row.get("vit")
            ratio = ours[0] / vit[0] if ours and vit else None
            mem = ours[1] / vit[1] if ours and vit and vit[1] > 0 else None
            off = row.get("official_ratio")
            row["ratio"] = ratio
            cells += [fmt(vit) if "vit" in row else "–", f"{ratio:.2f}" if ratio else "–",
                      f"{off:.2f}" if off else "–", f"{mem:.2f}" if mem else "–",
                      ("yes" if ratio > off else "NO") if ratio and off else "–"]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(device=torch.cuda.get_device_name() if device.type == "cuda"
                                                   else "cpu", torch=torch.__version__, rows=rows), indent=1))
    return rows


if __name__ == "__main__":
    main()
