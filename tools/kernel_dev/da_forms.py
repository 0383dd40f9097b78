#!/usr/bin/env python
"""Accuracy of two ways to get the scan's dA over one segment, in fp32 against the fp64 sum dA_n = Σ_t Δ_t λ_t,n
a_t,n h_{t-1},n (one channel, N states, A_n = -(n+1), random B, C, x, dy, start state and incoming adjoint carry):

* tangent (what the forward-time pass does): h'_t = a_t (h'_{t-1} + Δ_t h_{t-1}), dA = Σ_t C_t dy_t h'_t + m h'_end;
* telescoped (a cheaper split, not built): with S_t = Σ_{s≤t} Δ_s,
  dA = Σ_t S_t C_t dy_t h_t − Σ_t S_t λ_t b_t + S_end m h_end, the first sum in the forward-time pass (one FMA per state
  and step instead of three), the second in the reverse walk (one more). The two sums cancel where a_t is small.

Prints the largest error of each relative to the largest |dA_n|, and the largest per-state relative error, for
segments of 152 steps and several Δ scales (perf_notes v21: at Δ up to 3 the telescoped form is off by 6e-5 of the
largest |dA| and by up to 8e-3 on single states, the tangent by 3e-6 at most from Δ ≈ 0.1 up; Adam's per-element
steps would follow that noise). CPU only: ``python tools/kernel_dev/da_forms.py``."""
import torch


def errors(T, dscale, N=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    f64 = torch.float64
    A = -torch.arange(1, N + 1, dtype=f64)
    delta = torch.rand(T, generator=g, dtype=f64) * dscale
    B, C = torch.randn(T, N, generator=g, dtype=f64), torch.randn(T, N, generator=g, dtype=f64)
    x, dy = torch.randn(T, generator=g, dtype=f64), torch.randn(T, generator=g, dtype=f64)
    h0, m = torch.randn(N, generator=g, dtype=f64), torch.randn(N, generator=g, dtype=f64)

    def run(dt):
        A_, d, B_, C_, x_, dy_, h, m_ = (t.to(dt) for t in (A, delta, B, C, x, dy, h0, m))
        a = torch.exp(d[:, None] * A_)
        b = B_ * (d * x_)[:, None]
        hs, prev = [], []
        for t in range(T):
            prev.append(h)
            h = a[t] * h + b[t]
            hs.append(h)
        lam, carry = [None] * T, m_
        for t in reversed(range(T)):
            lam[t] = C_[t] * dy_[t] + carry
            carry = a[t] * lam[t]
        exact = sum(d[t] * lam[t] * a[t] * prev[t] for t in range(T))
        ht, tangent = torch.zeros_like(h), torch.zeros_like(h)
        for t in range(T):
            ht = a[t] * (ht + prev[t] * d[t])
            tangent = tangent + C_[t] * dy_[t] * ht
        tangent = tangent + m_ * ht
        S = torch.cumsum(d, 0)
        tele = sum(S[t] * dy_[t] * (hs[t] * C_[t]) - S[t] * (lam[t] * b[t]) for t in range(T)) + S[-1] * m_ * hs[-1]
        return exact, tangent, tele

    truth = run(f64)[0]
    scale = truth.abs().max()
    out = []
    for got in run(torch.float32)[1:]:
        err = (got.double() - truth).abs()
        out.append(((err.max() / scale).item(), (err / truth.abs()).max().item()))
    return out


def main():
    print("segment 152 steps, fp32 vs fp64: max error / max |dA| (max per-state relative error)")
    for dscale in (0.01, 0.1, 1.0, 3.0):
        (tan, tan_s), (tel, tel_s) = errors(152, dscale)
        print(f"  Δ uniform in [0, {dscale}]: tangent {tan:.1e} ({tan_s:.1e}), telescoped {tel:.1e} ({tel_s:.1e})")


if __name__ == "__main__":
    main()
