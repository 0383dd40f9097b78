"""B-Mamba mixer and the Add→Norm→Mixer block shared by every VideoMamba model family.

Parameter names and shapes are those of the official checkpoints (spec §1.2, §4.1), so state dicts load
without renaming.
"""
import math
from functools import partial
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import DropPath, trunc_normal_
from torch.utils.checkpoint import checkpoint

from ..ops import RMSNorm, add_norm, add_norm_unfused_ref
from ..ops.bimamba import bimamba_mixer
from ..ops.bimamba import DirectionParams

__all__ = ["BiMamba", "Block", "segm_init_weights", "init_mamba_weights", "tubelet_tokens"]


def tubelet_tokens(conv: nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` as channels-last tokens (B, T', H', W', D), for a patch-embedding Conv3d.

    When the tubelets do not overlap (stride = kernel, no padding or dilation, sizes divisible) the conv is
    one GEMM over the flattened tubelets: the same sums as the conv, taken in another order. cuDNN runs this
    bf16 Conv3d on a generic implicit-GEMM kernel, 1.5 ms for a 64-frame batch of 8 against ≈ 0.2 ms for the
    cast, the tubelet copy and the GEMM (docs/perf_notes.md v6; since v11 the cast and the copy are one pass).
    Anything else goes through the conv.
    """
    kt, kh, kw = conv.kernel_size
    b, c, t, h, w = x.shape
    plain = (tuple(conv.stride) == (kt, kh, kw) and conv.padding in ("valid", (0, 0, 0))
             and tuple(conv.dilation) == (1, 1, 1) and conv.groups == 1 and t % kt == 0 and h % kh == 0
             and w % kw == 0)
    if not plain:
        return conv(x).permute(0, 2, 3, 4, 1)
    dev = x.device.type
    dtype = x.dtype
    if torch.amp.is_autocast_available(dev) and torch.is_autocast_enabled(dev):  # (no autocast on meta tensors)
        dtype = torch.get_autocast_dtype(dev)
    # the tubelet gather and the cast to the GEMM's dtype in one copy (one read of the clip, one write)
    tubelets = torch.empty(b, t // kt, h // kh, w // kw, c * kt * kh * kw, dtype=dtype, device=x.device)
    tubelets.view(b, t // kt, h // kh, w // kw, c, kt, kh, kw).copy_(
        x.reshape(b, c, t // kt, kt, h // kh, kh, w // kw, kw).permute(0, 2, 4, 6, 1, 3, 5, 7))
    return F.linear(tubelets, conv.weight.reshape(conv.out_channels, -1), conv.bias)


class BiMamba(nn.Module):
    """Bidirectional Mamba mixer (official ``Mamba(bimamba=True)``, spec §1).

    ``in_proj`` and ``out_proj`` are shared; the backward direction has its own conv, x/Δ projections, A
    and D and runs on the reversed sequence. The two gated outputs are summed (not averaged).
    """

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2, dt_rank="auto",
                 dt_min: float = 0.001, dt_max: float = 0.1, dt_init: str = "random", dt_scale: float = 1.0,
                 dt_init_floor: float = 1e-4, conv_bias: bool = True, bias: bool = False,
                 layer_idx: Optional[int] = None, backend: Optional[str] = None, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.layer_idx = layer_idx
        self.backend = backend  # None: the process-wide choice (videomamba.ops.set_backend)
        e, n, r = self.d_inner, d_state, self.dt_rank

        # Direct parameters first: this reproduces the official state-dict order.
        a_init = torch.arange(1, n + 1, dtype=torch.float32, device=device).repeat(e, 1).log()
        self.A_log = nn.Parameter(a_init.clone())
        self.D = nn.Parameter(torch.ones(e, device=device))
        self.A_b_log = nn.Parameter(a_init.clone())
        self.D_b = nn.Parameter(torch.ones(e, device=device))
        for p in (self.A_log, self.D, self.A_b_log, self.D_b):
            p._no_weight_decay = True

        self.in_proj = nn.Linear(d_model, 2 * e, bias=bias, **factory)
        self.conv1d = nn.Conv1d(e, e, d_conv, groups=e, padding=d_conv - 1, bias=conv_bias, **factory)
        self.x_proj = nn.Linear(e, r + 2 * n, bias=False, **factory)
        self.dt_proj = nn.Linear(r, e, bias=True, **factory)
        self.conv1d_b = nn.Conv1d(e, e, d_conv, groups=e, padding=d_conv - 1, bias=conv_bias, **factory)
        self.x_proj_b = nn.Linear(e, r + 2 * n, bias=False, **factory)
        self.dt_proj_b = nn.Linear(r, e, bias=True, **factory)
        self.out_proj = nn.Linear(e, d_model, bias=bias, **factory)
        self._init_dt(self.dt_proj, dt_min, dt_max, dt_init, dt_scale, dt_init_floor)

    @torch.no_grad()
    def _init_dt(self, proj: nn.Linear, dt_min, dt_max, dt_init, dt_scale, dt_init_floor):
        """Mamba's Δ init (forward direction only, as in the official module; spec §1.2)."""
        std = self.dt_rank ** -0.5 * dt_scale
        if dt_init == "constant":
            nn.init.constant_(proj.weight, std)
        elif dt_init == "random":
            nn.init.uniform_(proj.weight, -std, std)
        else:
            raise ValueError(f"dt_init must be 'random' or 'constant', got {dt_init!r}")
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_init_floor)
        proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        proj.bias._no_reinit = True

    def direction_params(self, backward: bool) -> DirectionParams:
        if backward:
            return DirectionParams(self.conv1d_b.weight, self.conv1d_b.bias, self.x_proj_b.weight,
                                   self.dt_proj_b.weight, self.dt_proj_b.bias, self.A_b_log, self.D_b)
        return DirectionParams(self.conv1d.weight, self.conv1d.bias, self.x_proj.weight, self.dt_proj.weight,
                               self.dt_proj.bias, self.A_log, self.D)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """(B, L, D) → (B, L, D)."""
        # One op for the whole mixer, so a fused backend controls what is saved for backward.
        return bimamba_mixer(hidden_states, self.in_proj.weight, self.in_proj.bias, self.direction_params(False),
                             self.direction_params(True), self.out_proj.weight, self.out_proj.bias,
                             backend=self.backend)


class Block(nn.Module):
    """Add → Norm → Mixer (spec §2.1). Returns ``(mixer_output, residual)``; the next block (or the final
    norm) adds ``drop_path(mixer_output)`` to ``residual``."""

    def __init__(self, dim: int, mixer_cls=BiMamba, norm_epsilon: float = 1e-5, rms_norm: bool = True,
                 fused_add_norm: bool = True, residual_in_fp32: bool = True, drop_path: float = 0.0):
        super().__init__()
        self.residual_in_fp32 = residual_in_fp32
        self.fused_add_norm = fused_add_norm
        self.mixer = mixer_cls(dim)
        self.norm = RMSNorm(dim, eps=norm_epsilon) if rms_norm else nn.LayerNorm(dim, eps=norm_epsilon)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, hidden_states: torch.Tensor, residual: Optional[torch.Tensor] = None,
                use_checkpoint: bool = False):
        hidden_states, residual = add_then_norm(self.norm, hidden_states, residual, prenorm=True,
                                                residual_in_fp32=self.residual_in_fp32, fused=self.fused_add_norm,
                                                drop_path=self.drop_path)
        if use_checkpoint and torch.is_grad_enabled():
            hidden_states = checkpoint(self.mixer, hidden_states, use_reentrant=False)
        else:
            hidden_states = self.mixer(hidden_states)
        return hidden_states, residual


def drop_path_factors(drop_path: nn.Module, x: torch.Tensor) -> Optional[torch.Tensor]:
    """The per-sample factors (B,) of a training-mode ``timm`` :class:`DropPath` for ``x`` (0 or 1/keep in x's
    dtype), drawn exactly as ``drop_path(x)`` draws them (same generator calls, same values), or None when it
    would leave x unchanged (an ``nn.Identity``, eval mode, rate 0). The add + norm then applies them in its
    kernel instead of a separate pass over x."""
    if isinstance(drop_path, nn.Identity):
        return None
    if not isinstance(drop_path, DropPath):
        raise TypeError(f"drop_path must be a timm DropPath or nn.Identity, got {type(drop_path).__name__}")
    if not drop_path.training or drop_path.drop_prob == 0.0:
        return None
    keep = 1.0 - drop_path.drop_prob
    factors = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    if keep > 0.0 and drop_path.scale_by_keep:
        factors.div_(keep)
    return factors.view(-1)


def add_then_norm(norm: nn.Module, x, residual, prenorm: bool, residual_in_fp32: bool, fused: bool = True,
                  drop_path: Optional[nn.Module] = None):
    """Residual add of ``drop_path(x)`` + ``norm`` (an :class:`RMSNorm` or ``nn.LayerNorm``) with the official
    semantics. The drop path's per-sample factors go into the add (:func:`drop_path_factors`): the same values as
    the separate module, without its pass over x."""
    is_rms = isinstance(norm, RMSNorm)
    factors = None if drop_path is None else drop_path_factors(drop_path, x)
    if fused:
        return add_norm(x, norm.weight, getattr(norm, "bias", None), residual, norm.eps, prenorm,
                        residual_in_fp32, is_rms, x_scale=factors)
    return add_norm_unfused_ref(x, norm.weight, getattr(norm, "bias", None), residual, norm.eps, prenorm,
                                residual_in_fp32, is_rms, x_scale=factors)


def segm_init_weights(m: nn.Module) -> None:
    """Linear: trunc_normal(0.02) weight, zero bias; LayerNorm: ones/zeros (spec §3.8 step 1)."""
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)
    elif isinstance(m, nn.LayerNorm):
        nn.init.constant_(m.bias, 0)
        nn.init.ones_(m.weight)


def init_mamba_weights(module: nn.Module, n_layer: int, n_residuals_per_layer: int = 1,
                       initializer_range: float = 0.02, rescale_prenorm_residual: bool = True) -> None:
    """Spec §3.8 step 3: zero Linear biases (unless ``_no_reinit``) and re-draw each mixer's ``out_proj``
    with kaiming-uniform(a=√5) scaled by 1/√(n_residuals·depth)."""
    if isinstance(module, nn.Linear):
        if module.bias is not None and not getattr(module.bias, "_no_reinit", False):
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=initializer_range)
    if rescale_prenorm_residual:
        # Only a mixer has a parameter named exactly ``out_proj.weight`` relative to itself.
        for name, p in module.named_parameters():
            if name == "out_proj.weight":
                nn.init.kaiming_uniform_(p, a=math.sqrt(5))
                with torch.no_grad():
                    p /= math.sqrt(n_residuals_per_layer * n_layer)


def init_model_weights(model: nn.Module, depth: int, keep_mamba_dt_init: bool = False,
                       initializer_cfg: Optional[dict] = None) -> None:
    """The model-level init of every VideoMamba class (spec §3.8).

    ``keep_mamba_dt_init=True`` is the documented deviation of spec §10.1-4: the official model-level init
    overwrites Mamba's Δ init (dt_proj weight ~ N(0, .02), bias 0 → Δ = ln 2 everywhere); this flag restores
    the intended Δ init of the forward branch after the model-level init.
    """
    saved = {}
    if keep_mamba_dt_init:
        saved = {n: p.detach().clone() for n, p in model.named_parameters() if ".dt_proj." in n}
    model.apply(segm_init_weights)
    if hasattr(model, "head") and isinstance(model.head, nn.Module):
        model.head.apply(segm_init_weights)
    if getattr(model, "pos_embed", None) is not None:
        trunc_normal_(model.pos_embed, std=0.02)
    model.apply(partial(init_mamba_weights, n_layer=depth, **(initializer_cfg or {})))
    if saved:
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in saved:
                    p.copy_(saved[n])
