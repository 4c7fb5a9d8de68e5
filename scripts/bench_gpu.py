"""GPU throughput of the harness's backends on an opus-mt-en-vi-sized Marian (random weights).

The same model and fixed-length outputs as scripts/bench_translate.py (end of sentence made
impossible, so every engine writes exactly --tokens tokens), on a CUDA device: the per-sentence
loop, then the HF backend in float32/float16/bfloat16 and CTranslate2 in float16/int8_float16,
greedy and beam 4. Needs a GPU; run it where one is.

Usage: python scripts/bench_gpu.py --data ../shared/data/ntrex128 [--n 1024] [--tokens 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_translate import NTREX, REPO, build_model, load_translator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=NTREX)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--tokens", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--engines",
        default=None,
        help="comma-separated engine names to run, in this order (default: all)",
    )
    parser.add_argument("--work-dir", type=Path, default=REPO / ".cache" / "bench-gpu")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from harness.translators import CT2ModelConfig, HFModelConfig

    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    src = (args.data / "newstest2019-src.eng.txt").read_text("utf-8").splitlines()
    model_dir = build_model(args.work_dir, src)
    sources = (src * (args.n // len(src) + 1))[: args.n]
    print(f"device: {torch.cuda.get_device_name(0)}; {len(sources)} sources x {args.tokens} tokens")
    common = {
        "model": str(model_dir),
        "device": "cuda",
        "batch_size": args.batch_size,
        "max_new_tokens": args.tokens,
    }
    engines = [
        ("hf float32", lambda b: HFModelConfig(**common, num_beams=b, dtype="float32")),
        ("hf float16", lambda b: HFModelConfig(**common, num_beams=b, dtype="float16")),
        ("hf bfloat16", lambda b: HFModelConfig(**common, num_beams=b, dtype="bfloat16")),
        (
            "ct2 float16",
            lambda b: CT2ModelConfig(
                backend="ctranslate2", compute_type="float16", num_beams=b, **common
            ),
        ),
        (
            "ct2 int8_float16",
            lambda b: CT2ModelConfig(
                backend="ctranslate2", compute_type="int8_float16", num_beams=b, **common
            ),
        ),
    ]
    if args.engines:
        by_name = dict(engines)
        engines = [(name, by_name[name]) for name in args.engines.split(",")]
    print(f"batch size {args.batch_size}")
    print("| engine | greedy seg/s | beam 4 seg/s |\n|---|---:|---:|")
    for name, make in engines:
        rates = []
        for beams in (1, 4):
            try:
                tr = load_translator(make(beams), sources, args.work_dir / "cache")
                torch.cuda.synchronize()
                start = time.perf_counter()
                out = tr.translate(sources)
                torch.cuda.synchronize()
                assert len(out) == len(sources)
                rates.append(f"{len(sources) / (time.perf_counter() - start):.1f}")
                del tr
            except Exception as e:  # report it and go on to the next engine
                rates.append(f"failed: {type(e).__name__}: {str(e)[:80]}")
        print(f"| {name} | {rates[0]} | {rates[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
