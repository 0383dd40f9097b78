#!/usr/bin/env python
"""Parameters and GFLOPs of any VideoMamba model, in the official counting and in full.

    python tools/flops.py --model videomamba_image_tiny --img-size 224
    python tools/flops.py --model videomamba_small --num-frames 16 --img-size 224 --num-classes 400
"""
import argparse
import os
import sys

import timm
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import videomamba  # noqa: E402,F401
from videomamba.flops import count_flops  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", default=["videomamba_image_tiny"], help="timm model name(s)")
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--num-frames", type=int, default=8, help="video models only")
    parser.add_argument("--tubelet", type=int, default=1, help="video models only")
    parser.add_argument("--num-classes", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=1)
    args = parser.parse_args(argv)

    print(f"{'model':<26} {'input':<18} {'params (M)':>11} {'GFLOPs official':>16} {'GFLOPs full':>12}")
    for name in args.model:
        kwargs = dict(img_size=args.img_size)
        if args.num_classes is not None:
            kwargs["num_classes"] = args.num_classes
        is_video = not name.startswith("videomamba_image")
        if is_video:
            kwargs.update(num_frames=args.num_frames, kernel_size=args.tubelet)
        model = timm.create_model(name, **kwargs)
        shape = (args.batch_size, 3) + ((args.num_frames,) if is_video else ()) + (args.img_size, args.img_size)
        x = torch.randn(shape)
        official, _ = count_flops(model, x, "official")
        full, _ = count_flops(model, x, "full")
        params = sum(p.numel() for p in model.parameters()) / 1e6
        print(f"{name:<26} {'x'.join(map(str, shape[1:])):<18} {params:>11.2f} {official / 1e9:>16.2f} "
              f"{full / 1e9:>12.2f}")


if __name__ == "__main__":
    main()
