"""Atomic checkpoint files, RNG state capture and auto-resume discovery.

Every file is written to a temporary name in the destination directory, fsync'ed and moved into place
with ``os.replace`` (atomic on POSIX), so a crash or preemption mid-write never leaves a truncated
``checkpoint-latest.pth`` behind: the previous one stays intact until the new one is complete.
"""
from __future__ import annotations

import glob
import io
import os
import random
import re
import tempfile
from typing import Optional

import numpy as np
import torch


def atomic_write_bytes(path: str, payload: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    # Make the rename itself durable; not every filesystem allows opening a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_torch_save(obj, path: str) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def find_resume_checkpoint(output_dir: str, prefer_best: bool = False) -> Optional[str]:
    """Official order: (best if asked) -> latest -> best -> the highest numbered ``checkpoint-N.pth``."""
    candidates = ["checkpoint-best.pth"] if prefer_best else []
    candidates += ["checkpoint-latest.pth", "checkpoint-best.pth"]
    for name in candidates:
        path = os.path.join(output_dir, name)
        if os.path.isfile(path):
            return path
    numbered = []
    for path in glob.glob(os.path.join(output_dir, "checkpoint-*.pth")):
        match = re.fullmatch(r"checkpoint-(\d+)\.pth", os.path.basename(path))
        if match:
            numbered.append((int(match.group(1)), path))
    return max(numbered)[1] if numbered else None


def load_checkpoint_file(path: str) -> dict:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        # Our checkpoints hold RNG states and the config (plain Python objects), so not weights_only.
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - name the file whatever the unpickling error is
        raise RuntimeError(f"cannot read checkpoint {path}: {exc}") from exc
