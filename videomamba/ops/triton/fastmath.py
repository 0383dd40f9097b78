"""Scalar math shared by the kernels: MUFU approximations where the exact Triton routine costs many instructions.

``FAST`` (constexpr) selects the inline-PTX form; the interpreter (``TRITON_INTERPRET=1``) cannot run PTX, so
the mixer passes ``FAST=False`` there and the exact ops run instead (same formula, other rounding).
"""
import triton
import triton.language as tl

LOG2E = tl.constexpr(1.4426950408889634)
LN2 = tl.constexpr(0.6931471805599453)


@triton.jit
def lg2(v, FAST: tl.constexpr):
    # tl.log2 is a ~20-instruction accurate routine; the MUFU approximation (rel. err. 2^-22) is one
    if FAST:
        return tl.inline_asm_elementwise("lg2.approx.ftz.f32 $0, $1;", "=f,f", [v], dtype=tl.float32,
                                         is_pure=True, pack=1)
    else:
        return tl.log2(v)


@triton.jit
def sigmoid(v, FAST: tl.constexpr):
    """1 / (1 + e^-v). tl.sigmoid divides with IEEE range fix-ups (≈ 10 instructions); the MUFU reciprocal
    (rcp.approx, ≤ 1 ulp) is one. Saturates like the exact form: e^-v = inf gives 0, e^-v = 0 gives 1."""
    if FAST:
        return tl.inline_asm_elementwise("rcp.approx.ftz.f32 $0, $1;", "=f,f", [1.0 + tl.exp2(-v * LOG2E)],
                                         dtype=tl.float32, is_pure=True, pack=1)
    else:
        return tl.sigmoid(v)


@triton.jit
def softplus(v, FAST: tl.constexpr):
    """torch's softplus (threshold 20). log1p(e^v) by its series where 1 + e^v would lose digits."""
    e = tl.exp2(v * LOG2E)
    series = e * (1.0 - e * (0.5 - e * 0.3333333333333333))
    return tl.where(v > 20.0, v, tl.where(v < -5.0, series, LN2 * lg2(1.0 + e, FAST)))
