"""Synthetic generator: determinism, idempotency, time-reversal classes, real decodable files."""
import os

import numpy as np
import pytest

from videomamba.data.decoding import open_video
from videomamba.data.synthetic import CLASS_NAMES, generate_synthetic_dataset, render_clip

SMALL = dict(num_classes=2, train_per_class=2, val_per_class=1, num_frames=6, height=32, width=32)


def _tree_bytes(root):
    out = {}
    for folder, _, files in os.walk(root):
        for f in files:
            path = os.path.join(folder, f)
            out[os.path.relpath(path, root)] = open(path, "rb").read()
    return out


def test_same_seed_gives_identical_files(tmp_path):
    a = generate_synthetic_dataset(str(tmp_path / "a"), **SMALL)
    b = generate_synthetic_dataset(str(tmp_path / "b"), **SMALL)
    assert a["created"] and b["created"]
    files_a, files_b = _tree_bytes(a["root"]), _tree_bytes(b["root"])
    assert files_a == files_b and len(files_a) == 6 + 5  # 6 videos, 3 csv, classes.txt, meta.json
    c = generate_synthetic_dataset(str(tmp_path / "c"), **dict(SMALL, seed=1))
    assert _tree_bytes(c["root"])["train/left_to_right/train_left_to_right_0000.mp4"] != files_a["train/left_to_right/train_left_to_right_0000.mp4"]


def test_idempotent_and_regenerates_on_param_change(tmp_path):
    root = str(tmp_path / "s")
    generate_synthetic_dataset(root, **SMALL)
    video = os.path.join(root, "train/left_to_right/train_left_to_right_0000.mp4")
    stamp = os.stat(video).st_mtime_ns
    assert generate_synthetic_dataset(root, **SMALL)["created"] is False
    assert os.stat(video).st_mtime_ns == stamp
    os.remove(video)  # incomplete -> regenerated
    assert generate_synthetic_dataset(root, **SMALL)["created"] is True
    assert generate_synthetic_dataset(root, **dict(SMALL, num_frames=8))["created"] is True
    assert open_video(video).num_frames == 8


def test_layout_and_annotation_files(synthetic_root):
    lines = open(os.path.join(synthetic_root, "train.csv")).read().splitlines()
    assert lines[0] == "train/left_to_right/train_left_to_right_0000.mp4,0" and len(lines) == 12
    assert open(os.path.join(synthetic_root, "classes.txt")).read().split() == list(CLASS_NAMES[:4])
    assert open(os.path.join(synthetic_root, "test.csv")).read() == open(os.path.join(synthetic_root, "val.csv")).read()
    reader = open_video(os.path.join(synthetic_root, lines[-1].split(",")[0]))
    assert reader.num_frames == 8 and reader.fps == pytest.approx(8)
    assert reader.get_frames([0]).shape == (1, 32, 32, 3)


@pytest.mark.parametrize("forward", [0, 2, 4, 6])
def test_reversed_clip_is_the_partner_class(forward):
    a = render_clip(forward, np.random.default_rng(11), 10, 32, 32)
    b = render_clip(forward + 1, np.random.default_rng(11), 10, 32, 32)
    assert np.array_equal(a[::-1], b)
    assert not np.array_equal(a[0], a[-1])  # the clip really moves


def test_cli(tmp_path):
    from videomamba.data.synthetic import main

    assert main(["--out", str(tmp_path / "cli"), "--num-classes", "2", "--train-per-class", "1",
                 "--val-per-class", "1", "--num-frames", "4", "--height", "32", "--width", "32",
                 "--ext", ".avi"]) == 0
    assert open(tmp_path / "cli" / "train.csv").read() == "train/left_to_right/train_left_to_right_0000.avi,0\ntrain/right_to_left/train_right_to_left_0000.avi,1\n"
