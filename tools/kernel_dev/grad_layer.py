"""One mixer of videomamba_small in isolation: its inputs h and output gradient captured from the fp32 run,
then the x_proj weight gradient of each backend (bf16 autocast) against fp64 math on the same (bf16-rounded)
inputs, split into the Δ rows, the B rows and the C rows. Usage: grad_layer.py [layers] [draws]."""
import copy
import math
import os
import sys

import torch

import videomamba  # noqa: F401
import videomamba.ops.triton  # noqa: F401
from videomamba.ops import use_backend

dev = torch.device("cuda")


def main(layers=(5, 7), draws=6):
    import timm
    torch.manual_seed(0)
    model = timm.create_model("videomamba_small", num_frames=8, num_classes=400, drop_path_rate=0.0).to(dev)
    x = torch.randn(2, 3, 8, 224, 224, device=dev)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    cap = {}

    def hook(i):
        def f(mod, inp, out):
            cap[i] = [inp[0].detach().clone(), None]
            out.register_hook(lambda g: cap[i].__setitem__(1, g.detach().clone()))
        return f
    hs = [model.layers[i].mixer.register_forward_hook(hook(i)) for i in layers]
    with use_backend("torch"):
        model(x).float().logsumexp(-1).sum().backward()
    for h in hs:
        h.remove()
    torch.backends.cudnn.allow_tf32 = True
    gen = torch.Generator(device=dev).manual_seed(1)
    for i in layers:
        mix = model.layers[i].mixer
        R, N = mix.dt_proj.weight.shape[1], mix.A_log.shape[1]
        h0, g0 = cap[i]
        errs = {}
        for k in range(draws):
            h = h0 if k == 0 else h0 * (1 + 1e-5 * torch.randn(h0.shape, device=dev, generator=gen))
            hb, gb = h.bfloat16(), g0.bfloat16()
            m64 = copy.deepcopy(mix).double()
            with torch.no_grad():  # the autocast runs see bf16 projection weights: so does fp64
                for n in ("in_proj.weight", "out_proj.weight", "x_proj.weight", "x_proj_b.weight",
                          "dt_proj.weight", "dt_proj_b.weight"):
                    m64.get_parameter(n).copy_(m64.get_parameter(n).bfloat16().double())
            h64 = hb.double().requires_grad_()
            with use_backend("torch"):
                o64 = m64(h64)
                o64.backward(gb.double())
            ref = {n: m64.get_parameter(n).grad for n in ("x_proj.weight", "x_proj_b.weight")}
            for backend in ("torch", "triton"):
                mix.zero_grad(set_to_none=True)
                hh = hb.clone().requires_grad_()
                with use_backend(backend), torch.autocast("cuda", dtype=torch.bfloat16):
                    out = mix(hh)
                out.backward(gb.to(out.dtype))
                errs.setdefault((backend, "out"), []).append((out.double() - o64).norm().item() / o64.norm().item())
                errs.setdefault((backend, "dh"), []).append((hh.grad.double() - h64.grad).norm().item() / h64.grad.norm().item())
                for n, r in ref.items():
                    g = mix.get_parameter(n).grad.double()
                    tot = r.norm().item()
                    for blk, sl in (("all", slice(None)), ("dt", slice(0, R)), ("B", slice(R, R + N)),
                                    ("C", slice(R + N, None))):
                        e = (g[sl] - r[sl]).norm().item() / tot
                        errs.setdefault((backend, n, blk), []).append(e)
                    errs.setdefault((backend, n, "|blk|/|all|"), [0])
        print(f"layer {i}: |x_proj grad| per block / total (fp64):",
              {blk: round(ref['x_proj.weight'][sl].norm().item() / ref['x_proj.weight'].norm().item(), 3)
               for blk, sl in (("dt", slice(0, R)), ("B", slice(R, R + N)), ("C", slice(R + N, None)))})
        for q in ("out", "dh"):
            print(f"  {q:21s} " + "  ".join(
                f"{b} rms {math.sqrt(sum(e * e for e in errs[(b, q)]) / draws):.5f}" for b in ("torch", "triton")))
        for n in ("x_proj.weight", "x_proj_b.weight"):
            for blk in ("all", "dt", "B", "C"):
                row = []
                for backend in ("torch", "triton"):
                    v = errs[(backend, n, blk)]
                    row.append(f"{backend} rms {math.sqrt(sum(e * e for e in v) / len(v)):.4f}")
                print(f"  {n:16s} {blk:4s} " + "  ".join(row))


if __name__ == "__main__":
    main(tuple(int(v) for v in sys.argv[1].split(",")) if len(sys.argv) > 1 else (5, 7),
         int(sys.argv[2]) if len(sys.argv) > 2 else 6)
