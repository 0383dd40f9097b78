#!/usr/bin/env python
"""Classify videos with a VideoMamba checkpoint (JSON output). See ``videomamba/inference.py`` for details.

    python tools/inference.py VIDEO... --model videomamba_tiny --checkpoint CKPT [--labels FILE] [--topk 5]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from videomamba.inference import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
