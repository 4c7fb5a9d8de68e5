"""Build the tiny random-weight Marian EN->VI model that configs/smoke.yaml points at.

Usage: python scripts/make_tiny_model.py [--out models/tiny-marian-en-vi] [--seed 0] [--trained]

--trained builds the model that really translates its template sentences (about 20 s), as
committed in tests/fixtures/models/tiny-marian-en-vi-trained.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

# No "Writing model shards" bars in logs; read by transformers when it is imported below.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from harness.devtools.tiny_models import build_tiny_marian
from harness.devtools.tiny_train import build_trained_tiny_marian


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models/tiny-marian-en-vi"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trained", action="store_true", help="train it on template pairs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build = build_trained_tiny_marian if args.trained else build_tiny_marian
    dest = build(args.out, seed=args.seed)
    print(f"tiny Marian model written to {dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
