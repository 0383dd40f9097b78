"""Video and image data pipeline: decoding, annotations, temporal sampling, transforms, datasets.

Main entry points::

    from videomamba.data import build_dataset, multiple_samples_collate, build_mixup
    train_set = build_dataset(cfg, "train")      # cfg keys: see videomamba.data.build
    loader = DataLoader(train_set, batch_size=8, collate_fn=multiple_samples_collate, ...)
    print(train_set.bad_samples)                # [(path, reason), ...] from every worker
"""
from .annotations import AnnotationError, VideoRecord, read_class_names, read_image_meta, read_video_annotations
from .bad_samples import BadSampleRegistry
from .build import DATASETS, build_dataset
from .collate import SkippedItem, collate_skip_none, multiple_samples_collate
from .datasets import BadVideoError, ImageClassificationDataset, VideoClassificationDataset
from .decoding import VideoDecodeError, VideoReader, open_video
from .mixup import VideoMixup, build_mixup
from .synthetic import generate_synthetic_dataset
from .transforms import (IMAGENET_MEAN, IMAGENET_STD, ClipRandAugment, VideoTestTransform, VideoTrainTransform,
                         VideoValTransform)

__all__ = [
    "AnnotationError", "VideoRecord", "read_class_names", "read_image_meta", "read_video_annotations",
    "BadSampleRegistry", "DATASETS", "build_dataset", "SkippedItem", "collate_skip_none",
    "multiple_samples_collate", "BadVideoError", "ImageClassificationDataset", "VideoClassificationDataset",
    "VideoDecodeError", "VideoReader", "open_video", "VideoMixup", "build_mixup",
    "generate_synthetic_dataset", "IMAGENET_MEAN", "IMAGENET_STD", "ClipRandAugment", "VideoTestTransform",
    "VideoTrainTransform", "VideoValTransform",
]
