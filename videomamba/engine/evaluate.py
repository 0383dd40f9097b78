"""Validation (single view) and the final multi-view test merged across ranks (spec §5.4, §10.3-26)."""
from __future__ import annotations

import json
import os
import time
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional

import torch
import torch.nn.functional as F

from ..utils.checkpoint import atomic_torch_save, atomic_write_bytes
from ..utils.distributed import all_reduce_sum, barrier, get_rank, get_world_size
from .graphed import GraphedInference
from .train_one_epoch import _autocast, _unwrap


def topk_correct(logits: torch.Tensor, target: torch.Tensor, ks=(1, 5)) -> List[int]:
    """Number of rows whose target is among the top-k logits, for each k (k capped at #classes)."""
    maxk = min(max(ks), logits.shape[1])
    pred = logits.topk(maxk, dim=1).indices
    hits = pred.eq(target.view(-1, 1))
    return [int(hits[:, :min(k, maxk)].any(dim=1).sum()) for k in ks]


def _eval_forward(model, device, amp: str, cuda_graph: bool):
    """The forward an eval loop calls: the model, or with ``cuda_graph`` on a CUDA device its unwrapped module
    replayed from CUDA graphs (:class:`GraphedInference`: short clips are host-bound)."""
    if cuda_graph and torch.device(device).type == "cuda":
        return GraphedInference(_unwrap(model), amp)
    return model


@torch.no_grad()
def validate(model, loader, device, amp: str = "none", logger=None, desc: str = "val",
             cuda_graph: bool = False) -> dict:
    """Single-view accuracy and CE loss over a (possibly sharded, unpadded) loader; exact totals across ranks."""
    model.eval()
    forward = _eval_forward(model, device, amp, cuda_graph)
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss sum, top1, top5, count
    bar = logger.bar(len(loader), desc) if logger else None
    for batch in loader:
        if batch is None:  # every item of the batch was skipped by the data layer
            continue
        clips, target = batch[0].to(device, non_blocking=True), batch[1].to(device, non_blocking=True)
        with _autocast(device, amp):
            logits = forward(clips)
        logits = logits.float()
        loss = F.cross_entropy(logits, target, reduction="sum")
        c1, c5 = topk_correct(logits, target)
        sums += torch.tensor([loss.item(), c1, c5, target.numel()], dtype=torch.float64, device=device)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    all_reduce_sum(sums)
    n = max(sums[3].item(), 1)
    return {"loss": sums[0].item() / n, "top1": 100.0 * sums[1].item() / n, "top5": 100.0 * sums[2].item() / n,
            "num_clips": int(sums[3].item())}


@torch.no_grad()
def predict_views(model, loader, device, amp: str = "none", logger=None, cuda_graph: bool = False) -> dict:
    """Run the multi-view test loader; returns this rank's views: ids, view/crop indices, labels, fp32 logits."""
    model.eval()
    forward = _eval_forward(model, device, amp, cuda_graph)
    out = {"video_id": [], "view": [], "crop": [], "label": [], "logits": []}
    bar = logger.bar(len(loader), "test") if logger else None
    for batch in loader:
        if bar is not None:
            bar.update(1)
        if batch is None:
            continue
        clips, labels, video_ids, views, crops = batch
        with _autocast(device, amp):
            logits = forward(clips.to(device, non_blocking=True))
        out["logits"].append(logits.float().cpu())
        out["label"] += [int(x) for x in labels]
        out["video_id"] += [str(x) for x in video_ids]
        out["view"] += [int(x) for x in views]
        out["crop"] += [int(x) for x in crops]
    if bar is not None:
        bar.close()
    out["logits"] = torch.cat(out["logits"]) if out["logits"] else torch.zeros(0, 0)
    return out


def merge_views(parts: Iterable[dict], official: bool = False, topk: int = 5) -> dict:
    """Per view softmax, de-duplicate views (tuple key, or the official string ``f'{view}{crop}'``), average
    per video, top-1/top-5. Returns ``{'top1', 'top5', 'num_videos', 'num_views', 'duplicates',
    'predictions': [{'video_id', 'label', 'topk', 'scores'}...]}`` (predictions sorted by video id)."""
    videos: Dict[str, dict] = OrderedDict()
    num_views = duplicates = 0
    for part in parts:
        logits = part["logits"]
        if len(part["video_id"]) == 0:
            continue
        probs = F.softmax(logits.float(), dim=1)
        for i, vid in enumerate(part["video_id"]):
            view, crop = part["view"][i], part["crop"][i]
            key = f"{view}{crop}" if official else (view, crop)
            entry = videos.setdefault(vid, {"label": part["label"][i], "views": {}})
            if key in entry["views"]:
                duplicates += 1  # DistributedSampler padding (or, officially, an ambiguous string key)
                continue
            if entry["label"] != part["label"][i]:
                raise ValueError(f"test video {vid!r} has two labels ({entry['label']} and {part['label'][i]}): "
                                 "video ids collide (use data.video_id: path)")
            entry["views"][key] = probs[i]
            num_views += 1
    top1 = top5 = 0
    predictions = []
    for vid in sorted(videos):
        entry = videos[vid]
        mean = torch.stack(list(entry["views"].values())).mean(dim=0)
        k = min(topk, mean.numel())
        scores, classes = mean.topk(k)
        classes = classes.tolist()
        top1 += int(classes[0] == entry["label"])
        top5 += int(entry["label"] in classes[:5])
        predictions.append({"video_id": vid, "label": entry["label"], "topk": classes,
                            "scores": [round(float(s), 6) for s in scores], "num_views": len(entry["views"])})
    n = max(len(videos), 1)
    return {"top1": 100.0 * top1 / n, "top5": 100.0 * top5 / n, "num_videos": len(videos), "num_views": num_views,
            "duplicates": duplicates, "predictions": predictions}


def final_test(model, loader, device, output_dir: str, amp: str = "none", official_merge: bool = False,
               logger=None, save_predictions: bool = True, skipped_views: Optional[list] = None,
               extra: Optional[dict] = None, cuda_graph: bool = False) -> Optional[dict]:
    """Every rank predicts its shard and writes it to ``output_dir/test_parts/``; rank 0 merges, writes
    ``metrics.json`` (+ ``predictions.jsonl``) and returns the metrics (other ranks return None).

    Per-rank files (as the official engine) instead of an all-gather: the logits of a full test set
    (views x classes) would otherwise be pickled through the collective on every rank at once.
    """
    start = time.time()
    rank, world = get_rank(), get_world_size()
    part = predict_views(model, loader, device, amp, logger, cuda_graph)
    parts_dir = os.path.join(output_dir, "test_parts")
    atomic_torch_save(part, os.path.join(parts_dir, f"rank{rank}.pt"))
    # Skipped views are recorded per process by the data layer; sum them across ranks.
    skipped = torch.tensor([len(skipped_views or [])], dtype=torch.float64, device=device)
    all_reduce_sum(skipped)
    barrier()
    metrics = None
    if rank == 0:
        parts = [torch.load(os.path.join(parts_dir, f"rank{r}.pt"), weights_only=False) for r in range(world)]
        merged = merge_views(parts, official=official_merge)
        predictions = merged.pop("predictions")
        metrics = dict(merged, skipped_views=int(skipped.item()), world_size=world,
                       merge="official" if official_merge else "tuple", test_time_s=round(time.time() - start, 2))
        metrics.update(extra or {})
        atomic_write_bytes(os.path.join(output_dir, "metrics.json"),
                           (json.dumps(metrics, indent=2, sort_keys=True) + "\n").encode())
        if save_predictions:
            lines = "".join(json.dumps(p) + "\n" for p in predictions)
            atomic_write_bytes(os.path.join(output_dir, "predictions.jsonl"), lines.encode())
    barrier()
    if rank == 0:
        for r in range(world):
            os.remove(os.path.join(parts_dir, f"rank{r}.pt"))
        try:
            os.rmdir(parts_dir)
        except OSError:
            pass
    return metrics
