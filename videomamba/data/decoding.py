"""Frame-accurate video decoding with three interchangeable backends.

``open_video(path, backend='auto')`` returns a :class:`VideoReader` exposing

* ``num_frames`` -- number of decodable frames,
* ``fps``        -- average frame rate (frames per second, float),
* ``get_frames(indices)`` -> ``uint8`` array ``(T, H, W, 3)`` RGB, frame ``k`` of the output being
  frame ``indices[k]`` of the video (0-based, presentation order, duplicates allowed).

Backends
--------
``decord``  the official backend (``decord.VideoReader(path, num_threads=1)``, ``get_batch``).
``pyav``    PyAV/FFmpeg. The frame count is computed from the demuxed packets (no decoding; robust to
            missing/wrong ``nb_frames`` metadata) and falls back to decode-and-count; frames are fetched
            by presentation timestamp with keyframe seeking, or by sequential decoding when the
            timestamps are unusable.
``frames``  a folder of images, ordered by the (last) number in the file name (``img_2`` < ``img_10``).
``auto``    folders -> ``frames``; files -> decord, and PyAV whenever decord is not installed or fails
            to open or decode the file.

Every failure (missing, empty, corrupt, not a video, zero frames, out-of-range index) raises
:class:`VideoDecodeError` naming the path and the reason.
"""
from __future__ import annotations

import logging
import os
import re
from fractions import Fraction
from typing import Sequence

import numpy as np

logger = logging.getLogger("videomamba.data")

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
BACKENDS = ("auto", "decord", "pyav", "frames")

_DECORD_UNSET = object()
_decord = _DECORD_UNSET


def _get_decord():
    """Import decord lazily (it has no wheel on some platforms; PyAV is then the fallback)."""
    global _decord
    if _decord is _DECORD_UNSET:
        try:
            import decord

            _decord = decord
        except Exception:  # pragma: no cover - depends on the installation
            _decord = None
    return _decord


def decord_available() -> bool:
    return _get_decord() is not None


class VideoDecodeError(RuntimeError):
    """A video could not be opened or decoded. ``path`` and ``reason`` are kept as attributes."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"cannot decode video '{path}': {reason}")
        self.path = str(path)
        self.reason = reason

    def __reduce__(self):  # keep (path, reason) when crossing DataLoader worker processes
        return (type(self), (self.path, self.reason))


class VideoReader:
    """Base class: subclasses set ``path``, ``num_frames``, ``fps`` and implement ``_read``."""

    backend = "base"
    path: str
    num_frames: int
    fps: float

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        """Return frames ``indices`` as uint8 ``(len(indices), H, W, 3)`` RGB."""
        idx = [int(i) for i in indices]
        if not idx:
            raise ValueError("get_frames needs at least one frame index")
        bad = [i for i in idx if i < 0 or i >= self.num_frames]
        if bad:
            raise VideoDecodeError(
                self.path, f"frame index {bad[0]} out of range [0, {self.num_frames - 1}]"
            )
        return self._read(idx)

    def _read(self, indices: list[int]) -> np.ndarray:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.num_frames

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(path={self.path!r}, num_frames={self.num_frames}, "
                f"fps={self.fps:.3f})")


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise VideoDecodeError(path, "file not found")
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise VideoDecodeError(path, "empty file (0 bytes)")


# ----------------------------------------------------------------------------------------- decord
class DecordReader(VideoReader):
    backend = "decord"

    def __init__(self, path: str, num_threads: int = 1):
        decord = _get_decord()
        if decord is None:
            raise VideoDecodeError(path, "decord is not installed")
        _check_file(path)
        self.path = path
        try:
            self._vr = decord.VideoReader(path, num_threads=num_threads, ctx=decord.cpu(0))
            self.num_frames = len(self._vr)
            self.fps = float(self._vr.get_avg_fps())
        except Exception as exc:  # decord raises DECORDError/RuntimeError with C++ text
            raise VideoDecodeError(path, f"decord cannot open it ({_short(exc)})") from None
        if self.num_frames <= 0:
            raise VideoDecodeError(path, "video has no frames")

    def _read(self, indices):
        try:
            return self._vr.get_batch(indices).asnumpy()
        except Exception as exc:
            raise VideoDecodeError(self.path, f"decord failed to decode frames ({_short(exc)})") from None


# ------------------------------------------------------------------------------------------ PyAV
class PyAVReader(VideoReader):
    """PyAV reader. ``count='packets'`` (default) counts demuxed packets, ``'decode'`` decodes all."""

    backend = "pyav"
    # Decode forward instead of seeking when the next wanted frame is at most this far ahead.
    SEEK_GAP = 48

    def __init__(self, path: str, num_threads: int = 1, count: str = "packets"):
        import av

        _check_file(path)
        self.path = path
        self._av = av
        try:
            self._container = av.open(path)
        except Exception as exc:
            raise VideoDecodeError(path, f"PyAV cannot open it ({_short(exc)})") from None
        if not self._container.streams.video:
            self.close()
            raise VideoDecodeError(path, "no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_count = num_threads
        self._pts: list[int] | None = None  # presentation timestamps of frames 0..N-1
        try:
            if count == "packets":
                self._pts = self._demux_timestamps()
                self.num_frames = len(self._pts) if self._pts is not None else self._count_packets()
            else:
                self.num_frames = 0
            if self.num_frames <= 0 or count == "decode":
                self.num_frames = self._decode_count()
        except VideoDecodeError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise VideoDecodeError(path, f"PyAV cannot read it ({_short(exc)})") from None
        if self.num_frames <= 0:
            self.close()
            raise VideoDecodeError(path, "video has no decodable frames")
        self.fps = self._compute_fps()

    # --- metadata
    def _demux_timestamps(self):
        """Sorted packet pts = frame pts in presentation order; None if any packet lacks a pts."""
        pts = []
        for packet in self._container.demux(self._stream):
            if packet.size == 0 or packet.is_discard:  # end-of-stream flush / pre-roll packet
                continue
            if packet.pts is None:
                self._rewind()
                return None
            pts.append(int(packet.pts))
        self._rewind()
        pts.sort()
        if len(set(pts)) != len(pts):  # duplicated timestamps cannot identify frames
            return None
        return pts

    def _count_packets(self) -> int:
        n = sum(1 for p in self._container.demux(self._stream) if p.size and not p.is_discard)
        self._rewind()
        return n

    def _decode_count(self) -> int:
        n = 0
        try:
            for _ in self._container.decode(self._stream):
                n += 1
        except self._av.error.FFmpegError as exc:
            if n == 0:
                raise VideoDecodeError(self.path, f"decoding failed ({_short(exc)})") from None
        self._rewind()
        return n

    def _compute_fps(self) -> float:
        for rate in (self._stream.average_rate, self._stream.guessed_rate, self._stream.base_rate):
            if rate is not None and float(rate) > 0:
                return float(rate)
        # Last resort: frames / duration (VFR files without rate metadata).
        if self._pts and len(self._pts) > 1 and self._stream.time_base:
            span = (self._pts[-1] - self._pts[0]) * self._stream.time_base
            if span > 0:
                return float((len(self._pts) - 1) / span)
        return 0.0

    def _rewind(self):
        self._container.seek(0, backward=True, any_frame=False, stream=self._stream)

    # --- frame access
    def _read(self, indices):
        wanted = sorted(set(indices))
        got = None
        if self._pts is not None:
            try:
                got = self._read_by_pts(wanted)
            except Exception as exc:  # timestamps unusable -> decode sequentially
                logger.debug("PyAV seek path failed on %s (%s); decoding sequentially", self.path, exc)
                got = None
        if got is None:
            got = self._read_sequential(wanted)
        return np.stack([got[i] for i in indices])

    def _read_by_pts(self, wanted):
        pts_to_index = {p: i for i, p in enumerate(self._pts)}
        got: dict[int, np.ndarray] = {}
        frames = None  # live decode iterator
        position = None  # index of the last decoded frame
        for target in wanted:
            if frames is None or position is None or target <= position or target - position > self.SEEK_GAP:
                self._container.seek(self._pts[target], backward=True, any_frame=False, stream=self._stream)
                frames = self._container.decode(self._stream)
                position = None
            while True:
                frame = next(frames)  # StopIteration -> fall back to sequential decoding
                index = pts_to_index.get(frame.pts)
                if index is None:
                    raise LookupError(f"decoded frame pts {frame.pts} not among packet timestamps")
                if position is None and index > target:
                    raise LookupError("seek landed after the wanted frame")
                position = index
                if index == target:
                    got[target] = frame.to_ndarray(format="rgb24")
                    break
                if index > target:
                    raise LookupError("wanted frame was skipped")
        self._rewind()
        return got

    def _read_sequential(self, wanted):
        self._rewind()
        got: dict[int, np.ndarray] = {}
        remaining = set(wanted)
        last = None
        try:
            for index, frame in enumerate(self._container.decode(self._stream)):
                if index in remaining:
                    got[index] = frame.to_ndarray(format="rgb24")
                    remaining.discard(index)
                last = (index, frame)
                if not remaining:
                    break
        except self._av.error.FFmpegError as exc:
            raise VideoDecodeError(self.path, f"decoding failed ({_short(exc)})") from None
        self._rewind()
        if remaining:
            if last is None:
                raise VideoDecodeError(self.path, "no frame could be decoded")
            # Container metadata promised more frames than the decoder produced.
            raise VideoDecodeError(
                self.path, f"only {last[0] + 1} frames decodable, frame {min(remaining)} requested"
            )
        return got

    def close(self):
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()
            self._container = None


# ---------------------------------------------------------------------------------- frame folders
_NUMBER = re.compile(r"(\d+)")


def frame_sort_key(filename: str):
    """Sort key: the last number in the file name (``img_00010.jpg`` -> 10), then the name."""
    numbers = _NUMBER.findall(os.path.splitext(filename)[0])
    return (int(numbers[-1]) if numbers else -1, filename)


class FrameFolderReader(VideoReader):
    """A directory of images = one video. ``fps`` is not stored in folders; it defaults to 30."""

    backend = "frames"

    def __init__(self, path: str, fps: float = 30.0, filename_tmpl: str | None = None,
                 num_frames: int | None = None):
        if not os.path.isdir(path):
            raise VideoDecodeError(path, "frame folder not found")
        self.path = path
        self.fps = float(fps)
        if filename_tmpl is not None:  # official SSv2 layout: img_{:05}.jpg, 1-based
            count = num_frames if num_frames is not None else len(os.listdir(path))
            self._files = [filename_tmpl.format(i + 1) for i in range(count)]
        else:
            names = [n for n in os.listdir(path) if n.lower().endswith(IMAGE_EXTENSIONS)]
            self._files = sorted(names, key=frame_sort_key)
        self.num_frames = len(self._files)
        if self.num_frames == 0:
            raise VideoDecodeError(path, "frame folder holds no images")

    def _read(self, indices):
        from PIL import Image

        cache: dict[int, np.ndarray] = {}
        for i in set(indices):
            file = os.path.join(self.path, self._files[i])
            try:
                with Image.open(file) as img:
                    cache[i] = np.asarray(img.convert("RGB"))
            except Exception as exc:
                raise VideoDecodeError(self.path, f"cannot read frame file {file} ({_short(exc)})") from None
        shapes = {cache[i].shape for i in cache}
        if len(shapes) != 1:
            raise VideoDecodeError(self.path, f"frames have different sizes {sorted(shapes)}")
        return np.stack([cache[i] for i in indices])


# ------------------------------------------------------------------------------------------- auto
class AutoReader(VideoReader):
    """decord first; switches to PyAV (once, for good) if decord fails on this file."""

    backend = "auto"

    def __init__(self, path: str, num_threads: int = 1):
        self.path = path
        self._reader: VideoReader | None = None
        errors = []
        if _get_decord() is not None:
            try:
                self._reader = DecordReader(path, num_threads)
            except VideoDecodeError as exc:
                if exc.reason in ("file not found", "empty file (0 bytes)"):
                    raise
                errors.append(exc.reason)
        if self._reader is None:
            self._reader = self._open_fallback(errors)
        self.num_frames = self._reader.num_frames
        self.fps = self._reader.fps

    def _open_fallback(self, errors):
        try:
            return PyAVReader(self.path)
        except VideoDecodeError as exc:
            raise VideoDecodeError(self.path, "; ".join(errors + [exc.reason])) from None

    @property
    def active_backend(self) -> str:
        return self._reader.backend

    def _read(self, indices):
        try:
            return self._reader._read(indices)
        except VideoDecodeError as exc:
            if self._reader.backend != "decord":
                raise
            logger.info("decord failed on %s (%s); retrying with PyAV", self.path, exc.reason)
            self._reader.close()
            self._reader = self._open_fallback([exc.reason])
            self.num_frames = min(self.num_frames, self._reader.num_frames)
            return self._reader.get_frames(indices)

    def close(self):
        if self._reader is not None:
            self._reader.close()


def open_video(path: str, backend: str = "auto", num_threads: int = 1, **frame_kwargs) -> VideoReader:
    """Open ``path`` (a video file or a frame folder) with ``backend`` in ``auto|decord|pyav|frames``.

    ``frame_kwargs`` (``fps``, ``filename_tmpl``, ``num_frames``) only apply to frame folders.
    """
    path = os.fspath(path)
    if backend not in BACKENDS:
        raise ValueError(f"decoder backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "frames" or (backend == "auto" and os.path.isdir(path)):
        return FrameFolderReader(path, **frame_kwargs)
    if backend == "decord":
        return DecordReader(path, num_threads)
    if backend == "pyav":
        return PyAVReader(path, num_threads)
    return AutoReader(path, num_threads)


def _short(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def as_fraction(fps: float) -> Fraction:
    """fps as a Fraction with a small denominator (29.97 -> 30000/1001), for encoders."""
    return Fraction(fps).limit_denominator(1001)
