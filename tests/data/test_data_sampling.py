"""Sampled indices against values worked out by hand from the formulas of spec §5.2 / §5.7."""
import numpy as np
import pytest

from videomamba.data import sampling as S


class Edge:
    """integers(low, high) -> low ('low') or high - 1 ('high')."""

    def __init__(self, pick):
        self.pick = pick

    def integers(self, low, high, size=None):
        v = low if self.pick == "low" else high - 1
        return v if size is None else np.full(size, v)

    def permutation(self, n):
        return np.arange(n)[::-1]


# ---------------------------------------------------------------- Kinetics_sparse, vlen=30, T=8
# seg = 29/8 = 3.625; seg*i = 0, 3.625, 7.25, 10.875, 14.5, 18.125, 21.75, 25.375, 29
# np.round (half to even): 0, 4, 7, 11, 14, 18, 22, 25, 29   (14.5 -> 14)
SPARSE_LOW = [0, 4, 7, 11, 14, 18, 22, 25]
SPARSE_HIGH = [4, 7, 11, 14, 18, 22, 25, 29]


def test_sparse_train_bounds():
    assert S.sparse_indices(30, 8, "train", rng=Edge("low")) == SPARSE_LOW
    assert S.sparse_indices(30, 8, "train", rng=Edge("high")) == SPARSE_HIGH
    rng = np.random.default_rng(0)
    for _ in range(50):
        idx = S.sparse_indices(30, 8, "train", rng=rng)
        assert all(lo <= i <= hi for i, lo, hi in zip(idx, SPARSE_LOW, SPARSE_HIGH))


def test_sparse_val_and_test():
    # val: + int(3.625/2) = +1
    assert S.sparse_indices(30, 8, "val") == [1, 5, 8, 12, 15, 19, 23, 26]
    # test S=3: dur = 3.625/4 = 0.90625 -> offsets int(0.906)=0, int(1.8125)=1, int(2.71875)=2
    assert S.sparse_indices(30, 8, "test", 0, 3) == [0, 4, 7, 11, 14, 18, 22, 25]
    assert S.sparse_indices(30, 8, "test", 1, 3) == [1, 5, 8, 12, 15, 19, 23, 26]
    assert S.sparse_indices(30, 8, "test", 2, 3) == [2, 6, 9, 13, 16, 20, 24, 27]


def test_sparse_short_video():
    # vlen=5, T=8: seg=0.5; round(0.5 i) = 0,0,1,2,2,2,3,4,4 (0.5->0, 1.5->2, 2.5->2, 3.5->4)
    assert S.sparse_indices(5, 8, "train", rng=Edge("low")) == [0, 0, 1, 2, 2, 2, 3, 4]
    assert S.sparse_indices(5, 8, "train", rng=Edge("high")) == [0, 1, 2, 2, 2, 3, 4, 4]
    assert S.sparse_indices(5, 8, "val") == [0, 0, 1, 2, 2, 2, 3, 4]  # int(0.25) = 0
    assert S.sparse_indices(1, 4, "train", rng=Edge("high")) == [0, 0, 0, 0]


# ---------------------------------------------------------------- Kinetics dense, T=4, rate=2
def test_dense_train():
    # vlen=30, span 8: end in [8, 29]
    assert S.dense_indices(30, 4, 2, "train", rng=Edge("low")) == [0, 2, 5, 7]  # linspace(0,8,4) clip 7
    assert S.dense_indices(30, 4, 2, "train", rng=Edge("high")) == [21, 23, 26, 28]  # linspace(21,29,4)


def test_dense_short_video():
    # vlen=6 <= 8: linspace(0,6,3)=[0,3,6] + [6] -> clip 5
    assert S.dense_indices(6, 4, 2, "train", rng=Edge("low")) == [0, 3, 5, 5]
    # vlen=7: linspace(0,7,3)=[0,3.5,7] + [7] -> clip 6
    assert S.dense_indices(7, 4, 2, "val") == [0, 3, 6, 6]
    # vlen=1 < rate: linspace(num=0) is empty, all padding -> clip 0
    assert S.dense_indices(1, 4, 2, "train") == [0, 0, 0, 0]


def test_dense_val_centered_and_official():
    # vlen=30: centred start (30-8)//2 = 11 -> linspace(11,19,4) clip 18
    assert S.dense_indices(30, 4, 2, "val") == [11, 13, 16, 18]
    # official: end = 11, start = 3 -> linspace(3,11,4) clip 10
    assert S.dense_indices(30, 4, 2, "val", official_val=True) == [3, 5, 8, 10]
    # vlen=10: official end = 1, start = -7 -> linspace(-7,1,4) = -7,-4.33,-1.67,1 -> clip [-7,0], trunc
    official = S.dense_indices(10, 4, 2, "val", official_val=True)
    assert official == [-7, -4, -1, 0]
    assert S.wrap_negative(official, 10) == [3, 6, 9, 0]
    assert S.dense_indices(10, 4, 2, "val") == [1, 3, 6, 8]  # fixed: start 1, linspace(1,9,4) clip 8


def test_dense_test_views():
    # vlen=30, S=3: step = (30-8)/2 = 11 -> starts 0, 11, 22
    assert S.dense_indices(30, 4, 2, "test", 0, 3) == [0, 2, 4, 6]
    assert S.dense_indices(30, 4, 2, "test", 1, 3) == [11, 13, 15, 17]
    assert S.dense_indices(30, 4, 2, "test", 2, 3) == [22, 24, 26, 28]
    # short: vlen=5, S=2: step 0 -> range(0,5,2) padded with the last index
    assert S.dense_indices(5, 4, 2, "test", 1, 2) == [0, 2, 4, 4]
    # S=1 (official divides by zero): centred start (30-8)//2 = 11
    assert S.dense_indices(30, 4, 2, "test", 0, 1) == [11, 13, 15, 17]


# ---------------------------------------------------------------- SSv2, vlen=30, T=8
def test_ssv2_train_val():
    # avg = 3: i*3 + randint(0, 3)
    assert S.ssv2_indices(30, 8, "train", rng=Edge("low")) == [0, 3, 6, 9, 12, 15, 18, 21]
    assert S.ssv2_indices(30, 8, "train", rng=Edge("high")) == [2, 5, 8, 11, 14, 17, 20, 23]
    # tick = 3.75: int(1.875 + 3.75 x)
    assert S.ssv2_indices(30, 8, "val") == [1, 5, 9, 13, 16, 20, 24, 28]


def test_ssv2_test_two_views():
    # starts int(3.75 x) = 0,3,7,11,15,18,22,26 ; centres as val; sorted, view c = [c::2]
    assert S.ssv2_indices(30, 8, "test", 0, 2) == [0, 3, 7, 11, 15, 18, 22, 26]
    assert S.ssv2_indices(30, 8, "test", 1, 2) == [1, 5, 9, 13, 16, 20, 24, 28]


def test_ssv2_short_video():
    # vlen=5 < T=8: avg = 0 and vlen <= T -> zeros
    assert S.ssv2_indices(5, 8, "train", rng=Edge("high")) == [0] * 8
    # tick = 0.625: int(0.3125 + 0.625 x)
    assert S.ssv2_indices(5, 8, "val") == [0, 0, 1, 2, 2, 3, 4, 4]


def test_ssv2_frames_test_three_views():
    # tick 3.75; s=0: 0,3,7,11,15,18,22,26; s=1: int(1.25+3.75x)=1,5,8,12,16,20,23,27;
    # s=2: int(2.5+3.75x)=2,6,10,13,17,21,25,28; sorted then [c::3]
    assert S.ssv2_frames_indices(30, 8, "test", 0, 3) == [0, 3, 7, 11, 15, 18, 22, 26]
    assert S.ssv2_frames_indices(30, 8, "test", 1, 3) == [1, 5, 8, 12, 16, 20, 23, 27]
    assert S.ssv2_frames_indices(30, 8, "test", 2, 3) == [2, 6, 10, 13, 17, 21, 25, 28]
    assert S.ssv2_frames_indices(30, 8, "val") == [1, 5, 9, 13, 16, 20, 24, 28]


# ---------------------------------------------------------------- LVU windows
def test_lvu_windows():
    assert S.lvu_windows(50, 60, 16) == [(0, 50)]
    # starts 0,16,32,48,64,80,96; 48 -> 52 s left >= 30 kept, 64 -> 36 kept, 80 -> 20 dropped
    assert S.lvu_windows(100, 60, 16) == [(0, 60), (16, 76), (32, 92), (48, 100), (64, 100)]
    assert S.lvu_windows(60, 60, 16) == [(0, 60), (16, 60)]


def test_lvu_indices_in_window():
    # vlen=300, fps=10, window (16 s, 76 s) -> frames [160, 299]; seg = 139/4 = 34.75
    # round(34.75 i) = 0, 35, 70 (69.5 -> 70), 104
    assert S.lvu_indices(300, 10, 16, 76, 4, "val") == [177, 212, 247, 281]  # + int(17.375)
    assert S.lvu_indices(300, 10, 16, 76, 4, "test", 1, 2) == [183, 218, 253, 287]  # + int(23.17)
    assert S.lvu_indices(300, 10, 16, 76, 4, "train", rng=Edge("low")) == [160, 195, 230, 264]
    # window entirely past the end is clamped to the last frame
    assert S.lvu_indices(100, 10, 20, 30, 3, "val") == [99, 99, 99]


# ---------------------------------------------------------------- video_mm rand / middle
def test_mm_middle_and_rand():
    # linspace(0,30,9).astype(int) = 0,3,7,11,15,18,22,26,30; intervals [a, b-1]
    assert S.mm_indices(30, 8, "middle") == [1, 4, 8, 12, 16, 19, 23, 27]
    assert S.mm_indices(30, 8, "rand", rng=Edge("low")) == [0, 3, 7, 11, 15, 18, 22, 26]
    # rand never picks an interval's last frame: high end is b-1 (exclusive) -> b-2
    assert S.mm_indices(30, 8, "rand", rng=Edge("high")) == [1, 5, 9, 13, 16, 20, 24, 28]


def test_mm_short_video():
    assert S.mm_indices(5, 8, "middle") == [0, 1, 2, 3, 4, 4, 4, 4]
    # one-frame intervals are empty ranges -> sorted random permutation prefix, then padding
    assert S.mm_indices(5, 8, "rand", rng=Edge("low")) == [0, 1, 2, 3, 4, 4, 4, 4]


def test_invalid_arguments():
    with pytest.raises(ValueError, match="at least 1 frame"):
        S.sparse_indices(0, 8)
    with pytest.raises(ValueError, match="mode"):
        S.sparse_indices(10, 8, "validation")
    with pytest.raises(ValueError, match="view"):
        S.sparse_indices(10, 8, "test", view=3, num_views=3)
