"""Video transforms of the fine-tuning pipelines (spec §5.3 training, §5.4 evaluation).

Shapes: decoded frames are uint8 NumPy ``(T, H, W, 3)`` RGB; model clips are float tensors
``(C, T, H, W)`` normalised with the ImageNet mean/std.

Training (:class:`VideoTrainTransform`), one call = one augmented sample:
  1. RandAugment (timm ops, e.g. ``rand-m7-n4-mstd0.5-inc1``) on full-resolution frames, one random draw
     (ops, apply/skip, magnitudes, signs) shared by all frames of the clip;
  2. /255, ImageNet normalisation, -> (C, T, H, W);
  3. random resized crop, scale (0.08, 1), log-uniform ratio (0.75, 1.3333), 10 tries then a central
     fallback, one box for all frames, bilinear ``F.interpolate(align_corners=False)`` to input_size²;
  4. horizontal flip p=0.5 unless ``flip=False`` (SSv2: direction-sensitive labels);
  5. timm ``RandomErasing`` (pixel mode by default) with one box for all frames (cube), fresh noise per
     pixel and frame.

Evaluation: :class:`VideoValTransform` (short side resize -> center crop -> normalise) and
:class:`VideoTestTransform` (short side resize -> crop ``crop_index`` of ``num_crops`` along the long side).
"""
from __future__ import annotations

import copy
import math
import random

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ---------------------------------------------------------------------------------- RandAugment
class ClipRandAugment:
    """timm RandAugment applied with one random draw to every frame of a clip.

    ``config`` is a timm string such as ``rand-m7-n4-mstd0.5-inc1``. As in the official
    ``create_random_augment``, the translate constant is ``int(0.45 * min(input_size))``, the fill colour
    timm's (128, 128, 128) and the resampling filter ``interpolation``.
    """

    def __init__(self, config: str, input_size: int | tuple[int, int] = 224, interpolation: str = "bicubic"):
        from timm.data.auto_augment import rand_augment_transform
        from timm.data.transforms import str_to_pil_interp

        if not config.startswith("rand"):
            raise ValueError(f"only RandAugment strings ('rand-m7-n4-...') are supported, got {config!r}")
        size = min(input_size) if isinstance(input_size, (tuple, list)) else input_size
        hparams = {"translate_const": int(size * 0.45), "interpolation": str_to_pil_interp(interpolation)}
        self.config = config
        self.policy = rand_augment_transform(config, hparams)

    def __call__(self, frames: list) -> list:
        """``frames``: list of PIL images -> list of PIL images (same length)."""
        ops = np.random.choice(self.policy.ops, self.policy.num_layers,
                               replace=self.policy.choice_weights is None, p=self.policy.choice_weights)
        for op in ops:
            frames = self._apply_same(op, frames)
        return frames

    @staticmethod
    def _apply_same(op, frames):
        # Run the op once on the first frame while recording the arguments it draws (magnitude, sign,
        # filter), then replay exactly those arguments on the other frames.
        recorded = []
        real_fn = op.aug_fn

        def record(img, *args, **kwargs):
            if isinstance(kwargs.get("resample"), (list, tuple)):
                kwargs["resample"] = random.choice(kwargs["resample"])
            recorded.append((args, dict(kwargs)))
            return real_fn(img, *args, **kwargs)

        probe = copy.copy(op)  # shallow copy: the shared policy object is never mutated
        probe.aug_fn = record
        first = probe(frames[0])
        if not recorded:  # the op was skipped (prob 0.5) for the whole clip
            return frames
        args, kwargs = recorded[0]
        return [first] + [real_fn(img, *args, **dict(kwargs)) for img in frames[1:]]


# ---------------------------------------------------------------------------------- tensor helpers
def to_normalized_tensor(frames: np.ndarray, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (C, T, H, W), ``(x/255 - mean)/std``."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().div_(255.0)
    x = (x - torch.tensor(mean)) / torch.tensor(std)
    return x.permute(3, 0, 1, 2).contiguous()


def random_resized_crop_params(height: int, width: int, scale=(0.08, 1.0), ratio=(0.75, 1.3333),
                               tries: int = 10) -> tuple[int, int, int, int]:
    """(top, left, h, w): area fraction U(scale), log-uniform aspect (w/h) in ratio; central fallback."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(tries):
        target_area = random.uniform(*scale) * area
        aspect = math.exp(random.uniform(*log_ratio))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return random.randint(0, height - h), random.randint(0, width - w), h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def random_resized_crop(clip: torch.Tensor, size: int, scale=(0.08, 1.0), ratio=(0.75, 1.3333)) -> torch.Tensor:
    """(C, T, H, W) -> (C, T, size, size); one box for every frame, bilinear, align_corners=False."""
    top, left, h, w = random_resized_crop_params(clip.shape[-2], clip.shape[-1], scale, ratio)
    cropped = clip[..., top:top + h, left:left + w]
    return F.interpolate(cropped, size=(size, size), mode="bilinear", align_corners=False)


# ---------------------------------------------------------------------------------------- training
class VideoTrainTransform:
    """uint8 (T, H, W, 3) -> float (C, T, input_size, input_size); see the module docstring."""

    def __init__(self, input_size: int = 224, aa: str | None = "rand-m7-n4-mstd0.5-inc1",
                 interpolation: str = "bicubic", flip: bool = True, reprob: float = 0.25,
                 remode: str = "pixel", recount: int = 1, scale=(0.08, 1.0), ratio=(0.75, 1.3333),
                 mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.input_size = input_size
        self.rand_augment = ClipRandAugment(aa, input_size, interpolation) if aa and aa != "none" else None
        self.flip = flip
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.mean, self.std = mean, std
        self.erase = None
        if reprob and reprob > 0:
            from timm.data.random_erasing import RandomErasing

            self.erase = RandomErasing(reprob, mode=remode, max_count=recount, num_splits=0, device="cpu")

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        if self.rand_augment is not None:
            from PIL import Image

            images = self.rand_augment([Image.fromarray(f) for f in frames])
            frames = np.stack([np.asarray(img) for img in images])
        clip = to_normalized_tensor(frames, self.mean, self.std)
        clip = random_resized_crop(clip, self.input_size, self.scale, self.ratio)
        if self.flip and np.random.uniform() < 0.5:
            clip = clip.flip(-1)
        if self.erase is not None:
            c, t, h, w = clip.shape
            # A 3-D input makes timm draw a single box over all C*T planes: the official "cube" erase.
            clip = self.erase(clip.contiguous().view(c * t, h, w)).view(c, t, h, w)
        return clip


# -------------------------------------------------------------------------------------- evaluation
def short_side_size_of(height: int, width: int, size: int) -> tuple[int, int]:
    """Official ``Resize(int)``: short side -> size, long side -> int(size * long / short)."""
    if width < height:
        return int(size * height / width), size
    return size, int(size * width / height)


def resize_short_side(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 (T, H, W, 3) -> uint8 with short side ``size``; bilinear (half-pixel centres, no antialias,
    like OpenCV ``INTER_LINEAR``); returned unchanged if the short side already equals ``size``."""
    t, h, w, _ = frames.shape
    if min(h, w) == size:
        return frames
    new_h, new_w = short_side_size_of(h, w, size)
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """(T, H, W, 3) -> (T, size, size, 3); offsets ``round((H - size)/2)``, ``round((W - size)/2)``."""
    h, w = frames.shape[1:3]
    if h < size or w < size:
        raise ValueError(f"cannot center-crop {size}x{size} from frames of {h}x{w}")
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return frames[:, top:top + size, left:left + size]


def spatial_crop_offset(long_side: int, short_side: int, crop_index: int, num_crops: int) -> int:
    """Offset of test crop ``crop_index`` along the long side: ``int(i*(long-short)/(C-1))``, C=1: centred."""
    if num_crops == 1:
        return int((long_side - short_side) / 2)
    return int(crop_index * (long_side - short_side) / (num_crops - 1))


class VideoValTransform:
    """Validation: resize short side to ``short_side_size`` -> center crop ``input_size`` -> normalise."""

    def __init__(self, input_size: int = 224, short_side_size: int = 224, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.input_size, self.short_side_size = input_size, short_side_size
        self.mean, self.std = mean, std

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        frames = center_crop(resize_short_side(frames, self.short_side_size), self.input_size)
        return to_normalized_tensor(frames, self.mean, self.std)


class VideoTestTransform:
    """Test: resize short side to ``short_side_size``, take square crop ``crop_index`` of ``num_crops``
    along the longer side; output (C, T, short_side_size, short_side_size)."""

    def __init__(self, short_side_size: int = 224, num_crops: int = 3, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.short_side_size, self.num_crops = short_side_size, num_crops
        self.mean, self.std = mean, std

    def __call__(self, frames: np.ndarray, crop_index: int) -> torch.Tensor:
        frames = resize_short_side(frames, self.short_side_size)
        h, w = frames.shape[1:3]
        s = self.short_side_size
        offset = spatial_crop_offset(max(h, w), s, crop_index, self.num_crops)
        frames = frames[:, offset:offset + s, :] if h >= w else frames[:, :, offset:offset + s]
        return to_normalized_tensor(frames, self.mean, self.std)
