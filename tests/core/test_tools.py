"""tools/flops.py (official counting within 3% of the zoo) and tools/inspect_checkpoint.py."""
import subprocess
import sys

import pytest
import timm
import torch

import videomamba  # noqa: F401
from videomamba.flops import count_flops
from videomamba.models.inspect import describe_checkpoint

ROOT = __file__.rsplit("/tests/", 1)[0]


# small/middle/base (4.24/12.64/16.85 G vs 4.3/12.7/16.9) are checked by hand: each costs a full 224² trace.
@pytest.mark.parametrize("name,zoo_gflops", [("videomamba_image_tiny", 1.1)])
def test_official_flops_match_zoo(name, zoo_gflops):
    model = timm.create_model(name)
    official, _ = count_flops(model, torch.randn(1, 3, 224, 224), "official")
    assert abs(official / 1e9 - zoo_gflops) / zoo_gflops <= 0.03


def test_full_flops_add_the_inner_mixer():
    model = timm.create_model("videomamba_tiny", depth=2, embed_dim=64, img_size=32, num_frames=4, num_classes=5)
    x = torch.randn(1, 3, 4, 32, 32)
    official, _ = count_flops(model, x, "official")
    full, _ = count_flops(model, x, "full")
    l, e, n, r, k = 1 + 4 * 4, 128, 16, 4, 4  # tokens, d_inner, d_state, dt_rank, conv width
    per_direction = l * (k * e + e * (r + 2 * n) + r * e + 9 * e * n)
    assert full - official == 2 * 2 * per_direction  # 2 layers × 2 directions


def test_inspect_checkpoint_recognises_video_and_image(tmp_path):
    video = timm.create_model("videomamba_tiny", depth=24, num_frames=16, num_classes=174)
    torch.save({"module": {f"module.{k}": v for k, v in video.state_dict().items()}}, tmp_path / "v.pth")
    text = describe_checkpoint(str(tmp_path / "v.pth"))
    assert "video classifier" in text and "module." in text
    assert "timm.create_model('videomamba_tiny', num_frames=16, img_size=224, num_classes=174)" in text
    image = timm.create_model("videomamba_image_tiny", depth=2, embed_dim=64, img_size=64, num_classes=10)
    torch.save({"model": image.state_dict(), "epoch": 3}, tmp_path / "i.pth")
    out = subprocess.run([sys.executable, f"{ROOT}/tools/inspect_checkpoint.py", str(tmp_path / "i.pth")],
                         capture_output=True, text=True, check=True).stdout
    assert "image classifier" in out and "embed_dim=64" in out and "depth=2" in out
