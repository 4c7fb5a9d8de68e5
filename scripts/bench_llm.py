"""Segments/s of a causal LLM of a few hundred million parameters (random weights, Llama
architecture, the tiny ChatML tokenizer) through the harness's HF backend: bfloat16 on one
GPU, the same spread with device_map: auto, and 8-bit/4-bit (bitsandbytes, where installed).

Random weights stop at a random step, so tokens/s (from the translator's throughput record)
is the figure to compare; seg/s is given as well. Needs a CUDA GPU.
Usage: python scripts/bench_llm.py [--n 512] [--batch-size 64] [--tokens 64] [--layers 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def build_llm(dest: Path, layers: int, hidden: int) -> Path:
    """A Llama with ``layers`` x ``hidden`` (about 330 M parameters at 20 x 1024), random
    weights, saved with the tiny chat tokenizer."""
    if (dest / "config.json").is_file():
        return dest
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from harness.devtools.tiny_families import build_tiny_llama

    tiny = build_tiny_llama(dest.parent / "tiny-llama-tokenizer")
    tok = AutoTokenizer.from_pretrained(tiny)
    small = LlamaConfig.from_pretrained(tiny)
    config = LlamaConfig(
        vocab_size=small.vocab_size,
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        num_key_value_heads=hidden // 256,
        max_position_embeddings=2048,
        bos_token_id=None,
        eos_token_id=small.eos_token_id,
        pad_token_id=small.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(dest)
    tok.save_pretrained(dest)
    return dest


def run(name: str, cfg: Any, sources: list[str], work: Path) -> str:
    import torch

    from harness.errors import HarnessError
    from harness.translators import build_translator

    try:
        tr = build_translator(cfg, cache_dir=work, progress=False)
        tr.translate(sources[:8])  # warm-up
        torch.cuda.synchronize()
        start = time.perf_counter()
        tr.translate(sources)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    except (HarnessError, ImportError, RuntimeError, ValueError) as e:
        return f"| {name} | failed: {type(e).__name__}: {str(e).splitlines()[0][:100]} | | | |"
    prov = tr.provenance()
    stats = prov["throughput"]
    memory = stats["peak_memory_mb"] / 1024
    return (
        f"| {name} | {len(sources) / seconds:.1f} | {stats['tokens_per_s']:.0f} | "
        f"{prov['parameters'] / 1e6:.0f} M | {memory:.1f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--work-dir", type=Path, default=REPO / ".cache" / "bench-llm")
    args = parser.parse_args(argv)
    import torch

    from harness.devtools.tiny_train import training_pairs
    from harness.translators import HFModelConfig

    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    folder = args.work_dir / f"llama-{args.layers}x{args.hidden}"
    model = build_llm(folder, args.layers, args.hidden)
    english = [en for en, _ in training_pairs()]
    sources = (english * (args.n // len(english) + 1))[: args.n]
    common = {
        "model": str(model),
        "preset": "causal-lm",
        "batch_size": args.batch_size,
        "max_new_tokens": args.tokens,
    }
    variants = [
        ("bfloat16, one GPU", {"dtype": "bfloat16", "device": "cuda"}),
        ("bfloat16, device_map: auto", {"dtype": "bfloat16", "device_map": "auto"}),
        ("float16, one GPU", {"dtype": "float16", "device": "cuda"}),
        ("8bit (bitsandbytes)", {"dtype": "bfloat16", "quantization": "8bit"}),
        ("4bit (bitsandbytes)", {"dtype": "bfloat16", "quantization": "4bit"}),
    ]
    print(f"device: {torch.cuda.get_device_name(0)}; {len(sources)} sources, batch")
    print(f"{args.batch_size}, at most {args.tokens} new tokens, greedy\n")
    print("| variant | seg/s | new tokens/s | parameters | peak GiB |\n|---|---:|---:|---:|---:|")
    for name, extra in variants:
        print(run(name, HFModelConfig(**common, **extra), sources, args.work_dir), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
