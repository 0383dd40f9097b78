"""Helpers shared by the data tests (a unique module name: tests/ has several conftest.py)."""
import numpy as np


def numbered_frames(t, h, w):
    """Frames whose index is obvious: frame i has a white column block at x = 4i and a coloured row
    block at y = 3i on a grey gradient, so any off-by-one decode is visible."""
    frames = np.empty((t, h, w, 3), dtype=np.uint8)
    frames[:] = (np.linspace(30, 90, w, dtype=np.uint8)[None, :, None])
    for i in range(t):
        frames[i, :, 4 * i:4 * i + 4] = 255
        frames[i, 3 * i:3 * i + 3, :] = (255, 40, 40)
    return frames
