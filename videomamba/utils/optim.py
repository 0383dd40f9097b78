"""Parameter groups (layer-wise LR decay x weight-decay exclusion), AdamW, LR scaling (spec §6.1).

Each group carries ``lr_scale``; the training loop sets ``group['lr'] = schedule[it] * group['lr_scale']``.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional

import torch
import torch.nn as nn

# Official get_num_layer_for_vit rules that map to layer 0 (the VideoMamba ``layers.{i}`` rule is commented
# out in the released code, spec §10.3-16).
_OFFICIAL_LAYER0_NAMES = ("cls_token", "mask_token", "pos_embed", "class_embedding", "positional_embedding",
                          "temporal_positional_embedding")
_OFFICIAL_LAYER0_PREFIXES = ("patch_embed", "conv1")


def official_layer_id(name: str, num_layers: int) -> int:
    """Released-code layer id: stem names -> 0, ``blocks.i``/``transformer.resblocks.i`` -> i+1, else n+1."""
    if name in _OFFICIAL_LAYER0_NAMES or name.startswith(_OFFICIAL_LAYER0_PREFIXES):
        return 0
    match = re.match(r"(?:blocks|transformer\.resblocks)\.(\d+)\.", name)
    if match:
        return int(match.group(1)) + 1
    return num_layers + 1


def fixed_layer_id(name: str, num_layers: int, matcher: Dict) -> int:
    """Per-block id from ``model.group_matcher()``: stem -> 0, block i -> i+1, anything after the blocks
    (final norm, head) -> n+1."""
    stem = matcher.get("stem")
    if stem and re.match(stem, name):
        return 0
    blocks = matcher.get("blocks", [])
    if isinstance(blocks, str):
        blocks = [(blocks, None)]
    for pattern, ordinal in blocks:
        match = re.match(pattern, name)
        if match:
            if ordinal is not None:  # explicit ordinal such as (99999,) = after the last block
                return num_layers + 1 if ordinal[0] >= num_layers else ordinal[0] + 1
            return int(match.group(1)) + 1
    return num_layers + 1


def layer_scales(layer_decay: float, num_layers: int) -> List[float]:
    """``[layer_decay ** (n + 1 - i) for i in 0..n+1]`` (official LayerDecayValueAssigner values)."""
    return [layer_decay ** (num_layers + 1 - i) for i in range(num_layers + 2)]


def param_groups(model: nn.Module, weight_decay: float, layer_decay: float = 1.0, layer_decay_mode: str = "fixed",
                 wd_exclusion: str = "no_weight_decay_flags", skip_list: Optional[set] = None) -> List[dict]:
    """Groups keyed ``layer_{id}_{decay|no_decay}`` with ``params``, ``weight_decay``, ``lr_scale``, ``names``.

    * no decay: 1-D params, ``*.bias``, names in ``model.no_weight_decay()`` (+ ``skip_list``); with
      ``wd_exclusion='no_weight_decay_flags'`` also params flagged ``_no_weight_decay`` (A_log, A_b_log, ...).
    * lr_scale: 1 everywhere when ``layer_decay >= 1`` (official: no assigner); else from the layer id of
      ``layer_decay_mode`` (``official`` = released-code bug, ``fixed`` = ``model.group_matcher()``).
    """
    if layer_decay_mode not in ("official", "fixed"):
        raise ValueError(f"layer_decay_mode must be 'official' or 'fixed', got {layer_decay_mode!r}")
    if wd_exclusion not in ("official", "no_weight_decay_flags"):
        raise ValueError(f"wd_exclusion must be 'official' or 'no_weight_decay_flags', got {wd_exclusion!r}")
    skip = set(skip_list or ())
    if hasattr(model, "no_weight_decay"):
        skip |= set(model.no_weight_decay())
    num_layers = model.get_num_layers() if hasattr(model, "get_num_layers") else 0
    scales = layer_scales(layer_decay, num_layers) if layer_decay < 1.0 else None
    matcher = model.group_matcher() if (scales and layer_decay_mode == "fixed") else None

    groups: Dict[str, dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = param.ndim == 1 or name.endswith(".bias") or name in skip
        if wd_exclusion == "no_weight_decay_flags" and getattr(param, "_no_weight_decay", False):
            no_decay = True
        if scales is None:
            layer_id = None
        elif layer_decay_mode == "official":
            layer_id = official_layer_id(name, num_layers)
        else:
            layer_id = fixed_layer_id(name, num_layers, matcher)
        key = f"layer_{layer_id}_{'no_decay' if no_decay else 'decay'}" if layer_id is not None else \
            ("no_decay" if no_decay else "decay")
        if key not in groups:
            groups[key] = {"params": [], "names": [], "weight_decay": 0.0 if no_decay else weight_decay,
                           "lr_scale": scales[layer_id] if scales is not None else 1.0, "group_name": key}
        groups[key]["params"].append(param)
        groups[key]["names"].append(name)
    return list(groups.values())


def build_optimizer(groups: List[dict], lr: float, betas, eps: float) -> torch.optim.Optimizer:
    # Per-group weight decay is set above; the 'names' entries stay in the groups for inspection.
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps, weight_decay=0.0)


def lr_scale_factor(rule: str, batch_size: int, update_freq: int, world_size: int, num_sample: int,
                    base: int = 256) -> float:
    """Multiplier for lr, min_lr and warmup_lr (spec §6.1: official video = total_batch*num_sample/256)."""
    total_batch = batch_size * update_freq * world_size
    if rule == "official_video":
        return total_batch * num_sample / base
    if rule == "linear":
        return total_batch / base
    if rule == "none":
        return 1.0
    raise ValueError(f"train.lr_scale_rule must be official_video | linear | none, got {rule!r}")
