"""Video and image data pipeline: decoding, annotations, temporal sampling, transforms, datasets.

Main entry points::

    from videomamba.data import build_dataset, multiple_samples_collate, build_mixup
    train_set = build_dataset(cfg, "train")      # cfg keys: see videomamba.data.build
    loader = DataLoader(train_set, batch_size=8, collate_fn=multiple_samples_collate, ...)
    print(train_set.bad_samples)                # [(path, reason), ...] from every worker
"""
import importlib

# Public name -> submodule. Imported lazily (PEP 562) so that light users such as tools/check_videos.py
# and the synthetic-video encoder subprocess do not pay for importing torch and timm.
_EXPORTS = {
    "annotations": ["AnnotationError", "VideoRecord", "read_class_names", "read_image_meta",
                    "read_video_annotations", "scan_class_folders"],
    "bad_samples": ["BadSampleRegistry"],
    "build": ["DATASETS", "build_dataset"],
    "collate": ["SkippedItem", "collate_skip_none", "multiple_samples_collate"],
    "datasets": ["BadVideoError", "ImageClassificationDataset", "VideoClassificationDataset"],
    "decoding": ["VideoDecodeError", "VideoReader", "open_video"],
    "mixup": ["VideoMixup", "build_mixup"],
    "synthetic": ["generate_synthetic_dataset", "write_video", "render_clip"],
    "transforms": ["IMAGENET_MEAN", "IMAGENET_STD", "ClipRandAugment", "VideoTestTransform",
                   "VideoTrainTransform", "VideoValTransform"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
