#!/usr/bin/env python
"""Train (and finally test) from a config:  python tools/train.py --config CFG [key=value ...]"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from videomamba.cli import train_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(train_main())
