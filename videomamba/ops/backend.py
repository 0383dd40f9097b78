"""Which implementation runs each fused op: ``auto | torch | ref | mamba_ssm | triton``.

Ops with several implementations (each with the same signature):

* ``bimamba_inner(xz, fwd, bwd)`` — both scan directions of a B-Mamba mixer (conv, projections, scan,
  gate, sum), see :mod:`videomamba.ops.bimamba`;
* ``bimamba_mixer(hidden, in_w, in_b, fwd, bwd, out_w, out_b)`` — the whole mixer (in_proj, both
  directions, out_proj); a backend without its own version composes ``F.linear`` and ``bimamba_inner``;
* ``add_norm(x, weight, bias, residual, eps, prenorm, residual_in_fp32, is_rms, x_scale=None)`` — the fused
  residual-add + RMSNorm/LayerNorm, see :mod:`videomamba.ops.norm` (``x_scale``: a drop path's per-sample factor).

Backends: ``torch`` (chunked pure-PyTorch scan, any device), ``ref`` (the sequential reference: slow, the
executable spec), ``mamba_ssm`` (the official CUDA kernels, if the user installed ``mamba-ssm>=2`` and
``causal-conv1d``), ``triton`` (this project's fused kernels). ``auto`` picks ``triton`` on CUDA when
Triton works, else ``mamba_ssm`` when installed, else ``torch``; on CPU always ``torch``.

Choose with ``VIDEOMAMBA_BACKEND=...``, :func:`set_backend` or the :func:`use_backend` context manager.
Optional backends live in modules that are imported only when asked for, so nothing here needs a GPU or
a compiled extension to import.
"""
import contextlib
import importlib
import os
from typing import Callable, Dict, Optional, Tuple

import torch

BACKENDS = ("auto", "torch", "ref", "mamba_ssm", "triton")
OPS = ("bimamba_inner", "bimamba_mixer", "add_norm")
_OPTIONAL_MODULES = {"mamba_ssm": "videomamba.ops.mamba_ssm_backend", "triton": "videomamba.ops.triton"}

_impls: Dict[str, Dict[str, Callable]] = {op: {} for op in OPS}
_status_cache: Dict[str, Tuple[bool, str]] = {}
_requested = os.environ.get("VIDEOMAMBA_BACKEND", "auto")


def _check_name(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    return name


_check_name(_requested)


def register_impl(op: str, backend: str):
    """Decorator: register ``fn`` as ``backend``'s implementation of ``op``."""
    if op not in OPS:
        raise ValueError(f"unknown op {op!r}; expected one of {OPS}")
    _check_name(backend)

    def deco(fn):
        _impls[op][backend] = fn
        return fn

    return deco


def set_backend(name: str) -> None:
    """Set the process-wide backend (``auto`` by default, or ``$VIDEOMAMBA_BACKEND``)."""
    global _requested
    _requested = _check_name(name)


def get_backend() -> str:
    return _requested


@contextlib.contextmanager
def use_backend(name: str):
    """Temporarily switch the backend: ``with use_backend('ref'): model(x)``."""
    global _requested
    previous, _requested = _requested, _check_name(name)
    try:
        yield
    finally:
        _requested = previous


def backend_status(name: str) -> Tuple[bool, str]:
    """(available, reason) for a backend; optional backends are imported on first call."""
    _check_name(name)
    if name in ("torch", "ref", "auto"):
        return True, "pure PyTorch, always available"
    if name not in _status_cache:
        try:
            module = importlib.import_module(_OPTIONAL_MODULES[name])
            _status_cache[name] = module.availability()
        except Exception as exc:  # an optional dependency missing or broken: say why
            _status_cache[name] = (False, f"{type(exc).__name__}: {exc}")
    return _status_cache[name]


def _runs_on(name: str, device: torch.device) -> Tuple[bool, str]:
    ok, reason = backend_status(name)
    if not ok:
        return False, reason
    if name in ("mamba_ssm", "triton") and device.type != "cuda":
        if name == "triton" and os.environ.get("TRITON_INTERPRET") == "1":
            return True, "Triton interpreter (TRITON_INTERPRET=1) on CPU tensors"
        return False, f"{name} kernels need CUDA tensors, got {device.type}"
    return True, reason


def select_backend(op: str, device: torch.device, requested: Optional[str] = None) -> Tuple[str, str]:
    """Resolve ``requested`` (default: the process-wide choice) to a concrete backend for ``op`` on
    ``device``. Returns (backend, reason). An explicitly requested backend that cannot run is an error."""
    requested = _check_name(requested or _requested)
    device = torch.device(device)
    if requested != "auto":
        ok, reason = _runs_on(requested, device)
        if not ok:
            raise RuntimeError(f"backend {requested!r} cannot run {op} on {device}: {reason}")
        if requested not in _impls[op]:
            raise RuntimeError(f"backend {requested!r} has no implementation of {op}")
        return requested, f"requested explicitly ({reason})"
    if device.type == "cuda":
        for candidate in ("triton", "mamba_ssm"):
            ok, reason = _runs_on(candidate, device)
            if ok and candidate in _impls[op]:
                return candidate, f"auto on CUDA: {reason}"
        return "torch", "auto on CUDA: no fused backend available, using the chunked PyTorch scan"
    return "torch", f"auto on {device.type}: pure PyTorch (chunked scan)"


def get_impl(op: str, device: torch.device, requested: Optional[str] = None) -> Callable:
    backend, _ = select_backend(op, device, requested)
    return _impls[op][backend]
