"""build_dataset item formats, validation errors and bad-data handling (train/eval, across workers)."""
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from videomamba.data import (AnnotationError, BadVideoError, SkippedItem, build_dataset, collate_skip_none,
                             multiple_samples_collate)
from videomamba.data.synthetic import render_clip, write_video

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE = dict(num_frames=4, input_size=32, short_side_size=32, test_num_segment=2, test_num_crop=3)


def cfg_for(root, **kw):
    return {**BASE, "dataset": "kinetics_sparse", "data_root": root, **kw}


@pytest.fixture(scope="session")
def bad_root(synthetic_root, tmp_path_factory):
    """Two good videos plus a truncated, a zero-byte, a non-video and a missing one (train.csv/val.csv)."""
    root = tmp_path_factory.mktemp("bad")
    good = ["train/left_to_right/train_left_to_right_0000.mp4", "train/right_to_left/train_right_to_left_0000.mp4"]
    for i, rel in enumerate(good):
        shutil.copy(os.path.join(synthetic_root, rel), root / f"good{i}.mp4")
    data = (root / "good0.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (root / "zero.mp4").write_bytes(b"")
    (root / "notvideo.mp4").write_text("hello\n" * 100)
    lines = "good0.mp4,0\ntruncated.mp4,1\nzero.mp4,2\nnotvideo.mp4,3\nmissing.mp4,1\ngood1.mp4,1\n"
    for split in ("train", "val", "test"):
        (root / f"{split}.csv").write_text(lines)
    return str(root)


BAD = {"truncated.mp4", "zero.mp4", "notvideo.mp4", "missing.mp4"}


# ------------------------------------------------------------------------------------- formats
def test_train_val_test_item_formats(synthetic_root):
    torch.manual_seed(0)
    train = build_dataset(cfg_for(synthetic_root), "train")
    assert len(train) == 12 and train.num_classes == 4 and train.flip
    clip, label = train[0]
    assert clip.shape == (3, 4, 32, 32) and clip.dtype == torch.float32 and label == 0

    rep = build_dataset(cfg_for(synthetic_root, num_sample=2), "train")
    clips, labels = rep[5]
    assert len(clips) == 2 and labels == [1, 1] and not torch.equal(clips[0], clips[1])
    x, y = multiple_samples_collate([rep[0], rep[5]])
    assert x.shape == (4, 3, 4, 32, 32) and y.tolist() == [0, 0, 1, 1]

    val = build_dataset(cfg_for(synthetic_root), "validation")
    clip, label = val[3]
    assert clip.shape == (3, 4, 32, 32) and label == 1

    test = build_dataset(cfg_for(synthetic_root), "test")
    n = 8
    assert len(test) == 2 * 3 * n
    # official order: index = (view * C + crop) * N + video
    clip, label, video_id, view, crop = test[(1 * 3 + 2) * n + 5]
    assert clip.shape == (3, 4, 32, 32)
    assert (label, video_id, view, crop) == (2, "val/top_to_bottom/val_top_to_bottom_0001.mp4", 1, 2)
    official = build_dataset(cfg_for(synthetic_root, video_id="basename"), "test")
    assert official[5][2] == "val_top_to_bottom_0001"  # the official id: basename without extension


def test_every_video_dataset_type(synthetic_root, tmp_path):
    # ssv2 (space separated, flip off), dense kinetics, custom csv with names, folder tree
    ssv2_anno = tmp_path / "ssv2_train.csv"
    with open(os.path.join(synthetic_root, "train.csv")) as f:
        ssv2_anno.write_text(f.read().replace(",", " "))
    ssv2 = build_dataset(dict(BASE, dataset="ssv2", data_root=synthetic_root, anno_path=str(ssv2_anno)), "train")
    assert ssv2.flip is False and ssv2.num_classes == 174 and ssv2[0][0].shape == (3, 4, 32, 32)
    dense = build_dataset(cfg_for(synthetic_root, dataset="kinetics", sampling_rate=2), "test")
    assert dense[0][0].shape == (3, 4, 32, 32)
    named = tmp_path / "named.csv"
    named.write_text("val/left_to_right/val_left_to_right_0000.mp4,clockwise\n")
    classes = tmp_path / "classes.txt"
    classes.write_text("clockwise\nanticlockwise\n")
    custom = build_dataset(dict(BASE, dataset="custom_csv", data_root=synthetic_root, anno_path=str(named),
                                class_names=str(classes)), "val")
    assert custom.num_classes == 2 and custom[0][1] == 0
    folder = build_dataset(dict(BASE, dataset="folder", data_root=synthetic_root), "val")
    # class order comes from <data_root>/classes.txt when present, else sorted folder names
    assert folder.class_names == ["left_to_right", "right_to_left", "top_to_bottom", "bottom_to_top"]
    assert len(folder) == 8 and folder[0][1] == 0 and folder[7][1] == 3
    os.makedirs(tmp_path / "tree" / "b_cls")
    os.makedirs(tmp_path / "tree" / "a_cls")
    shutil.copy(os.path.join(synthetic_root, "val/left_to_right/val_left_to_right_0000.mp4"), tmp_path / "tree" / "b_cls" / "x.mp4")
    shutil.copy(os.path.join(synthetic_root, "val/left_to_right/val_left_to_right_0001.mp4"), tmp_path / "tree" / "a_cls" / "y.mp4")
    sorted_tree = build_dataset(dict(BASE, dataset="folder", data_root=str(tmp_path / "tree")), "train")
    assert sorted_tree.class_names == ["a_cls", "b_cls"] and sorted_tree.labels == [0, 1]


def test_lvu_windows_make_distinct_view_indices(tmp_path):
    # 40 frames at 8 fps = 5 s; trimmed 2 s, stride 1 s -> windows (0,2) (1,3) (2,4) (3,5) (4,5)
    write_video(str(tmp_path / "long.mp4"), render_clip(0, np.random.default_rng(0), 40, 32, 32), fps=8)
    for split in ("train", "test"):
        (tmp_path / f"{split}.csv").write_text("long.mp4,3,5.0\n")
    cfg = dict(BASE, dataset="lvu", data_root=str(tmp_path), trimmed=2, time_stride=1, num_classes=4)
    test = build_dataset(cfg, "test")
    assert len(test) == 5 * 2 * 3
    items = [test[i][2:] for i in range(len(test))]
    assert sorted(items) == sorted(("long.mp4", w * 2 + c, crop) for w in range(5) for c in range(2)
                                   for crop in range(3))  # every (window, view, crop) exactly once
    official = build_dataset(dict(cfg, lvu_view_index="official"), "test")
    assert {official[i][3] for i in range(len(official))} == {0, 1}
    assert build_dataset(cfg, "train")[0][0].shape == (3, 4, 32, 32)


def test_config_errors(synthetic_root, tmp_path):
    with pytest.raises(ValueError, match="'dataset' must be one of"):
        build_dataset(cfg_for(synthetic_root, dataset="kinetics400"), "train")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        build_dataset(cfg_for(synthetic_root, anno_path=str(tmp_path / "nope.csv")), "train")
    with pytest.raises(AnnotationError, match=r"label 3 .* >= num_classes=3"):
        build_dataset(cfg_for(synthetic_root, num_classes=3), "train")
    bad = tmp_path / "bad.csv"
    bad.write_text("a.mp4,0\nb.mp4;1\n")
    with pytest.raises(AnnotationError, match=r"bad.csv, line 2: expected 'path,label'"):
        build_dataset(cfg_for(synthetic_root, anno_path=str(bad)), "train")
    with pytest.raises(ValueError, match="on_bad_video"):
        build_dataset(cfg_for(synthetic_root, on_bad_video="ignore"), "val")


def test_imagenet_folder_and_meta_layouts(tmp_path):
    from PIL import Image

    for split in ("train", "val"):
        for cls in ("n01", "n02"):
            (tmp_path / split / cls).mkdir(parents=True)
            Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / split / cls / "a.JPEG")
    train = build_dataset(dict(dataset="imagenet", data_root=str(tmp_path), input_size=32), "train")
    image, label = train[1]
    assert image.shape == (3, 32, 32) and label == 1 and train.num_classes == 2
    (tmp_path / "val.txt").write_text("val/n01/a.JPEG 0\nval/n02/a.JPEG 1\n")
    val = build_dataset(dict(dataset="imagenet", data_root=str(tmp_path), input_size=32, num_classes=1000,
                             anno_path={"val": str(tmp_path / "val.txt")}), "val")
    assert len(val) == 2 and val[1][1] == 1 and val[1][0].shape == (3, 32, 32)


# ------------------------------------------------------------------------------------ bad data
def test_train_replaces_logs_and_counts_bad_videos(bad_root, caplog):
    ds = build_dataset(cfg_for(bad_root, max_retries=50, aa=None, reprob=0), "train")
    caplog.set_level(logging.WARNING, logger="videomamba.data")
    for i in range(len(ds)):
        clip, label = ds[i]
        assert clip.shape == (3, 4, 32, 32) and label in (0, 1)  # only the good videos come back
    bad_paths = {p for p, _ in ds.bad_samples}
    assert bad_paths == BAD
    reasons = dict(ds.bad_samples)
    assert reasons["missing.mp4"] == "file not found" and "empty" in reasons["zero.mp4"]
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "videomamba.data")
    assert all(p in logged for p in BAD)
    ds.clear_bad_samples()
    assert ds.bad_samples == []


def test_bad_samples_are_aggregated_across_workers(bad_root):
    ds = build_dataset(cfg_for(bad_root, max_retries=50, aa=None, reprob=0), "train")
    loader = DataLoader(ds, batch_size=3, num_workers=2, collate_fn=multiple_samples_collate)
    seen = sum(len(y) for _, y in loader)
    assert seen == 6
    assert {p for p, _ in ds.bad_samples} == BAD  # recorded in the workers, read in the main process


def test_train_gives_up_after_max_retries(tmp_path):
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "train.csv").write_text("zero.mp4,0\nmissing.mp4,0\n")
    ds = build_dataset(cfg_for(str(tmp_path), max_retries=3), "train")
    with pytest.raises(RuntimeError, match=r"4 bad training videos in a row \(max_retries=3\)"):
        ds[0]


def test_too_short_video_is_bad(synthetic_root):
    ds = build_dataset(cfg_for(synthetic_root, min_frames=9), "val")  # synthetic videos have 8 frames
    with pytest.raises(BadVideoError, match="too short: 8 frames < min_frames=9"):
        ds[0]


def test_eval_raises_listing_bad_files(bad_root):
    ds = build_dataset(cfg_for(bad_root), "val")
    assert ds[0][1] == 0
    with pytest.raises(BadVideoError) as info:
        ds[1]
    assert "truncated.mp4" in str(info.value) and "on_bad_video: skip" in str(info.value)
    with pytest.raises(BadVideoError) as info:
        ds[4]
    assert {p for p, _ in info.value.bad} == {"truncated.mp4", "missing.mp4"}  # every bad file met so far


def test_eval_skip_drops_and_reports_views(bad_root):
    ds = build_dataset(cfg_for(bad_root, on_bad_video="skip"), "test")
    loader = DataLoader(ds, batch_size=6, num_workers=0, collate_fn=collate_skip_none)
    batches = [b for b in loader if b is not None]
    ids = [i for b in batches for i in b[2]]
    assert len(ids) == 2 * 3 * 2 and set(ids) == {"good0.mp4", "good1.mp4"}
    skipped = ds.skipped_views
    assert len(skipped) == 4 * 2 * 3
    assert {s[0] for s in skipped} == BAD
    assert {(s[1], s[2]) for s in skipped if s[0] == "zero.mp4"} == {(v, c) for v in range(2) for c in range(3)}
    item = ds[1]
    assert isinstance(item, SkippedItem) and item.video_id == "truncated.mp4"
    assert collate_skip_none([item, None]) is None


# ---------------------------------------------------------------------------------- check_videos
def test_check_videos_end_to_end(bad_root, tmp_path):
    out = tmp_path / "bad.tsv"
    cmd = [sys.executable, os.path.join(REPO, "tools", "check_videos.py"), os.path.join(bad_root, "train.csv"),
           "--prefix", bad_root, "--workers", "2", "--num-frames", "4", "--out", str(out), "--no-progress"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 1, result.stderr
    lines = out.read_text().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["truncated.mp4", "zero.mp4", "notvideo.mp4", "missing.mp4"]
    reasons = dict(line.split("\t") for line in lines)
    assert reasons["missing.mp4"] == "file not found" and reasons["zero.mp4"] == "empty file (0 bytes)"
    assert "6 videos checked, 4 bad" in result.stdout

    good = tmp_path / "good.csv"
    good.write_text("good0.mp4,0\ngood1.mp4,1\n")
    sys.path.insert(0, os.path.join(REPO, "tools"))  # second run in-process: saves a torch import
    try:
        import check_videos
    finally:
        sys.path.pop(0)
    assert check_videos.main([str(good), "--prefix", bad_root, "--workers", "1", "--num-frames", "4",
                              "--out", str(out), "--no-progress"]) == 0
    assert out.read_text() == ""


def test_ssv2_frame_folders_exact_pixels(tmp_path):
    """Whole val/test pipeline on lossless PNG frame folders against hand-computed indices and crops."""
    from PIL import Image

    from datatest_helpers import numbered_frames
    from videomamba.data.transforms import to_normalized_tensor

    original = numbered_frames(12, 48, 64)
    folder = tmp_path / "frames" / "vid1"
    folder.mkdir(parents=True)
    for i, image in enumerate(original):
        Image.fromarray(image).save(folder / f"img_{i + 1:05}.png")
    for split in ("val", "test"):
        (tmp_path / f"{split}.csv").write_text("vid1 12 5\n")
    cfg = dict(dataset="ssv2_frames", data_root=str(tmp_path / "frames"), data_path=str(tmp_path),
               num_frames=4, input_size=48, short_side_size=48, filename_tmpl="img_{:05}.png",
               test_num_segment=2, test_num_crop=3)
    clip, label = build_dataset(cfg, "val")[0]
    # tick = 12/4 = 3: int(1.5 + 3x) = 1, 4, 7, 10; center crop 48 of 64 wide: offset round(8) = 8
    assert label == 5 and torch.equal(clip, to_normalized_tensor(original[[1, 4, 7, 10], :, 8:56]))
    test = build_dataset(cfg, "test")
    # view 1 (s = 1): int(1.5 + 3x) -> 1, 4, 7, 10; crop 2 of 3: offset int(2 * 16 / 2) = 16
    clip, label, video_id, view, crop = test[(1 * 3 + 2) * 1 + 0]
    assert (label, video_id, view, crop) == (5, "vid1", 1, 2)
    assert torch.equal(clip, to_normalized_tensor(original[[1, 4, 7, 10], :, 16:64]))
    clip = test[0][0]  # view 0 = segment starts 0, 3, 6, 9; crop 0
    assert torch.equal(clip, to_normalized_tensor(original[[0, 3, 6, 9], :, 0:48]))


def test_train_crop_scale_key(synthetic_root):
    from videomamba.data import build_dataset
    cfg = dict(dataset="kinetics_sparse", data_root=synthetic_root, split=",", num_frames=4, input_size=32,
               short_side_size=32, num_classes=4, aa="none", train_crop_scale=[0.7, 1.0])
    assert build_dataset(cfg, "train").transform.scale == (0.7, 1.0)
    assert build_dataset({**cfg, "train_crop_scale": None}, "train").transform.scale == (0.08, 1.0)
    with pytest.raises(ValueError, match="train_crop_scale"):
        build_dataset({**cfg, "train_crop_scale": [0.0, 1.0]}, "train")
