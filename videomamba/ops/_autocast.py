"""Autocast helper: numerics that the CUDA kernels run in fp32 must not be re-cast by autocast."""
import functools

import torch


def autocast_off(fn):
    """Run ``fn`` with autocast disabled on the device of its first tensor argument (its own casts rule)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        device_type = next((a.device.type for a in args if isinstance(a, torch.Tensor)), "cpu")
        if not torch.is_autocast_enabled(device_type):
            return fn(*args, **kwargs)
        with torch.autocast(device_type=device_type, enabled=False):
            return fn(*args, **kwargs)

    return wrapper
