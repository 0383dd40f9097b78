"""Evaluation forwards replayed from CUDA graphs (``eval.cuda_graph``).

Short clips are bound by the host, not the GPU: a VideoMamba-Ti inference step on 8 frames (batch 8) is 5.7 ms of
GPU work and ≈ 11 ms eager on an H200 (docs/perf_notes.md v11). A captured graph replays every kernel of the
forward with one launch. Evaluation is the safe place for it: no gradients, fixed batch shapes, a model that does
not change during the loop.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch


class GraphedInference:
    """``model(x)`` under no_grad, replayed from one CUDA graph per input shape.

    A (shape, dtype, device) is captured the second time it is seen (two eager warm-up calls on a side stream,
    then the capture), for up to ``max_graphs`` shapes; a shape seen once (a loader's shorter last batch), any
    further shape, CPU inputs and calls with gradients enabled run eagerly. The input is copied into the graph's
    static buffer and the output cloned out of it. Autocast (``amp``: ``'bf16'``, ``'fp16'`` or ``'none'``) is
    applied inside the capture with its weight-cast cache off, as CUDA graphs require.

    The graphs read parameters at their captured addresses, and fused backends cache cast copies of them: the
    wrapper therefore records every parameter's version counter and drops its graphs when one moved (an
    optimizer step, ``load_state_dict``), so a replay never uses stale weights.
    """

    def __init__(self, model: torch.nn.Module, amp: str = "none", max_graphs: int = 2):
        self.model = model
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
        self.max_graphs = max_graphs
        self.graphs: Dict[tuple, tuple] = {}
        self.seen: Dict[tuple, int] = {}
        self.captures = 0  # graphs captured so far (tests, logs)
        self._versions: Optional[tuple] = None

    def _autocast(self):
        return torch.autocast("cuda", dtype=self.dtype or torch.float32, enabled=self.dtype is not None,
                              cache_enabled=False)

    def _param_versions(self) -> Optional[tuple]:
        try:
            return tuple(p._version for p in self.model.parameters())
        except RuntimeError:  # inference tensors have no version counter (and cannot change in place)
            return None

    def _eager(self, x: torch.Tensor) -> torch.Tensor:
        with self._autocast():
            return self.model(x)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_cuda:  # (the caller's autocast applies)
            return self.model(x)
        if torch.is_grad_enabled():
            return self._eager(x)
        versions = self._param_versions()
        if versions != self._versions:  # weights changed since the capture: recapture on demand
            self.graphs.clear()
            self._versions = versions
        key = (tuple(x.shape), x.dtype, x.device)
        entry = self.graphs.get(key)
        if entry is None:
            self.seen[key] = self.seen.get(key, 0) + 1
            if self.seen[key] < 2 or len(self.graphs) >= self.max_graphs:
                return self._eager(x)
            entry = self.graphs[key] = self._capture(x)
        graph, static_in, static_out = entry
        static_in.copy_(x)
        graph.replay()
        return static_out.clone()

    def _capture(self, x: torch.Tensor) -> tuple:
        static_in = x.clone()
        side = torch.cuda.Stream(x.device)
        side.wait_stream(torch.cuda.current_stream(x.device))
        try:
            with torch.cuda.stream(side), self._autocast():
                for _ in range(2):  # compiles kernels, fills parameter caches, settles the allocator
                    self.model(static_in)
            torch.cuda.current_stream(x.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph), self._autocast():
                static_out = self.model(static_in)
        except Exception as exc:
            raise RuntimeError(f"eval.cuda_graph: the forward of {type(self.model).__name__} on a "
                               f"{tuple(x.shape)} batch could not be captured as a CUDA graph ({type(exc).__name__}: "
                               f"{exc}); set eval.cuda_graph=false") from exc
        self.captures += 1
        return graph, static_in, static_out
