"""Annotation formats and error messages for malformed lines."""
import os

import pytest

from videomamba.data.annotations import (AnnotationError, read_class_names, read_image_meta,
                                         read_video_annotations, scan_class_folders)


def _write(tmp_path, name, text):
    file = tmp_path / name
    file.write_text(text)
    return str(file)


def test_kinetics_sparse_comma_and_ssv2_space(tmp_path):
    k400 = _write(tmp_path, "train.csv", "abseiling/a.mp4,0\n\n/abs/b, with comma.mp4,3\n")
    records = read_video_annotations(k400, prefix="/data/k400", split=",")
    assert [(r.path, r.full_path, r.label, r.line) for r in records] == [
        ("abseiling/a.mp4", "/data/k400/abseiling/a.mp4", 0, 1),
        ("/abs/b, with comma.mp4", "/abs/b, with comma.mp4", 3, 3),  # absolute path ignores the prefix
    ]
    ssv2 = _write(tmp_path, "ssv2.csv", "1.webm 12\n22.webm  173\n")
    assert [(r.path, r.label) for r in read_video_annotations(ssv2, "", " ")] == [("1.webm", 12), ("22.webm", 173)]


def test_ssv2_frames_and_lvu_formats(tmp_path):
    frames = _write(tmp_path, "f.csv", "vid/1 47 5\nvid/2 30 extra 7\n")
    records = read_video_annotations(frames, "root", " ", "path_frames_label")
    assert [(r.full_path, r.total_frames, r.label) for r in records] == [
        (os.path.join("root", "vid/1"), 47, 5), (os.path.join("root", "vid/2"), 30, 7)]
    lvu = _write(tmp_path, "lvu.csv", "a.mp4,2,95.5\nb.mp4,0,12\n")
    records = read_video_annotations(lvu, "", ",", "path_label_duration")
    assert [(r.path, r.label, r.duration) for r in records] == [("a.mp4", 2, 95.5), ("b.mp4", 0, 12.0)]


def test_header_and_class_names(tmp_path):
    names = _write(tmp_path, "classes.txt", "cat\ndog\n")
    anno = _write(tmp_path, "c.csv", "path,label\nx.mp4,dog\ny.mp4,0\n")
    records = read_video_annotations(anno, "", ",", class_names=read_class_names(names))
    assert [(r.path, r.label) for r in records] == [("x.mp4", 1), ("y.mp4", 0)]


@pytest.mark.parametrize("text,line,expected", [
    ("a.mp4,0\nb.mp4\n", 2, "expected 'path,label'"),
    ("a.mp4,0\nb.mp4,zebra\n", 2, "label must be a non-negative integer"),
    ("a.mp4,-1\n", 1, "label must be a non-negative integer"),
    ("a.mp4,1.5\n", 1, "label must be a non-negative integer"),
])
def test_malformed_lines_name_file_and_line(tmp_path, text, line, expected):
    anno = _write(tmp_path, "bad.csv", text)
    with pytest.raises(AnnotationError) as info:
        read_video_annotations(anno, "", ",")
    assert info.value.file == anno and info.value.line == line
    assert f"{anno}, line {line}" in str(info.value) and expected in str(info.value)


def test_malformed_lvu_and_frames_lines(tmp_path):
    lvu = _write(tmp_path, "lvu.csv", "a.mp4,1,60\nb.mp4,1,long\n")
    with pytest.raises(AnnotationError, match=r"line 2: duration_seconds must be a number"):
        read_video_annotations(lvu, "", ",", "path_label_duration")
    frames = _write(tmp_path, "f.csv", "vid/1 5\n")
    with pytest.raises(AnnotationError, match=r"line 1: expected 'path<space>total_frames"):
        read_video_annotations(frames, "", " ", "path_frames_label")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(AnnotationError, match="annotation file not found"):
        read_video_annotations(str(tmp_path / "nope.csv"))
    with pytest.raises(AnnotationError, match="lists no videos"):
        read_video_annotations(_write(tmp_path, "empty.csv", "\n"))


def test_class_folders_and_image_meta(tmp_path):
    for cls, files in {"b_class": ["2.mp4", "1.avi", "notes.txt"], "a_class": ["x.mkv"]}.items():
        (tmp_path / "tree" / cls).mkdir(parents=True)
        for f in files:
            (tmp_path / "tree" / cls / f).write_bytes(b"0")
    records, classes = scan_class_folders(str(tmp_path / "tree"))
    assert classes == ["a_class", "b_class"]
    assert [(r.path, r.label) for r in records] == [("a_class/x.mkv", 0), ("b_class/1.avi", 1), ("b_class/2.mp4", 1)]
    meta = _write(tmp_path, "train.txt", "n01/a.JPEG 0\nn02/b.JPEG 999\n")
    assert read_image_meta(meta, "/in1k") == [("/in1k/n01/a.JPEG", 0, "n01/a.JPEG"),
                                              ("/in1k/n02/b.JPEG", 999, "n02/b.JPEG")]
    bad = _write(tmp_path, "bad.txt", "n01/a.JPEG 0\nn02/b.JPEG\n")
    with pytest.raises(AnnotationError, match=r"line 2: expected 'relative/path.JPEG <int label>'"):
        read_image_meta(bad)
