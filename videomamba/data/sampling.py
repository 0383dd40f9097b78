"""Temporal sampling: pure functions ``(num_frames_in_video, params, rng/view) -> list[int]``.

Every rule follows the official code (spec §5.2, §5.7). Modes are ``'train'`` (random), ``'val'``
(one deterministic view) and ``'test'`` (view ``view`` of ``num_views`` deterministic views).
``np.round`` (round half to even) is used where the official code uses it.

``rng`` may be a ``numpy.random.Generator``, a ``numpy.random.RandomState`` or ``None`` (the global
NumPy state, which PyTorch's DataLoader seeds differently in every worker). ``randint(a, b)`` below is
always "``a`` inclusive, ``b`` exclusive".

Returned indices are 0-based into the video (or into the ``[start, end]`` window for LVU they are already
absolute). They can repeat (short videos) and are within ``[0, vlen - 1]`` except for the official dense
validation rule kept behind ``official_val=True`` (negative starts, see :func:`dense_indices`).
"""
from __future__ import annotations

import numpy as np

MODES = ("train", "val", "test")


def _randint(rng, low: int, high: int) -> int:
    """Integer in [low, high)."""
    if rng is None:
        return int(np.random.randint(low, high))
    if hasattr(rng, "integers"):
        return int(rng.integers(low, high))
    return int(rng.randint(low, high))


def _randint_array(rng, high: int, size: int) -> np.ndarray:
    if rng is None:
        return np.random.randint(high, size=size)
    if hasattr(rng, "integers"):
        return rng.integers(0, high, size=size)
    return rng.randint(high, size=size)


def _check(vlen: int, num_frames: int, mode: str, view: int = 0, num_views: int = 1) -> None:
    if vlen < 1:
        raise ValueError(f"video must have at least 1 frame, got {vlen}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "test" and not 0 <= view < num_views:
        raise ValueError(f"view must be in [0, {num_views}), got {view}")


# ------------------------------------------------------------------------------ Kinetics_sparse
def sparse_indices(vlen: int, num_frames: int, mode: str = "train", view: int = 0, num_views: int = 1,
                   rng=None) -> list[int]:
    """TSN-style segment sampling (``Kinetics_sparse._get_seq_frames``).

    ``seg = max(0, (vlen-1)/T)``; train: frame i uniform in ``[round(seg*i), round(seg*(i+1))]``
    (inclusive); val: ``round(seg*i) + int(seg/2)``; test view c of S: ``round(seg*i) + int(seg/(S+1)*(c+1))``;
    all clamped to ``vlen-1``.
    """
    _check(vlen, num_frames, mode, view, num_views)
    return window_sparse_indices(0, vlen - 1, num_frames, mode, view, num_views, rng)


def window_sparse_indices(start: int, end: int, num_frames: int, mode: str = "train", view: int = 0,
                          num_views: int = 1, rng=None) -> list[int]:
    """Sparse rule inside the frame window ``[start, end]`` (inclusive); results clamped to ``end``."""
    seg = max(0.0, (end - start) / num_frames)  # (window length - 1) / T
    if mode == "train":
        out = []
        for i in range(num_frames):
            a = int(np.round(seg * i)) + start
            b = int(np.round(seg * (i + 1))) + start
            out.append(min(_randint(rng, a, b + 1), end))
        return out
    views = num_views if mode == "test" else 1
    c = view if mode == "test" else 0
    offset = int(seg / (views + 1) * (c + 1))
    return [min(int(np.round(seg * i)) + start + offset, end) for i in range(num_frames)]


# ---------------------------------------------------------------------------------- Kinetics dense
def dense_indices(vlen: int, num_frames: int, sampling_rate: int, mode: str = "train", view: int = 0,
                  num_views: int = 1, rng=None, official_val: bool = False) -> list[int]:
    """Dense clip of ``num_frames`` frames ``sampling_rate`` apart (``Kinetics`` / VideoMAE loader).

    train: if ``vlen <= T*rate``: ``linspace(0, vlen, vlen//rate)`` padded with ``vlen`` to T and clipped to
    ``vlen-1``; else ``end = randint(T*rate, vlen)``, ``linspace(end-T*rate, end, T)`` clipped to
    ``[start, end-1]``. val: the official rule uses ``end = (vlen - T*rate)//2`` (start may be negative,
    spec §10.3-27, kept with ``official_val=True``); the default centres the clip instead
    (``start = (vlen - T*rate)//2``). test view c of S: ``start = int(c * max((vlen-T*rate)/(S-1), 0))``,
    ``range(start, min(start+T*rate, vlen), rate)`` padded with its last index (S=1: the centred start,
    where the official code divides by zero).
    """
    _check(vlen, num_frames, mode, view, num_views)
    span = num_frames * sampling_rate
    if mode == "test":
        if num_views > 1:
            start = int(view * max((vlen - span) / (num_views - 1), 0))
        else:
            start = max((vlen - span) // 2, 0)
        out = list(range(start, min(start + span, vlen), sampling_rate))
        return out + [out[-1]] * (num_frames - len(out))
    if vlen <= span:  # short video: official linspace + padding, identical in train and val
        index = np.linspace(0, vlen, num=vlen // sampling_rate)
        index = np.concatenate((index, np.ones(num_frames - vlen // sampling_rate) * vlen))
        return np.clip(index, 0, vlen - 1).astype(np.int64).tolist()
    if mode == "train":
        end = _randint(rng, span, vlen)
    elif official_val:
        end = (vlen - span) // 2
    else:
        end = (vlen - span) // 2 + span
    start = end - span
    index = np.linspace(start, end, num=num_frames)
    return np.clip(index, start, end - 1).astype(np.int64).tolist()


# -------------------------------------------------------------------------------------------- SSv2
def ssv2_indices(vlen: int, num_frames: int, mode: str = "train", view: int = 0, num_views: int = 2,
                 rng=None) -> list[int]:
    """SSv2 segment sampling with decord (``SSVideoClsDataset``), ``T = num_frames``.

    train: ``avg = vlen//T``; ``i*avg + randint(0, avg)`` if avg > 0, sorted ``randint(0, vlen, T)`` if
    ``vlen > T``, else all zeros. val: ``int(tick/2 + tick*x)`` with ``tick = vlen/T``. test: the sorted
    concatenation of segment centres and segment starts, padded with its last index to ``T*S``, view c =
    every second element from c (official stride 2, so ``num_views=2`` gives starts / centres). For
    ``num_views != 2`` (unsupported officially) the staggered rule of :func:`ssv2_frames_indices` is used.
    """
    _check(vlen, num_frames, mode, view, num_views)
    if mode != "test":
        return _ssv2_train_val(vlen, num_frames, mode, rng)
    if num_views != 2:
        return ssv2_frames_indices(vlen, num_frames, mode, view, num_views, rng)
    tick = vlen / num_frames
    both = [int(tick / 2.0 + tick * x) for x in range(num_frames)] + [int(tick * x) for x in range(num_frames)]
    both += [both[-1]] * (num_frames * num_views - len(both))
    return sorted(both)[view::2]


def ssv2_frames_indices(vlen: int, num_frames: int, mode: str = "train", view: int = 0,
                        num_views: int = 2, rng=None) -> list[int]:
    """SSv2 raw-frame sampling (``SSRawFrameClsDataset``), ``vlen`` = the CSV ``total_frames``.

    train/val as :func:`ssv2_indices`; test: for every view s, ``int(s*tick/S + tick*x)``; all sorted; view c
    = ``sorted[c::S]``.
    """
    _check(vlen, num_frames, mode, view, num_views)
    if mode != "test":
        return _ssv2_train_val(vlen, num_frames, mode, rng)
    tick = vlen / num_frames
    every = [int(s * tick / num_views + tick * x) for s in range(num_views) for x in range(num_frames)]
    return sorted(every)[view::num_views]


def _ssv2_train_val(vlen, num_frames, mode, rng):
    if mode == "val":
        tick = vlen / num_frames
        return [int(tick / 2.0 + tick * x) for x in range(num_frames)]
    avg = vlen // num_frames
    if avg > 0:
        return [i * avg + _randint(rng, 0, avg) for i in range(num_frames)]
    if vlen > num_frames:  # unreachable when avg == 0; kept to mirror the official branch order
        return sorted(_randint_array(rng, vlen, num_frames).tolist())
    return [0] * num_frames


# --------------------------------------------------------------------------------------- LVU windows
def lvu_windows(duration: float, trimmed: float = 60, time_stride: float = 16) -> list[tuple[float, float]]:
    """Sliding windows (seconds) of the ``LVU`` dataset class, used for LVU, Breakfast and COIN.

    ``duration < trimmed``: one window ``[0, duration]``. Otherwise windows ``[s, s+trimmed]`` for
    ``s = 0, stride, 2*stride, ... < int(duration)``; a window running past the end is kept, ending at
    ``duration``, only if ``duration - s >= trimmed/2``.
    """
    if duration < trimmed:
        return [(0, duration)]
    if time_stride <= 0:
        raise ValueError(f"time_stride must be > 0, got {time_stride}")
    windows = []
    starts = []
    while len(starts) * time_stride < int(duration):  # official: range(0, int(duration), stride)
        starts.append(len(starts) * time_stride)
    for start in starts:
        end = start + trimmed
        if end > duration:
            if duration - start < trimmed / 2:
                continue
            end = duration
        windows.append((start, end))
    return windows


def lvu_indices(vlen: int, fps: float, start_s: float, end_s: float, num_frames: int, mode: str = "train",
                view: int = 0, num_views: int = 1, rng=None) -> list[int]:
    """Sparse sampling restricted to the window ``[start_s, end_s]`` seconds of a ``vlen``-frame video.

    ``start = clamp(int(start_s*fps), 0, vlen-1)``, ``end = clamp(int(end_s*fps), start, vlen-1)``.
    """
    _check(vlen, num_frames, mode, view, num_views)
    start = max(0, min(int(start_s * fps), vlen - 1))
    end = max(start, min(int(end_s * fps), vlen - 1))
    return window_sparse_indices(start, end, num_frames, mode, view, num_views, rng)


# ---------------------------------------------------------------------------------- video_mm style
def mm_indices(vlen: int, num_frames: int, sample: str = "rand", rng=None) -> list[int]:
    """``video_mm`` ``get_frame_indices``: ``n = min(T, vlen)`` intervals from
    ``linspace(0, vlen, n+1).astype(int)``; ``rand`` picks from ``range(a_k, a_{k+1}-1)`` (the interval's
    last frame is never chosen; if any interval is empty, a sorted prefix of a random permutation is used
    instead); ``middle`` takes ``(a_k + a_{k+1} - 1)//2``. Padded with the last index to ``T``.
    """
    if sample not in ("rand", "middle"):
        raise ValueError(f"sample must be 'rand' or 'middle', got {sample!r}")
    _check(vlen, num_frames, "val")
    n = min(num_frames, vlen)
    edges = np.linspace(0, vlen, n + 1).astype(int)
    bounds = [(int(edges[k]), int(edges[k + 1]) - 1) for k in range(n)]
    if sample == "middle":
        out = [(a + b) // 2 for a, b in bounds]
    elif all(b > a for a, b in bounds):
        out = [_randint(rng, a, b) for a, b in bounds]
    else:
        perm = rng.permutation(vlen) if rng is not None else np.random.permutation(vlen)
        out = sorted(int(x) for x in perm[:n])
    return out + [out[-1]] * (num_frames - len(out))


def wrap_negative(indices: list[int], vlen: int) -> list[int]:
    """Python-style wrapping of negative indices (what decord's ``get_batch`` does with them)."""
    return [i % vlen if i < 0 else i for i in indices]


__all__ = [
    "sparse_indices", "window_sparse_indices", "dense_indices", "ssv2_indices", "ssv2_frames_indices",
    "lvu_windows", "lvu_indices", "mm_indices", "wrap_negative", "MODES",
]
