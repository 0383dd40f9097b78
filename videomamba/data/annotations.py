"""Annotation readers for every supported layout.

Video list files (no header; official format read with ``pandas.read_csv(header=None, delimiter=split)``):

* ``path_label``           ``path<split>label``                         Kinetics(-400/600/700), SSv2 videos,
                                                                        Kinetics_sparse scripts, custom CSV
* ``path_frames_label``    ``path<split>total_frames[<split>...]<split>label``   SSv2 raw frame folders
* ``path_label_duration``  ``path<split>label<split>duration_seconds``  LVU, Breakfast, COIN (LVU class)

Paths are joined as ``os.path.join(prefix, path)`` (an absolute path ignores the prefix, like the
official code). The trailing numeric columns are split off from the right, so a path may itself contain
the separator. With ``split=' '`` any run of whitespace separates columns. Labels are integers, or class
names when a class-name list is given. A first line whose label column reads ``label`` is a header and is
skipped. Any other malformed line raises :class:`AnnotationError` naming the file, line and expectation.

Image layouts (ImageNet): folder-per-class trees (torchvision ``ImageFolder`` order) and the official meta
file ``relative/path.JPEG <int label>`` split on whitespace.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

FORMATS = {
    # name: (number of trailing columns after the path, description used in errors)
    "path_label": (1, "'path{sep}label'"),
    "path_frames_label": (None, "'path{sep}total_frames{sep}...{sep}label'"),
    "path_label_duration": (2, "'path{sep}label{sep}duration_seconds'"),
}


class AnnotationError(ValueError):
    """A malformed or unusable annotation file; ``file`` and ``line`` (1-based, or None) are kept."""

    def __init__(self, file: str, line: int | None, message: str):
        where = f"{file}, line {line}" if line is not None else f"{file}"
        super().__init__(f"{where}: {message}")
        self.file, self.line, self.message = file, line, message

    def __reduce__(self):
        return (type(self), (self.file, self.line, self.message))


@dataclass
class VideoRecord:
    """One annotated video. ``path`` is as written in the annotation; ``full_path`` = join(prefix, path)."""

    path: str
    full_path: str
    label: int
    total_frames: int | None = None
    duration: float | None = None
    line: int | None = None


def read_class_names(file: str) -> list[str]:
    """One class name per line (blank lines ignored); line i (0-based) is label i."""
    if not os.path.isfile(file):
        raise AnnotationError(file, None, "class-name file not found")
    with open(file, encoding="utf-8") as f:
        names = [line.strip() for line in f if line.strip()]
    if len(set(names)) != len(names):
        raise AnnotationError(file, None, "class names must be unique")
    return names


def read_video_annotations(file: str, prefix: str = "", split: str = ",", fmt: str = "path_label",
                           class_names: list[str] | None = None) -> list[VideoRecord]:
    """Parse a video list file into :class:`VideoRecord` s (see the module docstring for formats)."""
    if fmt not in FORMATS:
        raise ValueError(f"annotation format must be one of {sorted(FORMATS)}, got {fmt!r}")
    if not os.path.isfile(file):
        raise AnnotationError(file, None, "annotation file not found")
    trailing, expected = FORMATS[fmt]
    expected = expected.format(sep=split if split != " " else "<space>")
    name_to_label = {n: i for i, n in enumerate(class_names)} if class_names else None
    sep = None if split == " " else split  # whitespace runs, like 'a  b' in hand-written lists
    records = []
    with open(file, encoding="utf-8") as f:
        for line_no, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line:
                continue
            if fmt == "path_frames_label":
                parts = line.split(sep)
                if len(parts) < 3:
                    raise AnnotationError(file, line_no, f"expected {expected}, got {line!r}")
                path, frames_text, label_text, rest = parts[0], parts[1], parts[-1], ()
            else:
                parts = line.rsplit(sep, trailing)
                if len(parts) != trailing + 1 or not parts[0].strip():
                    raise AnnotationError(file, line_no, f"expected {expected}, got {line!r}")
                path, label_text, rest = parts[0], parts[1], parts[2:]
            path = path.strip().strip('"')
            label_text = label_text.strip()
            if not records and label_text.lower() in ("label", "class", "labels"):
                continue  # header line
            label = _parse_label(label_text, name_to_label, file, line_no, expected)
            record = VideoRecord(path, os.path.join(prefix, path), label, line=line_no)
            if fmt == "path_frames_label":
                record.total_frames = _parse_number(frames_text, int, "total_frames", file, line_no)
            elif fmt == "path_label_duration":
                record.duration = _parse_number(rest[0], float, "duration_seconds", file, line_no)
                if record.duration < 0:
                    raise AnnotationError(file, line_no, f"duration_seconds must be >= 0, got {rest[0]}")
            records.append(record)
    if not records:
        raise AnnotationError(file, None, "annotation file lists no videos")
    return records


def _parse_label(text, name_to_label, file, line_no, expected) -> int:
    try:
        value = float(text)
        if value == int(value) and value >= 0:
            return int(value)
    except ValueError:
        if name_to_label is not None and text.strip('"') in name_to_label:
            return name_to_label[text.strip('"')]
    hint = " or a name from the class-name file" if name_to_label is not None else ""
    raise AnnotationError(file, line_no, f"label must be a non-negative integer{hint}, got {text!r} "
                                         f"(expected {expected})")


def _parse_number(text, kind, field, file, line_no):
    try:
        return kind(text.strip())
    except ValueError:
        raise AnnotationError(file, line_no, f"{field} must be a number, got {text.strip()!r}") from None


def scan_class_folders(root: str, class_names: list[str] | None = None,
                       extensions: tuple[str, ...] = VIDEO_EXTENSIONS) -> tuple[list[VideoRecord], list[str]]:
    """Folder-per-class tree ``root/<class>/<file>`` -> (records sorted by path, class names).

    Classes are the sorted sub-folder names unless ``class_names`` fixes them (then every sub-folder must
    be listed). Paths in the records are relative to ``root``. Frame folders (``root/<class>/<video>/``)
    count as videos when ``extensions`` is empty-handed for that entry and it holds images.
    """
    if not os.path.isdir(root):
        raise AnnotationError(root, None, "dataset folder not found")
    folders = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if class_names is None:
        class_names = folders
    else:
        unknown = sorted(set(folders) - set(class_names))
        if unknown:
            raise AnnotationError(root, None, f"sub-folders {unknown} are not in the class-name list")
    records = []
    for label, name in enumerate(class_names):
        class_dir = os.path.join(root, name)
        if not os.path.isdir(class_dir):
            continue
        for entry in sorted(os.listdir(class_dir)):
            full = os.path.join(class_dir, entry)
            is_video = entry.lower().endswith(extensions) and os.path.isfile(full)
            is_frames = os.path.isdir(full) and any(
                n.lower().endswith(IMAGE_EXTENSIONS) for n in os.listdir(full))
            if is_video or is_frames:
                rel = f"{name}/{entry}"
                records.append(VideoRecord(rel, full, label))
    if not records:
        raise AnnotationError(root, None, f"no videos with extensions {extensions} found under it")
    return records, list(class_names)


def read_image_meta(file: str, root: str = "") -> list[tuple[str, int, str]]:
    """Official ImageNet meta file: ``relative/path.JPEG <int label>`` per line ->
    list of (full path, label, relative path)."""
    if not os.path.isfile(file):
        raise AnnotationError(file, None, "meta file not found")
    items = []
    with open(file, encoding="utf-8") as f:
        for line_no, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line:
                continue
            parts = line.rsplit(None, 1)
            if len(parts) != 2:
                raise AnnotationError(file, line_no, f"expected 'relative/path.JPEG <int label>', got {line!r}")
            label = _parse_label(parts[1], None, file, line_no, "'relative/path.JPEG <int label>'")
            items.append((os.path.join(root, parts[0]), label, parts[0]))
    if not items:
        raise AnnotationError(file, None, "meta file lists no images")
    return items
