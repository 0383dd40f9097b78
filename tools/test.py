#!/usr/bin/env python
"""Multi-view test:  python tools/test.py --config CFG --checkpoint CKPT [key=value ...]"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from videomamba.cli import test_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(test_main())
