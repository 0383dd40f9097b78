import torch

from videomamba.ops import DirectionParams


def rel_err(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def direction_params(e, n, r, device, k=4, dtype=torch.float32):
    """Random parameters of one direction, scaled like trained ones (Δ around 0.1–1, |A| in 0.5–16)."""
    t = DirectionParams(torch.randn(e, 1, k) * 0.5, torch.randn(e) * 0.3, torch.randn(r + 2 * n, e) * e ** -0.5,
                        torch.randn(e, r) * r ** -0.5, torch.randn(e) * 0.5 - 1.0,
                        torch.log(torch.rand(e, n) * 15 + 0.5), torch.randn(e))
    return DirectionParams(*[p.to(device=device, dtype=dtype).requires_grad_() for p in t])


# Tolerances on the relative (Frobenius) error by input dtype: fp32 rounding, half-precision operands.
TOL = {torch.float32: 2e-5, torch.float16: 1e-2, torch.bfloat16: 3e-2}
