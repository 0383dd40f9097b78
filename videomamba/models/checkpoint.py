"""Reading official-format checkpoints and the tensor adaptations used to load them into other shapes.

Family-specific decisions (which keys to drop, rename or resize) live beside each model as its
``checkpoint_filter_fn``; this module holds the generic pieces and :class:`LoadReport`, the one readable
summary of everything a load changed, dropped or left at init.
"""
import math
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

__all__ = ["CheckpointError", "LoadReport", "read_checkpoint", "unwrap_state_dict", "strip_prefixes",
           "resize_spatial_pos_embed", "resize_temporal_pos_embed", "inflate_patch_embed",
           "load_state_dict_with_report"]

WRAPPER_KEYS = ("model", "module", "state_dict")
PREFIXES = ("module.", "backbone.", "encoder.")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the model; the message says which file and why."""


@dataclass
class LoadReport:
    """What a checkpoint load did. ``str(report)`` is the human-readable summary."""
    source: str = "<state dict>"
    wrapper: Optional[str] = None
    stripped_prefixes: List[str] = field(default_factory=list)
    adapted: List[str] = field(default_factory=list)       # key: what was done to it
    dropped: List[str] = field(default_factory=list)       # key: why it was not loaded (expected)
    kept_at_init: List[str] = field(default_factory=list)  # model key absent from the file (expected)
    missing: List[str] = field(default_factory=list)       # model keys absent from the file (unexplained)
    unexpected: List[str] = field(default_factory=list)    # file keys the model does not have (unexplained)
    mismatched: List[str] = field(default_factory=list)    # key: file shape vs model shape (unexplained)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def __str__(self) -> str:
        lines = [f"checkpoint {self.source}"]
        if self.wrapper:
            lines.append(f"  unwrapped from the {self.wrapper!r} entry")
        if self.stripped_prefixes:
            lines.append(f"  stripped key prefixes: {', '.join(self.stripped_prefixes)}")
        for title, items in (("adapted", self.adapted), ("not loaded (expected)", self.dropped),
                             ("kept at initialisation", self.kept_at_init), ("MISSING from file", self.missing),
                             ("UNEXPECTED in file", self.unexpected), ("SHAPE MISMATCH", self.mismatched)):
            if items:
                lines.append(f"  {title} ({len(items)}):")
                lines.extend(f"    - {item}" for item in _compact(items))
        if len(lines) == 1 + bool(self.wrapper) + bool(self.stripped_prefixes):
            lines.append("  loaded exactly: every key matched")
        return "\n".join(lines)


def _compact(items: Sequence[str], limit: int = 12) -> List[str]:
    items = list(items)
    return items if len(items) <= limit else items[:limit] + [f"... and {len(items) - limit} more"]


def read_checkpoint(path: str) -> dict:
    """``torch.load`` on CPU with clear errors for a missing, empty or unreadable file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path}: the file is empty (0 bytes); re-download it")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        try:  # official training checkpoints pickle an argparse.Namespace ('args')
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:
            raise CheckpointError(f"{path}: not a readable PyTorch checkpoint "
                                  f"(truncated or corrupt download?): {type(exc).__name__}: {exc}") from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict of tensors (or a dict wrapping one under "
                              f"{'/'.join(WRAPPER_KEYS)}), got {type(obj).__name__}")
    return obj


def unwrap_state_dict(obj: dict, keys: Sequence[str] = WRAPPER_KEYS) -> Tuple[Dict[str, torch.Tensor], Optional[str]]:
    """Return (state_dict, wrapper_key): the first of ``keys`` holding a dict, else ``obj`` itself."""
    for key in keys:
        if isinstance(obj.get(key), dict):
            return obj[key], key
    return obj, None


def strip_prefixes(sd: Dict[str, torch.Tensor], prefixes: Sequence[str] = PREFIXES) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Strip leading prefixes that every key carries (``module.`` from DDP, ``backbone.``, ``encoder.``)."""
    stripped = []
    changed = True
    while changed and sd:
        changed = False
        for p in prefixes:
            if all(k.startswith(p) for k in sd):
                sd = {k[len(p):]: v for k, v in sd.items()}
                stripped.append(p)
                changed = True
    return sd, stripped


def resize_spatial_pos_embed(pos_embed: torch.Tensor, new_grid: Tuple[int, int], num_extra: int = 1) -> torch.Tensor:
    """(1, extra + h·w, D) → (1, extra + h'·w', D): bicubic, align_corners=False, no antialias (official)."""
    extra, grid = pos_embed[:, :num_extra], pos_embed[:, num_extra:]
    old = int(math.isqrt(grid.shape[1]))
    if old * old != grid.shape[1]:
        raise CheckpointError(f"pos_embed has {grid.shape[1]} grid positions, not a square grid")
    dim = grid.shape[-1]
    grid = grid.reshape(1, old, old, dim).permute(0, 3, 1, 2).float()
    grid = F.interpolate(grid, size=tuple(new_grid), mode="bicubic", align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, dim).to(pos_embed.dtype)
    return torch.cat([extra, grid], dim=1)


def resize_temporal_pos_embed(tpe: torch.Tensor, new_t: int) -> torch.Tensor:
    """(1, T, D) → (1, T', D) by linear interpolation, align_corners=False (official fine-tuning rule)."""
    out = F.interpolate(tpe.permute(0, 2, 1).float(), size=(new_t,), mode="linear", align_corners=False)
    return out.permute(0, 2, 1).to(tpe.dtype)


def inflate_patch_embed(weight: torch.Tensor, t: int, mode: str = "center") -> torch.Tensor:
    """Conv2d kernel (D, C, p, p) → Conv3d kernel (D, C, t, p, p).

    ``center`` (official default): zeros except the middle temporal slice ``t // 2``; ``average``: the kernel
    repeated ``t`` times and divided by ``t``. Both give the 2D response on a static clip.
    """
    if mode == "center":
        out = weight.new_zeros(weight.shape[0], weight.shape[1], t, *weight.shape[2:])
        out[:, :, t // 2] = weight
        return out
    if mode == "average":
        return weight.unsqueeze(2).repeat(1, 1, t, 1, 1) / t
    raise ValueError(f"inflation mode must be 'center' or 'average', got {mode!r}")


def load_state_dict_with_report(model: torch.nn.Module, checkpoint, filter_fn: Optional[Callable] = None,
                                strict: bool = True, **filter_kwargs) -> LoadReport:
    """Load ``checkpoint`` (a path or a dict) into ``model`` through ``filter_fn(sd, model, report, ...)``.

    ``strict=True``: any missing, unexpected or shape-mismatched key that the filter did not explain raises
    :class:`CheckpointError` with the full report. ``strict=False``: the official lenient loader
    (mismatched tensors are skipped and keep their initial values) — everything is still reported.
    """
    report = LoadReport()
    if isinstance(checkpoint, (str, os.PathLike)):
        report.source = os.fspath(checkpoint)
        checkpoint = read_checkpoint(checkpoint)
    sd, report.wrapper = unwrap_state_dict(checkpoint)
    sd = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    if not sd:
        raise CheckpointError(f"{report.source}: no tensors found (keys: {list(checkpoint)[:10]})")
    sd, report.stripped_prefixes = strip_prefixes(sd)
    if filter_fn is not None:
        sd = filter_fn(sd, model, report=report, **filter_kwargs)

    own = model.state_dict()
    for key in list(sd):
        if key in own and own[key].shape != sd[key].shape:
            report.mismatched.append(f"{key}: file {tuple(sd[key].shape)} vs model {tuple(own[key].shape)}")
            del sd[key]
    report.missing += [k for k in own if k not in sd]
    report.unexpected += [k for k in sd if k not in own]
    if strict and not report.clean:
        raise CheckpointError(f"checkpoint does not fit {type(model).__name__} "
                              f"(pass strict=False to load what fits):\n{report}")
    model.load_state_dict({k: v for k, v in sd.items() if k in own}, strict=False)
    return report
