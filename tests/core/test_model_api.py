"""timm-style model API and training-time behaviour of the VideoMamba classifiers."""
import pytest
import timm
import torch
from timm.optim import param_groups_layer_decay

import videomamba  # noqa: F401
from videomamba.models import VideoMamba

TINY = dict(depth=2, embed_dim=64, img_size=32, num_frames=4, num_classes=5)


def test_factory_overrides_every_constructor_argument():
    model = timm.create_model("videomamba_tiny", depth=2, embed_dim=96, num_classes=10, num_frames=4,
                              img_size=64, kernel_size=2)
    assert isinstance(model, VideoMamba)
    assert len(model.layers) == 2 and model.embed_dim == 96 and model.head.out_features == 10
    assert model.patch_embed.proj.weight.shape == (96, 3, 2, 16, 16)
    assert model.temporal_pos_embedding.shape == (1, 2, 96)
    assert model(torch.randn(1, 3, 4, 64, 64)).shape == (1, 10)


def test_image_factory_and_input_errors():
    model = timm.create_model("videomamba_image_tiny", depth=2, embed_dim=64, img_size=32, num_classes=3)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    video = timm.create_model("videomamba_tiny", **TINY)
    with pytest.raises(ValueError, match="T=4"):
        video(torch.randn(1, 3, 8, 32, 32))


def test_forward_head_reset_classifier_features():
    model = timm.create_model("videomamba_tiny", **TINY).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    feats = model.forward_features(x)
    assert feats.shape == (2, 1 + 4 * 4, 64)
    torch.testing.assert_close(model.forward_head(feats, pre_logits=True), feats[:, 0])
    model.reset_classifier(7)
    assert model(x).shape == (2, 7) and model.get_classifier().out_features == 7
    model.reset_classifier(0)
    assert model(x).shape == (2, 64)


def test_gradient_checkpointing_gives_identical_gradients():
    torch.manual_seed(0)
    model = timm.create_model("videomamba_tiny", drop_path_rate=0.0, **TINY)
    x = torch.randn(2, 3, 4, 32, 32)
    grads = []
    for enable in (False, True):
        model.zero_grad()
        model.set_grad_checkpointing(enable)
        model(x).sum().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    for n in grads[0]:
        torch.testing.assert_close(grads[1][n], grads[0][n], msg=n)
    assert model.checkpoint_num == 2


def test_drop_path_schedule_and_train_eval():
    model = timm.create_model("videomamba_tiny", drop_path_rate=0.3, **{**TINY, "depth": 4})
    rates = [getattr(layer.drop_path, "drop_prob", 0.0) for layer in model.layers]
    # block i drops the previous mixer output with [0] + linspace(0, 0.3, 4) (spec §2.3)
    assert rates == pytest.approx([0.0, 0.0, 0.1, 0.2])
    assert model.drop_path.drop_prob == pytest.approx(0.3)
    x = torch.randn(4, 3, 4, 32, 32)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
        model.train()
        torch.manual_seed(0)
        a = model(x)
        torch.manual_seed(1)
        b = model(x)
    assert not torch.equal(a, b)


def test_drop_path_folded_into_the_add_equals_the_separate_module():
    """Training blocks pass the drop path's per-sample factors to the add + norm: the same draws from the same
    generator as ``timm``'s DropPath, so a block's outputs equal DropPath → add → norm → mixer exactly."""
    from timm.layers import DropPath
    from videomamba.models.layers import Block, drop_path_factors
    from videomamba.ops import add_norm_ref
    dp = DropPath(0.4).train()
    x = torch.randn(64, 3, 8)
    torch.manual_seed(0)
    want = dp(x)
    torch.manual_seed(0)
    f = drop_path_factors(dp, x)
    assert f.shape == (64,) and torch.equal(x * f.view(-1, 1, 1), want) and (f == 0).any() and (f > 0).any()
    assert drop_path_factors(dp.eval(), x) is None and drop_path_factors(torch.nn.Identity(), x) is None
    assert drop_path_factors(DropPath(0.0).train(), x) is None
    with pytest.raises(TypeError, match="DropPath or nn.Identity"):
        drop_path_factors(torch.nn.Dropout(0.1), x)

    torch.manual_seed(0)
    blk = Block(16, drop_path=0.5).train()
    hidden, residual = torch.randn(8, 5, 16), torch.randn(8, 5, 16)
    torch.manual_seed(1)
    got = blk(hidden, residual)
    torch.manual_seed(1)
    y, res = add_norm_ref(blk.drop_path(hidden), blk.norm.weight, None, residual, blk.norm.eps, True, True)
    for a, b in zip(got, (blk.mixer(y), res)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_group_matcher_builds_layer_decay_groups():
    model = timm.create_model("videomamba_tiny", **TINY)
    groups = param_groups_layer_decay(model, weight_decay=0.05, layer_decay=0.5,
                                      no_weight_decay_list=model.no_weight_decay())
    scale_of = {}
    for g in groups:
        for p in g["params"]:
            scale_of[p] = g["lr_scale"]
    params = dict(model.named_parameters())
    assert len(scale_of) == len(params)
    # stem → 0.5^3, block i → 0.5^(2 - i), final norm and head → 1
    assert scale_of[params["pos_embed"]] == pytest.approx(0.125)
    assert scale_of[params["patch_embed.proj.weight"]] == pytest.approx(0.125)
    assert scale_of[params["temporal_pos_embedding"]] == pytest.approx(0.125)
    assert scale_of[params["layers.0.mixer.in_proj.weight"]] == pytest.approx(0.25)
    assert scale_of[params["layers.1.norm.weight"]] == pytest.approx(0.5)
    assert scale_of[params["norm_f.weight"]] == pytest.approx(1.0)
    assert scale_of[params["head.weight"]] == pytest.approx(1.0)
    assert model.no_weight_decay() == {"pos_embed", "cls_token", "temporal_pos_embedding"}


def test_official_initialisation():
    """Spec §1.6/§3.8: Δ = softplus(0) everywhere at step 0, A = -(1..16), D = 1, cls/temporal PE zero."""
    model = timm.create_model("videomamba_tiny", **TINY)
    mixer = model.layers[0].mixer
    assert torch.count_nonzero(mixer.dt_proj.bias) == 0 and torch.count_nonzero(mixer.dt_proj_b.bias) == 0
    assert mixer.dt_proj.weight.std().item() == pytest.approx(0.02, rel=0.3)
    torch.testing.assert_close(mixer.A_log[3], torch.arange(1, 17.0).log())
    assert torch.equal(mixer.D_b, torch.ones_like(mixer.D_b))
    assert torch.count_nonzero(model.cls_token) == 0 and torch.count_nonzero(model.temporal_pos_embedding) == 0
    bound = (1 / mixer.d_inner) ** 0.5 / (2 ** 0.5)  # kaiming-uniform(a=√5) bound / √depth
    assert mixer.out_proj.weight.abs().max().item() <= bound + 1e-6
    # the documented deviation restores Mamba's Δ init on the forward branch
    fixed = timm.create_model("videomamba_tiny", keep_mamba_dt_init=True, **TINY)
    dt = torch.nn.functional.softplus(fixed.layers[0].mixer.dt_proj.bias)
    assert dt.min().item() >= 1e-4 - 1e-7 and dt.max().item() <= 0.1 + 1e-6


def test_bf16_autocast_keeps_residual_stream_fp32():
    model = timm.create_model("videomamba_tiny", **TINY).eval()
    residuals = []
    model.layers[1].register_forward_hook(lambda m, i, o: residuals.append(o))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(torch.randn(1, 3, 4, 32, 32))
    hidden, residual = residuals[0]
    assert residual.dtype == torch.float32 and hidden.dtype == torch.bfloat16
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("kernel,stride,padding,size", [((1, 4, 4), (1, 4, 4), 0, (4, 8, 12)),
                                                        ((2, 4, 4), (2, 4, 4), 0, (4, 8, 8)),
                                                        ((1, 4, 4), (1, 2, 2), 0, (2, 8, 8)),   # overlapping
                                                        ((1, 4, 4), (1, 4, 4), 1, (2, 8, 8)),   # padded
                                                        ((1, 4, 4), (1, 4, 4), 0, (2, 10, 9))])  # not divisible
def test_tubelet_tokens_equal_the_conv(kernel, stride, padding, size):
    """The patch embedding's GEMM form gives the conv's output (float64), and its fallbacks too."""
    from videomamba.models.layers import tubelet_tokens
    conv = torch.nn.Conv3d(3, 5, kernel, stride=stride, padding=padding).double()
    x = torch.randn(2, 3, *size, dtype=torch.float64, requires_grad=True)
    got = tubelet_tokens(conv, x)
    want = conv(x).permute(0, 2, 3, 4, 1)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(want)
    gw = torch.autograd.grad((got * g).sum(), [x, conv.weight, conv.bias])
    ww = torch.autograd.grad((want * g).sum(), [x, conv.weight, conv.bias])
    for a, b in zip(gw, ww):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
