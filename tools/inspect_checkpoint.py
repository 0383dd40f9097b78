#!/usr/bin/env python
"""Print what a checkpoint file holds and which factory and settings it fits.

    python tools/inspect_checkpoint.py videomamba_t16_k400_f8_res224.pth
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from videomamba.models.inspect import describe_checkpoint  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--keys", action="store_true", help="also list every tensor")
    args = parser.parse_args(argv)
    print(describe_checkpoint(args.file, list_keys=args.keys))


if __name__ == "__main__":
    main()
