"""``python -m videomamba.env``: versions, devices and which backend each fused op will use, and why."""
import argparse
import importlib
import platform
import sys

import torch

from .ops.backend import BACKENDS, OPS, backend_status, get_backend, select_backend


def _version(module: str) -> str:
    try:
        return getattr(importlib.import_module(module), "__version__", "installed")
    except Exception as exc:  # report, never fail: this is a diagnostic
        return f"not available ({type(exc).__name__})"


def collect() -> dict:
    info = {
        "python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__,
        "cuda (torch build)": torch.version.cuda, "cuda available": torch.cuda.is_available(),
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
    }
    for module in ("videomamba", "timm", "triton", "mamba_ssm", "causal_conv1d", "decord", "av", "deepspeed",
                   "transformers"):
        info[module] = _version(module)
    info["requested backend"] = get_backend()
    info["backends"] = {name: backend_status(name) for name in BACKENDS if name != "auto"}
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    info["selection"] = {}
    for device in devices:
        for op in OPS:
            try:
                info["selection"][f"{op} on {device}"] = select_backend(op, torch.device(device))
            except RuntimeError as exc:
                info["selection"][f"{op} on {device}"] = ("error", str(exc))
    return info


def main(argv=None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    info = collect()
    for key, value in info.items():
        if key in ("backends", "selection"):
            continue
        print(f"{key:>20}: {value}")
    print("\nbackends:")
    for name, (ok, reason) in info["backends"].items():
        print(f"  {name:>10}: {'yes' if ok else 'no '}  {reason}")
    print("\nselected (VIDEOMAMBA_BACKEND / videomamba.ops.set_backend to change):")
    for what, (backend, reason) in info["selection"].items():
        print(f"  {what:>24}: {backend:<9} {reason}")


if __name__ == "__main__":
    main()
