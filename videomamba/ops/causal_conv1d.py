"""Depthwise causal 1-D convolution (the short conv in front of every Mamba scan)."""
from typing import Optional

import torch
import torch.nn.functional as F

from ._autocast import autocast_off

__all__ = ["causal_conv1d_ref"]


@autocast_off
def causal_conv1d_ref(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                      activation: Optional[str] = "silu") -> torch.Tensor:
    """Causal depthwise conv. ``x``: (B, E, L); ``weight``: (E, K) or (E, 1, K); ``bias``: (E,).

    ``out_t = act(bias + sum_k weight[:, k] * x_{t - (K-1) + k})`` with zero left padding. Computed in the
    weight's precision (at least float32), returned in ``x``'s dtype, as the CUDA kernel does.
    """
    if weight.dim() == 3:
        weight = weight[:, 0]
    if x.dim() != 3 or weight.shape[0] != x.shape[1]:
        raise ValueError(f"causal_conv1d: x must be (batch, {weight.shape[0]}, length), got {tuple(x.shape)}")
    if activation not in (None, "silu", "swish"):
        raise ValueError(f"causal_conv1d: activation must be None or 'silu', got {activation!r}")
    dtype_in = x.dtype
    cdt = torch.promote_types(weight.dtype, torch.float32)
    width = weight.shape[1]
    out = F.conv1d(x.to(cdt), weight.to(cdt).unsqueeze(1), None if bias is None else bias.to(cdt),
                   padding=width - 1, groups=x.shape[1])[..., : x.shape[-1]]
    if activation is not None:
        out = F.silu(out)
    return out.to(dtype_in)
