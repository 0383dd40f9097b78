"""Every experiment config against the official script table (spec §7.2).

``SPEC_TABLE`` is the spec's table transcribed row by row (``aa7`` = rand-m7-n4-mstd0.5-inc1, ``aa5`` =
rand-m5-n2-mstd0.25-inc1, ``KS`` = Kinetics_sparse); ``FIXES`` lists the deliberate deviations (spec §10.3
[X] fixes). For each config: it loads through the engine's config loader, every official value matches,
the effective LR on the official world size equals the spec's, the model factory accepts it (built on the
meta device: frames, resolution, classes, tubelet, token count) and its data pipeline yields correctly
shaped train/test items from a tiny fake dataset.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# script | model | data_set / classes | frames | res | batch/GPU x num_sample | GPUs | epochs | lr (base → effective)
# | warmup ep | drop_path | wd | layer_decay | aa | test segs x crops | init
SPEC_TABLE = """
breakfast/videomamba_middle/run_f32x224.sh|videomamba_middle|KS / 10cls|32|224|8x2|8|50|2e-4 → 0.0001|5|0.8|0.05|0.8|aa7|4x3|videomamba_m16_k400_f32_res224.pth orig_t=32
breakfast/videomamba_middle/run_f64x224.sh|videomamba_middle|KS / 10cls|64|224|4x2|8|50|2e-4 → 5e-05|5|0.8|0.05|0.8|aa7|4x3|videomamba_m16_k400_f64_res224.pth orig_t=64
breakfast/videomamba_middle_mask/run_f32x224.sh|videomamba_middle|KS / 10cls|32|224|8x2|8|45|2e-4 → 0.0001|5|0.4|0.05|0.8|aa7|4x3|videomamba_m16_k400_mask_ft_f32_res224.pth orig_t=32
breakfast/videomamba_middle_mask/run_f64x224.sh|videomamba_middle|KS / 10cls|64|224|4x2|8|45|2e-4 → 5e-05|5|0.4|0.05|0.8|aa7|4x3|videomamba_m16_k400_mask_ft_f64_res224.pth orig_t=64
breakfast/videomamba_small/run_f32x224.sh|videomamba_small|KS / 10cls|32|224|16x2|16|50|2e-4 → 0.0004|5|0.4|0.05|0.75(def)|aa7|4x3|videomamba_s16_k400_f32_res224.pth orig_t=32
breakfast/videomamba_small/run_f64x224.sh|videomamba_small|KS / 10cls|64|224|8x2|16|50|2e-4 → 0.0002|5|0.4|0.05|0.75(def)|aa7|4x3|videomamba_s16_k400_f64_res224.pth orig_t=64
breakfast/videomamba_tiny/run_f32x224.sh|videomamba_tiny|KS / 10cls|32|224|32x2|8|70|2e-4 → 0.0004|5|0.1|0.1|0.75(def)|aa5|4x3|videomamba_t16_k400_f32_res224.pth orig_t=32
breakfast/videomamba_tiny/run_f64x224.sh|videomamba_tiny|KS / 10cls|64|224|16x2|16|70|2e-4 → 0.0004|5|0.1|0.1|0.75(def)|aa5|4x3|videomamba_t16_k400_f32_res224.pth orig_t=64
coin/videomamba_middle/run_f32x224.sh|videomamba_middle|KS / 180cls|32|224|8x2|8|30|2e-4 → 0.0001|5|0.8|0.05|0.8|aa7|10x3|videomamba_m16_k400_f32_res224.pth orig_t=32
coin/videomamba_middle/run_f64x224.sh|videomamba_middle|KS / 180cls|64|224|4x2|8|30|2e-4 → 5e-05|5|0.8|0.05|0.8|aa7|10x3|videomamba_m16_k400_f64_res224.pth orig_t=64
coin/videomamba_middle_mask/run_f32x224.sh|videomamba_middle|KS / 180cls|32|224|8x2|8|30|2e-4 → 0.0001|5|0.4|0.05|0.8|aa7|10x3|videomamba_m16_k400_mask_ft_f32_res224.pth orig_t=32
coin/videomamba_middle_mask/run_f64x224.sh|videomamba_middle|KS / 180cls|64|224|4x2|8|30|2e-4 → 5e-05|5|0.4|0.05|0.8|aa7|4x3|videomamba_m16_k400_mask_ft_f64_res224.pth orig_t=64
coin/videomamba_small/run_f32x224.sh|videomamba_small|KS / 180cls|32|224|16x2|16|35|2e-4 → 0.0004|5|0.4|0.05|0.75(def)|aa7|10x3|videomamba_s16_k400_f32_res224.pth orig_t=32
coin/videomamba_small/run_f64x224.sh|videomamba_small|KS / 180cls|64|224|8x2|16|35|2e-4 → 0.0002|5|0.4|0.05|0.75(def)|aa7|10x3|videomamba_s16_k400_f64_res224.pth orig_t=64
coin/videomamba_tiny/run_f32x224.sh|videomamba_tiny|KS / 180cls|32|224|32x2|8|40|2e-4 → 0.0004|5|0.1|0.1|0.75(def)|aa5|10x3|videomamba_t16_k400_f32_res224.pth orig_t=32
coin/videomamba_tiny/run_f64x224.sh|videomamba_tiny|KS / 180cls|64|224|16x2|16|40|2e-4 → 0.0004|5|0.1|0.1|0.75(def)|aa5|10x3|videomamba_t16_k400_f32_res224.pth orig_t=64
k400/videomamba_middle/run_f16x224.sh|videomamba_middle|KS / 400cls|16|224|16x2|16|50|1e-4 → 0.0002|5|0.8|0.05|0.75(def)|aa7|4x3|(IN1K via pretrained=True) orig_t=8(def)
k400/videomamba_middle/run_f32x224.sh|videomamba_middle|KS / 400cls|32|224|8x2|16|50|1e-4 → 0.0001|5|0.8|0.05|0.75(def)|aa7|4x3|(IN1K via pretrained=True) orig_t=8(def)
k400/videomamba_middle/run_f64x224.sh|videomamba_middle|KS / 400cls|64|224|4x2|16|50|1e-4 → 5e-05|5|0.8|0.05|0.75(def)|aa7|4x3|(IN1K via pretrained=True) orig_t=8(def)
k400/videomamba_middle/run_f64x224to384.sh|videomamba_middle|KS / 400cls|64|384|1x2x2|16|6|5e-6 → 1.25e-06|1|0.8|1e-8|0.75(def)|aa7|4x3|videomamba_m16_k400_f64_res224.pth orig_t=64
k400/videomamba_middle/run_f8x224.sh|videomamba_middle|KS / 400cls|8|224|32x2|16|50|2e-4 → 0.0008|5|0.8|0.05|0.75(def)|aa7|4x3|(IN1K via pretrained=True) orig_t=8(def)
k400/videomamba_middle_mask/run_f16x224.sh|videomamba_middle|KS / 400cls|16|224|16x2|16|45|1e-4 → 0.0002|5|0.4|0.05|0.8|aa7|4x3|videomamba_m16_k400_mask_pt_f8_res224.pth orig_t=8(def)
k400/videomamba_middle_mask/run_f32x224.sh|videomamba_middle|KS / 400cls|32|224|8x2|16|45|1e-4 → 0.0001|5|0.4|0.05|0.8|aa7|4x3|videomamba_m16_k400_mask_pt_f8_res224.pth orig_t=8(def)
k400/videomamba_middle_mask/run_f64x224.sh|videomamba_middle|KS / 400cls|64|224|4x2|16|45|1e-4 → 5e-05|5|0.4|0.05|0.8|aa7|4x3|videomamba_m16_k400_mask_pt_f8_res224.pth orig_t=8(def)
k400/videomamba_middle_mask/run_f64x224to384.sh|videomamba_middle|KS / 400cls|64|384|1x2x2|16|6|5e-6 → 1.25e-06|1|0.4|1e-8|0.8|aa7|4x3|videomamba_m16_k400_mask_ft_f64_res224.pth orig_t=64
k400/videomamba_middle_mask/run_f8x224.sh|videomamba_middle|KS / 400cls|8|224|32x2|16|45|1e-4 → 0.0004|5|0.4|0.05|0.8|aa7|4x3|videomamba_m16_k400_mask_pt_f8_res224.pth orig_t=8(def)
k400/videomamba_small/run_f16x224.sh|videomamba_small|KS / 400cls|16|224|32x2|16|50|2e-4 → 0.0008|5|0.35|0.05|0.75(def)|aa7|4x3|(IN1K via pretrained=True) orig_t=8(def)
k400/videomamba_small/run_f32x224.sh|videomamba_small|KS / 400cls|32|224|16x2|16|50|2e-4 → 0.0004|5|0.35|0.05|0.75(def)|aa7|4x3|(IN1K via pretrained=True) orig_t=8(def)
k400/videomamba_small/run_f64x224.sh|videomamba_small|KS / 400cls|64|224|8x2|16|50|2e-4 → 0.0002|5|0.35|0.05|0.75(def)|aa7|4x3|(IN1K via pretrained=True) orig_t=8(def)
k400/videomamba_small/run_f64x224to384.sh|videomamba_small|KS / 400cls|64|384|2x2x2|32|6|5e-6 → 5e-06|1|0.35|1e-8|0.75(def)|aa7|4x3|videomamba_s16_k400_f64_res224.pth orig_t=64
k400/videomamba_small/run_f8x224.sh|videomamba_small|KS / 400cls|8|224|64x2|8|50|2e-4 → 0.0008|5|0.35|0.05|0.75(def)|aa7|4x3|(IN1K via pretrained=True) orig_t=8(def)
k400/videomamba_tiny/run_f16x224.sh|videomamba_tiny|KS / 400cls|16|224|64x2|8|70|2e-4 → 0.0008|5|0.1|0.1|0.75(def)|aa5|4x3|(IN1K via pretrained=True) orig_t=8(def)
k400/videomamba_tiny/run_f32x224.sh|videomamba_tiny|KS / 400cls|32|224|32x2|8|70|2e-4 → 0.0004|5|0.1|0.1|0.75(def)|aa5|4x3|(IN1K via pretrained=True) orig_t=8(def)
k400/videomamba_tiny/run_f64x224.sh|videomamba_tiny|KS / 400cls|64|224|16x2|16|70|2e-4 → 0.0004|5|0.1|0.1|0.75(def)|aa5|4x3|(IN1K via pretrained=True) orig_t=8(def)
k400/videomamba_tiny/run_f64x224to384.sh|videomamba_small|KS / 400cls|64|384|6x2|16|10|5e-6 → 3.75e-06|2|0.1|1e-8|0.75(def)|aa5|4x3|videomamba_t16_k400_f64_res224.pth orig_t=64
k400/videomamba_tiny/run_f8x224.sh|videomamba_tiny|KS / 400cls|8|224|64x2|8|70|2e-4 → 0.0008|5|0.1|0.1|0.75(def)|aa5|4x3|(IN1K via pretrained=True) orig_t=8(def)
lvu/run_class.sh|videomamba_tiny|KS / 10cls|32|224|8x2|8|70|4e-4 → 0.0002|5|0.15|0.1|0.75(def)|aa5|4x3|videomamba_t16_k400_f32_res224.pth orig_t=32
lvu/run_class_trim.sh|videomamba_tiny|LVU / 10cls|32|224|8x2|8|70|4e-4 → 0.0002|5|0.15|0.1|0.75(def)|aa5|4x3|videomamba_t16_k400_f32_res224.pth orig_t=32
lvu/run_regression.sh|videomamba_tiny|LVU / 1cls|32|224|8x2|8|70|4e-4 → 0.0002|5|0.15|0.1|0.75(def)|aa5|4x3|videomamba_t16_k400_f32_res224.pth orig_t=32
lvu/run_regression_trim.sh|videomamba_tiny|KS / 1cls|32|224|8x2|8|70|4e-4 → 0.0002|5|0.15|0.1|0.75(def)|aa5|4x3|videomamba_t16_k400_f32_res224.pth orig_t=32
ssv2/videomamba_middle/run_f16x224.sh|videomamba_middle|SSV2 / 174cls|16|224|16x2|16|30|4e-4 → 0.0008|5|0.8|0.05|0.75(def)|aa7|2x3|(IN1K via pretrained=True) orig_t=8(def)
ssv2/videomamba_middle/run_f16x224to288.sh|videomamba_middle|SSV2 / 174cls|16|288|6x2|16|10|5e-6 → 3.75e-06|2|0.8|1e-8|0.75(def)|aa7|2x3|videomamba_m16_ssv2_f16_res224.pth orig_t=8(def)
ssv2/videomamba_middle/run_f8x224.sh|videomamba_middle|SSV2 / 174cls|8|224|32x2|16|30|4e-4 → 0.0016|5|0.8|0.05|0.75(def)|aa7|2x3|(IN1K via pretrained=True) orig_t=8(def)
ssv2/videomamba_middle_mask/run_f16x224.sh|videomamba_middle|SSV2 / 174cls|16|224|16x2|16|30|1e-4 → 0.0002|5|0.4|0.05|0.8|aa7|2x3|${MODEL_PATH} orig_t=8(def)
ssv2/videomamba_middle_mask/run_f16x224to288.sh|videomamba_middle|KS / 174cls|16|288|6x2|16|10|5e-6 → 3.75e-06|2|0.4|1e-8|0.8|aa7|2x3|videomamba_m16_ssv2_mask_ft_f16_res224.pth orig_t=16
ssv2/videomamba_middle_mask/run_f8x224.sh|videomamba_middle|SSV2 / 174cls|8|224|32x2|16|30|1e-4 → 0.0004|5|0.4|0.05|0.8|aa7|2x3|${MODEL_PATH} orig_t=8(def)
ssv2/videomamba_small/run_f16x224.sh|videomamba_small|SSV2 / 174cls|16|224|32x2|16|30|4e-4 → 0.0016|5|0.35|0.05|0.75(def)|aa7|2x3|(IN1K via pretrained=True) orig_t=8(def)
ssv2/videomamba_small/run_f16x224to288.sh|videomamba_small|SSV2 / 174cls|16|288|12x2|16|10|5e-6 → 7.5e-06|2|0.35|1e-8|0.75(def)|aa7|2x3|videomamba_s16_ssv2_f16_res224.pth orig_t=16
ssv2/videomamba_small/run_f8x224.sh|videomamba_small|SSV2 / 174cls|8|224|64x2|8|30|4e-4 → 0.0016|5|0.35|0.05|0.75(def)|aa7|2x3|(IN1K via pretrained=True) orig_t=8(def)
ssv2/videomamba_tiny/run_f16x224.sh|videomamba_tiny|SSV2 / 174cls|16|224|64x2|8|35|4e-4 → 0.0016|5|0.1|0.1|0.75(def)|aa5|2x3|(IN1K via pretrained=True) orig_t=8(def)
ssv2/videomamba_tiny/run_f16x224to288.sh|videomamba_small|SSV2 / 174cls|64|288|32x2|16|10|5e-6 → 2e-05|2|0.1|1e-8|0.75(def)|aa5|2x3|videomamba_t16_ssv2_f64_res224.pth orig_t=64
ssv2/videomamba_tiny/run_f8x224.sh|videomamba_tiny|SSV2 / 174cls|8|224|64x2|8|35|4e-4 → 0.0016|5|0.1|0.1|0.75(def)|aa5|2x3|(IN1K via pretrained=True) orig_t=8(def)
"""

AA = {"aa7": "rand-m7-n4-mstd0.5-inc1", "aa5": "rand-m5-n2-mstd0.25-inc1"}
DATASETS = {"KS": "kinetics_sparse", "SSV2": "ssv2", "LVU": "lvu"}

# Deliberate deviations from the official scripts (spec §10.3 [X]); anything else must match exactly.
FIXES = {
    "k400/videomamba_tiny/run_f64x224to384.sh": {"model": "videomamba_tiny"},                       # §10.3-19
    "ssv2/videomamba_tiny/run_f16x224to288.sh": {"model": "videomamba_tiny", "frames": 16,          # §10.3-20
                                                 "init": "videomamba_t16_ssv2_f16_res224.pth", "orig_t": 16},
    "ssv2/videomamba_middle_mask/run_f8x224.sh": {"init": "videomamba_m16_ssv2_mask_pt_f8_res224.pth"},  # §10.3-21
    "ssv2/videomamba_middle_mask/run_f16x224.sh": {"init": "videomamba_m16_ssv2_mask_pt_f8_res224.pth"},
    "lvu/run_regression.sh": {"data_set": "kinetics_sparse"},                                          # §10.3-25
    "lvu/run_regression_trim.sh": {"data_set": "lvu"},
}

# MODEL_ZOO top-1 (spec §7.2 "Reported top-1"), keyed by official script.
ZOO = {}
for _size, _vals in (("tiny", (76.9, 78.1, 78.8, 79.6, 80.3)), ("small", (79.3, 80.8, 81.5, 81.8, 82.7)),
                     ("middle", (80.6, 81.9, 82.4, 82.8, 83.3)), ("middle_mask", (82.0, 83.4, 83.9, 84.3, 85.0))):
    for _run, _v in zip(("f8x224", "f16x224", "f32x224", "f64x224", "f64x224to384"), _vals):
        ZOO[f"k400/videomamba_{_size}/run_{_run}.sh"] = _v
for _size, _vals in (("tiny", (65.1, 66.0, 66.2)), ("small", (66.6, 67.7, 68.1)), ("middle", (67.3, 68.3, 68.4)),
                     ("middle_mask", (70.2, 71.0, 71.4))):
    for _run, _v in zip(("f8x224", "f16x224", "f16x224to288"), _vals):
        ZOO[f"ssv2/videomamba_{_size}/run_{_run}.sh"] = _v
for _ds, _table in (("breakfast", {"tiny": (94.3, 94.3), "small": (95.3, 97.4), "middle": (94.8, 95.8),
                                   "middle_mask": (97.9, 96.9)}),
                    ("coin", {"tiny": (86.2, 87.0), "small": (88.4, 88.7), "middle": (88.3, 89.5),
                              "middle_mask": (89.6, 90.4)})):
    for _size, (_a, _b) in _table.items():
        ZOO[f"{_ds}/videomamba_{_size}/run_f32x224.sh"] = _a
        ZOO[f"{_ds}/videomamba_{_size}/run_f64x224.sh"] = _b


def _parse_table():
    rows = []
    for line in SPEC_TABLE.strip().splitlines():
        (script, model, data, frames, res, batch, gpus, epochs, lr, warmup, drop_path, wd, layer_decay, aa,
         views, init) = [c.strip() for c in line.split("|")]
        data_set, classes = re.fullmatch(r"(\w+) / (\d+)cls", data).groups()
        batch_parts = [int(x) for x in batch.split("x")]
        base_lr, eff_lr = [float(x) for x in lr.split(" → ")]
        segs, crops = [int(x) for x in views.split("x")]
        m = re.fullmatch(r"(.*) orig_t=(\d+)(\(def\))?", init)
        init_file, orig_t = m.group(1), int(m.group(2))
        if init_file.startswith("(IN1K"):
            init_file, orig_t = "in1k", None
        row = dict(script=script, model=model, data_set=DATASETS[data_set], classes=int(classes),
                   frames=int(frames), res=int(res), batch=batch_parts[0],
                   update_freq=batch_parts[1] if len(batch_parts) == 3 else 1, num_sample=batch_parts[-1],
                   gpus=int(gpus), epochs=int(epochs), lr=base_lr, eff_lr=eff_lr, warmup=int(warmup),
                   drop_path=float(drop_path), wd=float(wd), layer_decay=float(layer_decay.replace("(def)", "")),
                   aa=AA[aa], segs=segs, crops=crops, init=init_file, orig_t=orig_t)
        row.update(FIXES.get(script, {}))
        row["top1"] = ZOO.get(script)
        rows.append(row)
    return rows


ROWS = _parse_table()


def config_path(script: str) -> str:
    """video_sm/exp/<ds>/<model_dir>/run_<run>.sh -> configs/<ds>/<model_dir>_<run>.yaml (lvu: videomamba_tiny_)."""
    parts = script[:-len(".sh")].split("/")
    run = parts[-1][len("run_"):]
    stem = f"{parts[1]}_{run}" if len(parts) == 3 else f"videomamba_tiny_{run}"
    return os.path.join("configs", parts[0], stem + ".yaml")


def _load(rel, overrides=()):
    from videomamba.utils.config import load_config
    return load_config(os.path.join(ROOT, rel), list(overrides))


def test_table_is_complete():
    assert len(ROWS) == 52, "spec §7.2 lists 52 fine-tuning scripts (mask-pretraining excluded)"
    expected = sorted(config_path(r["script"]) for r in ROWS)
    on_disk = sorted(os.path.relpath(os.path.join(d, f), ROOT)
                     for ds in ("k400", "ssv2", "breakfast", "coin", "lvu")
                     for d, _, files in os.walk(os.path.join(ROOT, "configs", ds)) for f in files if f.endswith(".yaml"))
    assert on_disk == expected, "configs/<dataset>/ must hold exactly one YAML per official script"


@pytest.mark.parametrize("row", ROWS, ids=[r["script"] for r in ROWS])
def test_config_matches_official_script(row):
    rel = config_path(row["script"])
    cfg = _load(rel)
    where = f"{rel} (official {row['script']})"

    def check(key, actual, expected):
        if isinstance(expected, float):
            ok = math.isclose(actual, expected, rel_tol=1e-9)
        else:
            ok = actual == expected
        assert ok, f"{where}: {key} = {actual!r}, expected {expected!r}"

    check("model.name", cfg.model.name, row["model"])
    check("model.num_classes", cfg.model.num_classes, row["classes"])
    check("model.num_frames", cfg.model.num_frames, row["frames"])
    check("model.img_size", cfg.model.img_size, row["res"])
    check("model.tubelet_size", cfg.model.tubelet_size, 1)
    check("model.drop_path_rate", cfg.model.drop_path_rate, row["drop_path"])
    check("data.dataset", cfg.data.dataset, row["data_set"])
    check("data.split", cfg.data.split, " " if row["data_set"] == "ssv2" else ",")
    check("data.num_frames", cfg.data.num_frames, row["frames"])
    check("data.input_size", cfg.data.input_size, row["res"])
    check("data.short_side_size", cfg.data.short_side_size, row["res"])
    check("data.batch_size", cfg.data.batch_size, row["batch"])
    check("data.num_sample", cfg.data.num_sample, row["num_sample"])
    check("data.aa", cfg.data.aa, row["aa"])
    check("data.reprob", cfg.data.reprob, 0.25)
    check("train.update_freq", cfg.train.update_freq, row["update_freq"])
    check("train.epochs", cfg.train.epochs, row["epochs"])
    check("train.lr", cfg.train.lr, row["lr"])
    check("train.min_lr", cfg.train.min_lr, 1e-6)
    check("train.warmup_lr", cfg.train.warmup_lr, 1e-6)
    check("train.warmup_epochs", cfg.train.warmup_epochs, row["warmup"])
    check("train.weight_decay", cfg.train.weight_decay, row["wd"])
    check("train.layer_decay", cfg.train.layer_decay, row["layer_decay"])
    check("train.layer_decay_mode", cfg.train.layer_decay_mode, "official")
    check("train.lr_scale_rule", cfg.train.lr_scale_rule, "official_video")
    check("train.lr_scale_base", cfg.train.lr_scale_base, 256)
    check("train.opt", cfg.train.opt, "adamw")
    check("train.opt_betas", list(cfg.train.opt_betas), [0.9, 0.999])
    check("train.clip_grad", cfg.train.clip_grad, None)
    check("train.amp", cfg.train.amp, "bf16")
    check("train.test_best", cfg.train.test_best, True)
    check("eval.test_num_segment", cfg.eval.test_num_segment, row["segs"])
    check("eval.test_num_crop", cfg.eval.test_num_crop, row["crops"])
    check("eval.dist_eval", cfg.eval.dist_eval, True)
    check("target.top1", cfg.target.top1, row["top1"])
    regression = row["classes"] == 1
    check("train.mixup", cfg.train.mixup, 0.0 if regression else 0.8)
    check("train.cutmix", cfg.train.cutmix, 0.0 if regression else 1.0)
    check("train.smoothing", cfg.train.smoothing, 0.0 if regression else 0.1)

    # Effective LR on the official world size == the spec's effective LR.
    from videomamba.utils.optim import lr_scale_factor  # the engine's rule
    eff = cfg.train.lr * lr_scale_factor(cfg.train.lr_scale_rule, cfg.data.batch_size, cfg.train.update_freq,
                                         row["gpus"], cfg.data.num_sample, cfg.train.lr_scale_base)
    assert math.isclose(eff, row["eff_lr"], rel_tol=1e-6), f"{where}: effective lr {eff} != official {row['eff_lr']}"
    assert f"{row['gpus']} GPUs" in cfg.target.source, f"{where}: target.source must record the official world size"

    # Initialisation.
    if row["init"] == "in1k":
        check("model.pretrained", cfg.model.pretrained, True)
        check("model.finetune", cfg.model.finetune, None)
    else:
        check("model.pretrained", cfg.model.pretrained, False)
        assert cfg.model.finetune and os.path.basename(cfg.model.finetune) == row["init"], \
            f"{where}: model.finetune = {cfg.model.finetune!r}, expected a path ending in {row['init']}"
        check("model.orig_num_frames", cfg.model.orig_num_frames, row["orig_t"])
        check("model.load_strict", cfg.model.load_strict, False)

    # Flip: off for the SSV2 dataset only (the Kinetics_sparse SSv2 run keeps the official flip).
    if row["data_set"] == "ssv2":
        check("data.flip", cfg.data.flip, False)
    elif cfg.data.flip is not None:
        check("data.flip", cfg.data.flip, True)
    if row["script"].startswith("lvu/"):
        check("data.lvu_view_index", cfg.data.lvu_view_index, "window")


def test_finetune_path_follows_pretrained_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOMAMBA_PRETRAINED_DIR", str(tmp_path))
    cfg = _load("configs/breakfast/videomamba_tiny_f64x224.yaml")
    assert cfg.model.finetune == str(tmp_path / "videomamba_t16_k400_f32_res224.pth")
    monkeypatch.delenv("VIDEOMAMBA_PRETRAINED_DIR")
    cfg = _load("configs/breakfast/videomamba_tiny_f64x224.yaml")
    assert cfg.model.finetune == "pretrained/videomamba_t16_k400_f32_res224.pth"


# ------------------------------------------------------------------------------------------ model
EMBED = {"videomamba_tiny": (192, 24), "videomamba_small": (384, 24), "videomamba_middle": (576, 32)}
# Full-depth builds are slow-ish even on the meta device: the first config of each size is built at its real
# depth, the others with depth 2 (everything else about the model is the config's).
FULL_DEPTH = {next(r["script"] for r in ROWS if r["model"] == m) for m in EMBED}


@pytest.mark.parametrize("row", ROWS, ids=[r["script"] for r in ROWS])
def test_model_factory_accepts_config(row):
    """The engine's build_model on the meta device (weights loading is tested below)."""
    from videomamba.engine.builders import build_model
    dim, depth = EMBED[row["model"]]
    overrides = ["model.pretrained=false", "model.finetune=null"]
    if row["script"] not in FULL_DEPTH:
        overrides.append("model.depth=2")
        depth = 2
    cfg = _load(config_path(row["script"]), overrides)
    with torch.device("meta"):
        model = build_model(cfg)
        tokens = model.embed(torch.empty(1, 3, row["frames"], row["res"], row["res"]))
    assert (model.num_frames, model.img_size, model.num_classes, model.tubelet_size) == \
        (row["frames"], row["res"], row["classes"], 1)
    assert (model.embed_dim, len(model.layers)) == (dim, depth)
    assert model.head.out_features == row["classes"]
    assert tuple(model.temporal_pos_embedding.shape) == (1, row["frames"], dim)
    assert tuple(tokens.shape) == (1, 1 + row["frames"] * (row["res"] // 16) ** 2, dim)
    dpr = [float(layer.drop_path.drop_prob) if hasattr(layer.drop_path, "drop_prob") else 0.0
           for layer in model.layers]
    assert math.isclose(max(dpr + [float(getattr(model.drop_path, "drop_prob", 0.0))]), row["drop_path"],
                        rel_tol=1e-6), f"drop path schedule must end at {row['drop_path']}"


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    """Released-format tiny checkpoints (random weights, depth 2 to stay fast: the configs are loaded with
    model.depth=2) under the names the configs point at."""
    import timm

    import videomamba.models  # noqa: F401
    folder = tmp_path_factory.mktemp("pretrained")
    torch.manual_seed(0)
    image = timm.create_model("videomamba_image_tiny", num_classes=1000, depth=2)
    torch.save({"model": image.state_dict()}, folder / "videomamba_t16_in1k_res224.pth")
    video = timm.create_model("videomamba_tiny", num_frames=32, num_classes=400, depth=2)
    with torch.no_grad():
        video.temporal_pos_embedding.normal_()
    torch.save(video.state_dict(), folder / "videomamba_t16_k400_f32_res224.pth")  # released files are flat
    return folder, image.state_dict(), video.state_dict()


def test_in1k_init_loads_through_the_engine(tiny_checkpoints, monkeypatch):
    from videomamba.engine.builders import build_model
    folder, image_sd, _ = tiny_checkpoints
    monkeypatch.setenv("VIDEOMAMBA_PRETRAINED_DIR", str(folder))
    model = build_model(_load("configs/k400/videomamba_tiny_f16x224.yaml", ["model.depth=2"]))
    assert torch.equal(model.layers[1].mixer.in_proj.weight, image_sd["layers.1.mixer.in_proj.weight"])
    assert torch.equal(model.patch_embed.proj.weight[:, :, 0], image_sd["patch_embed.proj.weight"])  # k=1 inflation
    assert not model.temporal_pos_embedding.any(), "IN-1K init: temporal pos-embed starts at zero"
    assert model.head.out_features == 400


def test_breakfast_tiny_f64_reproduces_the_orig_t_size_quirk(tiny_checkpoints, monkeypatch):
    """[F] §10.3-18: f32 checkpoint + orig_num_frames 64 -> temporal pos-embed not loaded (zero); with the
    corrected orig_num_frames=32 it is interpolated from the checkpoint instead."""
    from videomamba.engine.builders import build_model
    folder, _, video_sd = tiny_checkpoints
    monkeypatch.setenv("VIDEOMAMBA_PRETRAINED_DIR", str(folder))
    rel = "configs/breakfast/videomamba_tiny_f64x224.yaml"
    quirk = build_model(_load(rel, ["model.depth=2"]))
    assert quirk.temporal_pos_embedding.shape == (1, 64, 192)
    assert not quirk.temporal_pos_embedding.any()
    assert torch.equal(quirk.layers[0].mixer.out_proj.weight, video_sd["layers.0.mixer.out_proj.weight"])
    assert quirk.head.out_features == 10  # the 400-class head is skipped and re-initialised
    fixed = build_model(_load(rel, ["model.depth=2", "model.orig_num_frames=32"]))
    expected = torch.nn.functional.interpolate(video_sd["temporal_pos_embedding"].permute(0, 2, 1), size=64,
                                               mode="linear", align_corners=False).permute(0, 2, 1)
    assert torch.allclose(fixed.temporal_pos_embedding, expected, atol=1e-6)


# ------------------------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def fake_data(tmp_path_factory):
    """Two tiny videos (72 frames, 8 fps, 40x56) listed in every annotation format the configs use."""
    from videomamba.data.synthetic import render_clip, write_video
    root = tmp_path_factory.mktemp("fake_data")
    for i in range(2):
        frames = render_clip(i, np.random.default_rng(i), num_frames=72, height=40, width=56)
        write_video(str(root / f"v{i}.mp4"), frames, fps=8)
    formats = {"kinetics_sparse": "v{i}.mp4,{i}\n", "ssv2": "v{i}.mp4 {i}\n", "lvu": "v{i}.mp4,{i},9.0\n"}
    dirs = {}
    for name, fmt in formats.items():
        d = root / name
        d.mkdir()
        for split in ("train", "val", "test"):
            (d / f"{split}.csv").write_text("".join(fmt.format(i=i) for i in range(2)))
        dirs[name] = d
    for name, line in (("kinetics_sparse", "v{i}.mp4,0\n"), ("lvu", "v{i}.mp4,0,9.0\n")):
        d = root / f"regression_{name}"  # one output: every label must be 0 for the classification loader
        d.mkdir()
        for split in ("train", "val", "test"):
            (d / f"{split}.csv").write_text("".join(line.format(i=i) for i in range(2)))
        dirs[f"regression_{name}"] = d
    return root, dirs


def _pipeline_groups():
    """One config per distinct data pipeline (dataset, frames, resolution, views, flip, task)."""
    seen, out = set(), []
    for row in ROWS:
        key = (row["data_set"], row["frames"], row["res"], row["segs"], row["crops"], row["classes"] == 1,
               row["script"].startswith("ssv2/"))
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


@pytest.mark.parametrize("row", _pipeline_groups(), ids=lambda r: r["script"])
def test_data_pipeline_builds(row, fake_data):
    from videomamba.data.build import build_dataset
    from videomamba.utils.config import data_mapping
    root, dirs = fake_data
    folder = dirs[("regression_" if row["classes"] == 1 else "") + row["data_set"]]
    cfg = _load(config_path(row["script"]), [f"data.data_path={folder}", f"data.prefix={root}"])
    data = data_mapping(cfg)
    t, s = row["frames"], row["res"]

    train = build_dataset(data, "train")
    assert train.flip is (not (row["data_set"] == "ssv2")), "flip must be off only for the SSV2 dataset"
    clips, labels = train[0]
    assert len(clips) == row["num_sample"] == len(labels)
    assert all(tuple(c.shape) == (3, t, s, s) for c in clips)

    test = build_dataset(data, "test")
    windows = 1  # every fake video (9 s) is shorter than one 60 s LVU window
    assert len(test) == row["segs"] * row["crops"] * 2 * windows
    clip, label, video_id, view, crop = test[len(test) - 1]
    assert tuple(clip.shape) == (3, t, s, s)
    assert (view, crop) == (row["segs"] - 1, row["crops"] - 1)


# -------------------------------------------------------------------------------- launch scripts
def _script_path(script: str) -> str:
    return os.path.join(ROOT, "scripts", script)


@pytest.mark.parametrize("row", ROWS, ids=[r["script"] for r in ROWS])
def test_launch_script(row):
    path = _script_path(row["script"])
    assert os.path.isfile(path), f"missing launch script scripts/{row['script']}"
    assert os.access(path, os.X_OK), f"scripts/{row['script']} must be executable"
    env = dict(os.environ, DRY_RUN="1")
    env.pop("GPUS", None)
    env.pop("LAUNCHER", None)
    out = subprocess.run(["bash", path, "data.prefix=/videos"], env=env, capture_output=True, text=True, check=True)
    # scripts/dist_train.sh GPUS CONFIG [overrides]
    assert out.stdout.split() == ["bash", "scripts/dist_train.sh", str(row["gpus"]), config_path(row["script"]),
                                  "data.prefix=/videos"]


def test_launch_script_slurm_and_world_size():
    path = _script_path("k400/videomamba_middle/run_f16x224.sh")
    env = dict(os.environ, DRY_RUN="1", LAUNCHER="slurm", PARTITION="video", GPUS="8")
    out = subprocess.run(["bash", path], env=env, capture_output=True, text=True, check=True)
    # scripts/slurm_train.sh PARTITION JOB_NAME GPUS CONFIG [overrides]
    assert out.stdout.split() == ["bash", "scripts/slurm_train.sh", "video", "k400_videomamba_middle_f16x224", "8",
                                  "configs/k400/videomamba_middle_f16x224.yaml"]
    assert "instead of the official 16" in out.stderr
    env.pop("PARTITION")
    bad = subprocess.run(["bash", path], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "PARTITION" in bad.stderr


def test_generated_files_are_current():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_experiment_configs.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


# --------------------------------------------------------------------------------------- custom
@pytest.mark.parametrize("name", ["csv_k400_finetune.yaml", "folder_k400_finetune.yaml"])
def test_custom_configs(name, tmp_path):
    from videomamba.data.build import build_dataset
    from videomamba.data.synthetic import render_clip, write_video
    from videomamba.utils.config import data_mapping
    classes = ["jump", "run"]
    (tmp_path / "classes.txt").write_text("\n".join(classes) + "\n")
    lines = {}
    for split in ("train", "val", "test"):
        for label, cls in enumerate(classes):
            (tmp_path / split / cls).mkdir(parents=True)
            write_video(str(tmp_path / split / cls / "a.mp4"),
                        render_clip(label, np.random.default_rng(label), num_frames=20, height=40, width=56), fps=8)
            lines.setdefault(split, []).append(f"{split}/{cls}/a.mp4,{cls}\n")
        (tmp_path / f"{split}.csv").write_text("".join(lines[split]))
    cfg = _load(os.path.join("configs", "custom", name), [f"data.data_root={tmp_path}", "model.num_classes=2",
                                                          "data.input_size=32", "data.short_side_size=32"])
    assert cfg.model.finetune and cfg.model.finetune.endswith("videomamba_t16_k400_f16_res224.pth")
    assert cfg.model.name == "videomamba_tiny" and cfg.data.num_frames == 16
    data = data_mapping(cfg)
    train, test = build_dataset(data, "train"), build_dataset(data, "test")
    assert len(train) == 2 and len(test) == 2 * cfg.eval.test_num_segment * cfg.eval.test_num_crop
    clips, labels = train[0]
    assert tuple(clips[0].shape) == (3, 16, 32, 32) and labels[0] in (0, 1)
