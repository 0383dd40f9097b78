"""Training / testing orchestration: setup, auto-resume, the epoch loop, checkpoints, final test.

Resume semantics: ``checkpoint-latest.pth`` is written at the end of every epoch (after validation) and holds
model, optimizer, scaler, EMA, epoch, global step, best top-1, the config and every rank's RNG states; the
train sampler's order and the DataLoader worker seeds are pure functions of (seed, epoch, rank). Resuming
therefore continues bit-exactly on CPU. A preemption signal (SIGTERM, SIGUSR1) mid-epoch finishes the
current optimizer step and exits with status 0 *without* writing mid-epoch weights: the last epoch-end
``checkpoint-latest.pth`` is the resume point and the interrupted epoch restarts from its beginning
(exactly as if it had never started). With SIGUSR1 under Slurm the job is also requeued.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from typing import Optional

import numpy as np
import torch

from ..utils import checkpoint as ckpt
from ..utils.config import save_config, to_dict
from ..utils.distributed import all_gather_object, any_rank, barrier, cleanup, init_distributed
from ..utils.logging import RunLogger, format_results_table
from ..utils.optim import build_optimizer, param_groups
from . import builders
from .evaluate import final_test, validate
from .train_one_epoch import StopRequested, train_one_epoch


class _StopSignal:
    """Records SIGTERM/SIGUSR1; the loop polls it between optimizer steps."""

    def __init__(self):
        self.signum: Optional[int] = None
        self._previous = {}

    def install(self):
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except (ValueError, OSError):  # not the main thread
                pass
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    def restore(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _unwrap(model):
    return getattr(model, "module", model)


class Runner:
    def __init__(self, cfg):
        self.cfg = cfg
        self.info = init_distributed(cfg.device, cfg.dist.backend, cfg.dist.timeout_minutes)
        self.device = self.info.device
        os.makedirs(cfg.output_dir, exist_ok=True)
        self.logger = RunLogger(cfg.output_dir, self.info.is_main, cfg.log.jsonl, cfg.log.tensorboard,
                                cfg.log.progress)
        if self.info.is_main:
            save_config(cfg, os.path.join(cfg.output_dir, "config.yaml"))
        _seed_everything(cfg.train.seed + self.info.rank)  # official: seed + rank
        self.ds_engine = None

    # ------------------------------------------------------------------------------------------ setup
    def _setup_model(self):
        self.model = builders.build_model(self.cfg, self.logger).to(self.device)
        self.logger.info(f"model {self.cfg.model.name}: {builders.num_params(self.model):.3f} M parameters, "
                         f"{self.cfg.model.num_frames} frames at {self.cfg.model.img_size}px, "
                         f"world size {self.info.world_size} ({self.info.launcher}, {self.device})")

    def _setup_training(self, train_len: int):
        cfg, t = self.cfg, self.cfg.train
        world = self.info.world_size
        self.sched, eff = builders.build_schedules(cfg, train_len, world)
        self.effective_lr = eff["lr"]
        self.logger.info(f"total batch {eff['total_batch']} (x num_sample {cfg.data.num_sample}), "
                         f"{eff['steps_per_epoch']} steps/epoch, effective lr {eff['lr']:.3e} "
                         f"(min {eff['min_lr']:.3e}, warmup from {eff['warmup_lr']:.3e}; rule {t.lr_scale_rule})")
        groups = param_groups(self.model, t.weight_decay, t.layer_decay, t.layer_decay_mode, t.wd_exclusion)
        from videomamba.data import build_mixup
        self.mixup_fn = build_mixup(to_dict(t), cfg.model.num_classes)
        self.criterion = builders.build_criterion(cfg, self.mixup_fn is not None)
        self.model_ema = None
        if cfg.dist.deepspeed:
            self._setup_deepspeed(groups, world)
        else:
            self.optimizer = build_optimizer(groups, eff["lr"], t.opt_betas, t.opt_eps)
            use_scaler = t.amp == "fp16" or (t.official_scaler and t.amp != "none")
            self.scaler = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
            if t.model_ema:
                from timm.utils import ModelEmaV3
                self.model_ema = ModelEmaV3(self.model, decay=t.model_ema_decay)
            self.train_model = self.model
            if self.info.distributed:
                ids = [self.device.index] if self.device.type == "cuda" else None
                self.train_model = torch.nn.parallel.DistributedDataParallel(
                    self.model, device_ids=ids, find_unused_parameters=cfg.dist.find_unused_parameters)

    def _setup_deepspeed(self, groups, world):
        try:
            import deepspeed
        except ImportError:
            raise RuntimeError("config key 'dist.deepspeed' is true but DeepSpeed is not installed: "
                               "pip install 'videomamba[deepspeed]' (or set dist.deepspeed=false)") from None
        if self.cfg.train.model_ema:
            raise ValueError("train.model_ema is not supported with dist.deepspeed (the official code has neither)")
        if not torch.distributed.is_initialized():  # DeepSpeed needs a process group, even for one process
            os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
            os.environ.setdefault("MASTER_PORT", "29500")
            os.environ.setdefault("RANK", "0")
            os.environ.setdefault("WORLD_SIZE", "1")
            os.environ.setdefault("LOCAL_RANK", "0")
            deepspeed.init_distributed(dist_backend="nccl" if self.device.type == "cuda" else "gloo")
        ds_config = builders.deepspeed_config(self.cfg, world, lr=self.effective_lr)
        if self.info.is_main:
            ckpt.atomic_write_bytes(os.path.join(self.cfg.output_dir, "deepspeed_config.json"),
                                    (json.dumps(ds_config, indent=2) + "\n").encode())
        clean = [{k: v for k, v in g.items() if k != "names"} for g in groups]
        engine, optimizer, _, _ = deepspeed.initialize(model=self.model, model_parameters=clean, config=ds_config,
                                                       dist_init_required=False)
        self.ds_engine, self.train_model, self.optimizer, self.scaler = engine, engine, optimizer, None

    # ---------------------------------------------------------------------------------- checkpoints
    def _state(self, epoch: int, best: float) -> dict:
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scaler": self.scaler.state_dict(), "epoch": epoch,
                 "global_step": (epoch + 1) * self.sched.steps_per_epoch, "best_top1": best,
                 "config": to_dict(self.cfg), "world_size": self.info.world_size}
        if self.model_ema is not None:
            state["model_ema"] = self.model_ema.module.state_dict()
        return state

    def save(self, epoch: int, best: float, names) -> None:
        rng = all_gather_object(ckpt.rng_state())  # every rank's generators, for exact resume
        if self.ds_engine is not None:
            client = {"epoch": epoch, "best_top1": best, "rng": rng, "config": to_dict(self.cfg)}
            for name in names:
                self.ds_engine.save_checkpoint(self.cfg.output_dir, tag=name.replace(".pth", ""),
                                               client_state=client)
            return
        if self.info.is_main:
            state = self._state(epoch, best)
            state["rng"] = rng
            for name in names:
                ckpt.atomic_torch_save(state, os.path.join(self.cfg.output_dir, name))
        barrier()

    def resume(self) -> tuple:
        """(start_epoch, best_top1) after loading the configured / discovered checkpoint."""
        t = self.cfg.train
        path = t.resume or (ckpt.find_resume_checkpoint(self.cfg.output_dir) if t.auto_resume else None)
        if self.ds_engine is not None:
            return self._resume_deepspeed()
        if not path:
            return 0, -1.0
        state = ckpt.load_checkpoint_file(path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        if self.model_ema is not None and "model_ema" in state:
            self.model_ema.module.load_state_dict(state["model_ema"])
        rng = state.get("rng")
        if rng and len(rng) == self.info.world_size:
            ckpt.set_rng_state(rng[self.info.rank])
        else:
            self.logger.info("checkpoint RNG states do not match this world size: continuing with fresh seeds")
        self.logger.info(f"resumed from {path} (epoch {state['epoch']} done, best top-1 {state['best_top1']:.2f})")
        return state["epoch"] + 1, state["best_top1"]

    def _resume_deepspeed(self) -> tuple:
        tag = "checkpoint-latest"
        if not (self.cfg.train.auto_resume and os.path.isdir(os.path.join(self.cfg.output_dir, tag))):
            return 0, -1.0
        _, client = self.ds_engine.load_checkpoint(self.cfg.output_dir, tag=tag)
        if client.get("rng") and len(client["rng"]) == self.info.world_size:
            ckpt.set_rng_state(client["rng"][self.info.rank])
        return client["epoch"] + 1, client["best_top1"]

    # ----------------------------------------------------------------------------------------- train
    def train(self) -> Optional[dict]:
        cfg, t = self.cfg, self.cfg.train
        self._setup_model()
        sets = builders.build_datasets(cfg, ("train", "val"))
        rank, world = self.info.rank, self.info.world_size
        loader, sampler, generator = builders.build_train_loader(cfg, sets["train"], rank, world)
        val_loader = builders.build_eval_loader(cfg, sets["val"], rank, world, "val")
        self._setup_training(len(sets["train"]))
        start_epoch, best = self.resume()
        stop = _StopSignal().install()
        epochs_run, stopped = 0, False
        describe = _sample_describer(sets["train"])
        try:
            for epoch in range(start_epoch, t.epochs):
                sampler.set_epoch(epoch)
                generator.manual_seed((t.seed * 100003 + epoch) * 1009 + rank)
                if hasattr(sets["train"], "clear_bad_samples"):
                    sets["train"].clear_bad_samples()
                try:
                    stats = train_one_epoch(
                        self.train_model, self.criterion, loader, self.optimizer, self.device, epoch, self.sched,
                        amp=t.amp, scaler=self.scaler, update_freq=t.update_freq, clip_grad=t.clip_grad,
                        mixup_fn=self.mixup_fn, model_ema=self.model_ema, logger=self.logger,
                        print_freq=cfg.log.print_freq,
                        batch_indices=builders.epoch_batch_indices(sampler, cfg.data.batch_size),
                        describe_sample=describe, stop_flag=lambda: any_rank(stop.signum is not None, self.device),
                        deepspeed=self.ds_engine is not None)
                except StopRequested as exc:
                    self.logger.info(f"{exc}: exiting; resume restarts epoch {epoch} from checkpoint-latest.pth")
                    stopped = True
                    break
                record = {"epoch": epoch, **{f"train_{k}": v for k, v in stats.items()}}
                record["bad_samples"] = len(getattr(sets["train"], "bad_samples", []) or [])
                if (epoch + 1) % t.val_freq == 0 or epoch + 1 == t.epochs:
                    val = validate(self.model, val_loader, self.device, t.amp, self.logger,
                                   cuda_graph=cfg.eval.cuda_graph)
                    record.update({f"val_{k}": v for k, v in val.items()})
                    if self.model_ema is not None and t.model_ema_eval:
                        val_ema = validate(self.model_ema.module, val_loader, self.device, t.amp, self.logger,
                                           cuda_graph=cfg.eval.cuda_graph)
                        record.update({f"val_ema_{k}": v for k, v in val_ema.items()})
                    is_best = val["top1"] > best
                    best = max(best, val["top1"])
                else:
                    is_best = False
                record["best_val_top1"] = best
                if t.save_ckpt:
                    names = ["checkpoint-latest.pth"]
                    if (epoch + 1) % t.save_ckpt_freq == 0 or epoch + 1 == t.epochs:
                        names.append(f"checkpoint-{epoch}.pth")
                    if is_best:
                        names.append("checkpoint-best.pth")
                    self.save(epoch, best, names)
                self.logger.epoch_record(record)
                self.logger.scalars({k: v for k, v in record.items() if k.startswith("val_")}, epoch, "epoch/")
                self.logger.info(
                    f"epoch {epoch}: loss {stats['loss']:.4f} lr {stats['lr']:.2e} "
                    + (f"val top-1 {record['val_top1']:.2f} top-5 {record['val_top5']:.2f} "
                       f"loss {record['val_loss']:.4f} " if "val_top1" in record else "")
                    + f"({stats['epoch_time_s']:.1f}s, {stats['clips_per_s']:.1f} clips/s)")
                epochs_run += 1
                if t.stop_after_epochs is not None and epochs_run >= t.stop_after_epochs and epoch + 1 < t.epochs:
                    self.logger.info(f"train.stop_after_epochs={t.stop_after_epochs} reached: stopping")
                    stopped = True
                    break
        finally:
            stop.restore()
        if stopped:
            if stop.signum == signal.SIGUSR1:
                _requeue_slurm(self.logger, self.info.is_main)
            return None
        if t.final_test:
            if t.test_best and self.ds_engine is None:
                best_path = os.path.join(cfg.output_dir, "checkpoint-best.pth")
                if os.path.isfile(best_path):
                    self.model.load_state_dict(ckpt.load_checkpoint_file(best_path)["model"])
                    self.logger.info(f"final test with {best_path}")
            return self._final_test(extra={"best_val_top1": best})
        return None

    # ------------------------------------------------------------------------------------------ test
    def _final_test(self, extra: Optional[dict] = None) -> Optional[dict]:
        cfg = self.cfg
        test_set = builders.build_datasets(cfg, ("test",))["test"]
        loader = builders.build_eval_loader(cfg, test_set, self.info.rank, self.info.world_size, "test")
        start = time.time()
        metrics = final_test(self.model, loader, self.device, cfg.output_dir, cfg.train.amp, cfg.eval.official_merge,
                             self.logger, cfg.eval.save_predictions, getattr(test_set, "skipped_views", None),
                             extra=dict(extra or {}, views_per_video=cfg.eval.test_num_segment * cfg.eval.test_num_crop,
                                        target_top1=cfg.target.top1, target_top5=cfg.target.top5),
                             cuda_graph=cfg.eval.cuda_graph)
        if metrics is not None:
            rows = [["test", f"{cfg.eval.test_num_segment}x{cfg.eval.test_num_crop}", metrics["num_videos"],
                     f"{metrics['top1']:.2f}", f"{metrics['top5']:.2f}", f"{time.time() - start:.1f}s"]]
            if cfg.target.top1 is not None:
                rows.append(["target", "", "", f"{cfg.target.top1:.2f}",
                             "" if cfg.target.top5 is None else f"{cfg.target.top5:.2f}", ""])
            self.logger.info("final multi-view test (" + os.path.join(cfg.output_dir, "metrics.json") + ")\n" +
                             format_results_table(rows, ["split", "views", "videos", "top-1", "top-5", "time"]))
        return metrics

    def test(self, checkpoint: Optional[str] = None, use_ema: bool = False) -> Optional[dict]:
        self._setup_model()
        path = checkpoint or ckpt.find_resume_checkpoint(self.cfg.output_dir, prefer_best=self.cfg.train.test_best)
        if not path:
            raise FileNotFoundError(f"no checkpoint given and none found in {self.cfg.output_dir}")
        state = ckpt.load_checkpoint_file(path)
        key = "model_ema" if use_ema else "model"
        if key in state:
            self.model.load_state_dict(state[key])
        else:  # a released / foreign checkpoint: the official-format loader (lenient unless load_strict)
            from videomamba.models import load_pretrained
            self.logger.info(str(load_pretrained(self.model, state, strict=self.cfg.model.load_strict,
                                                 inflate=self.cfg.model.inflate,
                                                 orig_num_frames=self.cfg.model.orig_num_frames)))
        self.logger.info(f"testing {path}" + (" (EMA weights)" if use_ema else ""))
        return self._final_test(extra={"checkpoint": os.path.abspath(path)})

    def close(self):
        self.logger.close()
        cleanup()


def _sample_describer(dataset):
    records = getattr(dataset, "records", None) or getattr(dataset, "items", None)

    def describe(index: int) -> str:
        try:
            rec = records[index]
            return str(getattr(rec, "path", None) or getattr(rec, "record", rec))
        except Exception:  # noqa: BLE001 - best effort, only for an error message
            return f"#{index}"
    return describe


def _requeue_slurm(logger, is_main: bool) -> None:
    job = os.environ.get("SLURM_JOB_ID")
    if is_main and job:
        try:
            subprocess.run(["scontrol", "requeue", job], check=True)
            logger.info(f"requeued Slurm job {job}")
        except (OSError, subprocess.CalledProcessError) as exc:
            logger.info(f"could not requeue Slurm job {job}: {exc}")


def run_train(cfg) -> Optional[dict]:
    runner = Runner(cfg)
    try:
        if cfg.train.eval_only:
            return runner.test(cfg.train.resume)
        return runner.train()
    finally:
        runner.close()


def run_test(cfg, checkpoint: Optional[str] = None, use_ema: bool = False) -> Optional[dict]:
    runner = Runner(cfg)
    try:
        return runner.test(checkpoint, use_ema)
    finally:
        runner.close()
