import pytest
import timm
import torch

import videomamba  # noqa: F401


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return timm.create_model("videomamba_tiny", depth=2, embed_dim=64, patch_size=16, img_size=32, num_frames=4,
                             num_classes=4)
