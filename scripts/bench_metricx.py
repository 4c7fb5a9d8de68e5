"""Segments/s of the harness's MetricX-24 against metricx24/predict.py, on one random checkpoint.

Runs in the harness venv; the reference runs as its own CLI in its venv (see
tests/fixtures/neural/metricx/README.md):

    PYTHONPATH=$PWD python scripts/bench_metricx.py \
        --reference-python /work/venvs/metricx/bin/python --metricx-src /work/venvs/metricx-src \
        [--segments 16] [--layers 24]

The checkpoint has random weights in the shape of google/metricx-24-hybrid-large-v2p6 (mT5-large:
d_model 1024, d_ff 2816, 16 heads, 24+24 layers, vocabulary 250,112; about 1.2 G parameters,
4.9 GB in float32); ``--layers`` shrinks the depth. The tokenizer is the fixture's small one
(it splits text into more pieces than mT5's, so inputs are longer than with the real one).
Inputs are NTREX-128 triples. predict.py runs at batch size 1 (its Trainer cannot pad); its
rate is taken from two runs (N and 1 segments) so that its start-up is left out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "neural" / "metricx"
NTREX = REPO.parent / "shared" / "data" / "ntrex128"
LARGE = {"d_model": 1024, "d_ff": 2816, "d_kv": 64, "num_heads": 16, "num_layers": 24}


def build_checkpoint(dest: Path, layers: int, seed: int) -> Path:
    """Random mT5-large-shaped weights + a config.json as the MetricX-24 hub repositories have."""
    import torch
    from safetensors.torch import save_file
    from transformers import MT5Config, MT5ForConditionalGeneration

    shape = {**LARGE, "num_layers": layers, "num_decoder_layers": layers}
    config = {
        "architectures": ["MT5ForRegression"],
        "model_type": "mt5",
        "vocab_size": 250112,
        "feed_forward_proj": "gated-gelu",
        "dense_act_fn": "gelu_new",
        "is_gated_act": True,
        "tie_word_embeddings": False,
        "decoder_start_token_id": 0,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "layer_norm_epsilon": 1e-6,
        "relative_attention_num_buckets": 32,
        "relative_attention_max_distance": 128,
        "dropout_rate": 0.1,
        "initializer_factor": 1.0,
        "is_encoder_decoder": True,
        "torch_dtype": "float32",
        **shape,
    }
    torch.manual_seed(seed)
    model = MT5ForConditionalGeneration(MT5Config(**config))
    state = {
        k: v.contiguous()
        for k, v in model.state_dict().items()
        if not k.endswith("embed_tokens.weight")
    }
    # transformers 5 ties lm_head to the embedding in a fresh MT5 model; MetricX's is its own.
    # Scale 0.2: scores spread over a few points (about half clip at 0: lm_head has no bias).
    state["lm_head.weight"] = torch.randn(config["vocab_size"], config["d_model"]) * 0.2
    dest.mkdir(parents=True, exist_ok=True)
    save_file(state, str(dest / "model.safetensors"), metadata={"format": "pt"})
    (dest / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return dest


def triples(n: int) -> list[dict[str, str]]:
    src = (NTREX / "newstest2019-src.eng.txt").read_text(encoding="utf-8").splitlines()
    ref = (NTREX / "newstest2019-ref.vie.txt").read_text(encoding="utf-8").splitlines()
    return [{"source": src[i], "hypothesis": ref[i + 1], "reference": ref[i]} for i in range(n)]


def run_harness(model: Path, rows: list[dict[str, str]]) -> dict[str, float]:
    from harness.metrics.neural.metricx import load_metricx

    start = time.perf_counter()
    scorer = load_metricx(str(model), tokenizer=str(FIXTURE / "tokenizer"), device="cpu")
    loaded = time.perf_counter()
    scores = scorer.score(
        [r["source"] for r in rows], [r["hypothesis"] for r in rows], [r["reference"] for r in rows]
    )
    seconds = time.perf_counter() - loaded
    return {
        "load_s": loaded - start,
        "score_s": seconds,
        "segments_per_s": len(rows) / seconds,
        "input_tokens": scorer.last_run.input_tokens if scorer.last_run else 0,
        "scores": scores,
    }


def run_reference(args: argparse.Namespace, model: Path, rows, work: Path) -> tuple[float, list]:
    """Wall seconds of one predict.py run on ``rows``, and its scores."""
    inp, out = work / f"in-{len(rows)}.jsonl", work / f"out-{len(rows)}.jsonl"
    inp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    cmd = [
        args.reference_python, "-m", "metricx24.predict", "--tokenizer", str(FIXTURE / "tokenizer"),
        "--model_name_or_path", str(model), "--max_input_length", "1536", "--batch_size", "1",
        "--input_file", str(inp), "--output_file", str(out),
    ]  # fmt: skip
    env = {
        **os.environ, "PYTHONPATH": str(args.metricx_src), "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": "",
        "HF_DATASETS_CACHE": str(work / "datasets-cache"),
    }  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=work, capture_output=True)
    seconds = time.perf_counter() - start
    preds = [json.loads(x)["prediction"] for x in out.read_text().splitlines()]
    return seconds, preds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", required=True)
    parser.add_argument("--metricx-src", type=Path, required=True)
    parser.add_argument("--segments", type=int, default=16)
    parser.add_argument("--layers", type=int, default=24, help="encoder and decoder layers")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = triples(args.segments)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = build_checkpoint(work / "model", args.layers, args.seed)
        harness = run_harness(model, rows)
        ref_n, ref_scores = run_reference(args, model, rows, work)
        ref_1, _ = run_reference(args, model, rows[:1], work)
    ref_rate = (len(rows) - 1) / max(ref_n - ref_1, 1e-9)
    diff = max(abs(a - b) for a, b in zip(harness["scores"], ref_scores, strict=True))
    report = {
        "shape": {**LARGE, "num_layers": args.layers, "vocab_size": 250112},
        "segments": len(rows),
        "input_tokens": harness["input_tokens"],
        "threads": __import__("torch").get_num_threads(),
        "harness": {k: round(v, 3) for k, v in harness.items() if k != "scores"},
        "reference": {
            "wall_s_n": round(ref_n, 2),
            "wall_s_1": round(ref_1, 2),
            "segments_per_s": round(ref_rate, 3),
        },
        "speedup": round(harness["segments_per_s"] / ref_rate, 2),
        "max_abs_score_diff": diff,
        "harness_scores_clipped": sum(x in (0.0, 25.0) for x in harness["scores"]),
        "process_peak_rss_mb_incl_checkpoint_build": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
