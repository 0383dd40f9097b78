"""VideoMamba: bidirectional Mamba models for image and video understanding, kernels and training.

``import videomamba`` registers the models with timm: ``timm.create_model('videomamba_tiny', num_frames=16)``.
"""
from .version import __version__
from . import ops, models  # noqa: F401  (registers the timm factories)

__all__ = ["__version__", "ops", "models"]
