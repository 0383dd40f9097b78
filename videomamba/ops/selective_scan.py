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
        grouped = t.dim() == 4 and t.shape[0] == b and t.shape[2:] == (n, l) and d % t.shape[1] == 0
        if t.shape != (b, n, l) and not grouped:
            raise ValueError(f"selective_scan: {name} must be (batch={b}, state={n}, length={l}) or "
                             f"(batch, groups dividing {d}, {n}, {l}), got {tuple(t.shape)}")


def _grouped(t: torch.Tensor) -> torch.Tensor:
    """(B, N, L) → (B, 1, N, L); grouped (B, G, N, L) unchanged. Channel e uses group e // (E / G)."""
    return t.unsqueeze(1) if t.dim() == 3 else t


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
    b, d, l = u.shape
    A = A.to(cdt)
    B = _grouped(B).to(cdt).repeat_interleave(d // _grouped(B).shape[1], dim=1)  # (B, E, N, L)
    C = _grouped(C).to(cdt).repeat_interleave(d // _grouped(C).shape[1], dim=1)
    decay = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    inject = torch.einsum("bdl,bdnl,bdl->bdln", delta, B, u_c)
    h = u_c.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        h = decay[:, :, t] * h + inject[:, :, t]
        ys.append(torch.einsum("bdn,bdn->bd", h, C[:, :, :, t]))
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

    The sequence is cut into ``K`` chunks of ``c`` steps (default ``c ≈ 2·sqrt(L)``), processed in two
    streaming passes that never materialise a (B, L, E, N) tensor:

    1. all chunks at once from a zero state, ``c`` vectorised steps → each chunk's local end state;
       the chunk's total decay is ``exp(A · Σ Δ)``;
    2. ``K`` tiny steps carry the true state into every chunk;
    3. all chunks at once again, now from their true start states, ``c`` steps, reading ``y_t = <h_t, C_t>``.

    Pass 3 repeats the recurrence of pass 1 instead of storing it: twice the arithmetic, a fraction of the
    memory traffic, which is what bounds this on CPUs.
    """
    _check_shapes(u, delta, A, B, C)
    dtype_in = u.dtype
    cdt = scan_compute_dtype(u)
    b, d, l = u.shape
    n = A.shape[1]
    B, C = _grouped(B), _grouped(C)
    g = B.shape[1]
    if C.shape[1] != g:
        raise ValueError(f"selective_scan: B has {g} groups but C has {C.shape[1]}")
    c = chunk_size or max(1, min(l, 2 * math.isqrt(l)))
    k = -(-l // c)
    pad = k * c - l

    # Token-major layout, channels split into (groups, channels per group). Padding steps have Δ = 0:
    # decay 1 and no input, so they leave the state unchanged.
    dt = _discretised_delta(delta, delta_bias, delta_softplus, cdt).transpose(1, 2)  # (b, l, d)
    dtu = dt * u.to(cdt).transpose(1, 2)
    b_t = B.to(cdt).permute(0, 3, 1, 2)  # (b, l, g, n)
    c_t = C.to(cdt).permute(0, 3, 1, 2)
    if pad:
        dt, dtu = F.pad(dt, (0, 0, 0, pad)), F.pad(dtu, (0, 0, 0, pad))
        b_t, c_t = F.pad(b_t, (0, 0, 0, 0, 0, pad)), F.pad(c_t, (0, 0, 0, 0, 0, pad))
    dt = dt.reshape(b, k, c, g, d // g, 1)
    dtu = dtu.reshape(b, k, c, g, d // g, 1)
    b_t = b_t.reshape(b, k, c, g, 1, n)
    c_t = c_t.reshape(b, k, c, g, n, 1)
    A_g = A.to(cdt).reshape(g, d // g, n)

    # Split the time axis once: indexing inside the loops would make autograd allocate and zero a full-size
    # gradient buffer for every single step in backward (unbind's backward is one stack).
    dt_s, dtu_s, b_s, c_s = dt.unbind(2), dtu.unbind(2), b_t.unbind(2), c_t.unbind(2)

    def step(h, t):
        return torch.addcmul(dtu_s[t] * b_s[t], torch.exp(dt_s[t] * A_g), h)

    h = dt.new_zeros(b, k, g, d // g, n)
    for t in range(c):  # pass 1: local end states
        h = step(h, t)
    chunk_decay = torch.exp(dt.sum(dim=2) * A_g)  # (b, k, g, d/g, n)
    carry, starts = h.new_zeros(b, g, d // g, n), []
    ends, decays = h.unbind(1), chunk_decay.unbind(1)
    for j in range(k):  # pass 2: true chunk start states
        starts.append(carry)
        carry = torch.addcmul(ends[j], decays[j], carry)
    h = torch.stack(starts, dim=1)
    ys = []
    for t in range(c):  # pass 3: rerun from the true starts and read out
        h = step(h, t)
        ys.append(torch.matmul(h, c_s[t]))  # (b, k, g, d/g, 1)
    y = torch.stack(ys, dim=2).reshape(b, k * c, d)[:, :l]
    if D is not None:
        y = y + u.to(cdt).transpose(1, 2) * D.to(cdt)
    if z is not None:
        y = y * F.silu(z.to(cdt).transpose(1, 2))
    out = y.transpose(1, 2).to(dtype_in)
    return (out, carry.reshape(b, d, n)) if return_last_state else out
