"""Kernels of the B-Mamba block, each with its pure-PyTorch reference twin (see :mod:`.backend`)."""
from .backend import BACKENDS, backend_status, get_backend, select_backend, set_backend, use_backend
from .bimamba import (DirectionParams, add_norm, bimamba_inner, bimamba_inner_ref, bimamba_inner_torch,
                      mamba_direction)
from .causal_conv1d import causal_conv1d_ref
from .norm import RMSNorm, add_norm_ref, add_norm_unfused_ref, rms_norm_ref
from .selective_scan import selective_scan_chunked, selective_scan_ref

__all__ = [
    "BACKENDS", "backend_status", "get_backend", "select_backend", "set_backend", "use_backend",
    "DirectionParams", "add_norm", "bimamba_inner", "bimamba_inner_ref", "bimamba_inner_torch",
    "mamba_direction", "causal_conv1d_ref", "RMSNorm", "add_norm_ref", "add_norm_unfused_ref", "rms_norm_ref",
    "selective_scan_chunked", "selective_scan_ref",
]
