"""Recognise an official-format VideoMamba checkpoint: family, size, frames, resolution, classes."""
import re
from collections import Counter
from typing import Dict

import torch

from .checkpoint import read_checkpoint, strip_prefixes, unwrap_state_dict

_SIZE_BY_DIM = {192: "tiny", 384: "small", 576: "middle", 768: "base"}
_DEPTH = {"tiny": 24, "small": 24, "middle": 32, "base": 24}


def infer_architecture(sd: Dict[str, torch.Tensor]) -> dict:
    """Read the architecture off the tensor shapes (keys already unwrapped and prefix-stripped)."""
    info = {}
    if any(k.startswith("vision_encoder.") for k in sd):
        info["family"] = "multi-modal UMT-VideoMamba (vision_encoder.* loads into a video model)"
        sd = {k[len("vision_encoder."):]: v for k, v in sd.items() if k.startswith("vision_encoder.")}
    layer_ids = {int(m.group(1)) for k in sd if (m := re.match(r"layers\.(\d+)\.", k))}
    patch = sd.get("patch_embed.proj.weight")
    if patch is None or not layer_ids:
        info.setdefault("family", "not a VideoMamba checkpoint (no patch_embed.proj.weight / layers.*)")
        return info
    dim, depth = patch.shape[0], max(layer_ids) + 1
    size = _SIZE_BY_DIM.get(dim)
    info.update(embed_dim=dim, depth=depth, patch_size=patch.shape[-1])
    video = patch.dim() == 5
    grid = sd["pos_embed"].shape[1] - 1 if "pos_embed" in sd else None
    side = int(round(grid ** 0.5)) if grid else None
    if side:
        info["img_size"] = side * patch.shape[-1]
    if video:
        info["tubelet"] = patch.shape[2]
        if "temporal_pos_embedding" in sd:
            info["num_frames"] = sd["temporal_pos_embedding"].shape[1] * patch.shape[2]
    if "head.weight" in sd:
        info["num_classes"] = sd["head.weight"].shape[0]
    if "family" not in info:
        if "clip_decoder.0.head.weight" in sd:
            info["family"] = "masked pretraining (UMT-style student): fine-tune it as a video classifier"
        elif "distill_head.1.weight" in sd:
            info["family"] = "image self-distillation student (distill_head.* is dropped when loading a classifier)"
        else:
            info["family"] = "video classifier" if video else "image classifier"
    name = None
    if size and _DEPTH[size] == depth:
        name = f"videomamba_{size}" if video or "num_frames" in info else f"videomamba_image_{size}"
    kwargs = {k: info[k] for k in ("num_frames", "img_size", "num_classes") if k in info}
    if video and info.get("tubelet", 1) != 1:
        kwargs["kernel_size"] = info["tubelet"]
    if name is None:
        name = "videomamba_tiny" if video else "videomamba_image_tiny"
        kwargs.update(embed_dim=dim, depth=depth)
    info["factory"] = name
    info["kwargs"] = kwargs
    return info


def describe_checkpoint(path: str, list_keys: bool = False) -> str:
    obj = read_checkpoint(path)
    sd, wrapper = unwrap_state_dict(obj)
    tensors = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    tensors, stripped = strip_prefixes(tensors)
    lines = [f"file: {path}"]
    lines.append(f"top-level entries: {', '.join(map(str, obj.keys())) if wrapper else '(flat state dict)'}")
    if wrapper:
        lines.append(f"weights under: {wrapper!r}")
    if stripped:
        lines.append(f"key prefixes stripped: {', '.join(stripped)}")
    n_params = sum(v.numel() for v in tensors.values())
    dtypes = Counter(str(v.dtype).replace("torch.", "") for v in tensors.values())
    lines.append(f"tensors: {len(tensors)}, values: {n_params:,} ({', '.join(f'{d}: {c}' for d, c in dtypes.items())})")
    info = infer_architecture(tensors)
    lines.append(f"family: {info.get('family')}")
    for key in ("embed_dim", "depth", "patch_size", "img_size", "tubelet", "num_frames", "num_classes"):
        if key in info:
            lines.append(f"  {key}: {info[key]}")
    if "factory" in info:
        args = ", ".join(f"{k}={v!r}" for k, v in info["kwargs"].items())
        lines.append(f"fits: timm.create_model({info['factory']!r}, {args}) "
                     f"(or any other frames/resolution/classes: the loader adapts it)")
    if list_keys:
        lines += [f"  {k}: {tuple(v.shape)} {str(v.dtype).replace('torch.', '')}" for k, v in tensors.items()]
    return "\n".join(lines)
