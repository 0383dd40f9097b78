"""Typed experiment configuration: dataclass schema + YAML files with ``_base_`` inheritance + dotted overrides.

A config file is YAML whose keys follow :class:`Config`. ``_base_: [../_base_/x.yaml, ...]`` (paths relative
to the file) lists parents merged first, in order, then the file itself on top: mappings merge deeply, lists
and scalars are replaced. Command-line overrides ``section.key=value`` (YAML-parsed values) come last.
Every layer is merged into the structured schema, so an unknown key or a value of the wrong type fails with
an error that names the key and the file (or override) it came from. ``docs/config_reference.md`` documents
every key.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import yaml
from omegaconf import II, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException


class ConfigError(ValueError):
    """A config file or override that does not fit the schema (message names the key and the source)."""


# --------------------------------------------------------------------------------------------- schema
@dataclass
class ModelConfig:
    name: str = "videomamba_tiny"
    num_classes: int = 400
    num_frames: int = II("data.num_frames")
    img_size: int = II("data.input_size")
    tubelet_size: int = 1
    drop_path_rate: float = 0.1
    fc_drop_rate: float = 0.0
    use_checkpoint: bool = False
    checkpoint_num: int = 0
    # Architecture overrides for small/debug models (None = the factory's value).
    depth: Optional[int] = None
    embed_dim: Optional[int] = None
    patch_size: Optional[int] = None
    extra_kwargs: Dict[str, Any] = field(default_factory=dict)
    # Weights.
    pretrained: bool = False
    pretrained_file: Optional[str] = None
    finetune: Optional[str] = None
    load_strict: bool = False
    inflate: str = "center"
    orig_num_frames: Optional[int] = None
    backend: str = "auto"


@dataclass
class DataConfig:
    # Keys handed to videomamba.data.build_dataset (see its docstring for per-dataset defaults).
    dataset: str = "kinetics_sparse"
    data_root: str = ""
    prefix: str = ""
    anno_path: Any = None  # a file, or a mapping {train: .., val: .., test: ..}
    data_path: Optional[str] = None
    split: Optional[str] = None
    sampling: str = "sparse"
    num_frames: int = 8
    sampling_rate: int = 4
    input_size: int = 224
    short_side_size: Optional[int] = None
    num_sample: int = 2
    aa: Optional[str] = "rand-m7-n4-mstd0.5-inc1"
    reprob: float = 0.25
    remode: str = "pixel"
    recount: int = 1
    train_interpolation: str = "bicubic"
    flip: Optional[bool] = None
    trimmed: float = 60
    time_stride: float = 16
    decoder: str = "auto"
    max_retries: int = 10
    on_bad_video: str = "error"
    min_frames: int = 1
    video_id: str = "path"
    lvu_view_index: str = "window"
    dense_val: str = "centered"
    class_names: Optional[str] = None
    filename_tmpl: Optional[str] = None
    frames_fps: float = 30
    bad_sample_dir: Optional[str] = None
    # Random-resized-crop area range of the training transform; null = the pipeline's (official) (0.08, 1).
    train_crop_scale: Optional[List[float]] = None
    num_classes: int = II("model.num_classes")
    # Parameters of videomamba.data.generate_synthetic_dataset (dataset: synthetic; generated into
    # data_root when absent, reused when present).
    synthetic: Optional[Dict[str, Any]] = None
    # Any further keys passed verbatim to build_dataset (for keys newer than this schema).
    extra: Dict[str, Any] = field(default_factory=dict)
    # Loader.
    batch_size: int = 64
    val_batch_size: Optional[int] = None
    num_workers: int = 10
    pin_memory: bool = True
    persistent_workers: bool = True


@dataclass
class TrainConfig:
    epochs: int = 30
    lr: float = 1e-3
    min_lr: float = 1e-6
    warmup_lr: float = 1e-6
    warmup_epochs: int = 5
    warmup_steps: int = -1
    lr_scale_rule: str = "official_video"
    lr_scale_base: int = 256
    weight_decay: float = 0.05
    weight_decay_end: Optional[float] = None
    layer_decay: float = 0.75
    layer_decay_mode: str = "fixed"
    wd_exclusion: str = "no_weight_decay_flags"
    opt: str = "adamw"
    opt_betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    opt_eps: float = 1e-8
    clip_grad: Optional[float] = None
    update_freq: int = 1
    amp: str = "bf16"
    official_scaler: bool = False
    model_ema: bool = False
    model_ema_decay: float = 0.9999
    model_ema_eval: bool = False
    mixup: float = 0.8
    cutmix: float = 1.0
    cutmix_minmax: Optional[List[float]] = None
    mixup_prob: float = 1.0
    mixup_switch_prob: float = 0.5
    mixup_mode: str = "batch"
    smoothing: float = 0.1
    seed: int = 0
    save_ckpt: bool = True
    save_ckpt_freq: int = 100
    auto_resume: bool = True
    resume: Optional[str] = None
    test_best: bool = False
    eval_only: bool = False
    final_test: bool = True
    val_freq: int = 1
    stop_after_epochs: Optional[int] = None
    max_steps_per_epoch: Optional[int] = None


@dataclass
class EvalConfig:
    test_num_segment: int = 4
    test_num_crop: int = 3
    dist_eval: bool = True
    official_merge: bool = False
    save_predictions: bool = True
    cuda_graph: bool = False  # replay eval forwards from CUDA graphs (engine/graphed.py; short clips are host-bound)


@dataclass
class DistConfig:
    backend: str = "auto"
    deepspeed: bool = False
    zero_stage: int = 0
    find_unused_parameters: bool = False
    timeout_minutes: int = 30


@dataclass
class LogConfig:
    print_freq: int = 10
    progress: bool = True
    tensorboard: bool = True
    jsonl: bool = True


@dataclass
class TargetConfig:
    top1: Optional[float] = None
    top5: Optional[float] = None
    source: str = ""


@dataclass
class Config:
    name: str = ""
    output_dir: str = "outputs/default"
    device: str = "auto"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    dist: DistConfig = field(default_factory=DistConfig)
    log: LogConfig = field(default_factory=LogConfig)
    target: TargetConfig = field(default_factory=TargetConfig)


# Closed vocabularies, checked after merging (OmegaConf has no Literal support).
CHOICES = {
    "device": ("auto", "cpu", "cuda"),
    "model.inflate": ("center", "average"),
    "data.dataset": ("kinetics_sparse", "kinetics", "ssv2", "ssv2_frames", "lvu", "breakfast", "coin",
                     "custom_csv", "folder", "imagenet", "synthetic"),
    "data.on_bad_video": ("error", "skip"),
    "data.sampling": ("sparse", "dense", "ssv2", "mm"),
    "data.decoder": ("auto", "decord", "pyav", "frames"),
    "data.video_id": ("path", "basename"),
    "data.lvu_view_index": ("window", "official"),
    "data.dense_val": ("centered", "official"),
    "train.lr_scale_rule": ("official_video", "linear", "none"),
    "train.layer_decay_mode": ("official", "fixed"),
    "train.wd_exclusion": ("official", "no_weight_decay_flags"),
    "train.opt": ("adamw",),
    "train.amp": ("bf16", "fp16", "none"),
    "train.mixup_mode": ("batch", "pair", "elem"),
    "dist.backend": ("auto", "nccl", "gloo"),
    "dist.zero_stage": (0, 1, 2, 3),
}


# --------------------------------------------------------------------------------------------- loading
def _read_yaml(path: str) -> dict:
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    with open(path) as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _layers(path: str, chain: tuple = ()) -> List[tuple]:
    """(source, dict) layers for ``path``: its bases first (recursively), then the file itself."""
    path = os.path.abspath(path)
    if path in chain:
        raise ConfigError(f"circular _base_ inheritance: {' -> '.join(chain + (path,))}")
    data = _read_yaml(path)
    bases = data.pop("_base_", [])
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"{path}: _base_ must be a path or a list of paths, got {bases!r}")
    layers = []
    for base in bases:
        layers += _layers(os.path.join(os.path.dirname(path), base), chain + (path,))
    layers.append((path, data))
    return layers


def _merge(cfg: DictConfig, layer, source: str) -> DictConfig:
    try:
        return OmegaConf.merge(cfg, layer)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        raise ConfigError(f"{source}: bad config key '{key}': {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def parse_overrides(overrides: Sequence[str]) -> List[tuple]:
    """``['train.lr=1e-3', 'data.flip=false']`` -> [(source, nested dict)] with YAML-typed values."""
    layers = []
    for item in overrides:
        if "=" not in item or item.startswith("="):
            raise ConfigError(f"override {item!r}: expected key=value (e.g. train.lr=1e-3)")
        key, text = item.split("=", 1)
        key = key.strip().lstrip("-")
        try:
            value = yaml.safe_load(text) if text != "" else ""
        except yaml.YAMLError:
            value = text
        nested: Any = value
        for part in reversed(key.split(".")):
            if not part:
                raise ConfigError(f"override {item!r}: empty key component")
            nested = {part: nested}
        layers.append((f"override '{item}'", nested))
    return layers


def load_config(path: Optional[str] = None, overrides: Sequence[str] = ()) -> DictConfig:
    """Schema defaults <- base files <- ``path`` <- overrides; validated and resolved (read-only keys
    stay typed; interpolations such as ``model.num_frames: ${data.num_frames}`` are resolved)."""
    cfg = OmegaConf.structured(Config)
    layers = _layers(path) if path else []
    for source, data in layers + parse_overrides(overrides):
        cfg = _merge(cfg, data, source)
    try:
        OmegaConf.resolve(cfg)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"cannot resolve config: key '{getattr(exc, 'full_key', '?')}': {_first_line(exc)}") from None
    validate(cfg)
    return cfg


def validate(cfg: DictConfig) -> None:
    """Checks the schema cannot express: closed vocabularies and value ranges."""
    for key, allowed in CHOICES.items():
        value = OmegaConf.select(cfg, key)
        if value not in allowed:
            raise ConfigError(f"config key '{key}' = {value!r}: expected one of {list(allowed)}")
    positive = ("train.epochs", "train.update_freq", "data.batch_size", "data.num_frames", "data.input_size",
                "model.num_classes", "eval.test_num_segment", "eval.test_num_crop", "data.num_sample",
                "train.save_ckpt_freq", "train.val_freq", "log.print_freq")
    for key in positive:
        if OmegaConf.select(cfg, key) < 1:
            raise ConfigError(f"config key '{key}' = {OmegaConf.select(cfg, key)}: expected an integer >= 1")
    if not 0 < cfg.train.layer_decay <= 1:
        raise ConfigError(f"config key 'train.layer_decay' = {cfg.train.layer_decay}: expected 0 < value <= 1")
    if len(cfg.train.opt_betas) != 2:
        raise ConfigError(f"config key 'train.opt_betas' = {list(cfg.train.opt_betas)}: expected two numbers")
    if cfg.model.num_frames % cfg.model.tubelet_size:
        raise ConfigError(f"config key 'model.num_frames' = {cfg.model.num_frames} must be a multiple of "
                          f"'model.tubelet_size' = {cfg.model.tubelet_size}")
    if cfg.dist.zero_stage and not cfg.dist.deepspeed:
        raise ConfigError("config key 'dist.zero_stage' > 0 needs 'dist.deepspeed: true'")


def save_config(cfg: DictConfig, path: str) -> None:
    from .checkpoint import atomic_write_bytes
    atomic_write_bytes(path, OmegaConf.to_yaml(cfg, resolve=True).encode())


def to_dict(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def data_mapping(cfg: DictConfig) -> dict:
    """The flat mapping handed to ``videomamba.data.build_dataset``: the ``data`` section with ``extra``
    spread in, plus the test-view counts and seed it needs from other sections."""
    data = to_dict(cfg.data)
    extra = data.pop("extra") or {}
    for key in ("batch_size", "val_batch_size", "num_workers", "pin_memory", "persistent_workers"):
        data.pop(key)
    data.update(test_num_segment=cfg.eval.test_num_segment, test_num_crop=cfg.eval.test_num_crop,
                tubelet_size=cfg.model.tubelet_size)
    if data["synthetic"] is None:
        data.pop("synthetic")
    data.update(extra)
    return data
