"""Collate functions for repeated augmentation and for evaluation with skipped videos."""
from __future__ import annotations

from dataclasses import dataclass

from torch.utils.data import default_collate


@dataclass
class SkippedItem:
    """Returned by an evaluation dataset (``on_bad_video='skip'``) instead of an unreadable item."""

    video_id: str
    view_index: int
    crop_index: int
    path: str
    reason: str


def multiple_samples_collate(batch):
    """Repeated augmentation: items ``(list_of_clips, list_of_labels)`` of length ``num_sample`` ->
    ``(clips (B*num_sample, C, T, H, W), labels (B*num_sample,))``; consecutive rows are augmentations of
    the same video. Items that are plain ``(clip, label)`` pass through ``default_collate``."""
    batch = [item for item in batch if not isinstance(item, SkippedItem)]
    if batch and isinstance(batch[0][0], (list, tuple)):
        flat = [(clip, label) for clips, labels in batch for clip, label in zip(clips, labels)]
        return default_collate(flat)
    return default_collate(batch)


def collate_skip_none(batch):
    """Drop ``None`` and :class:`SkippedItem` markers, then ``default_collate``; returns None when every
    item of the batch was skipped (the caller should then continue with the next batch).

    The skipped (video_id, view, crop) are logged and recorded by the dataset that produced them
    (``dataset.skipped_views``), which works across DataLoader worker processes; this function only
    drops them because it runs inside the workers.
    """
    kept = [item for item in batch if item is not None and not isinstance(item, SkippedItem)]
    if not kept:
        return None
    return default_collate(kept)
