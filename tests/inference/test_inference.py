"""Inference API and CLI on a synthetic video and a tiny randomly initialised VideoMamba checkpoint."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from videomamba.inference import InferenceError, VideoClassifier, main, plan_windows, read_labels

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KW = {"depth": 2, "embed_dim": 32}
KW_JSON = json.dumps(KW)
LABELS = ["alpha", "beta", "gamma", "delta", "epsilon"]


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    import timm

    import videomamba.models  # noqa: F401
    from videomamba.data.synthetic import render_clip, write_video
    root = tmp_path_factory.mktemp("inference")
    torch.manual_seed(0)
    model = timm.create_model("videomamba_tiny", num_frames=4, img_size=32, num_classes=5, **KW)
    with torch.no_grad():  # make the classes clearly distinct so the ranking is not a near-tie
        model.head.weight.mul_(50)
    ckpt = root / "tiny.pth"
    torch.save({"model": model.state_dict(), "epoch": 3}, ckpt)
    video = root / "clip.mp4"  # 40 frames at 8 fps = 5 s, 48x64
    write_video(str(video), render_clip(0, np.random.default_rng(0), num_frames=40, height=48, width=64), fps=8)
    labels = root / "labels.txt"
    labels.write_text("\n".join(LABELS) + "\n")
    return dict(root=root, ckpt=str(ckpt), video=str(video), labels=str(labels), model=model)


@pytest.fixture(scope="module")
def clf(assets):
    return VideoClassifier("videomamba_tiny", assets["ckpt"], labels=assets["labels"], num_segments=2, num_crops=3,
                           device="cpu", model_kwargs=KW)


def _cli(assets, *extra, capsys=None):
    out = assets["root"] / "out.json"
    if out.exists():
        out.unlink()
    argv = [*extra, "--model", "videomamba_tiny", "--model-kwargs", KW_JSON, "--device", "cpu",
            "--output", str(out)]
    rc = main(argv)
    return rc, (json.loads(out.read_text()) if out.exists() else None)


# --------------------------------------------------------------------------------------------- CLI
def test_cli_json_schema_and_topk(assets):
    rc, out = _cli(assets, assets["video"], "--checkpoint", assets["ckpt"], "--labels", assets["labels"],
                   "--topk", "3", "--num-segments", "2", "--num-crops", "3")
    assert rc == 0
    assert {k: out[k] for k in ("num_frames", "img_size", "num_classes", "num_segments", "num_crops", "task")} == \
        dict(num_frames=4, img_size=32, num_classes=5, num_segments=2, num_crops=3, task="classification")
    (res,) = out["results"]
    assert res["video"] == assets["video"] and res["num_frames"] == 40 and res["fps"] == 8.0
    assert res["num_views"] == 6
    preds = res["predictions"]
    assert len(preds) == 3 and all(set(p) == {"label", "index", "score"} for p in preds)
    scores = [p["score"] for p in preds]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores) and sum(scores) <= 1 + 1e-6
    assert [p["label"] for p in preds] == [LABELS[p["index"]] for p in preds]
    assert "features" not in res and "windows" not in res


def test_cli_features_and_sliding_window(assets):
    rc, out = _cli(assets, assets["video"], "--checkpoint", assets["ckpt"], "--num-segments", "1",
                   "--num-crops", "1", "--sliding-window", "16f", "--stride", "8f", "--features", "--topk", "5")
    assert rc == 0
    (res,) = out["results"]
    assert len(res["features"]) == 32
    assert len(res["windows"]) == 5 and res["num_views"] == 5
    assert [(w["first_frame"], w["last_frame"]) for w in res["windows"]] == \
        [(0, 15), (8, 23), (16, 31), (24, 39), (32, 39)]
    assert all(len(w["predictions"]) == 5 and len(w["features"]) == 32 for w in res["windows"])
    # the video prediction is the mean of the window probabilities
    per_window = np.zeros((5, 5))
    for i, w in enumerate(res["windows"]):
        for p in w["predictions"]:
            per_window[i, p["index"]] = p["score"]
    mean = per_window.mean(0)
    assert [p["index"] for p in res["predictions"]] == list(np.argsort(-mean, kind="stable"))
    assert np.allclose([p["score"] for p in res["predictions"]], np.sort(mean)[::-1], atol=1e-6)
    assert math.isclose(sum(p["score"] for p in res["predictions"]), 1.0, rel_tol=1e-5)
    assert labels_default(res)


def labels_default(res) -> bool:
    return all(p["label"] == f"class_{p['index']}" for p in res["predictions"])


def test_cli_missing_video_and_checkpoint(assets, capsys):
    rc, out = _cli(assets, str(assets["root"] / "nope.mp4"), "--checkpoint", assets["ckpt"])
    assert rc == 2 and out is None
    assert "video(s) not found" in capsys.readouterr().err
    rc, _ = _cli(assets, assets["video"], "--checkpoint", str(assets["root"] / "missing.pth"))
    assert rc == 2 and "checkpoint file not found" in capsys.readouterr().err
    bad = assets["root"] / "corrupt.pth"
    bad.write_bytes(b"this is not a checkpoint")
    rc, _ = _cli(assets, assets["video"], "--checkpoint", str(bad))
    err = capsys.readouterr().err
    assert rc == 2 and "corrupt.pth" in err and "not a readable PyTorch checkpoint" in err


def test_cli_corrupt_video_is_reported_per_video(assets, capsys):
    bad = assets["root"] / "broken.mp4"
    bad.write_bytes(os.urandom(2048))
    rc, out = _cli(assets, str(bad), assets["video"], "--checkpoint", assets["ckpt"], "--num-segments", "1",
                   "--num-crops", "1")
    assert rc == 1
    first, second = out["results"]
    assert first["video"] == str(bad) and "broken.mp4" in first["error"] and "predictions" not in first
    assert len(second["predictions"]) == 5
    assert "broken.mp4" in capsys.readouterr().err


def test_cli_argument_errors(assets, capsys):
    rc, _ = _cli(assets, assets["video"], "--checkpoint", assets["ckpt"], "--stride", "2s")
    assert rc == 2 and "--stride needs --sliding-window" in capsys.readouterr().err
    rc, _ = _cli(assets, assets["video"], "--checkpoint", assets["ckpt"], "--sliding-window", "abc")
    assert rc == 2 and "--sliding-window" in capsys.readouterr().err
    rc, _ = _cli(assets, assets["video"])
    assert rc == 2 and "--checkpoint" in capsys.readouterr().err


def test_tools_wrapper_runs(assets):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "inference.py"), assets["video"],
                           "--model", "videomamba_tiny", "--checkpoint", assets["ckpt"], "--model-kwargs", KW_JSON,
                           "--num-segments", "1", "--num-crops", "1", "--topk", "2", "--device", "cpu"],
                          capture_output=True, text=True, cwd=str(assets["root"]))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["results"][0]["predictions"]) == 2


# --------------------------------------------------------------------------------------------- API
def test_predict_proba_is_the_view_averaged_softmax(clf, assets):
    """Recompute the official test protocol by hand: sparse test views × 3 crops, softmax, mean."""
    from videomamba.data.decoding import open_video
    from videomamba.data.sampling import sparse_indices
    from videomamba.data.transforms import VideoTestTransform
    model = assets["model"].eval()
    tf = VideoTestTransform(short_side_size=32, num_crops=3)
    reader = open_video(assets["video"])
    clips = [tf(reader.get_frames(sparse_indices(reader.num_frames, 4, "test", v, 2)), c)
             for v in range(2) for c in range(3)]
    with torch.no_grad():
        expected = model(torch.stack(clips)).softmax(-1).mean(0)
    proba = clf.predict_proba(assets["video"])
    assert proba.shape == (5,)
    assert torch.allclose(proba, expected, atol=1e-5)
    assert math.isclose(float(proba.sum()), 1.0, rel_tol=1e-5)
    top = clf.predict(assets["video"], topk=5)
    assert [p["index"] for p in top["predictions"]] == proba.argsort(descending=True).tolist()
    assert top["predictions"][0]["label"] == LABELS[int(proba.argmax())]


def test_predict_list_and_features(clf, assets):
    out = clf.predict([assets["video"], assets["video"]], topk=2)
    assert isinstance(out, list) and len(out) == 2 and out[0]["predictions"] == out[1]["predictions"]
    feats = clf.features(assets["video"])
    per_view = clf.features(assets["video"], reduce=None)
    assert feats.shape == (32,) and per_view.shape == (6, 32)
    assert torch.allclose(per_view.mean(0), feats, atol=1e-6)
    # the features are the pre-logits: the head on them gives the same probabilities
    proba = clf.model.head(per_view).softmax(-1).mean(0)
    assert torch.allclose(proba, clf.predict_proba(assets["video"]), atol=1e-5)
    windows = clf.features(assets["video"], sliding_window="2s", stride="1s")
    assert windows.shape == (5, 32)


def test_num_frames_override_adapts_the_checkpoint(assets):
    clf = VideoClassifier("videomamba_tiny", assets["ckpt"], num_frames=8, num_segments=1, num_crops=1,
                          device="cpu", model_kwargs=KW)
    assert clf.num_frames == 8 and clf.model.temporal_pos_embedding.shape[1] == 8
    assert any("temporal_pos_embedding" in a for a in clf.load_report.adapted)
    assert len(clf.predict(assets["video"])["predictions"]) == 5


def test_regression_checkpoint_reports_a_value(assets, tmp_path):
    import timm
    model = timm.create_model("videomamba_tiny", num_frames=4, img_size=32, num_classes=1, **KW)
    torch.save(model.state_dict(), tmp_path / "reg.pth")
    clf = VideoClassifier("videomamba_tiny", str(tmp_path / "reg.pth"), num_segments=2, num_crops=1, device="cpu",
                          model_kwargs=KW)
    res = clf.predict(assets["video"])
    assert clf.task == "regression" and set(res) >= {"value"} and "predictions" not in res
    with torch.no_grad():
        assert math.isclose(res["value"], float(clf.predict_proba(assets["video"])[0]), rel_tol=1e-6)


# ------------------------------------------------------------------------------------------ errors
def test_api_errors(assets, tmp_path):
    with pytest.raises(InferenceError, match="does not fit --model videomamba_small"):
        VideoClassifier("videomamba_small", assets["ckpt"], device="cpu")
    with pytest.raises(InferenceError, match="unknown video model"):
        VideoClassifier("resnet50", assets["ckpt"], device="cpu")
    with pytest.raises(InferenceError, match="5 class names but|6 class names but"):
        bad = tmp_path / "labels.txt"
        bad.write_text("\n".join(LABELS + ["extra"]))
        VideoClassifier("videomamba_tiny", assets["ckpt"], labels=str(bad), device="cpu", model_kwargs=KW)
    not_vm = tmp_path / "other.pth"
    torch.save({"model": {"fc.weight": torch.zeros(2, 2)}}, not_vm)
    with pytest.raises(InferenceError, match="not a VideoMamba classifier checkpoint"):
        VideoClassifier("videomamba_tiny", str(not_vm), device="cpu")
    clf = VideoClassifier("videomamba_tiny", assets["ckpt"], num_segments=1, num_crops=1, device="cpu",
                          model_kwargs=KW)
    with pytest.raises(InferenceError, match="video not found: .*nothing.mp4"):
        clf.predict(str(tmp_path / "nothing.mp4"))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InferenceError, match="empty.mp4"):
        clf.predict(str(empty))


# ------------------------------------------------------------------------------------------ pieces
@pytest.mark.parametrize("num_frames,fps,window,stride,expected", [
    (40, 8, "2s", "1s", 5),      # 5 s: starts 0..4, the last (1 s = W/2) kept
    (40, 8, "16f", "8f", 5),
    (40, 8, "16f", None, 3),     # 0-16, 16-32, 32-40 (8 frames = W/2, kept)
    (40, 8, "60", "16", 1),      # shorter than one window
    (30 * 300, 30, "60s", "16s", 17),  # 300 s: 19 starts 0..288; 272 and 288 leave < 30 s -> dropped
])
def test_window_count(num_frames, fps, window, stride, expected):
    windows = plan_windows(num_frames, fps, window, stride)
    assert len(windows) == expected
    assert [w["index"] for w in windows] == list(range(expected))
    assert all(0 <= w["first_frame"] <= w["last_frame"] < num_frames for w in windows)


def test_read_labels_formats(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"b": 1, "a": 0}))
    (tmp_path / "b.csv").write_text("id,name\n1,run\n0,jump\n")
    (tmp_path / "c.json").write_text(json.dumps(["x", "y"]))
    assert read_labels(str(tmp_path / "a.json")) == ["a", "b"]
    assert read_labels(str(tmp_path / "b.csv")) == ["jump", "run"]
    assert read_labels(str(tmp_path / "c.json"), num_classes=2) == ["x", "y"]
    (tmp_path / "gap.csv").write_text("0,a\n2,b\n")
    with pytest.raises(InferenceError, match="gap.csv"):
        read_labels(str(tmp_path / "gap.csv"))
    with pytest.raises(InferenceError, match="labels file not found"):
        read_labels(str(tmp_path / "none.txt"))


def test_training_checkpoint_supplies_its_config(assets, tmp_path):
    """Checkpoints of tools/train.py store the resolved config: model, architecture, views, sampling, labels."""
    from videomamba.utils.config import load_config, to_dict
    cfg = load_config(os.path.join(ROOT, "configs", "ssv2", "videomamba_tiny_f8x224.yaml"),
                      ["model.depth=2", "model.embed_dim=32", "model.num_classes=5", "data.num_frames=4",
                       "data.input_size=32", "data.short_side_size=32", "eval.test_num_crop=1",
                       f"data.class_names={assets['labels']}"])
    state = torch.load(assets["ckpt"], weights_only=True)
    torch.save({"model": state["model"], "epoch": 1, "config": to_dict(cfg)}, tmp_path / "checkpoint-best.pth")
    rc = main([assets["video"], "--checkpoint", str(tmp_path / "checkpoint-best.pth"), "--device", "cpu",
               "--output", str(tmp_path / "o.json")])
    assert rc == 0
    out = json.loads((tmp_path / "o.json").read_text())
    assert (out["model"], out["sampling"], out["num_segments"], out["num_crops"]) == ("videomamba_tiny", "ssv2", 2, 1)
    preds = out["results"][0]["predictions"]
    assert all(p["label"] == LABELS[p["index"]] for p in preds)
