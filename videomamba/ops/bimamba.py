"""The inner computation of a bidirectional Mamba mixer (spec §1.3), without the shared projections.

``bimamba_inner(xz, fwd, bwd)`` takes the output of the shared ``in_proj`` (token-major (B, L, 2E)), runs
the forward direction on it and the backward direction on the sequence reversed, each with its own
{conv, x_proj, dt_proj, A, D}, gates each with SiLU(z) of its own direction and returns the plain sum
``y_f + flip(y_b)`` as (B, L, E), ready for the shared ``out_proj``.
"""
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F

from .backend import _impls, get_impl, register_impl, select_backend
from .causal_conv1d import causal_conv1d_ref
from .norm import add_norm_ref
from .selective_scan import selective_scan_chunked, selective_scan_ref

__all__ = ["DirectionParams", "bimamba_inner", "bimamba_inner_ref", "bimamba_inner_torch", "mamba_direction",
           "add_norm", "bimamba_mixer", "bimamba_mixer_ref"]


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
    """Fast pure-PyTorch version. ``xz``: (B, L, 2E) → (B, L, E).

    Same math as :func:`bimamba_inner_ref`, but the two directions run as one chunked scan over 2E channels
    (the backward half on the reversed sequence, B/C as two groups), halving the number of small ops.
    """
    e = xz.shape[-1] // 2
    rank, n_state = fwd.dt_proj_weight.shape[1], fwd.A_log.shape[1]
    x, z = xz[..., :e], xz[..., e:]
    both = lambda f, b_: torch.cat([f, b_], dim=0)  # noqa: E731  (stack the two directions' parameters)
    # (B, 2E, L): forward channels, then the backward channels in reversed time
    x2 = torch.cat([x, x.flip(1)], dim=-1).transpose(1, 2)
    z2 = torch.cat([z, z.flip(1)], dim=-1).transpose(1, 2)
    xc = causal_conv1d_ref(x2, both(fwd.conv_weight, bwd.conv_weight),
                           None if fwd.conv_bias is None else both(fwd.conv_bias, bwd.conv_bias), "silu")
    xc_t = xc.transpose(1, 2)
    proj = [F.linear(xc_t[..., i * e:(i + 1) * e], p.x_proj_weight) for i, p in enumerate((fwd, bwd))]
    splits = [t.split([rank, n_state, n_state], dim=-1) for t in proj]
    delta = torch.cat([F.linear(s[0], p.dt_proj_weight) for s, p in zip(splits, (fwd, bwd))], dim=-1)
    b_in = torch.stack([s[1] for s in splits], dim=1).transpose(2, 3)  # (B, 2, N, L)
    c_out = torch.stack([s[2] for s in splits], dim=1).transpose(2, 3)
    A = -torch.exp(_at_least_fp32(both(fwd.A_log, bwd.A_log)))
    y = selective_scan_chunked(xc, delta.transpose(1, 2), A, b_in, c_out, D=_at_least_fp32(both(fwd.D, bwd.D)),
                               z=z2, delta_bias=_at_least_fp32(both(fwd.dt_proj_bias, bwd.dt_proj_bias)),
                               delta_softplus=True)
    return (y[:, :e] + y[:, e:].flip(-1)).transpose(1, 2)


def bimamba_inner(xz: torch.Tensor, fwd: DirectionParams, bwd: DirectionParams,
                  backend: Optional[str] = None) -> torch.Tensor:
    """Dispatch to the selected backend (see :mod:`videomamba.ops.backend`)."""
    return get_impl("bimamba_inner", xz.device, backend)(xz, fwd, bwd)


def bimamba_mixer_ref(hidden, in_w, in_b, fwd: DirectionParams, bwd: DirectionParams, out_w, out_b,
                      backend: Optional[str] = None) -> torch.Tensor:
    """The whole mixer, composed: ``out_proj(bimamba_inner(in_proj(hidden)))`` (spec §1.3)."""
    xz = F.linear(hidden, in_w, in_b)
    return F.linear(bimamba_inner(xz, fwd, bwd, backend=backend), out_w, out_b)


def bimamba_mixer(hidden, in_w, in_b, fwd: DirectionParams, bwd: DirectionParams, out_w, out_b,
                  backend: Optional[str] = None) -> torch.Tensor:
    """The whole mixer. A backend with a fused version (``triton``: one autograd Function that saves only
    ``hidden``) runs it; every other backend composes the shared projections with its ``bimamba_inner``."""
    name, _ = select_backend("bimamba_inner", hidden.device, backend)
    fused = _impls["bimamba_mixer"].get(name)
    if fused is not None:
        return fused(hidden, in_w, in_b, fwd, bwd, out_w, out_b)
    return bimamba_mixer_ref(hidden, in_w, in_b, fwd, bwd, out_w, out_b, backend=name)


register_impl("add_norm", "torch")(add_norm_ref)
register_impl("add_norm", "ref")(add_norm_ref)


def add_norm(x, weight, bias=None, residual=None, eps=1e-5, prenorm=False, residual_in_fp32=False,
             is_rms=True, backend: Optional[str] = None, x_scale=None):
    """Fused residual add + RMSNorm/LayerNorm (semantics of :func:`videomamba.ops.norm.add_norm_ref`);
    ``x_scale`` (B,): a per-sample factor of x (a drop path's keep mask / keep probability) applied in the add."""
    return get_impl("add_norm", x.device, backend)(x, weight, bias, residual, eps, prenorm, residual_in_fp32,
                                                   is_rms, x_scale=x_scale)
