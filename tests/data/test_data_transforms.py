"""Augmentation: shapes, value ranges, determinism, shared random draws, flip policy, mixup/cutmix."""
import random

import numpy as np
import pytest
import torch
from PIL import Image

from videomamba.data import build_mixup
from videomamba.data.transforms import (IMAGENET_MEAN, IMAGENET_STD, ClipRandAugment, VideoTestTransform,
                                        VideoTrainTransform, VideoValTransform, resize_short_side,
                                        spatial_crop_offset, to_normalized_tensor)

LOW = min((0 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD))
HIGH = max((1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD))


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def frames(t=8, h=40, w=56, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)


def test_train_shape_dtype_range_and_determinism():
    transform = VideoTrainTransform(32, aa="rand-m7-n4-mstd0.5-inc1", reprob=0.0)
    clip_in = frames()
    seed_all(3)
    a = transform(clip_in)
    seed_all(3)
    b = transform(clip_in)
    assert a.shape == (3, 8, 32, 32) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert LOW - 1e-5 <= a.min() and a.max() <= HIGH + 1e-5  # bilinear interpolation stays in range
    seed_all(4)
    assert not torch.equal(a, transform(clip_in))


def test_normalisation_values():
    clip = to_normalized_tensor(np.full((2, 4, 4, 3), 51, np.uint8))
    expected = [(0.2 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
    for c in range(3):
        assert torch.allclose(clip[c], torch.full((2, 4, 4), expected[c]))


def test_rand_augment_uses_one_draw_for_all_frames():
    augment = ClipRandAugment("rand-m9-n4-mstd0.5-inc1", 32)
    image = Image.fromarray(frames(1, 32, 32)[0])
    changed = 0
    for seed in range(10):
        seed_all(seed)
        out = [np.asarray(im) for im in augment([image] * 6)]
        assert all(np.array_equal(out[0], o) for o in out[1:])  # identical inputs stay identical
        changed += not np.array_equal(out[0], np.asarray(image))
    assert changed >= 5


def _is_flipped(out, reference):
    return torch.equal(out, reference.flip(-1))


def test_flip_policy_and_ssv2_default(synthetic_root):
    asymmetric = np.zeros((4, 32, 32, 3), np.uint8)
    asymmetric[:, :, :8] = 255  # bright left edge
    full = dict(aa=None, reprob=0.0, scale=(1.0, 1.0), ratio=(1.0, 1.0))  # crop = whole frame
    reference = VideoTrainTransform(32, flip=False, **full)(asymmetric)
    flips_on = flips_off = 0
    for seed in range(20):
        seed_all(seed)
        flips_on += _is_flipped(VideoTrainTransform(32, flip=True, **full)(asymmetric), reference)
        seed_all(seed)
        out = VideoTrainTransform(32, flip=False, **full)(asymmetric)
        assert torch.equal(out, reference)
        flips_off += _is_flipped(out, reference)
    assert flips_off == 0 and 3 <= flips_on <= 17

    from videomamba.data import build_dataset

    base = dict(data_root=synthetic_root, num_frames=4, input_size=32)
    assert build_dataset(dict(base, dataset="kinetics_sparse"), "train").transform.flip is True
    ssv2 = build_dataset(dict(base, dataset="ssv2", split=","), "train")
    assert ssv2.transform.flip is False and ssv2.flip is False
    assert build_dataset(dict(base, dataset="ssv2", split=",", flip=True), "train").transform.flip is True


def test_random_erasing_is_one_box_for_all_frames():
    transform = VideoTrainTransform(16, aa=None, reprob=1.0)
    clip = torch.zeros(3, 6, 16, 16)
    seed_all(0)
    erased = transform.erase(clip.view(18, 16, 16)).view(3, 6, 16, 16)
    mask = erased != 0
    assert mask.any()
    assert all(torch.equal(mask[c, t], mask[0, 0]) for c in range(3) for t in range(6))
    assert not torch.equal(erased[:, 0], erased[:, 1])  # fresh noise per frame


def test_val_and_test_crops():
    ramp = np.tile(np.arange(60, dtype=np.uint8)[None, None, :, None] * 4, (2, 40, 1, 3))  # (2, 40, 60, 3)
    resized = resize_short_side(ramp, 32)
    assert resized.shape == (2, 32, 48, 3)  # long side int(32 * 60 / 40)
    assert [spatial_crop_offset(48, 32, i, 3) for i in range(3)] == [0, 8, 16]
    assert spatial_crop_offset(48, 32, 0, 1) == 8
    test = VideoTestTransform(32, num_crops=3)
    for i, offset in enumerate([0, 8, 16]):
        assert torch.equal(test(ramp, i), to_normalized_tensor(resized[:, :, offset:offset + 32]))
    val = VideoValTransform(24, short_side_size=32)(ramp)
    assert torch.equal(val, to_normalized_tensor(resized[:, 4:28, 12:36]))  # round((32-24)/2), round((48-24)/2)


def test_mixup_targets_sum_to_one_and_cutmix_cuts_space_only():
    mixup = build_mixup({}, num_classes=5)  # official defaults: mixup 0.8, cutmix 1.0, smoothing 0.1
    x = torch.randn(4, 3, 4, 16, 16)
    y = torch.tensor([0, 1, 2, 3])
    seed_all(0)
    for _ in range(6):
        xm, target = mixup(x.clone(), y)
        assert xm.shape == x.shape and target.shape == (4, 5)
        assert torch.allclose(target.sum(1), torch.ones(4))

    cutmix = build_mixup(dict(mixup=0.0, cutmix=1.0, smoothing=0.0), num_classes=4)
    x = torch.arange(4, dtype=torch.float32).view(4, 1, 1, 1, 1).expand(4, 3, 4, 16, 16).contiguous()
    cut_areas = []
    for seed in range(5):
        seed_all(seed)
        xm, target = cutmix(x.clone(), y)
        for b in range(4):
            partner = 3 - b  # timm pairs the batch with its reverse
            from_partner = xm[b] == partner
            assert torch.equal(from_partner | (xm[b] == b), torch.ones_like(from_partner))  # no blending
            # the box covers H and W only: the same pixels in every channel and frame
            assert all(torch.equal(from_partner[c, t], from_partner[0, 0]) for c in range(3) for t in range(4))
            area = from_partner[0, 0].float().mean().item()
            assert target[b, y[b]].item() == pytest.approx(1 - area)
            assert target[b, partner].item() == pytest.approx(area)
            cut_areas.append(area)
    assert max(cut_areas) > 0.05
    assert build_mixup(dict(mixup=0, cutmix=0), 4) is None
