"""``triton`` backend: this project's fused Triton kernels for the B-Mamba block.

Modules: :mod:`.scan` (selective scan of both directions, fwd/bwd), :mod:`.conv` (depthwise conv of both
directions, fwd/bwd), :mod:`.elementwise` (gate backward, dt_proj), :mod:`.proj_grad` (the backward's x_proj /
dt_proj gradients), :mod:`.norm` (fused add + RMSNorm),
:mod:`.fastmath` (MUFU sigmoid / log2 / softplus shared by the kernels), :mod:`.launch` (direct launches),
:mod:`.mixer` (the autograd Functions that tie them to cuBLAS GEMMs).

Importing this package never fails: without Triton, or without a GPU (and no ``TRITON_INTERPRET=1``),
:func:`availability` returns ``(False, reason)`` and nothing is registered.
"""
import os

import torch

_IMPORT_ERROR = None
try:
    import triton  # noqa: F401
    from . import mixer as _mixer
    from .norm import add_norm_triton, needs_graph
except Exception as exc:  # Triton missing or broken: say why, register nothing
    _IMPORT_ERROR = f"{type(exc).__name__}: {exc}"


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def availability():
    """(available, reason)."""
    if _IMPORT_ERROR is not None:
        return False, f"triton not importable ({_IMPORT_ERROR})"
    if not hasattr(triton.language, "gather"):  # the scan backward's warp reduction (Triton >= 3.2)
        return False, f"Triton {triton.__version__} has no tl.gather (needs >= 3.2)"
    if interpreting():
        return True, "Triton interpreter (TRITON_INTERPRET=1)"
    if not torch.cuda.is_available():
        return False, "no CUDA device (set TRITON_INTERPRET=1 to run the kernels on CPU)"
    if torch.version.hip is not None:  # the kernels use NVIDIA PTX (MUFU approximations) and sm_80+ layouts
        return False, "ROCm device: the triton backend targets NVIDIA GPUs"
    major, _ = torch.cuda.get_device_capability()
    if major < 8:
        return False, f"needs compute capability >= 8.0, found {major}.x"
    return True, f"Triton {triton.__version__} on {torch.cuda.get_device_name()}"


if _IMPORT_ERROR is None:
    from ..backend import register_impl
    from ..bimamba import DirectionParams

    def _flat(fwd: DirectionParams, bwd: DirectionParams):
        return (*fwd, *bwd)

    @register_impl("bimamba_inner", "triton")
    def bimamba_inner_triton(xz, fwd, bwd):
        """Triton twin of :func:`videomamba.ops.bimamba.bimamba_inner_ref`."""
        return _mixer.BiMambaInnerFn.apply(xz, *_flat(fwd, bwd))

    @register_impl("bimamba_mixer", "triton")
    def bimamba_mixer_triton(hidden, in_w, in_b, fwd, bwd, out_w, out_b):
        """Triton twin of :func:`videomamba.ops.bimamba.bimamba_mixer_ref` (saves only ``hidden``)."""
        flat = _flat(fwd, bwd)
        if not needs_graph(hidden, in_w, in_b, out_w, out_b, *flat):  # skip the autograd Function (host time)
            return _mixer.mixer_forward(hidden, in_w, in_b, out_w, out_b, False, flat)[0]
        return _mixer.BiMambaMixerFn.apply(hidden, in_w, in_b, out_w, out_b, True, *flat)

    register_impl("add_norm", "triton")(add_norm_triton)
