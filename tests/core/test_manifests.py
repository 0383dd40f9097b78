"""Every official image/video classifier has exactly the official state-dict keys, shapes and parameter count."""
import glob
import json
import os

import pytest
import timm
import torch

import videomamba  # noqa: F401  (registers the models)

from golden import manifest_dir

# manifest file → (our factory, kwargs). Distillation students, masked pretraining, CLIP teacher and the
# multi-modal backbone belong to their own model families.
CASES = {
    "image_sm__videomamba_tiny__c1000.json": ("videomamba_image_tiny", {}),
    "image_sm__videomamba_small__c1000.json": ("videomamba_image_small", {}),
    "image_sm__videomamba_middle__c1000.json": ("videomamba_image_middle", {}),
    "image_sm__videomamba_base__c1000.json": ("videomamba_image_base", {}),
    # the self-distillation teacher is a plain small image model
    "image_sm__distill_teacher_small__c1000.json": ("videomamba_image_small", {}),
    "video_sm__videomamba_tiny__f8_c400.json": ("videomamba_tiny", dict(num_frames=8, num_classes=400)),
    "video_sm__videomamba_tiny__f16_c400.json": ("videomamba_tiny", dict(num_frames=16, num_classes=400)),
    "video_sm__videomamba_small__f8_c400.json": ("videomamba_small", dict(num_frames=8, num_classes=400)),
    "video_sm__videomamba_middle__f8_c400.json": ("videomamba_middle", dict(num_frames=8, num_classes=400)),
}


def test_every_classifier_manifest_is_covered():
    names = {os.path.basename(p) for p in glob.glob(os.path.join(manifest_dir(), "*.json"))}
    classifiers = {n for n in names if (n.startswith("image_sm__") or n.startswith("video_sm__videomamba"))
                   and "distill__" not in n and "pretrain" not in n}
    assert classifiers <= set(CASES), sorted(classifiers - set(CASES))


@pytest.mark.parametrize("manifest", sorted(CASES))
def test_state_dict_matches_manifest(manifest):
    with open(os.path.join(manifest_dir(), manifest)) as f:
        official = json.load(f)
    name, kwargs = CASES[manifest]
    with torch.device("meta"):
        model = timm.create_model(name, **kwargs)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(shape) for k, shape, _ in official["state_dict"]}
    assert set(ours) == set(theirs), (sorted(set(ours) - set(theirs))[:5], sorted(set(theirs) - set(ours))[:5])
    assert ours == theirs
    assert sum(p.numel() for p in model.parameters()) == official["num_parameters"]
    head = sum(p.numel() for n, p in model.named_parameters() if n.startswith("head."))
    assert sum(p.numel() for p in model.parameters()) - head == official["num_parameters_without_head"]


@pytest.mark.parametrize("name,frames,expected", [
    ("videomamba_tiny", 32, 7_038_352), ("videomamba_tiny", 64, 7_044_496),
    ("videomamba_small", 16, 25_571_728), ("videomamba_small", 64, 25_590_160),
    ("videomamba_middle", 32, 73_889_680), ("videomamba_middle", 64, 73_908_112),
])
def test_video_parameter_counts_spec_table(name, frames, expected):
    """Spec §3.3 parameter table (400-class head, 224, tubelet 1) for the frame counts without a manifest."""
    with torch.device("meta"):
        model = timm.create_model(name, num_frames=frames, num_classes=400)
    assert sum(p.numel() for p in model.parameters()) == expected
