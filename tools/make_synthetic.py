#!/usr/bin/env python
"""Write the synthetic temporal-order dataset; same options as ``python -m videomamba.data.synthetic``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from videomamba.data.synthetic import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
