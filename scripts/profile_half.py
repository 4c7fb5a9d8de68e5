"""Why half precision was slower than float32 at opus-mt size on a GPU (README: bf16 421 vs
fp32 1,314 seg/s greedy at batch 256 on an H100): generate() timed per dtype and attention
implementation, one forward pass timed alone (GPU arithmetic without the decoding loop), and
torch.profiler summaries for float32 and bfloat16 (kernel launches, dtype casts, GPU busy
time against wall time, the top kernels).

Random weights, end of sentence made impossible, so every run writes exactly --tokens tokens.
Needs a CUDA GPU. Usage: python scripts/profile_half.py [--n 1024] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_translate import REPO, build_model

CASTS = ("aten::to", "aten::_to_copy", "aten::copy_")


def _load(model_dir: Path, dtype: Any, attn: str) -> Any:
    from transformers import MarianMTModel

    model = MarianMTModel.from_pretrained(model_dir, dtype=dtype, attn_implementation=attn)
    return model.to("cuda").eval()


def _batches(tok: Any, sources: list[str], size: int) -> list[Any]:
    return [
        tok(sources[i : i + size], return_tensors="pt", padding=True).to("cuda")
        for i in range(0, len(sources), size)
    ]


def _rate(model: Any, batches: list[Any], tokens: int) -> float:
    import torch

    with torch.inference_mode():
        model.generate(**batches[0], max_new_tokens=2)  # warm-up
        torch.cuda.synchronize()
        start = time.perf_counter()
        for batch in batches:
            model.generate(**batch, max_new_tokens=tokens, num_beams=1, do_sample=False)
        torch.cuda.synchronize()
    return sum(int(b["input_ids"].shape[0]) for b in batches) / (time.perf_counter() - start)


def _forward_ms(model: Any, batch: Any, tokens: int) -> float:
    """One teacher-forced forward pass over ``tokens`` target positions: the arithmetic of
    a whole batch without the step-by-step loop."""
    import torch

    labels = torch.full((batch["input_ids"].shape[0], tokens), 5, device="cuda")
    with torch.inference_mode():
        for _ in range(2):
            model(**batch, decoder_input_ids=labels)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(5):
            model(**batch, decoder_input_ids=labels)
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / 5 * 1000


def _profile(model: Any, batch: Any, tokens: int, label: str) -> str:
    import torch
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode():
        model.generate(**batch, max_new_tokens=2)
        torch.cuda.synchronize()
        start = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            model.generate(**batch, max_new_tokens=tokens, num_beams=1, do_sample=False)
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
    events = prof.key_averages()
    kernels = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
    launches = sum(e.count for e in kernels)
    busy_ms = sum(getattr(e, "self_device_time_total", 0) for e in kernels) / 1000
    casts = {e.key: e.count for e in events if e.key in CASTS}
    table = events.table(sort_by="self_device_time_total", row_limit=20)
    return (
        f"### {label}: one generate() of batch {batch['input_ids'].shape[0]} x {tokens} tokens\n"
        f"wall {wall * 1000:.1f} ms (profiled), GPU busy {busy_ms:.1f} ms "
        f"({100 * busy_ms / (wall * 1000):.0f}%), {launches} kernel launches "
        f"({launches / tokens:.0f} per step), casts {casts}\n\n{table}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--tokens", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--work-dir", type=Path, default=REPO / ".cache" / "profile-half")
    args = parser.parse_args(argv)
    import torch
    from transformers import MarianTokenizer

    from harness.devtools.tiny_train import training_pairs

    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    english = [en for en, _ in training_pairs()]
    model_dir = build_model(args.work_dir, english)
    sources = (english * (args.n // len(english) + 1))[: args.n]
    tok = MarianTokenizer.from_pretrained(model_dir)
    batches = _batches(tok, sources, args.batch_size)
    print(f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    print(f"{len(sources)} sources, batch {args.batch_size}, {args.tokens} new tokens each\n")
    print("| dtype | attention | greedy seg/s | one forward pass, ms |\n|---|---|---:|---:|")
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        for attn in ("sdpa", "eager"):
            model = _load(model_dir, dtype, attn)
            rate = _rate(model, batches, args.tokens)
            ms = _forward_ms(model, batches[0], args.tokens)
            name = str(dtype).removeprefix("torch.")
            print(f"| {name} | {attn} | {rate:.1f} | {ms:.2f} |", flush=True)
            del model
    print()
    for dtype in (torch.float32, torch.bfloat16):
        model = _load(model_dir, dtype, "sdpa")
        print(_profile(model, batches[0], args.tokens, str(dtype).removeprefix("torch.")))
        del model
    return 0


if __name__ == "__main__":
    sys.exit(main())
