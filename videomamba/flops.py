"""FLOP counting with fvcore, in the official way and in full.

* ``official``: what the zoo's numbers count. The official models run the whole inner mixer (conv, x/Δ
  projections, scan) as one custom CUDA op that fvcore cannot see, so only the patch embedding, the shared
  ``in_proj``/``out_proj`` and the head are counted (tiny/small/middle/base at 224²: 1.1/4.3/12.7/16.9 G).
* ``full``: adds, per direction, the causal conv (K·E), the x projection (E·(R+2N)), the Δ projection (R·E)
  and the scan (9·E·N, the Mamba paper's count) for every token.

Units are fvcore's: one multiply-add counts as one FLOP.
"""
from contextlib import contextmanager
from typing import Dict, Tuple

import torch
from fvcore.nn import FlopCountAnalysis

from .ops import bimamba as _bimamba
from .ops import use_backend
from .ops.bimamba import DirectionParams, bimamba_inner_torch

_N_PARAMS = len(DirectionParams._fields)


class _OpaqueBiMambaInner(torch.autograd.Function):
    """The inner mixer as a single op (``prim::PythonOp``) in a traced graph, like the official kernel."""

    @staticmethod
    def forward(ctx, xz, *params):
        return bimamba_inner_torch(xz, DirectionParams(*params[:_N_PARAMS]), DirectionParams(*params[_N_PARAMS:]))


def _opaque_bimamba_inner(xz, fwd, bwd, backend=None):
    return _OpaqueBiMambaInner.apply(xz, *fwd, *bwd)


@contextmanager
def _opaque_mixers():
    """The mixer composes in_proj → bimamba_inner → out_proj on the torch backend; make the middle opaque."""
    original = _bimamba.bimamba_inner
    _bimamba.bimamba_inner = _opaque_bimamba_inner
    try:
        with use_backend("torch"):
            yield
    finally:
        _bimamba.bimamba_inner = original


def _shape(value):
    return value.type().sizes()


def _inner_mixer_flops(inputs, outputs) -> int:
    """Per-call count for the opaque inner mixer: both directions of conv + x/Δ projections + scan."""
    b, l, two_e = _shape(inputs[0])
    e = two_e // 2
    total = 0
    for offset in (1, 1 + _N_PARAMS):  # forward and backward parameter sets
        conv_w, _, x_proj_w, dt_proj_w, _, a_log, _ = (_shape(v) for v in inputs[offset:offset + _N_PARAMS])
        k, (proj_out, _), (_, rank), n = conv_w[-1], x_proj_w, dt_proj_w, a_log[1]
        total += b * l * (k * e + e * proj_out + rank * e + 9 * e * n)
    return total


def count_flops(model: torch.nn.Module, inputs: torch.Tensor, mode: str = "official") -> Tuple[int, Dict[str, int]]:
    """Total FLOPs (fvcore units) of ``model(inputs)`` and the per-operator breakdown."""
    if mode not in ("official", "full"):
        raise ValueError(f"mode must be 'official' or 'full', got {mode!r}")
    model = model.eval()
    with _opaque_mixers(), torch.no_grad():
        analysis = FlopCountAnalysis(model, inputs)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        if mode == "full":
            analysis.set_op_handle("prim::PythonOp._OpaqueBiMambaInner", _inner_mixer_flops)
        total = analysis.total()
        by_op = dict(analysis.by_operator())
    return total, by_op
