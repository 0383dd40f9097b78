import os

import pytest
import torch

from videomamba.engine.evaluate import merge_views
from videomamba.engine.train_one_epoch import NonFiniteLossError, StepSchedules, train_one_epoch
from videomamba.utils import checkpoint as ckpt


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint-latest.pth"
    ckpt.atomic_torch_save({"epoch": 1}, str(path))
    assert torch.load(path)["epoch"] == 1

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        ckpt.atomic_torch_save({"epoch": 2}, str(path))
    monkeypatch.undo()
    assert torch.load(path)["epoch"] == 1  # the previous checkpoint is intact
    assert sorted(os.listdir(tmp_path)) == ["checkpoint-latest.pth"]  # no temp file left behind


def test_find_resume_checkpoint_order(tmp_path):
    assert ckpt.find_resume_checkpoint(str(tmp_path)) is None
    for n in ("checkpoint-3.pth", "checkpoint-12.pth"):
        (tmp_path / n).write_bytes(b"x")
    assert ckpt.find_resume_checkpoint(str(tmp_path)).endswith("checkpoint-12.pth")
    (tmp_path / "checkpoint-best.pth").write_bytes(b"x")
    assert ckpt.find_resume_checkpoint(str(tmp_path)).endswith("checkpoint-best.pth")
    (tmp_path / "checkpoint-latest.pth").write_bytes(b"x")
    assert ckpt.find_resume_checkpoint(str(tmp_path)).endswith("checkpoint-latest.pth")
    assert ckpt.find_resume_checkpoint(str(tmp_path), prefer_best=True).endswith("checkpoint-best.pth")


def _part(ids, views, crops, labels, logits):
    return {"video_id": ids, "view": views, "crop": crops, "label": labels, "logits": torch.tensor(logits)}


def test_merge_dedups_padding_by_tuple_and_official_string_collision():
    # video a: views (1, 11) and (11, 1) are distinct but both read "111" as official strings
    a = _part(["a", "a", "b"], [1, 11, 0], [11, 1, 0], [0, 0, 1], [[5.0, 0.0], [0.0, 5.0], [0.0, 1.0]])
    pad = _part(["b"], [0], [0], [1], [[9.0, 0.0]])  # DistributedSampler padding repeats (b, 0, 0)
    fixed = merge_views([a, pad])
    assert fixed["num_videos"] == 2 and fixed["num_views"] == 3 and fixed["duplicates"] == 1
    pa = torch.softmax(torch.tensor([[5.0, 0.0], [0.0, 5.0]]), 1).mean(0)
    pred_a = next(p for p in fixed["predictions"] if p["video_id"] == "a")
    assert pred_a["scores"][0] == pytest.approx(float(pa.max()), abs=1e-6)
    official = merge_views([a, pad], official=True)
    assert official["num_views"] == 2 and official["duplicates"] == 2  # the string key drops a real view
    assert official["top1"] == 100.0  # a keeps only its first view (class 0), b is class 1


def test_non_finite_loss_names_step_lr_and_samples(tiny_model):
    class Bad(torch.nn.Module):
        def forward(self, x, y):
            return torch.tensor(float("nan"), requires_grad=True)
    loader = [(torch.zeros(2, 3, 4, 32, 32), torch.tensor([0, 1]))]
    sched = StepSchedules(lr=[1e-3], wd=[0.05], steps_per_epoch=1)
    opt = torch.optim.AdamW(tiny_model.parameters())
    with pytest.raises(NonFiniteLossError, match=r"step 0.*lr 1\.000e-03.*indices \[7, 3\].*vid7\.mp4"):
        train_one_epoch(tiny_model, Bad(), loader, opt, torch.device("cpu"), 0, sched, amp="none",
                        scaler=torch.amp.GradScaler("cpu", enabled=False), batch_indices=[[7, 3]],
                        describe_sample=lambda i: f"vid{i}.mp4")
