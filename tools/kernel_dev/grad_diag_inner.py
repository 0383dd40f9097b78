"""Each intermediate gradient of the triton inner mixer (dxc, dΔ, dB, dC, the x_proj Δ columns, every
parameter, dxz) against fp64 autograd, next to the torch autograd path's, both from the same bf16 inputs
(plus the triton Function at fp32). CPU (Triton interpreter, small tiles) or GPU.
Usage: SHAPE=B,L,E,N,R SEED=0 python tools/grad_diag_inner.py

Note: the Triton interpreter rounds fp32 -> bf16 stores toward zero (the GPU rounds to nearest even), so
on CPU the triton-bf16 column is 2-3x the torch one; on the GPU the two agree (docs/perf_notes.md).
"""
import os, sys, time
import torch
if not torch.cuda.is_available(): os.environ.setdefault("TRITON_INTERPRET", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "kernels"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import torch, torch.nn.functional as F
import videomamba.ops.triton as vt
from videomamba.ops.triton import mixer
from videomamba.ops.causal_conv1d import causal_conv1d_ref
from videomamba.ops.selective_scan import selective_scan_ref, selective_scan_chunked
if torch.cuda.is_available(): selective_scan_ref = selective_scan_chunked
from helpers import direction_params, rel_err
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
if dev.type == "cpu":
    mixer.CONFIG.update(seg_align=4, seg=8, fwd_block_e=8, bwd_block_e=8, conv_rows=8, conv_block_e=16, conv_bwd_rows=8, conv_bwd_block_e=16)
torch.manual_seed(int(os.environ.get("SEED", 0)))
B, L, E, N, R = [int(v) for v in os.environ.get("SHAPE", "2,48,32,16,2").split(",")]
fwd, bwd = direction_params(E, N, R, dev), direction_params(E, N, R, dev)
xz32 = torch.randn(B, L, 2 * E, device=dev)
G32 = torch.randn(B, L, E, device=dev)

def ref(xz, G, dt, autocast):
    x, z = xz[..., :E], xz[..., E:]
    inter = {}
    ys = []
    for i, p in enumerate((fwd, bwd)):
        pp = [None if t is None else (t.detach().to(torch.float64) if dt == torch.float64 else t) for t in p]
        pp = [t.requires_grad_() if t is not None and not t.requires_grad else t for t in pp]
        xi, zi = (x, z) if i == 0 else (x.flip(1), z.flip(1))
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
            xc = causal_conv1d_ref(xi.transpose(1, 2), pp[0], pp[1], "silu"); xc.retain_grad()
            x_dbl = F.linear(xc.transpose(1, 2), pp[2]); x_dbl.retain_grad()
            dt_low, b_in, c_out = x_dbl.split([R, N, N], -1)
            delta = F.linear(dt_low, pp[3]); delta.retain_grad()
            A = -torch.exp(pp[5].float() if dt != torch.float64 else pp[5])
            y = selective_scan_ref(xc, delta.transpose(1, 2), A, b_in.transpose(1, 2), c_out.transpose(1, 2),
                                   D=pp[6].float() if dt != torch.float64 else pp[6], z=zi.transpose(1, 2),
                                   delta_bias=pp[4].float() if dt != torch.float64 else pp[4], delta_softplus=True)
        ys.append(y if i == 0 else y.flip(-1))
        inter[i] = dict(xc=xc, x_dbl=x_dbl, delta=delta, p=pp)
    out = (ys[0] + ys[1]).transpose(1, 2)
    out.backward(G.to(out.dtype))
    res = {}
    for i in (0, 1):
        fl = (lambda t: t) if i == 0 else (lambda t: t.flip(1))
        d = inter[i]
        res[f"dxc{i}"] = fl(d["xc"].grad.transpose(1, 2))
        res[f"ddt{i}"] = fl(d["delta"].grad)
        gx = fl(d["x_dbl"].grad)
        res[f"dxdbl_low{i}"] = gx[..., :R]; res[f"dB{i}"] = gx[..., R:R + N]; res[f"dC{i}"] = gx[..., R + N:]
        for k, j in (("conv_w", 0), ("conv_b", 1), ("x_w", 2), ("dt_w", 3), ("bias", 4), ("A_log", 5), ("D", 6)):
            res[f"{k}{i}"] = d["p"][j].grad
    res["dxz"] = xz.grad
    for p in (fwd, bwd):
        for t in p: t.grad = None
    return res

def tri(xz, G):
    mixer.DEBUG = dbg = {}
    flat = (*fwd, *bwd)
    out = mixer.BiMambaInnerFn.apply(xz, *flat)
    out.backward(G.to(out.dtype))
    mixer.DEBUG = None
    res = {}
    for i in (0, 1):
        res[f"dxc{i}"] = dbg["dxc"][i].view(B, L, E); res[f"dxscan{i}"] = dbg["dx_scan"][i].view(B, L, E)
        res[f"ddt{i}"] = dbg["ddt"][i].view(B, L, E)
        res[f"dxdbl_low{i}"] = dbg["d_xdbl"][i][..., :R].view(B, L, R)
        res[f"dB{i}"] = dbg["dbc"][i][:, :N].view(B, L, N); res[f"dC{i}"] = dbg["dbc"][i][:, N:].view(B, L, N)
        p = (fwd, bwd)[i]
        for k, j in (("conv_w", 0), ("conv_b", 1), ("x_w", 2), ("dt_w", 3), ("bias", 4), ("A_log", 5), ("D", 6)):
            res[f"{k}{i}"] = p[j].grad
    res["dxz"] = xz.grad
    for p in (fwd, bwd):
        for t in p: t.grad = None
    return res

t0 = time.time()
xzb = xz32.to(torch.bfloat16)
Gb = G32.to(torch.bfloat16)
r64 = ref(xzb.double().requires_grad_(), Gb.double(), torch.float64, False)
rtb = ref(xzb.clone().requires_grad_(), Gb, torch.bfloat16, True)
ttb = tri(xzb.clone().requires_grad_(), Gb)
t32 = tri(xzb.float().requires_grad_(), Gb.float())
print(f"B L E N R = {B} {L} {E} {N} {R}, {time.time()-t0:.1f}s")
print(f"{'grad':12s} {'torch-bf16':>11s} {'triton-bf16':>11s} {'triton-fp32':>11s}")
for k in r64:
    print(f"{k:12s} {rel_err(rtb[k], r64[k]):11.4f} {rel_err(ttb[k], r64[k]):11.4f} {rel_err(t32[k], r64[k]):11.2e}")
