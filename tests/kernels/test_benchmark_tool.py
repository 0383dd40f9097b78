"""The benchmark tool runs end to end (CPU smoke mode: depth 2, 32² frames, batch 1)."""
import importlib.util
from pathlib import Path

import pytest

from conftest import ON_GPU


@pytest.mark.skipif(ON_GPU, reason="the GPU run uses the real benchmark")
def test_benchmark_smoke_on_cpu(tmp_path, capsys):
    path = Path(__file__).resolve().parents[2] / "tools" / "benchmark.py"
    spec = importlib.util.spec_from_file_location("benchmark_tool", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "r.json"
    rows = tool.main(["--device", "cpu", "--smoke", "--sizes", "tiny", "--frames", "2", "--backends", "torch",
                      "--json", str(out)])
    assert [(r["mode"], r["frames"]) for r in rows] == [("infer", 2), ("train", 2)]
    assert all(r["torch"][0] > 0 and r["vit"][0] > 0 for r in rows)
    assert out.exists() and "| 2 | tiny | train |" in capsys.readouterr().out
