"""Selective scan (the S6 recurrence of Mamba) in pure PyTorch.

Two implementations with the argument convention of ``mamba_ssm.ops.selective_scan_interface``
(channel-major tensors):

* :func:`selective_scan_ref` — a step-by-step loop over the sequence: the executable specification.
* :func:`selective_scan_chunked` — the same recurrence split into chunks: every chunk is scanned in
  parallel from a zero state, then the chunk-start states are propagated and folded back in. It runs on
  any device, needs ``O(sqrt(L))`` Python steps instead of ``L`` and agrees with the reference to
  floating-point rounding (it evaluates the same products, only grouped differently).

Shapes: ``u, delta, z``: (B, E, L); ``A``: (E, N); ``B, C``: (B, N, L) (one input-dependent group shared by
all channels, as in VideoMamba); ``D, delta_bias``: (E,). The recurrence, with ``Δ = softplus(delta +
delta_bias)``::

    h_t = exp(Δ_t A) * h_{t-1} + Δ_t u_t B_t          (h_{-1} = 0, h: (B, E, N))
    y_t = <h_t, C_t> + D u_t ;   out_t = y_t * silu(z_t)

All arithmetic happens in float32 (float64 when the inputs are float64); the output has ``u``'s dtype.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F

from ._autocast import autocast_off

__all__ = ["selective_scan_ref", "selective_scan_chunked", "scan_compute_dtype"]


def scan_compute_dtype(t: torch.Tensor) -> torch.dtype:
    """float64 stays float64; every other dtype is computed in float32 (what the CUDA kernels do)."""
    return torch.float64 if t.dtype == torch.float64 else torch.float32


def _check_shapes(u, delta, A, B, C):
    if u.dim() != 3 or delta.shape != u.shape:
        raise ValueError(f"selective_scan: u and delta must both be (batch, channels, length), got "
                         f"{tuple(u.shape)} and {tuple(delta.shape)}")
    b, d, l = u.shape
    if A.dim() != 2 or A.shape[0] != d:
        raise ValueError(f"selective_scan: A must be (channels={d}, state), got {tuple(A.shape)}")
    n = A.shape[1]
    for name, t in (("B", B), ("C", C)):
        if t.shape != (b, n, l):
            raise ValueError(f"selective_scan: {name} must be (batch={b}, state={n}, length={l}), "
                             f"got {tuple(t.shape)}")


def _discretised_delta(delta, delta_bias, delta_softplus, dtype):
    delta = delta.to(dtype)
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    return delta


@autocast_off
def selective_scan_ref(u, delta, A, B, C, D: Optional[torch.Tensor] = None, z: Optional[torch.Tensor] = None,
                       delta_bias: Optional[torch.Tensor] = None, delta_softplus: bool = False,
                       return_last_state: bool = False):
    """Sequential reference scan. Returns ``out`` (B, E, L), and ``h_last`` (B, E, N) if asked."""
    _check_shapes(u, delta, A, B, C)
    dtype_in = u.dtype
    cdt = scan_compute_dtype(u)
    u_c = u.to(cdt)
    delta = _discretised_delta(delta, delta_bias, delta_softplus, cdt)
    A, B, C = A.to(cdt), B.to(cdt), C.to(cdt)
    decay = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    inject = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u_c)
    h = u_c.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        h = decay[:, :, t] * h + inject[:, :, t]
        ys.append(torch.einsum("bdn,bn->bd", h, C[:, :, t]))
    y = torch.stack(ys, dim=2)
    if D is not None:
        y = y + u_c * D.to(cdt)[:, None]
    if z is not None:
        y = y * F.silu(z.to(cdt))
    out = y.to(dtype_in)
    return (out, h) if return_last_state else out


@autocast_off
def selective_scan_chunked(u, delta, A, B, C, D: Optional[torch.Tensor] = None, z: Optional[torch.Tensor] = None,
                           delta_bias: Optional[torch.Tensor] = None, delta_softplus: bool = False,
                           return_last_state: bool = False, chunk_size: Optional[int] = None):
    """Chunked scan with the semantics of :func:`selective_scan_ref` (same arguments).

    The sequence is cut into ``K`` chunks of ``c`` steps (default ``c = ceil(sqrt(L))``). Step 1 scans all
    chunks at once from a zero state (``c`` vectorised steps). Step 2 carries the state across chunk
    boundaries (``K`` tiny steps on (B, E, N)). Step 3 adds each chunk's start state, decayed by the
    within-chunk cumulative decay, to every position. Memory is a few (B, L, E, N) tensors.
    """
    _check_shapes(u, delta, A, B, C)
    dtype_in = u.dtype
    cdt = scan_compute_dtype(u)
    b, d, l = u.shape
    n = A.shape[1]
    c = chunk_size or max(1, math.isqrt(l - 1) + 1 if l > 1 else 1)
    k = -(-l // c)
    pad = k * c - l

    # Work token-major: (B, L, E[, N]). Padding steps have Δ = 0, i.e. decay 1 and no input.
    dt = _discretised_delta(delta, delta_bias, delta_softplus, cdt).transpose(1, 2)
    u_t = u.to(cdt).transpose(1, 2)
    B_t = B.to(cdt).transpose(1, 2)
    C_t = C.to(cdt).transpose(1, 2)
    if pad:
        dt = F.pad(dt, (0, 0, 0, pad))
        u_t = F.pad(u_t, (0, 0, 0, pad))
        B_t = F.pad(B_t, (0, 0, 0, pad))
        C_t = F.pad(C_t, (0, 0, 0, pad))
    log_decay = (dt.unsqueeze(-1) * A.to(cdt)).view(b, k, c, d, n)
    inject = ((dt * u_t).unsqueeze(-1) * B_t.unsqueeze(2)).view(b, k, c, d, n)
    decay = log_decay.exp()

    # 1) all chunks in parallel, each from a zero state
    h = inject.new_zeros(b, k, d, n)
    local = []
    for t in range(c):
        h = decay[:, :, t] * h + inject[:, :, t]
        local.append(h)
    H = torch.stack(local, dim=2)  # (b, k, c, d, n)

    # 2) the state entering each chunk
    chunk_decay = log_decay.sum(dim=2).exp()  # (b, k, d, n)
    carry = inject.new_zeros(b, d, n)
    starts = []
    for j in range(k):
        starts.append(carry)
        carry = chunk_decay[:, j] * carry + H[:, j, -1]
    start = torch.stack(starts, dim=1)  # (b, k, d, n)

    # 3) fold the start states in and read out
    H = H + log_decay.cumsum(dim=2).exp() * start.unsqueeze(2)
    y = torch.einsum("bkcdn,bkcn->bkcd", H, C_t.view(b, k, c, n)).reshape(b, k * c, d)[:, :l]
    u_t = u_t[:, :l]
    if D is not None:
        y = y + u_t * D.to(cdt)
    if z is not None:
        y = y * F.silu(z.to(cdt).transpose(1, 2))
    out = y.transpose(1, 2).to(dtype_in)
    return (out, carry) if return_last_state else out
