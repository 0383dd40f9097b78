"""Rank-0 console output, tqdm progress with throughput, ``log.jsonl`` and TensorBoard scalars."""
from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Optional

from tqdm import tqdm


class RunLogger:
    """Everything a run writes besides checkpoints; a no-op on ranks other than 0."""

    def __init__(self, output_dir: str, is_main: bool, jsonl: bool = True, tensorboard: bool = True,
                 progress: bool = True):
        self.output_dir, self.is_main, self.progress = output_dir, is_main, progress
        self.jsonl_path = os.path.join(output_dir, "log.jsonl") if (jsonl and is_main) else None
        self.tb = None
        if tensorboard and is_main:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(log_dir=os.path.join(output_dir, "tb"))
            except ImportError:
                self.info("tensorboard is not installed: TensorBoard logging disabled (pip install tensorboard)")

    def info(self, msg: str) -> None:
        if self.is_main:
            tqdm.write(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stdout)
            sys.stdout.flush()

    def bar(self, total: int, desc: str):
        return tqdm(total=total, desc=desc, disable=not (self.is_main and self.progress), dynamic_ncols=True,
                    leave=False, file=sys.stdout, mininterval=1.0)

    def scalars(self, values: dict, step: int, prefix: str = "") -> None:
        if self.tb is None:
            return
        for key, value in values.items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.tb.add_scalar(f"{prefix}{key}", value, step)

    def epoch_record(self, record: dict) -> None:
        if self.jsonl_path:
            with open(self.jsonl_path, "a") as f:
                f.write(json.dumps(record, sort_keys=True) + "\n")
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
            self.tb = None


class SmoothedValue:
    """Running mean over a window plus a global mean."""

    def __init__(self, window: int = 20):
        self.window, self.values, self.total, self.count = window, [], 0.0, 0

    def update(self, value: float, n: int = 1) -> None:
        self.values = (self.values + [value])[-self.window:]
        self.total += value * n
        self.count += n

    @property
    def avg(self) -> float:
        return sum(self.values) / max(len(self.values), 1)

    @property
    def global_avg(self) -> float:
        return self.total / max(self.count, 1)


def format_results_table(rows, headers) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    fmt = lambda r: "| " + " | ".join(str(v).ljust(w) for v, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line, fmt(headers), line] + [fmt(r) for r in rows] + [line])


def maybe_float(x) -> Optional[float]:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None
