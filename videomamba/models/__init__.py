"""timm-style model package: importing it registers every VideoMamba factory with timm."""
from .checkpoint import CheckpointError, LoadReport
from .layers import BiMamba, Block
from .videomamba import (VideoMamba, VisionMamba, checkpoint_filter_fn, load_pretrained,
                         resolve_pretrained_file)

__all__ = ["BiMamba", "Block", "CheckpointError", "LoadReport", "VideoMamba", "VisionMamba",
           "checkpoint_filter_fn", "load_pretrained", "resolve_pretrained_file"]
