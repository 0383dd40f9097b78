"""Synthetic video classification data in which temporal order matters.

Each class is a motion; classes come in time-reversed pairs, so a clip played backwards belongs to the
partner class (a model that ignores frame order cannot beat 50 % on a pair):

    0 left_to_right   1 right_to_left   2 top_to_bottom   3 bottom_to_top
    4 clockwise       5 anticlockwise   6 growing         7 shrinking

Every video has its own random background colour and texture, object shape, colour, size, start position
and speed, drawn from a generator seeded by ``(seed, split, class, index)``: the same parameters always give
byte-identical files. Videos are real encoded files (h264 mp4 by default, through PyAV).

Layout written by :func:`generate_synthetic_dataset` (Kinetics_sparse format, ``split=','``)::

    out_dir/train/<class_name>/train_<class_name>_0000.mp4 ...   out_dir/val/...   [out_dir/test/...]
    out_dir/train.csv  val.csv  test.csv       lines "train/left_to_right/train_left_to_right_0000.mp4,0"
    out_dir/classes.txt                         one class name per line, line i = label i
    out_dir/meta.json                           parameters (written last: marks the set complete)

CLI: ``python -m videomamba.data.synthetic --out data/synthetic [--num-classes 4 ...]``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

import numpy as np

CLASS_NAMES = (
    "left_to_right", "right_to_left", "top_to_bottom", "bottom_to_top",
    "clockwise", "anticlockwise", "growing", "shrinking",
)
GENERATOR_VERSION = 2  # 2: class and split in file names
_SPLIT_IDS = {"train": 0, "val": 1, "test": 2}

# extension -> encoder names to try, in order
_CODECS = {
    "h264": ("libx264", "h264", "mpeg4"),
    "mpeg4": ("mpeg4",),
    "vp9": ("libvpx-vp9",),
    "mjpeg": ("mjpeg",),
}
_DEFAULT_CODEC = {".mp4": "h264", ".mkv": "h264", ".avi": "mpeg4", ".webm": "vp9", ".mov": "h264"}


# ------------------------------------------------------------------------------------------ encode
def can_encode(codec: str) -> bool:
    """True if PyAV can encode ``codec`` (one of h264 | mpeg4 | vp9 | mjpeg or an FFmpeg encoder name)."""
    import av

    for name in _CODECS.get(codec, (codec,)):
        try:
            av.codec.Codec(name, "w")
            return True
        except Exception:
            continue
    return False


def write_video(path: str, frames: np.ndarray, fps: float = 8, codec: str | None = None,
                gop: int | None = None, quality: int = 18) -> str:
    """Encode uint8 ``frames`` (T, H, W, 3) RGB to ``path``; returns the encoder used.

    ``codec`` defaults from the extension (.mp4 -> h264, .avi -> mpeg4, .webm -> vp9). H and W must be
    even (yuv420p). Single-threaded encoders keep the output deterministic.
    """
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    try:
        return _write_video(path, frames, fps, codec, gop, quality)
    except Exception as exc:
        # Known clash: once decord (which bundles its own FFmpeg/libvpx) is loaded, PyAV's libvpx
        # encoders refuse to open in the same process. Encode in a fresh interpreter instead.
        if "decord" not in sys.modules or "avcodec_open2" not in str(exc):
            raise
        return _write_video_subprocess(path, frames, fps, codec, gop, quality)


def _write_video_subprocess(path, frames, fps, codec, gop, quality) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "frames.npy")
        np.save(npy, frames)
        # run_path executes this file alone: no `videomamba` package import (which pulls in torch/timm)
        code = ("import runpy, sys, numpy as np; m = runpy.run_path(sys.argv[1]); "
                "print(m['_write_video'](sys.argv[2], np.load(sys.argv[3]), float(sys.argv[4]), "
                "sys.argv[5] or None, int(sys.argv[6]) or None, int(sys.argv[7])))")
        out = subprocess.run([sys.executable, "-c", code, os.path.abspath(__file__), path, npy, str(fps),
                              codec or "", str(gop or 0), str(quality)], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"encoding {path} in a subprocess failed: {out.stderr.strip()[-400:]}")
        return out.stdout.strip().splitlines()[-1]


def _write_video(path, frames, fps, codec, gop, quality) -> str:
    import av

    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f"frame size must be even for yuv420p, got {h}x{w}")
    ext = os.path.splitext(path)[1].lower()
    codec = codec or _DEFAULT_CODEC.get(ext, "h264")
    rate = Fraction(fps).limit_denominator(1001)
    last_error = None
    for encoder in _CODECS.get(codec, (codec,)):
        try:
            av.codec.Codec(encoder, "w")
        except Exception as exc:
            last_error = exc
            continue
        tmp = path + ".part" + ext
        # bitexact: no library version strings or other run-dependent bytes in the container
        with av.open(tmp, mode="w", options={"fflags": "+bitexact"}) as container:
            stream = container.add_stream(encoder, rate=rate)
            stream.width, stream.height = w, h
            stream.pix_fmt = "yuvj420p" if encoder == "mjpeg" else "yuv420p"
            if gop:
                stream.codec_context.gop_size = gop
            stream.options = _encoder_options(encoder, quality)
            stream.codec_context.thread_count = 1
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
        return encoder
    raise RuntimeError(f"PyAV cannot encode '{codec}' for {path}: {last_error}")


def _encoder_options(encoder: str, quality: int) -> dict:
    if encoder == "libx264":
        return {"preset": "veryfast", "crf": str(quality), "threads": "1"}
    if encoder == "libvpx-vp9":
        return {"crf": str(quality + 12), "b": "0", "deadline": "realtime", "cpu-used": "8", "threads": "1"}
    if encoder in ("mpeg4", "mjpeg"):
        return {"qscale": "3"} if encoder == "mpeg4" else {}
    return {}


# ------------------------------------------------------------------------------------------ render
def render_clip(class_id: int, rng: np.random.Generator, num_frames: int = 16, height: int = 64,
                width: int = 64) -> np.ndarray:
    """Render one clip of class ``class_id`` -> uint8 (T, H, W, 3)."""
    if not 0 <= class_id < len(CLASS_NAMES):
        raise ValueError(f"class_id must be in [0, {len(CLASS_NAMES)}), got {class_id}")
    h, w, t = height, width, num_frames
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    background = rng.uniform(0, 90, size=3).astype(np.float32)
    texture = rng.normal(0, 6, size=(h, w, 1)).astype(np.float32)  # static: keeps the codec honest
    color = rng.uniform(170, 255, size=3).astype(np.float32)
    color[rng.integers(3)] = rng.uniform(0, 120)  # saturated hue, always far from the background
    size = rng.uniform(0.12, 0.22) * min(h, w)
    progress = np.linspace(0.0, 1.0, t, dtype=np.float32) * rng.uniform(0.7, 1.0)  # speed varies
    progress += rng.uniform(0, 1.0 - progress[-1])

    masks = np.zeros((t, h, w), dtype=bool)
    kind, reverse = divmod(class_id, 2)
    p = progress[::-1] if reverse else progress  # the reversed class is the same path played backwards
    if kind in (0, 1):  # translation: horizontal (0) or vertical (1)
        lo, hi = size, (w if kind == 0 else h) - size
        along = lo + p * (hi - lo)
        across = rng.uniform(size, (h if kind == 0 else w) - size)
        square = rng.random() < 0.5
        for i in range(t):
            cx, cy = (along[i], across) if kind == 0 else (across, along[i])
            if square:
                masks[i] = (np.abs(xx - cx) <= size / 2) & (np.abs(yy - cy) <= size / 2)
            else:
                masks[i] = (xx - cx) ** 2 + (yy - cy) ** 2 <= (size / 2) ** 2
    elif kind == 2:  # clock hand rotating around the centre (clockwise on screen = increasing angle)
        cx, cy = w / 2 + rng.uniform(-2, 2), h / 2 + rng.uniform(-2, 2)
        start = rng.uniform(0, 2 * np.pi)
        angles = start + p * rng.uniform(0.6, 1.0) * 1.5 * np.pi
        length, half_width = 0.42 * min(h, w), max(1.5, size / 5)
        for i in range(t):
            dx, dy = np.cos(angles[i]), np.sin(angles[i])
            along = (xx - cx) * dx + (yy - cy) * dy
            across = np.abs(-(xx - cx) * dy + (yy - cy) * dx)
            masks[i] = (along >= 0) & (along <= length) & (across <= half_width)
        masks |= ((xx - cx) ** 2 + (yy - cy) ** 2 <= 4)[None]
    else:  # growing disc
        cx, cy = rng.uniform(0.4, 0.6) * w, rng.uniform(0.4, 0.6) * h
        radius = 0.06 * min(h, w) + p * 0.34 * min(h, w)
        for i in range(t):
            masks[i] = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius[i] ** 2

    frames = np.empty((t, h, w, 3), dtype=np.float32)
    frames[:] = background + texture
    frames[masks] = color
    return np.clip(frames, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------- dataset
def generate_synthetic_dataset(out_dir: str, num_classes: int = 4, train_per_class: int = 40,
                               val_per_class: int = 10, test_per_class: int | None = None,
                               num_frames: int = 16, height: int = 64, width: int = 64, fps: float = 8,
                               ext: str = ".mp4", codec: str | None = None, seed: int = 0,
                               force: bool = False) -> dict:
    """Write (or reuse) a synthetic dataset in ``out_dir``; returns its description.

    Idempotent: if ``out_dir/meta.json`` records the same parameters and every listed file exists,
    nothing is written. ``test_per_class=None`` makes ``test.csv`` list the validation videos (as the
    official Kinetics setup does); an int writes a separate test split.
    Returns ``{'root', 'train', 'val', 'test', 'classes', 'num_classes', 'created'}`` (csv paths).
    """
    if not 1 <= num_classes <= len(CLASS_NAMES):
        raise ValueError(f"num_classes must be in [1, {len(CLASS_NAMES)}], got {num_classes}")
    params = dict(num_classes=num_classes, train_per_class=train_per_class, val_per_class=val_per_class,
                  test_per_class=test_per_class, num_frames=num_frames, height=height, width=width,
                  fps=fps, ext=ext, codec=codec, seed=seed, generator_version=GENERATOR_VERSION)
    info = {k: os.path.join(out_dir, f"{k}.csv") for k in ("train", "val", "test")}
    info.update(root=out_dir, classes=os.path.join(out_dir, "classes.txt"), num_classes=num_classes)
    if not force and _is_complete(out_dir, params):
        return dict(info, created=False)

    names = CLASS_NAMES[:num_classes]
    os.makedirs(out_dir, exist_ok=True)
    meta_path = os.path.join(out_dir, "meta.json")
    if os.path.exists(meta_path):
        os.remove(meta_path)  # the set is incomplete until meta.json is rewritten
    splits = {"train": train_per_class, "val": val_per_class}
    if test_per_class is not None:
        splits["test"] = test_per_class
    for split, per_class in splits.items():
        shutil.rmtree(os.path.join(out_dir, split), ignore_errors=True)
        lines = []
        for label, name in enumerate(names):
            os.makedirs(os.path.join(out_dir, split, name), exist_ok=True)
            for i in range(per_class):
                rng = np.random.default_rng([seed, _SPLIT_IDS[split], label, i])
                # class and split in the file name: basenames stay unique (official merge ids use them)
                rel = f"{split}/{name}/{split}_{name}_{i:04d}{ext}"
                frames = render_clip(label, rng, num_frames, height, width)
                write_video(os.path.join(out_dir, rel), frames, fps=fps, codec=codec)
                lines.append(f"{rel},{label}\n")
        _write_text(info[split], "".join(lines))
    if test_per_class is None:
        shutil.copyfile(info["val"], info["test"])
    _write_text(info["classes"], "".join(n + "\n" for n in names))
    _write_text(meta_path, json.dumps({"params": params}, indent=2, sort_keys=True) + "\n")
    return dict(info, created=True)


def _is_complete(out_dir: str, params: dict) -> bool:
    try:
        with open(os.path.join(out_dir, "meta.json")) as f:
            if json.load(f).get("params") != params:
                return False
        for split in ("train", "val", "test"):
            with open(os.path.join(out_dir, f"{split}.csv")) as f:
                for line in f:
                    if line.strip() and not os.path.isfile(os.path.join(out_dir, line.rsplit(",", 1)[0])):
                        return False
        return os.path.isfile(os.path.join(out_dir, "classes.txt"))
    except (OSError, ValueError):
        return False


def _write_text(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--num-classes", type=int, default=4)
    parser.add_argument("--train-per-class", type=int, default=40)
    parser.add_argument("--val-per-class", type=int, default=10)
    parser.add_argument("--test-per-class", type=int, default=None,
                        help="separate test split size (default: test.csv = val.csv)")
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--fps", type=float, default=8)
    parser.add_argument("--ext", default=".mp4", help=".mp4 (h264) | .avi (mpeg4) | .webm (vp9) | .mkv")
    parser.add_argument("--codec", default=None, help="h264 | mpeg4 | vp9 | mjpeg (default: from --ext)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="regenerate even if complete")
    args = parser.parse_args(argv)
    start = time.time()
    info = generate_synthetic_dataset(
        args.out, num_classes=args.num_classes, train_per_class=args.train_per_class,
        val_per_class=args.val_per_class, test_per_class=args.test_per_class,
        num_frames=args.num_frames, height=args.height, width=args.width, fps=args.fps,
        ext=args.ext, codec=args.codec, seed=args.seed, force=args.force)
    state = "written" if info["created"] else "already complete, nothing written"
    print(f"synthetic dataset in {args.out}: {state} ({time.time() - start:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
