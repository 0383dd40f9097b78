import math

import numpy as np
import pytest

from videomamba.utils.optim import lr_scale_factor, param_groups
from videomamba.utils.schedule import cosine_scheduler

STEM = {"cls_token", "pos_embed", "temporal_pos_embedding", "patch_embed.proj.weight", "patch_embed.proj.bias"}


def _by_name(groups):
    out = {}
    for g in groups:
        for n in g["names"]:
            assert n not in out, f"{n} is in two groups"
            out[n] = g
    return out


def expected_scale(name, mode, ld=0.75, depth=2):
    if mode == "official":  # released bug: only patch_embed*, cls_token, pos_embed decay, by ld^(depth+1)
        return ld ** (depth + 1) if name.startswith("patch_embed") or name in ("cls_token", "pos_embed") else 1.0
    if name in STEM:
        return ld ** (depth + 1)
    if name.startswith("layers."):
        i = int(name.split(".")[1])
        return ld ** (depth - i)  # layer id i+1 -> ld^(depth+1-(i+1))
    return 1.0  # norm_f, head


@pytest.mark.parametrize("mode", ["official", "fixed"])
def test_layer_decay_groups_cover_every_parameter_once(tiny_model, mode):
    groups = param_groups(tiny_model, 0.05, layer_decay=0.75, layer_decay_mode=mode, wd_exclusion="official")
    by_name = _by_name(groups)
    names = [n for n, _ in tiny_model.named_parameters()]
    assert sorted(by_name) == sorted(names)
    assert sum(len(g["params"]) for g in groups) == len(names)
    for n in names:
        assert math.isclose(by_name[n]["lr_scale"], expected_scale(n, mode)), (mode, n, by_name[n]["lr_scale"])
    # the official bug leaves temporal_pos_embedding and all blocks at full LR
    if mode == "official":
        assert by_name["temporal_pos_embedding"]["lr_scale"] == 1.0
        assert by_name["layers.0.mixer.in_proj.weight"]["lr_scale"] == 1.0
    else:
        assert by_name["layers.0.mixer.in_proj.weight"]["lr_scale"] == pytest.approx(0.5625)


@pytest.mark.parametrize("mode, a_log_decays", [("official", True), ("no_weight_decay_flags", False)])
def test_weight_decay_exclusions(tiny_model, mode, a_log_decays):
    by_name = _by_name(param_groups(tiny_model, 0.05, layer_decay=1.0, wd_exclusion=mode))
    for n, p in tiny_model.named_parameters():
        no_decay = p.ndim == 1 or n.endswith(".bias") or n in ("pos_embed", "cls_token", "temporal_pos_embedding")
        if n.endswith(("A_log", "A_b_log")):
            no_decay = not a_log_decays
        assert by_name[n]["weight_decay"] == (0.0 if no_decay else 0.05), (mode, n)
        assert by_name[n]["lr_scale"] == 1.0  # layer_decay 1 -> no assigner


def test_cosine_schedule_matches_spec_formula():
    base, final, warm_start, epochs, niter, warm_ep = 1e-3, 1e-6, 1e-6, 5, 7, 2
    s = cosine_scheduler(base, final, epochs, niter, warmup_epochs=warm_ep, start_warmup_value=warm_start)
    assert len(s) == epochs * niter
    w = warm_ep * niter
    for i in range(w):  # endpoint-inclusive linspace
        assert s[i] == pytest.approx(warm_start + (base - warm_start) * i / (w - 1), rel=1e-12)
    k = epochs * niter - w
    for i in range(k):
        assert s[w + i] == pytest.approx(final + 0.5 * (base - final) * (1 + math.cos(math.pi * i / k)), rel=1e-12)
    assert s[w - 1] == base and s[w] == base
    s2 = cosine_scheduler(base, final, epochs, niter, warmup_epochs=warm_ep, start_warmup_value=0, warmup_steps=3)
    assert np.allclose(s2[:3], [0, base / 2, base])  # warmup_steps overrides warmup_epochs
    with pytest.raises(ValueError):
        cosine_scheduler(base, final, 1, 2, warmup_epochs=5)


def test_lr_scaling_rules():
    # official video: batch 64 x update_freq 1 x 8 GPUs x num_sample 2 / 256 = 4
    assert lr_scale_factor("official_video", 64, 1, 8, 2) == 4.0
    assert lr_scale_factor("linear", 64, 1, 8, 2) == 2.0
    assert lr_scale_factor("none", 64, 1, 8, 2) == 1.0
