"""Build the model, datasets, loaders, optimizer and schedules from a :class:`~videomamba.utils.config.Config`."""
from __future__ import annotations

import math
from typing import Iterator, List

import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from ..utils.config import data_mapping
from ..utils.optim import lr_scale_factor
from ..utils.schedule import cosine_scheduler
from .train_one_epoch import StepSchedules


def build_model(cfg, logger=None):
    import timm

    import videomamba  # noqa: F401  (registers the factories)
    from videomamba import ops
    from videomamba.models import load_pretrained

    m = cfg.model
    ops.set_backend(m.backend)
    kwargs = dict(num_classes=m.num_classes, num_frames=m.num_frames, img_size=m.img_size, kernel_size=m.tubelet_size,
                  drop_path_rate=m.drop_path_rate, fc_drop_rate=m.fc_drop_rate, use_checkpoint=m.use_checkpoint,
                  checkpoint_num=m.checkpoint_num)
    for key in ("depth", "embed_dim", "patch_size"):
        if m[key] is not None:
            kwargs[key] = m[key]
    kwargs.update(dict(m.extra_kwargs))
    if m.pretrained:
        kwargs.update(inflate=m.inflate, pretrained_strict=m.load_strict)
        if m.orig_num_frames:
            kwargs["orig_num_frames"] = m.orig_num_frames
        if m.pretrained_file:
            kwargs["pretrained_cfg_overlay"] = dict(file=m.pretrained_file)
    try:
        model = timm.create_model(m.name, pretrained=m.pretrained, **kwargs)
    except RuntimeError as exc:
        if "Unknown model" in str(exc):
            raise ValueError(f"config key 'model.name' = {m.name!r}: not a registered timm model "
                             f"(VideoMamba: videomamba_tiny|small|middle|base)") from None
        raise
    if m.finetune:
        report = load_pretrained(model, m.finetune, strict=m.load_strict, inflate=m.inflate,
                                 orig_num_frames=m.orig_num_frames)
        if logger:
            logger.info(f"loaded model.finetune={m.finetune}:\n{report}")
    return model


def build_datasets(cfg, modes=("train", "val", "test")) -> dict:
    from videomamba.data import build_dataset

    mapping = data_mapping(cfg)
    return {mode: build_dataset(mapping, mode) for mode in modes}


class ShardSampler(Sampler):
    """Rank r takes items r, r+W, ... of the dataset in order, without padding (exact validation totals)."""

    def __init__(self, dataset, num_replicas: int, rank: int):
        self.indices = list(range(rank, len(dataset), num_replicas))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _loader_kwargs(cfg, collate_fn):
    d = cfg.data
    return dict(num_workers=d.num_workers, pin_memory=d.pin_memory and torch.cuda.is_available(),
                collate_fn=collate_fn)


def build_train_loader(cfg, dataset, rank: int, world: int):
    from videomamba.data import multiple_samples_collate

    # DistributedSampler also for one process: its shuffle is a pure function of (seed, epoch), which
    # makes resume exact. Workers are re-created each epoch with seeds drawn from ``generator``, which
    # the training loop re-seeds per epoch (so worker RNGs never depend on the resumed state).
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=cfg.train.seed)
    generator = torch.Generator()
    loader = DataLoader(dataset, sampler=sampler, batch_size=cfg.data.batch_size, drop_last=True,
                        generator=generator, persistent_workers=False,
                        **_loader_kwargs(cfg, multiple_samples_collate))
    return loader, sampler, generator


def build_eval_loader(cfg, dataset, rank: int, world: int, mode: str):
    from videomamba.data import collate_skip_none

    batch = cfg.data.val_batch_size or int(1.5 * cfg.data.batch_size)
    if world > 1 and cfg.eval.dist_eval:
        # val: exact unpadded shards; test: padded DistributedSampler (duplicates removed at the merge).
        sampler = ShardSampler(dataset, world, rank) if mode == "val" else \
            DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=False)
    else:
        sampler = torch.utils.data.SequentialSampler(dataset)
    return DataLoader(dataset, sampler=sampler, batch_size=batch, drop_last=False,
                      generator=torch.Generator().manual_seed(0),  # keeps the global RNG untouched
                      persistent_workers=cfg.data.persistent_workers and cfg.data.num_workers > 0,
                      **_loader_kwargs(cfg, collate_skip_none))


def build_schedules(cfg, train_len: int, world: int) -> tuple:
    """(StepSchedules, effective lr/min_lr/warmup_lr) following spec §6.1."""
    t, d = cfg.train, cfg.data
    total_batch = d.batch_size * t.update_freq * world
    steps = train_len // total_batch
    if steps < 1:
        raise ValueError(f"the training set ({train_len} videos) is smaller than one global batch "
                         f"(data.batch_size {d.batch_size} x train.update_freq {t.update_freq} x {world} processes)")
    if t.max_steps_per_epoch:
        steps = min(steps, t.max_steps_per_epoch)
    scale = lr_scale_factor(t.lr_scale_rule, d.batch_size, t.update_freq, world, d.num_sample, t.lr_scale_base)
    lr, min_lr, warmup_lr = t.lr * scale, t.min_lr * scale, t.warmup_lr * scale
    lr_sched = cosine_scheduler(lr, min_lr, t.epochs, steps, warmup_epochs=t.warmup_epochs,
                                start_warmup_value=warmup_lr, warmup_steps=t.warmup_steps)
    wd_end = t.weight_decay if t.weight_decay_end is None else t.weight_decay_end
    wd_sched = cosine_scheduler(t.weight_decay, wd_end, t.epochs, steps)
    return StepSchedules(lr_sched, wd_sched, steps), {"lr": lr, "min_lr": min_lr, "warmup_lr": warmup_lr,
                                                      "total_batch": total_batch, "steps_per_epoch": steps}


def build_criterion(cfg, mixup_active: bool):
    from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

    if mixup_active:
        return SoftTargetCrossEntropy()  # smoothing is folded into the mixup targets
    if cfg.train.smoothing > 0:
        return LabelSmoothingCrossEntropy(smoothing=cfg.train.smoothing)
    return torch.nn.CrossEntropyLoss()


def deepspeed_config(cfg, world: int, lr: float = None) -> dict:
    """The official DeepSpeed JSON (spec §6.1), plus ZeRO stage, clipping and accumulation from the config."""
    t, d = cfg.train, cfg.data
    ds = {
        "train_batch_size": d.batch_size * t.update_freq * world,
        "train_micro_batch_size_per_gpu": d.batch_size,
        "gradient_accumulation_steps": t.update_freq,
        "steps_per_print": 1000,
        "optimizer": {"type": "Adam", "adam_w_mode": True,
                      # torch.optim.AdamW underneath (torch_adam): no fused-op compilation needed; it
                      # always applies bias correction, so the official "bias_correction: true" is implied
                      # (torch's AdamW rejects the keyword).
                      "params": {"lr": t.lr if lr is None else lr, "weight_decay": t.weight_decay, "betas": list(t.opt_betas),
                                 "eps": t.opt_eps, "torch_adam": True}},
        "zero_optimization": {"stage": cfg.dist.zero_stage},
    }
    if t.clip_grad:
        ds["gradient_clipping"] = t.clip_grad
    if t.amp != "none":
        ds["fp16"] = {"enabled": t.amp == "fp16", "loss_scale": 0, "initial_scale_power": 16,
                      "loss_scale_window": 500, "hysteresis": 2, "min_loss_scale": 1}
        ds["bf16"] = {"enabled": t.amp == "bf16"}
    return ds


def epoch_batch_indices(sampler, batch_size: int) -> List[List[int]]:
    """The dataset indices of each (drop_last) batch of this epoch, for error messages."""
    idx = list(iter(sampler))
    return [idx[i:i + batch_size] for i in range(0, len(idx) - batch_size + 1, batch_size)]


def num_params(model) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6 if model is not None else math.nan
