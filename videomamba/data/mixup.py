"""Mixup / CutMix with label smoothing through ``timm.data.Mixup``, for images and videos.

timm's CutMix pastes ``x[:, :, y0:y1, x0:x1]``, i.e. it cuts dims 2 and 3: right for (B, C, H, W) images,
wrong for (B, C, T, H, W) videos (it would cut T and H while sizing the box from H and W).
:class:`VideoMixup` therefore views a 5-D batch as (B, C*T, H, W), so the box covers the last two dims and is
shared by every frame, exactly as the official video code does.
"""
from __future__ import annotations

import torch
from timm.data import Mixup

# Official defaults (video_sm run_class_finetuning.py / image_sm main.py arguments).
MIXUP_DEFAULTS = dict(mixup=0.8, cutmix=1.0, cutmix_minmax=None, mixup_prob=1.0, mixup_switch_prob=0.5,
                      mixup_mode="batch", smoothing=0.1)


class VideoMixup(Mixup):
    """``timm.data.Mixup`` accepting (B, C, H, W) images or (B, C, T, H, W) clips.

    ``__call__(x, target) -> (x_mixed, soft_targets)`` with soft targets (B, num_classes) summing to 1.
    The batch size must be even (timm requirement).
    """

    def __call__(self, x: torch.Tensor, target: torch.Tensor):
        if x.dim() != 5:
            return super().__call__(x, target)
        b, c, t, h, w = x.shape
        flat = x.reshape(b, c * t, h, w)  # a view for contiguous input: timm mixes in place
        flat, target = super().__call__(flat, target)
        return flat.reshape(b, c, t, h, w), target


def build_mixup(cfg, num_classes: int) -> VideoMixup | None:
    """Mixup/CutMix from config keys ``mixup``, ``cutmix``, ``cutmix_minmax``, ``mixup_prob``,
    ``mixup_switch_prob``, ``mixup_mode``, ``smoothing`` (defaults: :data:`MIXUP_DEFAULTS`).

    Returns None when mixup, cutmix and cutmix_minmax are all disabled (then use label-smoothing CE).
    """
    get = (lambda k: cfg.get(k, MIXUP_DEFAULTS[k])) if cfg is not None else MIXUP_DEFAULTS.get
    mixup, cutmix, minmax = float(get("mixup") or 0), float(get("cutmix") or 0), get("cutmix_minmax")
    if mixup <= 0 and cutmix <= 0 and minmax is None:
        return None
    return VideoMixup(mixup_alpha=mixup, cutmix_alpha=cutmix,
                      cutmix_minmax=list(minmax) if minmax is not None else None,
                      prob=float(get("mixup_prob")), switch_prob=float(get("mixup_switch_prob")),
                      mode=str(get("mixup_mode")), label_smoothing=float(get("smoothing")),
                      num_classes=int(num_classes))
