"""GPU smoke benchmark of the real engine (Runner.train): DDP path and DeepSpeed path, full-size tiny model
(224 px, 8 frames, bf16) on random tensors in place of decoded videos. Not collected by pytest (no test_ prefix).

    python tests/engine/gpu_smoke.py ddp|deepspeed OUTPUT_DIR
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from videomamba.engine import builders, runner  # noqa: E402
from videomamba.utils.config import load_config  # noqa: E402

mode, out = sys.argv[1], sys.argv[2]
STEPS, BATCH = 20, 16


class RandomClips(torch.utils.data.Dataset):
    def __init__(self, n, frames=8, size=224, classes=400):
        self.n, self.shape, self.classes = n, (3, frames, size, size), classes

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return torch.randn(self.shape, generator=g), int(torch.randint(self.classes, (1,), generator=g))


def fake_datasets(cfg, modes=("train", "val", "test")):
    return {m: RandomClips(BATCH * STEPS if m == "train" else 32) for m in modes}


builders.build_datasets = fake_datasets
step_times = []
_orig = runner.train_one_epoch


def timed_epoch(*a, **k):  # time each optimizer step through the stop_flag hook (called after every step)
    last = [time.time()]
    inner = k["stop_flag"]

    def flag():
        torch.cuda.synchronize()
        now = time.time()
        step_times.append(now - last[0])
        last[0] = now
        return inner()
    k["stop_flag"] = flag
    return _orig(*a, **k)


runner.train_one_epoch = timed_epoch
overrides = [f"output_dir={out}", "device=cuda", "train.epochs=1", "train.warmup_epochs=0", "train.amp=bf16",
             f"data.batch_size={BATCH}", "data.num_workers=4", "data.num_sample=1", "train.final_test=false",
             "train.save_ckpt=false", "log.progress=false", "log.tensorboard=false", "data.num_frames=8",
             "data.input_size=224", "train.clip_grad=5.0", "model.backend=auto"]
if mode == "deepspeed":
    overrides.append("dist.deepspeed=true")
cfg = load_config(os.path.join(os.path.dirname(__file__), "..", "..", "configs", "_base_", "models",
                               "videomamba_tiny.yaml"), overrides)
torch.cuda.reset_peak_memory_stats()
t0 = time.time()
runner.run_train(cfg)
steady = sorted(step_times[3:])
result = {"mode": mode, "model": "videomamba_tiny", "batch": BATCH, "frames": 8, "img": 224, "amp": "bf16",
          "steps": len(step_times), "median_step_s": steady[len(steady) // 2] if steady else None,
          "clips_per_s": BATCH / steady[len(steady) // 2] if steady else None,
          "first_step_s": step_times[0] if step_times else None,
          "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30, "wall_s": time.time() - t0,
          "gpu": torch.cuda.get_device_name(), "torch": torch.__version__}
print("RESULT", json.dumps(result))
