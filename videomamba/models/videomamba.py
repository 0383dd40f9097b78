"""VideoMamba image and video classifiers (spec §3.1, §3.3), their checkpoint filter and timm factories.

Registered names (``import videomamba`` registers them with timm):

* video classifiers ``videomamba_{tiny,small,middle,base}`` — input (B, 3, T, H, W), official
  ``video_sm`` model; kwargs ``num_frames``, ``img_size``, ``kernel_size`` (tubelet), ``num_classes``...
* image classifiers ``videomamba_image_{tiny,small,middle,base}`` — input (B, 3, H, W), official
  ``image_sm`` model (the official code calls both families ``videomamba_tiny``; the ``_image`` infix keeps
  them apart here).

Pretrained tags name the released files (``videomamba_tiny.k400_f16_res224``...). ``pretrained=True`` reads
the file from ``pretrained_cfg_overlay=dict(file=PATH)`` or from ``$VIDEOMAMBA_PRETRAINED_DIR`` and adapts
it to the requested frames, resolution, tubelet and classes (see :func:`checkpoint_filter_fn`).
"""
import logging
import os
import re
from functools import partial
from typing import Dict, Optional

import torch
import torch.nn as nn
from timm.layers import DropPath
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._pretrained import PretrainedCfg

from .checkpoint import (CheckpointError, LoadReport, inflate_patch_embed, load_state_dict_with_report,
                         resize_spatial_pos_embed, resize_temporal_pos_embed)
from .layers import BiMamba, Block, add_then_norm, init_model_weights, tubelet_tokens
from ..ops import RMSNorm

__all__ = ["VisionMamba", "VideoMamba", "checkpoint_filter_fn", "load_pretrained", "resolve_pretrained_file",
           "PRETRAINED_DIR_ENV"]

_logger = logging.getLogger(__name__)
PRETRAINED_DIR_ENV = "VIDEOMAMBA_PRETRAINED_DIR"


class VisionMamba(nn.Module):
    """Image classifier (official ``image_sm`` ``VisionMamba``): Conv2d patches, cls token prepended at
    index 0, spatial pos-embed, ``depth`` B-Mamba blocks, final RMSNorm, head on token 0."""

    def __init__(self, img_size: int = 224, patch_size: int = 16, stride: Optional[int] = None, depth: int = 24,
                 embed_dim: int = 192, in_chans: int = 3, num_classes: int = 1000, drop_rate: float = 0.0,
                 drop_path_rate: float = 0.1, ssm_cfg: Optional[dict] = None, norm_epsilon: float = 1e-5,
                 initializer_cfg: Optional[dict] = None, fused_add_norm: bool = True, rms_norm: bool = True,
                 residual_in_fp32: bool = True, bimamba: bool = True, fc_drop_rate: float = 0.0,
                 use_checkpoint: bool = False, checkpoint_num: int = 0, keep_mamba_dt_init: bool = False,
                 backend: Optional[str] = None, channels: Optional[int] = None, global_pool: str = "token"):
        super().__init__()
        if not bimamba:
            raise ValueError("only bimamba=True exists in VideoMamba (every official model is bidirectional)")
        if global_pool != "token":
            raise ValueError(f"VideoMamba classifies from the cls token; global_pool={global_pool!r} unsupported")
        in_chans = channels if channels is not None else in_chans
        self.img_size, self.patch_size = img_size, patch_size
        self.num_classes = num_classes
        self.embed_dim = self.num_features = self.head_hidden_size = embed_dim
        self.depth = depth
        self.residual_in_fp32, self.fused_add_norm = residual_in_fp32, fused_add_norm
        self.use_checkpoint, self.checkpoint_num = use_checkpoint, checkpoint_num
        self.num_prefix_tokens = 1
        self.grad_checkpointing = use_checkpoint

        self._build_stem(img_size, patch_size, stride, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches + 1, embed_dim))
        self._build_extra_embeddings()
        self.pos_drop = nn.Dropout(p=drop_rate)

        # Block i applies drop path to the previous mixer's output: rates [0] + linspace(0, rate, depth).
        dpr = torch.linspace(0, drop_path_rate, depth, device="cpu").tolist()
        inter_dpr = [0.0] + dpr
        mixer_cls = partial(BiMamba, backend=backend, **(ssm_cfg or {}))
        self.layers = nn.ModuleList([
            Block(embed_dim, mixer_cls=partial(mixer_cls, layer_idx=i), norm_epsilon=norm_epsilon,
                  rms_norm=rms_norm, fused_add_norm=fused_add_norm, residual_in_fp32=residual_in_fp32,
                  drop_path=inter_dpr[i])
            for i in range(depth)])
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0.0 else nn.Identity()
        self.norm_f = RMSNorm(embed_dim, eps=norm_epsilon) if rms_norm else nn.LayerNorm(embed_dim, eps=norm_epsilon)
        self.head_drop = nn.Dropout(fc_drop_rate) if fc_drop_rate > 0 else nn.Identity()
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()

        init_model_weights(self, depth, keep_mamba_dt_init=keep_mamba_dt_init, initializer_cfg=initializer_cfg)

    # --- embedding -------------------------------------------------------------------------------------
    def _build_stem(self, img_size, patch_size, stride, in_chans, embed_dim):
        stride = stride or patch_size
        self.grid_size = ((img_size - patch_size) // stride + 1,) * 2
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=stride)

    def _build_extra_embeddings(self):
        pass

    def _check_input(self, x: torch.Tensor):
        if x.dim() != 4 or x.shape[-2:] != (self.img_size, self.img_size):
            raise ValueError(f"{type(self).__name__} expects (B, C, {self.img_size}, {self.img_size}) images, got "
                             f"{tuple(x.shape)}; build the model with img_size=... (checkpoints are resized at load)")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → token sequence (B, 1 + HW, D) entering layer 0."""
        self._check_input(x)
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.pos_drop(x)

    # --- trunk -----------------------------------------------------------------------------------------
    def forward_blocks(self, x: torch.Tensor) -> torch.Tensor:
        """Run every block and the final add + norm on an embedded sequence (B, L, D) → (B, L, D)."""
        hidden, residual = x, None
        for idx, layer in enumerate(self.layers):
            hidden, residual = layer(hidden, residual,
                                     use_checkpoint=self.use_checkpoint and idx < self.checkpoint_num)
        return add_then_norm(self.norm_f, hidden, residual, prenorm=False, residual_in_fp32=self.residual_in_fp32,
                             fused=self.fused_add_norm, drop_path=self.drop_path)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """All final hidden states after the final norm, (B, L, D); token 0 is the cls token."""
        return self.forward_blocks(self.embed(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(x[:, 0])
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    # --- timm model API --------------------------------------------------------------------------------
    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        if global_pool not in (None, "token"):
            raise ValueError(f"only global_pool='token' is supported, got {global_pool!r}")
        self.num_classes = num_classes
        self.head = nn.Linear(self.embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        if num_classes > 0:
            nn.init.trunc_normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Checkpoint every block's mixer (``checkpoint_num`` = depth) or none."""
        self.use_checkpoint = self.grad_checkpointing = enable
        self.checkpoint_num = self.depth if enable else 0

    @torch.jit.ignore
    def no_weight_decay(self):
        return {"pos_embed", "cls_token"}

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> Dict:
        """Stem (embeddings) → group 0, block i → i + 1; the final norm and the head are left unmatched, so
        they form the last group (lr scale 1), as the official per-block rule assigns them (spec §6.1)."""
        return dict(
            stem=r"^cls_token|^pos_embed|^temporal_pos_embedding|^patch_embed",
            blocks=[(r"^layers\.(\d+)", None)],
        )

    def get_num_layers(self) -> int:
        return self.depth


class VideoMamba(VisionMamba):
    """Video classifier (official ``video_sm`` ``VisionMamba``, spec §3.3).

    Conv3d tubelets (``kernel_size`` frames × 16 × 16), spatial pos-embed shared by all frames, temporal
    pos-embed added per frame (not to the cls token), tokens in spatial-first order
    ``[cls, frame 0 (HW raster), frame 1, ...]``: index ``1 + t·HW + h·W + w``.
    """

    def __init__(self, img_size: int = 224, patch_size: int = 16, depth: int = 24, embed_dim: int = 192,
                 num_frames: int = 8, kernel_size: int = 1, **kwargs):
        if num_frames % kernel_size:
            raise ValueError(f"num_frames={num_frames} must be a multiple of kernel_size (tubelet)={kernel_size}")
        self.num_frames, self.tubelet_size = num_frames, kernel_size
        self.num_temporal = num_frames // kernel_size
        kwargs.pop("stride", None)
        super().__init__(img_size=img_size, patch_size=patch_size, depth=depth, embed_dim=embed_dim, **kwargs)

    def _build_stem(self, img_size, patch_size, stride, in_chans, embed_dim):
        self.grid_size = (img_size // patch_size,) * 2
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.patch_embed = nn.Module()
        k = self.tubelet_size
        self.patch_embed.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=(k, patch_size, patch_size),
                                          stride=(k, patch_size, patch_size))

    def _build_extra_embeddings(self):
        self.temporal_pos_embedding = nn.Parameter(torch.zeros(1, self.num_temporal, self.embed_dim))

    def _check_input(self, x: torch.Tensor):
        expected = (self.num_frames, self.img_size, self.img_size)
        if x.dim() != 5 or tuple(x.shape[2:]) != expected:
            raise ValueError(f"{type(self).__name__} expects (B, C, T={expected[0]}, H={expected[1]}, W={expected[2]}) "
                             f"clips, got {tuple(x.shape)}; build the model with num_frames/img_size matching the "
                             f"input (checkpoints are adapted at load time)")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T_in, H, W) → (B, 1 + T·HW, D) entering layer 0."""
        self._check_input(x)
        x = tubelet_tokens(self.patch_embed.proj, x)  # (B, T, H', W', D)
        b, t, h, w, d = x.shape
        cls = self.cls_token + self.pos_embed[:, :1]  # the cls token gets spatial slot 0, no temporal PE
        # spatial + temporal position embeddings summed first (a (T, HW, D) table), then added to the tokens
        # in one pass; the official code adds them to the tokens one after the other (same sum, one rounding
        # step of fp32 in another order)
        pos = self.pos_embed[:, 1:].unsqueeze(1) + self.temporal_pos_embedding.unsqueeze(2)
        x = x.reshape(b, t, h * w, d) + pos
        x = torch.cat([cls.expand(b, -1, -1), x.reshape(b, t * h * w, d)], dim=1)
        return self.pos_drop(x)

    @torch.jit.ignore
    def no_weight_decay(self):
        return {"pos_embed", "cls_token", "temporal_pos_embedding"}


# --- checkpoint adaptation ---------------------------------------------------------------------------------

_NON_CLASSIFIER_PREFIXES = ("distill_head.", "clip_decoder.", "clip_teacher.", "text_encoder.", "vision_proj.",
                            "text_proj.", "itm_head.", "pool_norm.", "head_dist.")
_NON_CLASSIFIER_KEYS = ("temp", "clip_pos_embed", "clip_img_pos_embed")


def checkpoint_filter_fn(state_dict: Dict[str, torch.Tensor], model: VisionMamba, report: Optional[LoadReport] = None,
                         inflate: str = "center", orig_num_frames: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """Adapt an official-format state dict to ``model`` (spec §4.2–4.3), recording every change in ``report``.

    * MM checkpoints: ``vision_encoder.`` prefix removed; keys of other families (distill head, CLIP decoder
      and teacher, text encoder, projections) dropped; ``norm.weight`` (pretrain family) → ``norm_f.weight``.
    * ``patch_embed``: 2D → 3D inflation (``inflate='center'`` official, or ``'average'``); 3D with another
      tubelet: summed over time then re-inflated; 3D → 2D: summed over time.
    * ``pos_embed``: bicubic resize of the spatial grid (cls slot kept).
    * ``temporal_pos_embedding``: linear resize to the model's length; absent (image checkpoint): kept at
      its zero init. ``orig_num_frames`` reproduces the official ``--orig_t_size`` quirk (spec §10.3-18):
      when it equals the model's frame count no interpolation happens and a tensor of another length is
      skipped (left at init).
    * ``head``: dropped and re-initialised when the class count differs; absent: kept at init.
    """
    report = report if report is not None else LoadReport()
    own = model.state_dict()
    sd = dict(state_dict)

    if "vision_encoder.cls_token" in sd and "cls_token" not in sd:
        sd = {k[len("vision_encoder."):] if k.startswith("vision_encoder.") else k: v for k, v in sd.items()}
        report.adapted.append("vision_encoder.*: prefix removed (multi-modal checkpoint)")
    for key in list(sd):
        if key not in own and (key.startswith(_NON_CLASSIFIER_PREFIXES) or key in _NON_CLASSIFIER_KEYS):
            report.dropped.append(f"{key}: not part of a classifier")
            del sd[key]
    if "norm.weight" in sd and "norm.weight" not in own and "norm_f.weight" in own and "norm_f.weight" not in sd:
        sd["norm_f.weight"] = sd.pop("norm.weight")
        report.adapted.append("norm.weight → norm_f.weight (pretrain-family name of the final norm)")

    key = "patch_embed.proj.weight"
    if key in sd and key in own and sd[key].shape != own[key].shape:
        w, target = sd[key], own[key]
        if w.dim() == 4 and target.dim() == 5:
            sd[key] = inflate_patch_embed(w, target.shape[2], inflate)
            report.adapted.append(f"{key}: 2D {tuple(w.shape)} inflated to 3D {tuple(target.shape)} ({inflate})")
        elif w.dim() == 5 and target.dim() == 5 and w.shape[2] != target.shape[2]:
            sd[key] = inflate_patch_embed(w.sum(2), target.shape[2], inflate)
            report.adapted.append(f"{key}: tubelet {w.shape[2]} → {target.shape[2]} (summed over time, "
                                  f"re-inflated, {inflate})")
        elif w.dim() == 5 and target.dim() == 4:
            sd[key] = w.sum(2)
            report.adapted.append(f"{key}: 3D {tuple(w.shape)} summed over time to 2D {tuple(target.shape)}")

    key = "pos_embed"
    if key in sd and key in own and sd[key].shape != own[key].shape and sd[key].shape[-1] == own[key].shape[-1]:
        old_n = sd[key].shape[1] - 1
        sd[key] = resize_spatial_pos_embed(sd[key], model.grid_size)
        report.adapted.append(f"{key}: spatial grid {int(old_n ** 0.5)}² → {model.grid_size[0]}×{model.grid_size[1]} "
                              f"(bicubic)")

    key = "temporal_pos_embedding"
    if key in own:
        new_t = own[key].shape[1]
        if key not in sd:
            sd[key] = own[key].clone()
            report.kept_at_init.append(f"{key}: not in the file (image checkpoint), starts at zero")
        elif sd[key].shape[1] != new_t and sd[key].shape[-1] == own[key].shape[-1]:
            old_t = sd[key].shape[1]
            if orig_num_frames is not None and orig_num_frames // model.tubelet_size == new_t:
                report.dropped.append(f"{key}: file has {old_t} steps, model {new_t}, and orig_num_frames="
                                      f"{orig_num_frames} says no interpolation (official quirk): kept at init")
                del sd[key]
                sd[key] = own[key].clone()
            else:
                sd[key] = resize_temporal_pos_embed(sd[key], new_t)
                report.adapted.append(f"{key}: {old_t} → {new_t} steps (linear)")
    elif key in sd:
        report.dropped.append(f"{key}: the image model has no temporal embedding")
        del sd[key]

    for key in ("head.weight", "head.bias"):
        if key in own and key not in sd:
            sd[key] = own[key].clone()
            report.kept_at_init.append(f"{key}: not in the file, kept at init")
        elif key in sd and (key not in own or sd[key].shape != own[key].shape):
            shape = tuple(sd[key].shape)
            del sd[key]
            if key in own:
                sd[key] = own[key].clone()
                report.kept_at_init.append(f"{key}: file has {shape[0]} classes, model {model.num_classes}: re-initialised")
            else:
                report.dropped.append(f"{key}: the model has no classifier head")
    return sd


def load_pretrained(model: VisionMamba, checkpoint, strict: bool = True, inflate: str = "center",
                    orig_num_frames: Optional[int] = None) -> LoadReport:
    """Load an official-format checkpoint (path or dict) into ``model`` with every adaptation above.

    ``strict=False`` is the official lenient loader: tensors whose shape still differs are skipped.
    """
    report = load_state_dict_with_report(model, checkpoint, checkpoint_filter_fn, strict=strict,
                                         inflate=inflate, orig_num_frames=orig_num_frames)
    _logger.info("%s", report)
    return report


# --- pretrained configurations (the official model zoo) ------------------------------------------------

def _cfg(file: str, num_classes: int, frames: Optional[int] = None, res: int = 224, top1: Optional[float] = None,
         notes: str = "", **kwargs):
    input_size = (3, res, res)  # timm wants (C, H, W); the frame count is in the tag name (_f16_)
    return dict(file=file, num_classes=num_classes, input_size=input_size, mean=(0.485, 0.456, 0.406),
                std=(0.229, 0.224, 0.225), crop_pct=224 / 256 if not frames else 1.0, interpolation="bicubic",
                first_conv="patch_embed.proj", classifier="head", license="apache-2.0",
                origin_url="https://github.com/OpenGVLab/VideoMamba", paper_ids="arXiv:2403.06977",
                notes=(f"zoo top-1 {top1}. " if top1 is not None else "") + notes, **kwargs)


_SIZE_LETTER = {"tiny": "t", "small": "s", "middle": "m", "base": "b"}
# (size, res) -> zoo top-1 of the ImageNet-1K checkpoints (spec §7.1)
_IN1K = {("tiny", 224): 76.9, ("tiny", 448): 79.3, ("tiny", 576): 79.6, ("small", 224): 81.2, ("small", 448): 83.2,
         ("small", 576): 83.5, ("middle", 224): 82.8, ("middle", 448): 83.8, ("middle", 576): 84.0,
         ("base", 224): 82.7}
_IN1K_SUFFIX = {224: "res224", 448: "res224to448", 576: "res224to448to576"}
# (size, dataset, mask, frames, res) -> zoo top-1 of the video checkpoints (spec §7.2)
_VIDEO = {
    **{("tiny", "k400", False, f, 224): a for f, a in zip((8, 16, 32, 64), (76.9, 78.1, 78.8, 79.6))},
    **{("small", "k400", False, f, 224): a for f, a in zip((8, 16, 32, 64), (79.3, 80.8, 81.5, 81.8))},
    **{("middle", "k400", False, f, 224): a for f, a in zip((8, 16, 32, 64), (80.6, 81.9, 82.4, 82.8))},
    **{("middle", "k400", True, f, 224): a for f, a in zip((8, 16, 32, 64), (82.0, 83.4, 83.9, 84.3))},
    ("tiny", "k400", False, 64, 384): 80.3, ("small", "k400", False, 64, 384): 82.7,
    ("middle", "k400", False, 64, 384): 83.3, ("middle", "k400", True, 64, 384): 85.0,
    ("tiny", "ssv2", False, 8, 224): 65.1, ("tiny", "ssv2", False, 16, 224): 66.0, ("tiny", "ssv2", False, 16, 288): 66.2,
    ("small", "ssv2", False, 8, 224): 66.6, ("small", "ssv2", False, 16, 224): 67.7, ("small", "ssv2", False, 16, 288): 68.1,
    ("middle", "ssv2", False, 8, 224): 67.3, ("middle", "ssv2", False, 16, 224): 68.3, ("middle", "ssv2", False, 16, 288): 68.4,
    ("middle", "ssv2", True, 8, 224): 70.2, ("middle", "ssv2", True, 16, 224): 71.0, ("middle", "ssv2", True, 16, 288): 71.4,
    ("tiny", "breakfast", False, 32, 224): 94.3, ("tiny", "breakfast", False, 64, 224): 94.3,
    ("small", "breakfast", False, 32, 224): 95.3, ("small", "breakfast", False, 64, 224): 97.4,
    ("middle", "breakfast", False, 32, 224): 94.8, ("middle", "breakfast", False, 64, 224): 95.8,
    ("middle", "breakfast", True, 32, 224): 97.9, ("middle", "breakfast", True, 64, 224): 96.9,
    ("tiny", "coin", False, 32, 224): 86.2, ("tiny", "coin", False, 64, 224): 87.0,
    ("small", "coin", False, 32, 224): 88.4, ("small", "coin", False, 64, 224): 88.7,
    ("middle", "coin", False, 32, 224): 88.3, ("middle", "coin", False, 64, 224): 89.5,
    ("middle", "coin", True, 32, 224): 89.6, ("middle", "coin", True, 64, 224): 90.4,
}
_CLASSES = {"k400": 400, "ssv2": 174, "breakfast": 10, "coin": 180}


def _default_cfgs():
    cfgs = {}
    for (size, res), top1 in _IN1K.items():
        file = f"videomamba_{_SIZE_LETTER[size]}16_in1k_{_IN1K_SUFFIX[res]}.pth"
        cfgs[f"videomamba_image_{size}.in1k_{_IN1K_SUFFIX[res]}"] = _cfg(file, 1000, res=res, top1=top1)
        if size != "base" and res == 224:  # official video pretrained=True: ImageNet weights, inflated
            cfgs[f"videomamba_{size}.in1k_res224"] = _cfg(
                file, 1000, frames=8, res=224, top1=top1, notes="ImageNet weights inflated to video (official init).")
    for (size, data, mask, frames, res), top1 in _VIDEO.items():
        kind = f"{data}_mask_ft" if mask else data
        suffix = "res224" if res == 224 else f"res224to{res}"
        file = f"videomamba_{_SIZE_LETTER[size]}16_{kind}_f{frames}_{suffix}.pth"
        cfgs[f"videomamba_{size}.{kind}_f{frames}_{suffix}"] = _cfg(file, _CLASSES[data], frames=frames, res=res,
                                                                     top1=top1)
    for data in ("k400", "ssv2"):
        cfgs[f"videomamba_middle.{data}_mask_pt_f8_res224"] = _cfg(
            f"videomamba_m16_{data}_mask_pt_f8_res224.pth", 0, frames=8,
            notes="masked-pretraining weights (no head): fine-tuning init.")
    cfgs["videomamba_base.untrained"] = _cfg("", 1000, frames=8, notes="no released checkpoint")
    # timm picks the first tag of an architecture as its default: keep in1k first for video (official init).
    ordered = dict(sorted(cfgs.items(), key=lambda kv: (kv[0].split(".")[0], ".in1k_res224" not in kv[0])))
    return generate_default_cfgs(ordered)


default_cfgs = _default_cfgs()


def resolve_pretrained_file(cfg: PretrainedCfg, variant: str) -> str:
    """Path of the weights for ``cfg``: an explicit ``file`` path, else ``$VIDEOMAMBA_PRETRAINED_DIR/<file>``."""
    name = cfg.file or ""
    if name and os.path.isfile(name):
        return name
    folder = os.environ.get(PRETRAINED_DIR_ENV)
    if name and folder and os.path.isfile(os.path.join(folder, os.path.basename(name))):
        return os.path.join(folder, os.path.basename(name))
    tag = f"{variant}.{cfg.tag}" if cfg.tag else variant
    if not name:
        raise FileNotFoundError(f"{tag}: no released checkpoint exists; pass pretrained_cfg_overlay=dict(file=PATH)")
    where = f"${PRETRAINED_DIR_ENV}={folder}" if folder else f"${PRETRAINED_DIR_ENV} (not set)"
    raise FileNotFoundError(
        f"pretrained weights for {tag} not found. Download the official file '{os.path.basename(name)}' "
        f"(OpenGVLab/VideoMamba model zoo, Hugging Face repo OpenGVLab/VideoMamba) and put it in {where}, "
        f"or pass pretrained_cfg_overlay=dict(file='/path/to/{os.path.basename(name)}').")


def _create(cls, variant: str, pretrained: bool = False, **kwargs):
    from timm.models import resolve_pretrained_cfg
    cfg = resolve_pretrained_cfg(variant, pretrained_cfg=kwargs.pop("pretrained_cfg", None),
                                 pretrained_cfg_overlay=kwargs.pop("pretrained_cfg_overlay", None))
    load_opts = {k: kwargs.pop(k) for k in ("pretrained_strict", "inflate", "orig_num_frames") if k in kwargs}
    if cfg.input_size:
        kwargs.setdefault("img_size", cfg.input_size[-1])
    frames = re.search(r"_f(\d+)_", cfg.tag or "")
    if cls is VideoMamba and frames:
        kwargs.setdefault("num_frames", int(frames.group(1)))
    model = build_model_with_cfg(cls, variant, pretrained=False, pretrained_cfg=cfg, **kwargs)
    if pretrained:
        path = resolve_pretrained_file(cfg, variant)
        load_pretrained(model, path, strict=load_opts.get("pretrained_strict", True),
                        inflate=load_opts.get("inflate", "center"), orig_num_frames=load_opts.get("orig_num_frames"))
    return model


_SIZES = {"tiny": (192, 24), "small": (384, 24), "middle": (576, 32), "base": (768, 24)}
_COMMON = dict(patch_size=16, rms_norm=True, residual_in_fp32=True, fused_add_norm=True)


def _register(cls, size: str, name: str, kind: str):
    """Register a timm factory ``name`` building ``cls`` at ``size``; every kwarg overrides the defaults."""
    dim, depth = _SIZES[size]

    def factory(pretrained: bool = False, **kwargs):
        return _create(cls, name, pretrained, **{**_COMMON, "embed_dim": dim, "depth": depth, **kwargs})

    factory.__name__ = name
    factory.__doc__ = f"VideoMamba-{size} {kind} classifier (D={dim}, depth {depth})."
    return register_model(factory)


videomamba_tiny, videomamba_small, videomamba_middle, videomamba_base = (
    _register(VideoMamba, s, f"videomamba_{s}", "video") for s in _SIZES)
videomamba_image_tiny, videomamba_image_small, videomamba_image_middle, videomamba_image_base = (
    _register(VisionMamba, s, f"videomamba_image_{s}", "image") for s in _SIZES)
