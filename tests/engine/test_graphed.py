"""Evaluation forwards replayed from CUDA graphs (``eval.cuda_graph``, videomamba/engine/graphed.py)."""
import pytest
import timm
import torch

import videomamba  # noqa: F401  (registers the models)
from videomamba.engine.evaluate import validate
from videomamba.engine.graphed import GraphedInference


def _tiny(device):
    torch.manual_seed(0)
    return timm.create_model("videomamba_tiny", depth=2, embed_dim=64, img_size=32, num_frames=4,
                             num_classes=5).to(device).eval()


def test_validate_with_cuda_graph_on_cpu_is_the_eager_loop():
    model = _tiny("cpu")
    g = torch.Generator().manual_seed(1)
    loader = [(torch.randn(3, 3, 4, 32, 32, generator=g), torch.tensor([0, 3, 4])) for _ in range(2)]
    assert validate(model, loader, torch.device("cpu"), cuda_graph=True) == validate(model, loader,
                                                                                     torch.device("cpu"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_graph_replays_match_eager_and_follow_weight_changes():
    dev = torch.device("cuda")
    model = _tiny(dev)
    graphed = GraphedInference(model, "bf16")

    def eager(x):
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            return model(x)

    def close(a, b):
        return torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-3)

    x8, x3, x5 = (torch.randn(n, 3, 4, 32, 32, device=dev) for n in (8, 3, 5))
    with torch.no_grad():
        for x in (x8, x8, x3, x8):  # a shape is captured when seen the second time: x3 (seen once) runs eagerly
            assert close(graphed(x), eager(x))
        assert graphed.captures == 1
        for x in (x3, x5, x5):  # x3 again: the second graph; x5 twice: past max_graphs, eager
            assert close(graphed(x), eager(x))
        assert graphed.captures == 2 and len(graphed.graphs) == 2
        before = graphed(x8)
        # an optimizer step in place: the graphs must not replay stale weights (nor the fused backend's casts)
        model.layers[0].mixer.A_log.add_(0.5)
        model.head.weight.mul_(2.0)
        after = graphed(x8)  # graphs dropped; x8 is a known shape: recaptured with the new weights
        assert close(after, eager(x8)) and not close(after, before)
        assert close(graphed(x8), eager(x8)) and graphed.captures == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_validate_with_cuda_graph_matches_eager_on_gpu():
    dev = torch.device("cuda")
    model = _tiny(dev)
    g = torch.Generator().manual_seed(2)
    loader = [(torch.randn(n, 3, 4, 32, 32, generator=g), torch.randint(5, (n,), generator=g)) for n in (8, 8, 3)]
    graphed = validate(model, loader, dev, "bf16", cuda_graph=True)
    eager = validate(model, loader, dev, "bf16")
    assert graphed["num_clips"] == eager["num_clips"] == 19
    assert graphed["top1"] == eager["top1"] and abs(graphed["loss"] - eager["loss"]) < 1e-3
