"""Per-iteration schedules (official ``utils.cosine_scheduler``, spec §6.1)."""
from __future__ import annotations

import numpy as np


def cosine_scheduler(base_value: float, final_value: float, epochs: int, niter_per_ep: int,
                     warmup_epochs: int = 0, start_warmup_value: float = 0.0, warmup_steps: int = -1) -> np.ndarray:
    """Linear warmup ``linspace(start_warmup_value, base_value, W)`` (endpoint inclusive; ``warmup_steps > 0``
    sets W, else ``warmup_epochs * niter_per_ep``), then for i in 0..K-1 (K = remaining iterations)
    ``final + 0.5 (base - final)(1 + cos(pi i / K))``. Length ``epochs * niter_per_ep``."""
    warmup_iters = warmup_steps if warmup_steps > 0 else warmup_epochs * niter_per_ep
    total = epochs * niter_per_ep
    if warmup_iters > total:
        raise ValueError(f"warmup ({warmup_iters} iterations) is longer than training ({total} iterations)")
    warmup = np.linspace(start_warmup_value, base_value, warmup_iters) if warmup_iters > 0 else np.array([])
    iters = np.arange(total - warmup_iters)
    cosine = final_value + 0.5 * (base_value - final_value) * (1 + np.cos(np.pi * iters / max(len(iters), 1)))
    schedule = np.concatenate((warmup, cosine))
    assert len(schedule) == total
    return schedule
