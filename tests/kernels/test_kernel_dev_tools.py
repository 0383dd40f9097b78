"""The kernel ablation tool patches copies of scan.py by exact text: every variant must still apply to (and
import from) the current kernels, or the tool silently measures nothing when the kernels change."""
import importlib.util
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def test_every_ablation_variant_applies_to_the_current_kernels(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TOOLS))
    spec = importlib.util.spec_from_file_location("ablate_tool", TOOLS / "kernel_dev" / "ablate.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    patched = 0
    for (src, name), variant in tool.VARIANTS.items():
        if variant["edits"]:
            mod = tool.patched_module(f"{src}_{name}", variant["edits"], tmp_path)
            assert hasattr(mod, tool.KERNEL[src]), f"{src}:{name}"
            patched += 1
    assert patched >= 10
    # register report of a (the last patched) variant's kernel: empty before any launch and under the interpreter
    assert tool.resources(getattr(mod, tool.KERNEL[src])) == set()
    assert tool.show(set()).startswith("(none new")


def test_config_sweep_parses_settings_and_rejects_unknown_keys(monkeypatch):
    """The sweep tool times whole steps under mixer CONFIG values: a misspelt key must stop it, not be swept as
    a no-op."""
    import pytest
    monkeypatch.syspath_prepend(str(TOOLS))
    spec = importlib.util.spec_from_file_location("config_sweep_tool", TOOLS / "kernel_dev" / "config_sweep.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.parse_sets(["seg_len=128,152", "bwd_maxnreg=None,120"]) == [("seg_len", [128, 152]),
                                                                           ("bwd_maxnreg", [None, 120])]
    with pytest.raises(SystemExit, match="seg_lenn"):
        tool.parse_sets(["seg_lenn=128"])
    with pytest.raises(SystemExit, match="key=v1"):
        tool.parse_sets(["seg_len"])
