"""Optional backend: the official CUDA kernels from ``mamba-ssm>=2`` and ``causal-conv1d``.

Both directions are composed from the packages' public functions (``causal_conv1d_fn``,
``selective_scan_fn``, ``rms_norm_fn``/``layer_norm_fn``). Imported only when this backend is asked for.
"""
import torch
import torch.nn.functional as F

from .backend import register_impl
from .bimamba import DirectionParams
from .norm import scale_samples

from causal_conv1d import causal_conv1d_fn  # noqa: E402  (optional dependency)
import mamba_ssm  # noqa: E402
from mamba_ssm.ops.selective_scan_interface import selective_scan_fn  # noqa: E402
from mamba_ssm.ops.triton.layer_norm import layer_norm_fn, rms_norm_fn  # noqa: E402


def availability():
    major = int(mamba_ssm.__version__.split(".")[0])
    if major < 2:
        return False, f"mamba-ssm {mamba_ssm.__version__} found, need >= 2"
    if not torch.cuda.is_available():
        return False, "mamba-ssm installed but CUDA is not available"
    return True, f"mamba-ssm {mamba_ssm.__version__} + causal-conv1d CUDA kernels"


def _direction(x, z, p: DirectionParams):
    rank, n_state = p.dt_proj_weight.shape[1], p.A_log.shape[1]
    xc = causal_conv1d_fn(x.transpose(1, 2).contiguous(), p.conv_weight.squeeze(1), p.conv_bias, activation="silu")
    x_dbl = F.linear(xc.transpose(1, 2), p.x_proj_weight)
    dt_low, b_in, c_out = x_dbl.split([rank, n_state, n_state], dim=-1)
    delta = F.linear(dt_low, p.dt_proj_weight).transpose(1, 2).contiguous()
    return selective_scan_fn(xc, delta, -torch.exp(p.A_log.float()), b_in.transpose(1, 2).contiguous(),
                             c_out.transpose(1, 2).contiguous(), p.D.float(), z=z.transpose(1, 2).contiguous(),
                             delta_bias=p.dt_proj_bias.float(), delta_softplus=True)


@register_impl("bimamba_inner", "mamba_ssm")
def bimamba_inner_mamba_ssm(xz, fwd: DirectionParams, bwd: DirectionParams):
    e = xz.shape[-1] // 2
    x, z = xz[..., :e], xz[..., e:]
    y_f = _direction(x, z, fwd)
    y_b = _direction(x.flip(1), z.flip(1), bwd)
    return (y_f + y_b.flip(-1)).transpose(1, 2)


@register_impl("add_norm", "mamba_ssm")
def add_norm_mamba_ssm(x, weight, bias=None, residual=None, eps=1e-5, prenorm=False, residual_in_fp32=False,
                       is_rms=True, x_scale=None):
    x = scale_samples(x, x_scale)  # the official kernel has no per-sample factor: a separate multiply
    fn = rms_norm_fn if is_rms else layer_norm_fn
    return fn(x, weight, bias, residual=residual, prenorm=prenorm, residual_in_fp32=residual_in_fp32, eps=eps)
