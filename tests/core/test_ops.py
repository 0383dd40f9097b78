"""Each fast op against its reference twin, forward and backward."""
import pytest
import torch
import torch.nn.functional as F

from videomamba.ops import (add_norm_ref, add_norm_unfused_ref, backend_status, bimamba_inner_ref,
                            bimamba_inner_torch, causal_conv1d_ref, select_backend, selective_scan_chunked,
                            selective_scan_ref, use_backend)
from videomamba.models import BiMamba


def scan_inputs(b, d, l, n, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    t = dict(u=r(b, d, l), delta=r(b, d, l) * 0.5, A=-torch.rand(d, n, generator=g, dtype=torch.float64) * 3,
             B=r(b, n, l), C=r(b, n, l), D=r(d), z=r(b, d, l), delta_bias=r(d) * 0.3)
    return {k: v.to(dtype).requires_grad_() for k, v in t.items()}


@pytest.mark.parametrize("b,d,l,n,chunk", [(1, 4, 1, 3, None), (2, 8, 37, 16, None), (3, 5, 64, 4, 8),
                                             (1, 6, 200, 16, None), (2, 3, 33, 2, 50)])
def test_chunked_scan_matches_reference_float64(b, d, l, n, chunk):
    t = scan_inputs(b, d, l, n, torch.float64)
    ref, h_ref = selective_scan_ref(**t, delta_softplus=True, return_last_state=True)
    out, h = selective_scan_chunked(**t, delta_softplus=True, return_last_state=True, chunk_size=chunk)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h, h_ref, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(ref)
    grads_ref = torch.autograd.grad((ref * g).sum(), list(t.values()))
    grads = torch.autograd.grad((out * g).sum(), list(t.values()))
    for name, a, e in zip(t, grads, grads_ref):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-10, msg=name)


def test_chunked_scan_fp32_error_is_rounding_level():
    t64 = scan_inputs(2, 16, 300, 16, torch.float64, seed=3)
    t32 = {k: v.detach().float() for k, v in t64.items()}
    exact = selective_scan_ref(**t64, delta_softplus=True)
    ref32 = selective_scan_ref(**t32, delta_softplus=True)
    fast32 = selective_scan_chunked(**t32, delta_softplus=True)
    err_ref = ((ref32.double() - exact).abs().max() / exact.abs().max()).item()
    err_fast = ((fast32.double() - exact).abs().max() / exact.abs().max()).item()
    assert err_fast < 1e-5 and err_fast < 20 * max(err_ref, 1e-7)


def test_scan_bf16_inputs_compute_in_fp32_and_return_input_dtype():
    t = {k: v.detach().bfloat16() for k, v in scan_inputs(1, 4, 20, 4, torch.float64).items()}
    out = selective_scan_chunked(**t, delta_softplus=True)
    ref = selective_scan_ref(**{k: v.float() for k, v in t.items()}, delta_softplus=True)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, rtol=1e-2, atol=1e-2)


def test_scan_shape_errors_name_the_argument():
    t = {k: v.detach() for k, v in scan_inputs(1, 4, 10, 3, torch.float32).items()}
    t["B"] = t["B"][:, :, :5]
    with pytest.raises(ValueError, match="B must be"):
        selective_scan_chunked(**t)


def test_causal_conv1d_matches_explicit_sum():
    x = torch.randn(2, 5, 9, dtype=torch.float64)
    w = torch.randn(5, 1, 4, dtype=torch.float64)
    bias = torch.randn(5, dtype=torch.float64)
    out = causal_conv1d_ref(x, w, bias, activation=None)
    padded = F.pad(x, (3, 0))
    expected = sum(w[:, 0, k, None] * padded[:, :, k:k + 9] for k in range(4)) + bias[:, None]
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(causal_conv1d_ref(x, w, bias), F.silu(expected))


def test_add_norm_fused_semantics_dtypes():
    x = torch.randn(2, 5, 8).bfloat16()
    res = torch.randn(2, 5, 8)
    w = torch.rand(8) + 0.5
    y, r = add_norm_ref(x, w, None, res, 1e-5, prenorm=True, residual_in_fp32=True)
    s = x.float() + res
    assert r.dtype == torch.float32 and y.dtype == torch.bfloat16
    torch.testing.assert_close(r, s)
    torch.testing.assert_close(y.float(), (s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + 1e-5) * w).bfloat16().float())
    # first block: no residual; the residual stream starts in fp32
    y0, r0 = add_norm_ref(x, w, None, None, 1e-5, prenorm=True, residual_in_fp32=True)
    assert r0.dtype == torch.float32 and torch.equal(r0, x.float())
    # LayerNorm variant and the unfused official path agree with the fused one in fp32
    b = torch.randn(8)
    xf = x.float()
    torch.testing.assert_close(add_norm_ref(xf, w, b, res, 1e-5, is_rms=False),
                               F.layer_norm(xf + res, (8,), w, b, 1e-5))
    yu, ru = add_norm_unfused_ref(xf, w, None, res, 1e-5, prenorm=True, residual_in_fp32=True)
    yf, rf = add_norm_ref(xf, w, None, res, 1e-5, prenorm=True, residual_in_fp32=True)
    torch.testing.assert_close(yu, yf)
    torch.testing.assert_close(ru, rf)


def test_bimamba_torch_matches_reference_forward_backward():
    torch.manual_seed(0)
    mixer = BiMamba(32).double()
    x = torch.randn(2, 45, 32, dtype=torch.float64, requires_grad=True)
    outs = []
    for backend in ("ref", "torch"):
        mixer.zero_grad()
        x.grad = None
        with use_backend(backend):
            out = mixer(x)
        out.pow(2).sum().backward()
        outs.append((out.detach(), x.grad.clone(), [p.grad.clone() for p in mixer.parameters()]))
    (o1, gx1, gp1), (o2, gx2, gp2) = outs
    torch.testing.assert_close(o2, o1, rtol=1e-11, atol=1e-11)
    torch.testing.assert_close(gx2, gx1, rtol=1e-10, atol=1e-10)
    for a, b in zip(gp2, gp1):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_bimamba_flip_symmetry():
    """Spec Appendix A.4: reversing the input and swapping the two directions' parameters reverses the output."""
    torch.manual_seed(1)
    mixer = BiMamba(16).double()
    x = torch.randn(1, 21, 16, dtype=torch.float64)
    xz = mixer.in_proj(x)
    fwd, bwd = mixer.direction_params(False), mixer.direction_params(True)
    y = bimamba_inner_torch(xz, fwd, bwd)
    y_swapped = bimamba_inner_torch(xz.flip(1), bwd, fwd)
    torch.testing.assert_close(y_swapped.flip(1), y)
    torch.testing.assert_close(bimamba_inner_ref(xz, fwd, bwd), y)


def test_backend_selection():
    assert select_backend("bimamba_inner", torch.device("cpu"))[0] == "torch"
    assert select_backend("bimamba_inner", torch.device("cpu"), "ref")[0] == "ref"
    with pytest.raises(ValueError, match="unknown backend"):
        select_backend("bimamba_inner", torch.device("cpu"), "cuda_magic")
    ok, reason = backend_status("mamba_ssm")
    if not ok:  # not installed here: asking for it explicitly is an error that says why
        with pytest.raises(RuntimeError, match="mamba_ssm"):
            select_backend("bimamba_inner", torch.device("cpu"), "mamba_ssm")
        assert reason
