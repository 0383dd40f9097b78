"""One training epoch: per-iteration LR/WD schedule, mixup, autocast, accumulation, clipping, EMA."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from ..utils.distributed import any_rank, all_reduce_sum
from ..utils.logging import SmoothedValue


class NonFiniteLossError(RuntimeError):
    """Training loss became NaN/Inf; the message names the step, the LR and the batch's samples."""


class StopRequested(Exception):
    """A preemption signal arrived; raised between optimizer steps."""


@dataclass
class StepSchedules:
    lr: np.ndarray
    wd: np.ndarray
    steps_per_epoch: int


def set_lr_wd(optimizer, lr: float, wd: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
        if group["weight_decay"] > 0:
            group["weight_decay"] = wd


def _autocast(device: torch.device, amp: str):
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    return torch.autocast(device_type=device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def _unwrap(model):
    return getattr(model, "module", model)


def train_one_epoch(model, criterion, loader, optimizer, device, epoch: int, sched: StepSchedules, *, amp: str,
                    scaler, update_freq: int = 1, clip_grad: Optional[float] = None, mixup_fn=None,
                    model_ema=None, logger=None, print_freq: int = 10, batch_indices: Optional[Sequence] = None,
                    describe_sample: Optional[Callable[[int], str]] = None, stop_flag=None, deepspeed: bool = False,
                    clips_per_video: int = 1) -> dict:
    """Returns epoch means ``{'loss', 'lr', 'min_lr', 'weight_decay', 'grad_norm', 'clips_per_s', 'steps'}``.

    ``batch_indices[k]``: dataset indices of micro-batch k (for the non-finite-loss message).
    ``stop_flag()``: checked after each optimizer step; when true :class:`StopRequested` is raised.
    """
    model.train()
    num_micro = sched.steps_per_epoch * update_freq
    meters = {k: SmoothedValue() for k in ("loss", "grad_norm")}
    last_lr = last_min_lr = last_wd = 0.0
    clips_seen, t_start = 0, time.time()
    bar = logger.bar(num_micro, f"epoch {epoch}") if logger else None
    if not deepspeed:
        optimizer.zero_grad(set_to_none=True)
    for micro, (samples, targets) in enumerate(loader):
        if micro >= num_micro:
            break
        step = micro // update_freq
        it = epoch * sched.steps_per_epoch + step
        if micro % update_freq == 0:
            set_lr_wd(optimizer, sched.lr[it], sched.wd[it])
            last_lr = max(g["lr"] for g in optimizer.param_groups)
            last_min_lr = min(g["lr"] for g in optimizer.param_groups)
            last_wd = max((g["weight_decay"] for g in optimizer.param_groups if g["weight_decay"] > 0), default=0.0)
        samples = samples.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        if mixup_fn is not None:
            samples, targets = mixup_fn(samples, targets)
        if deepspeed and amp in ("bf16", "fp16"):
            # DeepSpeed keeps half-precision weights: feed inputs of the same dtype (official behaviour).
            samples = samples.to(torch.bfloat16 if amp == "bf16" else torch.float16)
            outputs = model(samples)
            loss = criterion(outputs.float(), targets)
        else:
            with _autocast(device, amp):
                outputs = model(samples)
                loss = criterion(outputs, targets)
        loss_value = loss.item()
        if any_rank(not math.isfinite(loss_value), device):
            where = f"epoch {epoch}, step {it} (micro-batch {micro}), lr {sched.lr[it]:.3e}"
            detail = ""
            if batch_indices is not None and micro < len(batch_indices):
                idx = list(batch_indices[micro])
                detail = f"; batch dataset indices {idx}"
                if describe_sample is not None:
                    detail += f" ({', '.join(describe_sample(i) for i in idx[:16])})"
            raise NonFiniteLossError(f"non-finite training loss {loss_value} at {where}{detail}")

        is_step = (micro + 1) % update_freq == 0
        if deepspeed:
            model.backward(loss)
            model.step()
            grad_norm = model.get_global_grad_norm() if is_step else None
        else:
            sync_ctx = model.no_sync() if (not is_step and hasattr(model, "no_sync")) else _null()
            with sync_ctx:
                scaler.scale(loss / update_freq).backward()
            grad_norm = None
            if is_step:
                scaler.unscale_(optimizer)
                params = [p for g in optimizer.param_groups for p in g["params"]]
                grad_norm = torch.nn.utils.clip_grad_norm_(params, clip_grad if clip_grad else float("inf"))
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
        if is_step and model_ema is not None:
            model_ema.update(_unwrap(model), step=it)

        meters["loss"].update(loss_value)
        if grad_norm is not None:
            gn = float(grad_norm)
            if math.isfinite(gn):
                meters["grad_norm"].update(gn)
        clips_seen += samples.shape[0]
        if bar is not None:
            bar.update(1)
            if micro % print_freq == 0 or micro + 1 == num_micro:
                rate = clips_seen / max(time.time() - t_start, 1e-9)
                bar.set_postfix(loss=f"{meters['loss'].avg:.4f}", lr=f"{last_lr:.2e}", clips_s=f"{rate:.1f}")
            logger.scalars({"loss": loss_value, "lr": last_lr, "min_lr": last_min_lr, "weight_decay": last_wd,
                            "grad_norm": float(grad_norm) if grad_norm is not None else float("nan")},
                           step=it, prefix="train/")
        if is_step and stop_flag is not None and stop_flag():
            if bar is not None:
                bar.close()
            raise StopRequested(f"stop requested at epoch {epoch}, step {it}")
    if bar is not None:
        bar.close()
    elapsed = time.time() - t_start
    # Mean loss over all ranks (each rank saw the same number of micro-batches).
    totals = all_reduce_sum(torch.tensor([meters["loss"].total, meters["loss"].count], device=device,
                                         dtype=torch.float64))
    return {"loss": float(totals[0] / max(totals[1], 1)), "lr": last_lr, "min_lr": last_min_lr,
            "weight_decay": last_wd, "grad_norm": meters["grad_norm"].global_avg,
            "clips_per_s": clips_seen / max(elapsed, 1e-9), "steps": micro + 1 if num_micro else 0,
            "epoch_time_s": elapsed}


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
