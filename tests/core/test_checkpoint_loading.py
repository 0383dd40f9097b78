"""Loading official-format checkpoints into models of other shapes (spec §4.2–4.3)."""
import argparse

import pytest
import timm
import torch
import torch.nn.functional as F

import videomamba  # noqa: F401
from videomamba.models import CheckpointError, VideoMamba, VisionMamba, load_pretrained

TINY = dict(depth=2, embed_dim=64)


def image_model(img_size=64, num_classes=10):
    torch.manual_seed(0)
    model = VisionMamba(img_size=img_size, num_classes=num_classes, **TINY).eval()
    with torch.no_grad():  # make every tensor non-trivial so that a missed copy shows
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def video_model(**kwargs):
    args = dict(img_size=64, num_frames=4, kernel_size=1, num_classes=10, **TINY)
    args.update(kwargs)
    return VideoMamba(**args).eval()


def save_official_image_ckpt(model, path):
    """The released ImageNet files: the training dict with the weights under 'model' (+ a pickled Namespace)."""
    torch.save({"model": model.state_dict(), "epoch": 299, "args": argparse.Namespace(lr=5e-4)}, path)


def test_image_to_video_same_shape_is_exact(tmp_path):
    """ImageNet → video with 1 frame, tubelet 1, same res: the video model computes the image model's logits."""
    img = image_model()
    path = tmp_path / "in1k.pth"
    save_official_image_ckpt(img, path)
    vid = video_model(num_frames=1)
    report = load_pretrained(vid, str(path))
    assert report.wrapper == "model"
    assert any("temporal_pos_embedding" in k for k in report.kept_at_init)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(vid(x.unsqueeze(2)), img(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("inflate", ["center", "average"])
def test_image_to_video_other_resolution_frames_tubelet(tmp_path, inflate):
    img = image_model(img_size=64, num_classes=1000)
    path = tmp_path / "in1k.pth"
    save_official_image_ckpt(img, path)
    vid = video_model(img_size=96, num_frames=8, kernel_size=2, num_classes=5)
    report = load_pretrained(vid, str(path), inflate=inflate)
    sd = img.state_dict()

    w2d, w3d = sd["patch_embed.proj.weight"], vid.patch_embed.proj.weight.detach()
    assert w3d.shape == (64, 3, 2, 16, 16)
    if inflate == "center":  # spec §4.3.2: zeros except the middle slice k // 2
        torch.testing.assert_close(w3d[:, :, 1], w2d)
        assert torch.count_nonzero(w3d[:, :, 0]) == 0
    else:  # repeated k times, divided by k
        torch.testing.assert_close(w3d[:, :, 0], w2d / 2)
        torch.testing.assert_close(w3d[:, :, 1], w2d / 2)

    # spatial pos-embed: cls slot kept, 4x4 grid → 6x6 bicubic (align_corners=False), spec §4.3.1
    pe_old, pe_new = sd["pos_embed"], vid.pos_embed.detach()
    torch.testing.assert_close(pe_new[:, 0], pe_old[:, 0])
    grid = pe_old[:, 1:].reshape(1, 4, 4, 64).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, size=(6, 6), mode="bicubic", align_corners=False).permute(0, 2, 3, 1).reshape(1, 36, 64)
    torch.testing.assert_close(pe_new[:, 1:], expected)

    assert torch.count_nonzero(vid.temporal_pos_embedding) == 0  # starts at zero (§4.3.2, §10.1-7)
    assert vid.head.weight.shape == (5, 64)
    text = str(report)
    assert "inflated" in text and "bicubic" in text and "1000 classes" in text
    torch.testing.assert_close(vid.layers[1].mixer.x_proj_b.weight, img.layers[1].mixer.x_proj_b.weight)


def test_temporal_pos_embed_linear_resize():
    src = video_model(num_frames=8)
    with torch.no_grad():
        src.temporal_pos_embedding.copy_(torch.arange(8.0).view(1, 8, 1).expand(1, 8, 64))
    dst = video_model(num_frames=16)
    report = load_pretrained(dst, {"module": src.state_dict()})
    # align_corners=False: position i samples (i + 0.5)·8/16 − 0.5, clamped to [0, 7]
    expected = torch.tensor([0.0, 0.25] + [0.75 + 0.5 * i for i in range(13)] + [7.0])
    torch.testing.assert_close(dst.temporal_pos_embedding[0, :, 0], expected)
    assert any("8 → 16" in a for a in report.adapted)


def test_orig_num_frames_quirk_keeps_temporal_embedding_at_init():
    """Spec §10.3-18: f32 checkpoint, 64-frame model, --orig_t_size 64 → no interpolation, tensor skipped."""
    src = video_model(num_frames=32)
    with torch.no_grad():
        src.temporal_pos_embedding.normal_()
    dst = video_model(num_frames=64)
    report = load_pretrained(dst, src.state_dict(), orig_num_frames=64)
    assert torch.count_nonzero(dst.temporal_pos_embedding) == 0
    assert any("orig_num_frames=64" in d for d in report.dropped)


def test_prefixes_mm_keys_and_norm_rename():
    src = video_model()
    sd = src.state_dict()
    sd["norm.weight"] = sd.pop("norm_f.weight")  # pretrain-family name of the final norm
    mm = {f"vision_encoder.{k}": v for k, v in sd.items() if not k.startswith("head.")}
    mm["vision_encoder.pool_norm.weight"] = torch.ones(64)
    mm["vision_encoder.clip_decoder.0.head.weight"] = torch.zeros(512, 64)
    mm["text_encoder.bert.embeddings.word_embeddings.weight"] = torch.zeros(3, 8)
    mm["temp"] = torch.tensor(0.07)
    dst = video_model()
    report = load_pretrained(dst, {"model": {f"module.{k}": v for k, v in mm.items()}})
    assert report.stripped_prefixes == ["module."]
    torch.testing.assert_close(dst.norm_f.weight, src.norm_f.weight)
    torch.testing.assert_close(dst.layers[0].mixer.A_b_log, src.layers[0].mixer.A_b_log)
    assert any("norm_f.weight" in a for a in report.adapted)
    assert sum("not part of a classifier" in d for d in report.dropped) == 4
    assert any(k.startswith("head.weight") for k in report.kept_at_init)


def test_backbone_prefix_and_flat_dict():
    src = video_model()
    dst = video_model()
    report = load_pretrained(dst, {f"backbone.{k}": v for k, v in src.state_dict().items()})
    assert report.stripped_prefixes == ["backbone."] and report.clean
    for (k, a), b in zip(dst.state_dict().items(), src.state_dict().values()):
        assert torch.equal(a, b), k


def test_mismatched_checkpoint_strict_and_lenient():
    src = video_model(embed_dim=96, depth=2)
    dst = video_model()
    with pytest.raises(CheckpointError, match="SHAPE MISMATCH"):
        load_pretrained(dst, src.state_dict())
    report = load_pretrained(dst, src.state_dict(), strict=False)  # official lenient loader
    assert report.mismatched and not report.clean
    # a checkpoint from another family with missing blocks is reported as missing keys
    partial = {k: v for k, v in video_model().state_dict().items() if not k.startswith("layers.1.")}
    with pytest.raises(CheckpointError, match="MISSING"):
        load_pretrained(video_model(), partial)


def test_corrupt_empty_and_missing_files(tmp_path):
    good = tmp_path / "good.pth"
    torch.save(video_model().state_dict(), good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    text = tmp_path / "notes.pth"
    text.write_text("this is not a checkpoint")
    for bad, pattern in ((truncated, "not a readable PyTorch checkpoint"), (empty, "empty"),
                         (text, "not a readable PyTorch checkpoint")):
        with pytest.raises(CheckpointError, match=pattern) as info:
            load_pretrained(video_model(), str(bad))
        assert str(bad) in str(info.value)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_pretrained(video_model(), str(tmp_path / "missing.pth"))


def test_timm_pretrained_overlay_file(tmp_path):
    """timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=...)) adapts like load_pretrained."""
    img = image_model(num_classes=1000)
    path = tmp_path / "videomamba_t16_in1k_res224.pth"
    save_official_image_ckpt(img, path)
    model = timm.create_model("videomamba_tiny", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)),
                              img_size=96, num_frames=4, kernel_size=2, num_classes=7, **TINY)
    ref = video_model(img_size=96, num_frames=4, kernel_size=2, num_classes=7)
    load_pretrained(ref, str(path))
    for k, v in ref.state_dict().items():
        if not k.startswith("head."):
            assert torch.equal(model.state_dict()[k], v), k
    assert model.num_frames == 4 and model.head.out_features == 7


def test_pretrained_without_file_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv("VIDEOMAMBA_PRETRAINED_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match=r"videomamba_t16_k400_f16_res224\.pth.*VIDEOMAMBA_PRETRAINED_DIR"):
        timm.create_model("videomamba_tiny.k400_f16_res224", pretrained=True, **TINY)
    # the same tag finds the file in the directory named by the environment variable
    src = video_model(num_frames=16, num_classes=400, img_size=224)
    torch.save(src.state_dict(), tmp_path / "videomamba_t16_k400_f16_res224.pth")
    monkeypatch.setenv("VIDEOMAMBA_PRETRAINED_DIR", str(tmp_path))
    model = timm.create_model("videomamba_tiny.k400_f16_res224", pretrained=True, **TINY)
    assert model.num_frames == 16 and model.num_classes == 400
    assert torch.equal(model.head.weight, src.head.weight)


def test_video_to_image_sums_the_tubelet():
    vid = video_model(kernel_size=2, num_frames=4)
    img = VisionMamba(img_size=64, num_classes=10, **TINY)
    report = load_pretrained(img, vid.state_dict())
    torch.testing.assert_close(img.patch_embed.proj.weight, vid.patch_embed.proj.weight.sum(2))
    assert any("temporal_pos_embedding" in d for d in report.dropped)
