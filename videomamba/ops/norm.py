"""RMSNorm / LayerNorm with the "add + norm, prenorm, residual in fp32" semantics of the fused kernel.

VideoMamba blocks never add the residual themselves: the norm kernel does ``s = x + residual`` in fp32,
stores ``s`` as the new residual stream and normalises it (spec §2.1). :func:`add_norm_ref` reproduces
those semantics; :func:`add_norm_unfused_ref` is the ``fused_add_norm=False`` variant of the official
code, which differs only in which dtype the add happens.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["RMSNorm", "add_norm_ref", "add_norm_unfused_ref", "rms_norm_ref", "scale_samples"]


def _at_least_fp32(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)


def _normalise(s: torch.Tensor, weight, bias, eps: float, is_rms: bool) -> torch.Tensor:
    if is_rms:
        out = s * torch.rsqrt(s.square().mean(dim=-1, keepdim=True) + eps) * weight.to(s.dtype)
        return out if bias is None else out + bias.to(s.dtype)
    return F.layer_norm(s, s.shape[-1:], weight.to(s.dtype), None if bias is None else bias.to(s.dtype), eps)


def rms_norm_ref(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                 eps: float = 1e-5) -> torch.Tensor:
    """Plain RMSNorm in at least fp32, returned in ``x``'s dtype."""
    return _normalise(x.to(_at_least_fp32(x.dtype)), weight, bias, eps, True).to(x.dtype)


def check_sample_factors(x: torch.Tensor, x_scale: torch.Tensor) -> None:
    """``x_scale`` must hold one factor per sample of ``x`` (shape (B,))."""
    if x_scale.shape != x.shape[:1]:
        raise ValueError(f"x_scale must hold one factor per sample, shape ({x.shape[0]},); got {tuple(x_scale.shape)}")


def scale_samples(x: torch.Tensor, x_scale: Optional[torch.Tensor]) -> torch.Tensor:
    """``x * x_scale`` per sample (x_scale: (B,), one factor per leading index of x), in x's dtype: what a drop
    path (stochastic depth) does to a block's output before the residual add; ``x`` itself when x_scale is None."""
    if x_scale is None:
        return x
    check_sample_factors(x, x_scale)
    return x * x_scale.to(x.dtype).view((-1,) + (1,) * (x.dim() - 1))


def add_norm_ref(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                 residual: Optional[torch.Tensor] = None, eps: float = 1e-5, prenorm: bool = False,
                 residual_in_fp32: bool = False, is_rms: bool = True, x_scale: Optional[torch.Tensor] = None):
    """Fused-kernel semantics. ``x``, ``residual``: (..., D).

    ``s = float(x) + float(residual)``; ``y = norm(s)`` stored in ``x``'s dtype; with ``prenorm`` also returns
    the new residual ``s``, stored in the incoming residual's dtype, or (first block, no residual) in fp32
    when ``residual_in_fp32`` else in ``x``'s dtype. "fp32" means "at least fp32": float64 stays float64.
    ``x_scale`` (B,): x is first multiplied per sample (:func:`scale_samples`, rounded to x's dtype as a separate
    drop path would): the drop path folded into the add.
    """
    x = scale_samples(x, x_scale)
    cdt = _at_least_fp32(x.dtype)
    s = x.to(cdt)
    if residual is not None:
        s = s + residual.to(cdt)
    y = _normalise(s, weight, bias, eps, is_rms).to(x.dtype)
    if not prenorm:
        return y
    if residual is not None:
        res_dtype = residual.dtype
    else:
        res_dtype = cdt if residual_in_fp32 else x.dtype
    return y, s.to(res_dtype)


def add_norm_unfused_ref(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                         residual: Optional[torch.Tensor] = None, eps: float = 1e-5, prenorm: bool = False,
                         residual_in_fp32: bool = False, is_rms: bool = True, x_scale: Optional[torch.Tensor] = None):
    """Semantics of the official ``fused_add_norm=False`` block: add in the residual's dtype, normalise
    ``residual.to(weight.dtype)``, then keep the residual in fp32 if asked. ``x_scale``: as :func:`add_norm_ref`."""
    x = scale_samples(x, x_scale)
    s = x if residual is None else residual + x
    y = _normalise(s.to(weight.dtype), weight, bias, eps, is_rms).to(x.dtype)
    if not prenorm:
        return y
    if residual_in_fp32:
        s = s.to(_at_least_fp32(s.dtype))
    return y, s


class RMSNorm(nn.Module):
    """RMSNorm with a weight only (key ``weight``), eps 1e-5 as in every VideoMamba model."""

    def __init__(self, hidden_size: int, eps: float = 1e-5, device=None, dtype=None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(hidden_size, device=device, dtype=dtype))
        self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm_ref(x, self.weight, None, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"
