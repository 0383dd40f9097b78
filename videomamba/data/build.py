"""``build_dataset(cfg, mode)``: one entry point for every dataset.

``cfg`` is any mapping with ``.get`` (dict, OmegaConf DictConfig); ``mode`` is ``train`` | ``val``
(alias ``validation``) | ``test``. Keys (default in brackets):

dataset             kinetics_sparse | kinetics | ssv2 | ssv2_frames | lvu | breakfast | coin | custom_csv |
                    folder | imagenet | synthetic                                            [required]
data_root / prefix  root joined in front of every annotation path (os.path.join)            ['']
anno_path           annotation file for this mode, or a mapping {train: .., val: .., test: ..}
data_path           folder holding train.csv / val.csv / test.csv (official layout); used when
                    anno_path is not given; defaults to data_root                            [None]
split               column separator; ' ' = any whitespace   [' ' for ssv2/ssv2_frames, ',' otherwise]
num_frames          frames per clip T                                                         [16]
sampling_rate       frame stride of dense sampling (kinetics)                                 [4]
tubelet_size        model patching, unused by the data pipeline                               [1]
input_size          crop size                                                                 [224]
short_side_size     evaluation short-side resize                                 [input_size]
test_num_segment    temporal views in test mode          [2 ssv2/ssv2_frames, 10 coin, 4 otherwise]
test_num_crop       spatial crops in test mode                                                [3]
num_sample          repeated augmentation (train items become lists)                          [1]
aa                  RandAugment string, 'none'/None disables  [rand-m7-n4-mstd0.5-inc1; imagenet
                    rand-m9-mstd0.5-inc1]
reprob / remode / recount   random erasing probability / mode / count              [0.25 / pixel / 1]
train_crop_scale    area range of the training random resized crop                    [(0.08, 1.0)]
train_interpolation RandAugment (video) / RandomResizedCrop (image) filter                 [bicubic]
flip                horizontal flip in training [False for ssv2/ssv2_frames/synthetic, True otherwise]
num_classes         labels must be < num_classes   [ssv2 174, breakfast 10, coin 180, lvu from the task
                    name in data_path/anno_path (relation 4, speak 5, scene 6, director 10, genre 4,
                    writer 10, year 9), otherwise max label + 1]
trimmed             sliding-window length (s) for lvu/breakfast/coin                          [60]
time_stride         sliding-window stride (s)                                                 [16]
decoder             auto | decord | pyav | frames                                             [auto]
max_retries         consecutive bad training videos replaced before raising                   [10]
on_bad_video        evaluation policy: error | skip                                           [error]
min_frames          videos with fewer frames count as bad (too short)                         [1]
video_id            test video id: path (as written, unique) | basename (official)            [path]
lvu_view_index      window (view includes the window index) | official                        [window]
dense_val           centered | official (negative start, spec §10.3-27)                       [centered]
sampling            custom_csv/folder/synthetic temporal rule: sparse | dense | ssv2 | mm      [sparse]
class_names         class-name file (custom_csv labels may be names; folder class order)
                                                           [<data_root>/classes.txt if it exists]
filename_tmpl       frame-folder file names, e.g. img_{:05}.jpg (1-based); None = numeric sort [None]
frames_fps          fps assumed for frame folders                                             [30]
bad_sample_dir      folder for the cross-worker bad-sample record              [a temporary folder]
synthetic           mapping of generate_synthetic_dataset() parameters (dataset: synthetic)   [{}]
color_jitter / crop_pct   imagenet only                                               [0.3 / 0.875]
"""
from __future__ import annotations

import os

from .annotations import (IMAGE_EXTENSIONS, AnnotationError, read_class_names, read_image_meta,
                          read_video_annotations, scan_class_folders)
from .datasets import ImageClassificationDataset, VideoClassificationDataset
from .transforms import VideoTrainTransform

VIDEO_DATASETS = {
    # dataset: (sampling, annotation format, default split)
    "kinetics_sparse": ("sparse", "path_label", ","),
    "kinetics": ("dense", "path_label", ","),
    "ssv2": ("ssv2", "path_label", " "),
    "ssv2_frames": ("ssv2_frames", "path_frames_label", " "),
    "lvu": ("lvu", "path_label_duration", ","),
    "breakfast": ("lvu", "path_label_duration", ","),
    "coin": ("lvu", "path_label_duration", ","),
    "custom_csv": (None, "path_label", ","),
    "synthetic": (None, "path_label", ","),
    "folder": (None, None, None),
}
DATASETS = tuple(VIDEO_DATASETS) + ("imagenet",)
FIXED_NUM_CLASSES = {"ssv2": 174, "ssv2_frames": 174, "breakfast": 10, "coin": 180}
LVU_TASK_CLASSES = {"relation": 4, "speak": 5, "scene": 6, "director": 10, "genre": 4, "writer": 10, "year": 9}
MODE_FILES = {"train": "train", "val": "val", "test": "test"}


def _normalize_mode(mode: str) -> str:
    mode = {"validation": "val", "eval": "val"}.get(mode, mode)
    if mode not in MODE_FILES:
        raise ValueError(f"mode must be train, val or test, got {mode!r}")
    return mode


def build_dataset(cfg, mode: str):
    """Build the dataset named by ``cfg['dataset']`` for ``mode`` (see the module docstring)."""
    mode = _normalize_mode(mode)
    name = cfg.get("dataset")
    if name not in DATASETS:
        raise ValueError(f"config key 'dataset' must be one of {list(DATASETS)}, got {name!r}")
    if name == "imagenet":
        return _build_imagenet(cfg, mode)

    root = cfg.get("prefix", None) or cfg.get("data_root", None) or ""
    if name == "synthetic":
        root = _prepare_synthetic(cfg, root)
    sampling, fmt, default_split = VIDEO_DATASETS[name]
    sampling = sampling or cfg.get("sampling", "sparse")
    class_names = _class_names(cfg, root)
    if name == "folder":
        folder = os.path.join(root, mode) if os.path.isdir(os.path.join(root, mode)) else root
        records, class_names = scan_class_folders(folder, class_names)
        source = folder
    else:
        source = _annotation_file(cfg, mode, root)
        split = cfg.get("split", None) or default_split
        records = read_video_annotations(source, root, split, fmt, class_names)
    num_classes = _num_classes(cfg, name, source, class_names, records)
    _check_labels(records, num_classes, source)

    input_size = int(cfg.get("input_size", 224))
    flip = cfg.get("flip", None)
    if flip is None:
        # official: off only for SSV2; the synthetic set has left/right classes, so a flip changes labels
        flip = name not in ("ssv2", "ssv2_frames", "synthetic")
    aa = cfg.get("aa", "rand-m7-n4-mstd0.5-inc1")
    train_transform = None
    if mode == "train":
        train_transform = VideoTrainTransform(
            input_size, aa=None if aa in (None, "none", "") else aa,
            interpolation=cfg.get("train_interpolation", "bicubic"), flip=bool(flip),
            reprob=float(cfg.get("reprob", 0.25)), remode=cfg.get("remode", "pixel"),
            recount=int(cfg.get("recount", 1)), scale=_crop_scale(cfg))
    default_segments = 2 if name in ("ssv2", "ssv2_frames") else 10 if name == "coin" else 4
    dataset = VideoClassificationDataset(
        records, mode=mode, sampling=sampling, num_frames=int(cfg.get("num_frames", 16)),
        sampling_rate=int(cfg.get("sampling_rate", 4)), input_size=input_size,
        short_side_size=int(cfg.get("short_side_size", None) or input_size),
        test_num_segment=int(cfg.get("test_num_segment", None) or default_segments),
        test_num_crop=int(cfg.get("test_num_crop", 3)), num_sample=int(cfg.get("num_sample", 1)),
        train_transform=train_transform, decoder=cfg.get("decoder", "auto"),
        max_retries=int(cfg.get("max_retries", 10)), on_bad_video=cfg.get("on_bad_video", "error"),
        min_frames=int(cfg.get("min_frames", 1)), video_id_mode=cfg.get("video_id", "path"),
        lvu_view_index=cfg.get("lvu_view_index", "window"), dense_val=cfg.get("dense_val", "centered"),
        trimmed=float(cfg.get("trimmed", 60)), time_stride=float(cfg.get("time_stride", 16)),
        filename_tmpl=cfg.get("filename_tmpl", None), frames_fps=float(cfg.get("frames_fps", 30)),
        bad_sample_dir=cfg.get("bad_sample_dir", None))
    dataset.num_classes = num_classes
    dataset.class_names = class_names
    dataset.flip = bool(flip)
    return dataset


# ----------------------------------------------------------------------------------------- helpers
def _annotation_file(cfg, mode: str, root: str) -> str:
    anno = cfg.get("anno_path", None)
    if anno is not None and not isinstance(anno, (str, os.PathLike)):  # mapping per mode
        anno = anno.get(mode, None) or (anno.get("validation", None) if mode == "val" else None)
        if anno is None:
            raise ValueError(f"config key 'anno_path' has no entry for mode '{mode}'")
    if anno is None:
        data_path = cfg.get("data_path", None) or root
        anno = os.path.join(data_path, f"{MODE_FILES[mode]}.csv")
    anno = os.fspath(anno)
    if not os.path.isfile(anno):
        raise FileNotFoundError(f"annotation file for mode '{mode}' not found: {anno} "
                                "(config keys 'anno_path' / 'data_path')")
    return anno


def _class_names(cfg, root: str):
    file = cfg.get("class_names", None)
    if file is None and root and os.path.isfile(os.path.join(root, "classes.txt")):
        file = os.path.join(root, "classes.txt")
    return read_class_names(os.fspath(file)) if file else None


def _num_classes(cfg, name, source, class_names, records) -> int:
    given = cfg.get("num_classes", None)
    if given is not None:
        return int(given)
    if name in FIXED_NUM_CLASSES:
        return FIXED_NUM_CLASSES[name]
    if name == "lvu":
        text = f"{cfg.get('data_path', '') or ''} {source}"
        for task, count in LVU_TASK_CLASSES.items():
            if task in text:
                return count
    if class_names:
        return len(class_names)
    return max(r.label for r in records) + 1


def _check_labels(records, num_classes: int, source: str) -> None:
    bad = [r for r in records if r.label >= num_classes]
    if bad:
        r = bad[0]
        raise AnnotationError(source, r.line, f"label {r.label} of '{r.path}' is >= num_classes={num_classes} "
                                              f"({len(bad)} such line(s)); check config key 'num_classes'")


def _prepare_synthetic(cfg, root: str) -> str:
    from .synthetic import generate_synthetic_dataset

    root = root or os.path.join("data", "synthetic")
    params = dict(cfg.get("synthetic", None) or {})
    generate_synthetic_dataset(root, **params)
    return root


def _build_imagenet(cfg, mode: str):
    from timm.data import create_transform

    root = cfg.get("prefix", None) or cfg.get("data_root", None) or ""
    input_size = int(cfg.get("input_size", 224))
    is_train = mode == "train"
    if is_train:
        aa = cfg.get("aa", "rand-m9-mstd0.5-inc1")
        transform = create_transform(
            input_size, is_training=True, color_jitter=float(cfg.get("color_jitter", 0.3)),
            auto_augment=None if aa in (None, "none", "") else aa,
            interpolation=cfg.get("train_interpolation", "bicubic"), re_prob=float(cfg.get("reprob", 0.25)),
            re_mode=cfg.get("remode", "pixel"), re_count=int(cfg.get("recount", 1)))
    else:
        transform = create_transform(input_size, is_training=False, interpolation="bicubic",
                                     crop_pct=float(cfg.get("crop_pct", 0.875)))
    anno = cfg.get("anno_path", None)
    if anno is not None:  # official meta-file layout
        meta = _annotation_file(cfg, mode, root)
        items = read_image_meta(meta, root)
        source = meta
        class_names = None
    else:
        folder = os.path.join(root, "val" if mode != "train" else "train")
        records, class_names = scan_class_folders(folder, None, IMAGE_EXTENSIONS)
        items = [(r.full_path, r.label, r.path) for r in records]
        source = folder
    num_classes = int(cfg.get("num_classes", None) or (len(class_names) if class_names else
                                                         max(label for _, label, _ in items) + 1))
    too_big = [rel for _, label, rel in items if label >= num_classes]
    if too_big:
        raise AnnotationError(source, None, f"{len(too_big)} image(s) have labels >= num_classes={num_classes}, "
                                            f"e.g. {too_big[0]}; check config key 'num_classes'")
    dataset = ImageClassificationDataset(items, transform, mode, int(cfg.get("max_retries", 10)),
                                         cfg.get("on_bad_video", "error"), cfg.get("bad_sample_dir", None))
    dataset.num_classes, dataset.class_names = num_classes, class_names
    return dataset


def _crop_scale(cfg) -> tuple:
    """``train_crop_scale``: area range of the random resized crop, default (0.08, 1.0) as official."""
    scale = cfg.get("train_crop_scale") or (0.08, 1.0)
    if len(scale) != 2 or not 0 < float(scale[0]) <= float(scale[1]) <= 1:
        raise ValueError(f"data key 'train_crop_scale' = {list(scale)}: expected [min, max] with 0 < min <= max <= 1")
    return float(scale[0]), float(scale[1])
