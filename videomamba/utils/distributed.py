"""Launcher-agnostic process-group setup: torchrun (RANK/WORLD_SIZE/LOCAL_RANK), Slurm srun
(SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID) or a plain single process; NCCL on GPU, gloo on CPU."""
from __future__ import annotations

import datetime
import os
import subprocess
from dataclasses import dataclass
from typing import Any, List

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    launcher: str = "none"

    @property
    def distributed(self) -> bool:
        """Launched by torchrun/srun: a process group exists and the model is DDP-wrapped, even for one
        process (the same code path as a multi-GPU run; a plain ``python`` run has neither)."""
        return self.launcher != "none"

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _slurm_master_addr() -> str:
    nodelist = os.environ.get("SLURM_STEP_NODELIST") or os.environ.get("SLURM_NODELIST") or os.environ.get(
        "SLURM_JOB_NODELIST")
    if not nodelist:
        raise RuntimeError("Slurm launch without MASTER_ADDR and without SLURM_NODELIST: set MASTER_ADDR")
    try:
        out = subprocess.run(["scontrol", "show", "hostnames", nodelist], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(f"cannot expand SLURM_NODELIST={nodelist!r} with 'scontrol show hostnames' ({exc}); "
                           "set MASTER_ADDR explicitly") from None
    return out.stdout.split()[0]


def detect_launcher(env=os.environ) -> tuple:
    """(launcher, rank, world_size, local_rank) from the environment."""
    if "RANK" in env and "WORLD_SIZE" in env:
        return "torchrun", int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0))
    if "SLURM_PROCID" in env and int(env.get("SLURM_NTASKS", "1")) > 1:
        return "slurm", int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", 0))
    return "none", 0, 1, 0


def init_distributed(device: str = "auto", backend: str = "auto", timeout_minutes: int = 30) -> DistInfo:
    launcher, rank, world_size, local_rank = detect_launcher()
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("config key 'device' = 'cuda' but CUDA is not available")
    if use_cuda:
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        dev = torch.device("cuda", torch.cuda.current_device())
    else:
        dev = torch.device("cpu")
    info = DistInfo(rank, world_size, local_rank, dev, launcher)
    if launcher == "none":
        return info
    if launcher == "slurm":
        os.environ.setdefault("MASTER_PORT", "29500")
        if "MASTER_ADDR" not in os.environ:
            os.environ["MASTER_ADDR"] = _slurm_master_addr()
        os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(local_rank))
    if backend == "auto":
        backend = "nccl" if use_cuda else "gloo"
    if backend == "nccl" and not use_cuda:
        raise RuntimeError("config key 'dist.backend' = 'nccl' needs CUDA; use gloo on CPU")
    if not dist.is_initialized():
        kwargs = dict(backend=backend, init_method="env://", rank=rank, world_size=world_size,
                      timeout=datetime.timedelta(minutes=timeout_minutes))
        if use_cuda and backend == "nccl":
            kwargs["device_id"] = dev
        dist.init_process_group(**kwargs)
    return info


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_dist() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_dist() else 1


def barrier() -> None:
    if is_dist():
        dist.barrier()


def all_gather_object(obj: Any) -> List[Any]:
    if not is_dist():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    if is_dist():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def any_rank(flag: bool, device) -> bool:
    """True when ``flag`` is true on any rank (a collective: every rank must call it)."""
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    return bool(all_reduce_sum(t).item() > 0)


def cleanup() -> None:
    if is_dist():
        dist.destroy_process_group()
