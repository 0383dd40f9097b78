"""Every intermediate gradient of the triton inner backward (conv-output grad, dΔ, dB, dC, and the parameter
grads) against fp64 autograd of the reference composition, at fp32 (exact up to fp32 rounding)."""
import torch
import torch.nn.functional as F

from conftest import ON_GPU
from helpers import direction_params, rel_err
from videomamba.ops.causal_conv1d import causal_conv1d_ref
from videomamba.ops.selective_scan import selective_scan_chunked
from videomamba.ops.triton import mixer


def test_intermediate_grads_fp32(device):
    B, L, E, N, R = (2, 300, 64, 16, 4) if ON_GPU else (1, 20, 16, 16, 2)
    fwd, bwd = direction_params(E, N, R, device), direction_params(E, N, R, device)
    xz = torch.randn(B, L, 2 * E, device=device, requires_grad=True)
    g = torch.randn(B, L, E, device=device)
    mixer.DEBUG = dbg = {}
    try:
        mixer.BiMambaInnerFn.apply(xz, *fwd, *bwd).backward(g)
    finally:
        mixer.DEBUG = None
    tri = {f"{k}{i}": p.grad.clone() for i, d in enumerate((fwd, bwd)) for k, p in zip("wbxtsad", d)}
    x, z = xz.detach().double()[..., :E], xz.detach().double()[..., E:]
    ys, inter = [], []
    for i, d in enumerate((fwd, bwd)):
        p = [t.detach().double().requires_grad_() for t in d]
        xi, zi = (x, z) if i == 0 else (x.flip(1), z.flip(1))
        xc = causal_conv1d_ref(xi.transpose(1, 2), p[0], p[1], "silu")
        xc.retain_grad()
        x_dbl = F.linear(xc.transpose(1, 2), p[2])
        x_dbl.retain_grad()
        delta = F.linear(x_dbl[..., :R], p[3])
        delta.retain_grad()
        y = selective_scan_chunked(xc, delta.transpose(1, 2), -torch.exp(p[5]), x_dbl[..., R:R + N].transpose(1, 2),
                                   x_dbl[..., R + N:].transpose(1, 2), D=p[6], z=zi.transpose(1, 2),
                                   delta_bias=p[4], delta_softplus=True)
        ys.append(y if i == 0 else y.flip(-1))
        inter.append((xc, x_dbl, delta, p))
    (ys[0] + ys[1]).transpose(1, 2).backward(g.double())
    for i, (xc, x_dbl, delta, p) in enumerate(inter):
        fl = (lambda t: t) if i == 0 else (lambda t: t.flip(1))  # noqa: E731
        pairs = {"dxc": (dbg["dxc"][i].view(B, L, E), fl(xc.grad.transpose(1, 2))),
                 "ddt": (dbg["ddt"][i].view(B, L, E), fl(delta.grad)),
                 "dB": (dbg["dbc"][i][:, :N].view(B, L, N), fl(x_dbl.grad)[..., R:R + N]),
                 "dC": (dbg["dbc"][i][:, N:].view(B, L, N), fl(x_dbl.grad)[..., R + N:]),
                 "dxdbl_dt": (dbg["d_xdbl"][i][..., :R].view(B, L, R), fl(x_dbl.grad)[..., :R])}
        pairs.update({f"param {k}": (tri[f"{k}{i}"], t.grad) for k, t in zip("wbxtsad", p)})
        errs = {k: rel_err(a, b) for k, (a, b) in pairs.items()}
        assert max(errs.values()) < 1e-4, (i, errs)
