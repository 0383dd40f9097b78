"""Console entry points: ``videomamba-train``, ``videomamba-test`` (and ``videomamba-inference``)."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _parser(prog: str, test: bool) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description=("Multi-view test of a checkpoint" if test else "Train (and test) a video classifier")
        + " from a YAML config; trailing key=value pairs override config keys (docs/config_reference.md).")
    p.add_argument("--config", required=True, help="YAML config (may inherit with _base_)")
    if test:
        p.add_argument("--checkpoint", default=None,
                       help="checkpoint to test (default: the latest/best found in output_dir)")
        p.add_argument("--ema", action="store_true", help="test the EMA weights stored in the checkpoint")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.lr=1e-3 output_dir=outputs/x")
    return p


def _load(args):
    from videomamba.utils.config import ConfigError, load_config
    try:
        return load_config(args.config, args.overrides)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        sys.exit(2)


def train_main(argv: Optional[List[str]] = None) -> int:
    args = _parser("videomamba-train", test=False).parse_args(argv)
    cfg = _load(args)
    from videomamba.engine import run_train
    run_train(cfg)
    return 0


def test_main(argv: Optional[List[str]] = None) -> int:
    args = _parser("videomamba-test", test=True).parse_args(argv)
    cfg = _load(args)
    from videomamba.engine import run_test
    run_test(cfg, args.checkpoint, use_ema=args.ema)
    return 0


def inference_main(argv: Optional[List[str]] = None) -> int:
    from videomamba.inference import main  # written separately; imported lazily
    return main(argv)


if __name__ == "__main__":
    sys.exit(train_main())
