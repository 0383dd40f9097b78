"""Datasets: video classification (all official layouts) and ImageNet-style images.

Item formats (the training engine relies on them):

* train: ``(clip, label)``, clip float (C, T, H, W); with ``num_sample > 1``:
  ``([clip] * num_sample, [label] * num_sample)`` (flatten with ``multiple_samples_collate``);
* val: ``(clip, label)``;
* test: ``(clip, label, video_id, view_index, crop_index)``. ``video_id`` is the annotation path as written
  (``video_id_mode='basename'``: the official basename without extension); for sliding-window datasets
  (LVU/Breakfast/COIN) ``view_index = window_index * test_num_segment + temporal_view`` so that views of
  different windows stay distinct (``lvu_view_index='official'``: the temporal view alone).

Test items are ordered as the official code does: ``index = (view * num_crops + crop) * N + video``.

Bad data: in training a video that cannot be decoded (missing, empty, corrupt, fewer than ``min_frames``
frames) is logged, recorded in ``dataset.bad_samples`` (list of ``(path, reason)``, aggregated over
DataLoader workers) and replaced by a random other sample, at most ``max_retries`` times in a row (then
``RuntimeError``). In evaluation nothing is replaced: ``on_bad_video='error'`` raises
:class:`BadVideoError` listing the bad file(s); ``'skip'`` returns a :class:`SkippedItem` that
``collate_skip_none`` drops, and records the view in ``dataset.skipped_views``.
"""
from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass

import numpy as np
from torch.utils.data import Dataset

from . import sampling
from .annotations import VideoRecord
from .bad_samples import BadSampleRegistry
from .collate import SkippedItem
from .decoding import FrameFolderReader, VideoDecodeError, open_video
from .transforms import VideoTestTransform, VideoTrainTransform, VideoValTransform

logger = logging.getLogger("videomamba.data")

SAMPLINGS = ("sparse", "dense", "ssv2", "ssv2_frames", "lvu", "mm")


class BadVideoError(RuntimeError):
    """Evaluation met unreadable video(s); ``bad`` is the list of ``(path, reason)``."""

    def __init__(self, bad: list[tuple[str, str]]):
        lines = "\n".join(f"  {p}\t{r}" for p, r in bad)
        super().__init__(f"{len(bad)} video(s) could not be decoded during evaluation:\n{lines}\n"
                         "Fix or remove them, or set on_bad_video: skip to evaluate without them.")
        self.bad = list(bad)

    def __reduce__(self):
        return (type(self), (self.bad,))


@dataclass
class _Item:
    record: VideoRecord
    window: tuple[float, float] | None = None  # seconds, sliding-window datasets only
    window_index: int = 0


class _BadSampleTracking:
    """Shared bad-sample logic for video and image datasets (see bad_samples.py for the mechanism)."""

    mode: str
    max_retries: int
    on_bad_video: str
    registry: BadSampleRegistry

    @property
    def bad_samples(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of every bad sample met so far, in every process."""
        return [(row[0], row[1]) for row in self.registry.read("bad")]

    @property
    def skipped_views(self) -> list[tuple[str, int, int, str]]:
        """``(video_id, view_index, crop_index, reason)`` of evaluation items skipped so far."""
        return [(r[0], int(r[1]), int(r[2]), r[3]) for r in self.registry.read("skipped")]

    def clear_bad_samples(self) -> None:
        self.registry.clear()

    def _record_bad(self, path: str, reason: str) -> None:
        logger.warning("bad %s sample %s: %s", self.mode, path, reason)
        self.registry.add("bad", path, reason)

    def _random_other(self, index: int, size: int) -> int:
        if size < 2:
            return index
        other = random.randrange(size - 1)
        return other if other < index else other + 1


class VideoClassificationDataset(_BadSampleTracking, Dataset):
    """Video classification over :class:`VideoRecord` s.

    Args:
        records: annotated videos (see ``annotations.read_video_annotations``).
        mode: ``train`` | ``val`` | ``test``.
        sampling: ``sparse`` (Kinetics_sparse) | ``dense`` (Kinetics) | ``ssv2`` | ``ssv2_frames`` |
            ``lvu`` (sliding windows; records need ``duration``) | ``mm`` (rand/middle).
        num_frames, sampling_rate: clip length T and the dense stride.
        input_size, short_side_size: crop size; evaluation short-side resize.
        test_num_segment, test_num_crop: temporal views S and spatial crops C in test mode.
        num_sample: repeated augmentation count in training.
        train_transform: callable uint8 (T,H,W,3) -> (C,T,H,W); default :class:`VideoTrainTransform`.
        decoder: ``auto`` | ``decord`` | ``pyav`` | ``frames``.
        min_frames: videos with fewer decodable frames are bad ("too short").
        video_id_mode: ``path`` | ``basename``. lvu_view_index: ``window`` | ``official``.
        dense_val: ``centered`` | ``official`` (negative starts wrapped like decord does).
        trimmed, time_stride: LVU window length and stride in seconds.
        filename_tmpl, frames_fps: frame-folder file template (``img_{:05}.jpg``, 1-based) and fps.
    """

    def __init__(self, records: list[VideoRecord], mode: str = "train", sampling: str = "sparse",
                 num_frames: int = 16, sampling_rate: int = 4, input_size: int = 224,
                 short_side_size: int | None = None, test_num_segment: int = 4, test_num_crop: int = 3,
                 num_sample: int = 1, train_transform=None, decoder: str = "auto", max_retries: int = 10,
                 on_bad_video: str = "error", min_frames: int = 1, video_id_mode: str = "path",
                 lvu_view_index: str = "window", dense_val: str = "centered", trimmed: float = 60,
                 time_stride: float = 16, filename_tmpl: str | None = None, frames_fps: float = 30.0,
                 mm_sample: str | None = None, bad_sample_dir: str | None = None):
        if mode not in sampling_modes():
            raise ValueError(f"mode must be one of {sampling_modes()}, got {mode!r}")
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        if on_bad_video not in ("error", "skip"):
            raise ValueError(f"on_bad_video must be 'error' or 'skip', got {on_bad_video!r}")
        if video_id_mode not in ("path", "basename"):
            raise ValueError(f"video_id must be 'path' or 'basename', got {video_id_mode!r}")
        self.mode, self.sampling = mode, sampling
        self.num_frames, self.sampling_rate = num_frames, sampling_rate
        self.test_num_segment = test_num_segment if mode == "test" else 1
        self.test_num_crop = test_num_crop if mode == "test" else 1
        self.num_sample = num_sample
        self.decoder, self.max_retries, self.on_bad_video = decoder, max_retries, on_bad_video
        self.min_frames, self.video_id_mode = min_frames, video_id_mode
        self.lvu_view_index, self.dense_val = lvu_view_index, dense_val
        self.filename_tmpl, self.frames_fps = filename_tmpl, frames_fps
        self.mm_sample = mm_sample or ("rand" if mode == "train" else "middle")
        self.registry = BadSampleRegistry(bad_sample_dir)
        self.items = self._expand(records, trimmed, time_stride)
        short_side_size = short_side_size or input_size
        if mode == "train":
            self.transform = train_transform or VideoTrainTransform(input_size)
        elif mode == "val":
            self.transform = VideoValTransform(input_size, short_side_size)
        else:
            self.transform = VideoTestTransform(short_side_size, self.test_num_crop)
            if short_side_size != input_size:
                logger.warning("test clips are short_side_size=%d square (official behaviour), not "
                               "input_size=%d", short_side_size, input_size)

    def _expand(self, records, trimmed, time_stride):
        if self.sampling != "lvu":
            return [_Item(r) for r in records]
        items = []
        for r in records:
            if r.duration is None:
                raise ValueError(f"sliding-window sampling needs a duration for {r.path} (line {r.line})")
            for k, window in enumerate(sampling.lvu_windows(r.duration, trimmed, time_stride)):
                items.append(_Item(r, window, k))
        return items

    def __len__(self) -> int:
        return len(self.items) * self.test_num_segment * self.test_num_crop

    # ------------------------------------------------------------------------------------ loading
    def video_id(self, record: VideoRecord) -> str:
        if self.video_id_mode == "basename":
            return os.path.basename(record.path).split(".")[0]
        return record.path

    def _indices(self, vlen: int, item: _Item, view: int, fps: float) -> list[int]:
        mode, t, s = self.mode, self.num_frames, self.test_num_segment
        if self.sampling == "sparse":
            return sampling.sparse_indices(vlen, t, mode, view, s)
        if self.sampling == "dense":
            idx = sampling.dense_indices(vlen, t, self.sampling_rate, mode, view, s,
                                         official_val=self.dense_val == "official")
            return sampling.wrap_negative(idx, vlen)
        if self.sampling == "ssv2":
            return sampling.ssv2_indices(vlen, t, mode, view, s)
        if self.sampling == "ssv2_frames":
            return sampling.ssv2_frames_indices(vlen, t, mode, view, s)
        if self.sampling == "mm":
            return sampling.mm_indices(vlen, t, self.mm_sample)
        if fps <= 0:
            raise VideoDecodeError(item.record.full_path, "frame rate unknown, cannot cut time windows")
        return sampling.lvu_indices(vlen, fps, item.window[0], item.window[1], t, mode, view, s)

    def load_frames(self, item: _Item, view: int = 0) -> np.ndarray:
        """Decode the frames of temporal ``view`` -> uint8 (T, H, W, 3). Raises VideoDecodeError."""
        record = item.record
        if self.sampling == "ssv2_frames" or self.decoder == "frames":
            reader = FrameFolderReader(record.full_path, fps=self.frames_fps, filename_tmpl=self.filename_tmpl,
                                       num_frames=record.total_frames)
        else:
            reader = open_video(record.full_path, self.decoder)
        with reader:
            vlen = reader.num_frames
            if self.sampling == "ssv2_frames" and record.total_frames is not None:
                vlen = record.total_frames  # the official loader trusts the CSV count
            if vlen < self.min_frames:
                raise VideoDecodeError(record.full_path, f"too short: {vlen} frames < min_frames={self.min_frames}")
            return reader.get_frames(self._indices(vlen, item, view, reader.fps))

    # ------------------------------------------------------------------------------------ items
    def __getitem__(self, index: int):
        if self.mode == "train":
            return self._train_item(index)
        n = len(self.items)
        view_crop, video = divmod(index, n)
        view, crop = divmod(view_crop, self.test_num_crop)
        item = self.items[video]
        view_index = view
        if self.sampling == "lvu" and self.lvu_view_index == "window":
            view_index = item.window_index * self.test_num_segment + view
        try:
            frames = self.load_frames(item, view)
        except VideoDecodeError as exc:
            self._record_bad(item.record.path, exc.reason)
            if self.on_bad_video == "error":
                raise BadVideoError(self.bad_samples or [(item.record.path, exc.reason)]) from None
            video_id = self.video_id(item.record)
            self.registry.add("skipped", video_id, view_index, crop, exc.reason)
            return SkippedItem(video_id, view_index, crop, item.record.path, exc.reason)
        label = item.record.label
        if self.mode == "val":
            return self.transform(frames), label
        return self.transform(frames, crop), label, self.video_id(item.record), view_index, crop

    def _train_item(self, index: int):
        tried = []
        for _ in range(self.max_retries + 1):
            item = self.items[index]
            try:
                frames = self.load_frames(item)
                break
            except VideoDecodeError as exc:
                self._record_bad(item.record.path, exc.reason)
                tried.append(f"{item.record.path} ({exc.reason})")
                index = self._random_other(index, len(self.items))
        else:
            raise RuntimeError(f"{len(tried)} bad training videos in a row (max_retries={self.max_retries}): "
                               + "; ".join(tried))
        label = item.record.label
        if self.num_sample > 1:
            return [self.transform(frames) for _ in range(self.num_sample)], [label] * self.num_sample
        return self.transform(frames), label

    @property
    def labels(self) -> list[int]:
        return [item.record.label for item in self.items]


def sampling_modes() -> tuple[str, ...]:
    return ("train", "val", "test")


# ---------------------------------------------------------------------------------------- images
class ImageClassificationDataset(_BadSampleTracking, Dataset):
    """ImageNet-style dataset over ``(full_path, label, relative_path)`` items; ``(image, label)`` items.

    Unreadable images follow the same policy as videos (train: replace + record; eval: raise or skip).
    """

    def __init__(self, items: list[tuple[str, int, str]], transform, mode: str = "train",
                 max_retries: int = 10, on_bad_video: str = "error", bad_sample_dir: str | None = None):
        self.items, self.transform, self.mode = items, transform, mode
        self.max_retries, self.on_bad_video = max_retries, on_bad_video
        self.registry = BadSampleRegistry(bad_sample_dir)

    def __len__(self):
        return len(self.items)

    def _load(self, path):
        from PIL import Image

        with Image.open(path) as img:
            return img.convert("RGB")

    def __getitem__(self, index):
        tried = []
        for _ in range(self.max_retries + 1 if self.mode == "train" else 1):
            path, label, rel = self.items[index]
            try:
                image = self._load(path)
                return self.transform(image) if self.transform else image, label
            except (OSError, ValueError) as exc:
                reason = "file not found" if not os.path.exists(path) else f"unreadable image ({exc})"
                self._record_bad(rel, reason)
                tried.append(f"{rel} ({reason})")
                if self.mode != "train":
                    if self.on_bad_video == "skip":
                        self.registry.add("skipped", rel, 0, 0, reason)
                        return SkippedItem(rel, 0, 0, rel, reason)
                    raise BadVideoError(self.bad_samples) from None
                index = self._random_other(index, len(self.items))
        raise RuntimeError(f"{len(tried)} bad training images in a row: " + "; ".join(tried))

    @property
    def labels(self) -> list[int]:
        return [label for _, label, _ in self.items]

