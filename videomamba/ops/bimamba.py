"""The inner computation of a bidirectional Mamba mixer (spec §1.3), without the shared projections.

``bimamba_inner(xz, fwd, bwd)`` takes the output of the shared ``in_proj`` (token-major (B, L, 2E)), runs
the forward direction on it and the backward direction on the sequence reversed, each with its own
{conv, x_proj, dt_proj, A, D}, gates each with SiLU(z) of its own direction and returns the plain sum
``y_f + flip(y_b)`` as (B, L, E), ready for the shared ``out_proj``.
"""
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F

from .backend import get_impl, register_impl
from .causal_conv1d import causal_conv1d_ref
from .norm import add_norm_ref
from .selective_scan import selective_scan_chunked, selective_scan_ref

__all__ = ["DirectionParams", "bimamba_inner", "bimamba_inner_ref", "bimamba_inner_torch", "mamba_direction",
           "add_norm"]


class DirectionParams(NamedTuple):
    """Parameters of one scan direction (forward: ``conv1d, x_proj, dt_proj, A_log, D``; backward: the ``_b``
    twins)."""
    conv_weight: torch.Tensor  # (E, 1, K)
    conv_bias: Optional[torch.Tensor]  # (E,)
    x_proj_weight: torch.Tensor  # (R + 2N, E)
    dt_proj_weight: torch.Tensor  # (E, R)
    dt_proj_bias: torch.Tensor  # (E,)
    A_log: torch.Tensor  # (E, N)
    D: torch.Tensor  # (E,)


def _at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.promote_types(t.dtype, torch.float32))


def mamba_direction(x: torch.Tensor, z: torch.Tensor, p: DirectionParams, scan=selective_scan_chunked):
    """One direction. ``x, z``: (B, L, E) token-major. Returns the gated scan output (B, E, L) in x's dtype.

    Dtypes follow the official kernels: conv in fp32, projections in the autocast dtype, Δ bias, A and D
    in fp32 inside the scan.
    """
    rank, n_state = p.dt_proj_weight.shape[1], p.A_log.shape[1]
    xc = causal_conv1d_ref(x.transpose(1, 2), p.conv_weight, p.conv_bias, "silu")  # (B, E, L)
    x_dbl = F.linear(xc.transpose(1, 2), p.x_proj_weight)  # (B, L, R + 2N)
    dt_low, b_in, c_out = x_dbl.split([rank, n_state, n_state], dim=-1)
    delta = F.linear(dt_low, p.dt_proj_weight)  # (B, L, E); the bias is added inside the scan
    A = -torch.exp(_at_least_fp32(p.A_log))
    return scan(xc, delta.transpose(1, 2), A, b_in.transpose(1, 2), c_out.transpose(1, 2),
                D=_at_least_fp32(p.D), z=z.transpose(1, 2), delta_bias=_at_least_fp32(p.dt_proj_bias),
                delta_softplus=True)


def _bimamba_inner(xz, fwd: DirectionParams, bwd: DirectionParams, scan):
    e = xz.shape[-1] // 2
    x, z = xz[..., :e], xz[..., e:]
    y_f = mamba_direction(x, z, fwd, scan)
    y_b = mamba_direction(x.flip(1), z.flip(1), bwd, scan)
    return (y_f + y_b.flip(-1)).transpose(1, 2)


@register_impl("bimamba_inner", "ref")
def bimamba_inner_ref(xz: torch.Tensor, fwd: DirectionParams, bwd: DirectionParams) -> torch.Tensor:
    """Reference: sequential scan. ``xz``: (B, L, 2E) → (B, L, E)."""
    return _bimamba_inner(xz, fwd, bwd, selective_scan_ref)


@register_impl("bimamba_inner", "torch")
def bimamba_inner_torch(xz: torch.Tensor, fwd: DirectionParams, bwd: DirectionParams) -> torch.Tensor:
    """Fast pure-PyTorch version: chunked scan. ``xz``: (B, L, 2E) → (B, L, E)."""
    return _bimamba_inner(xz, fwd, bwd, selective_scan_chunked)


def bimamba_inner(xz: torch.Tensor, fwd: DirectionParams, bwd: DirectionParams,
                  backend: Optional[str] = None) -> torch.Tensor:
    """Dispatch to the selected backend (see :mod:`videomamba.ops.backend`)."""
    return get_impl("bimamba_inner", xz.device, backend)(xz, fwd, bwd)


register_impl("add_norm", "torch")(add_norm_ref)
register_impl("add_norm", "ref")(add_norm_ref)


def add_norm(x, weight, bias=None, residual=None, eps=1e-5, prenorm=False, residual_in_fp32=False,
             is_rms=True, backend: Optional[str] = None):
    """Fused residual add + RMSNorm/LayerNorm (semantics of :func:`videomamba.ops.norm.add_norm_ref`)."""
    return get_impl("add_norm", x.device, backend)(x, weight, bias, residual, eps, prenorm, residual_in_fp32,
                                                   is_rms)
