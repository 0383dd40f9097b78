"""Loading the golden fixtures produced by the official code (copied from the project's shared references)."""
import os

import torch

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "golden")


def load_case(name: str) -> dict:
    return torch.load(os.path.join(GOLDEN_DIR, "cases", f"{name}.pt"), weights_only=False)


def manifest_dir() -> str:
    return os.path.join(GOLDEN_DIR, "manifests")


def rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Max abs error relative to the largest expected magnitude (robust to entries near zero)."""
    expected = expected.to(actual.dtype)
    return ((actual - expected).abs().max() / expected.abs().max().clamp_min(1e-30)).item()


TOL = {torch.float64: 1e-9, torch.float32: 1e-4}
