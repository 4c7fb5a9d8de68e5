"""Harness COMET vs unbabel-comet's own ``predict``: same checkpoint, same triples, one run.

    PYTHONPATH=. .venv/bin/python scripts/bench_comet.py --segments 500 \\
        --reference-python /work/venvs/comet/bin/python

1. builds (once, in the reference venv, with COMET's classes) a RegressionMetric checkpoint on
   a random encoder of the xlm-roberta-large shape: 24 layers, hidden 1024, 16 heads, FFN
   4096, 514 positions, embedding matrix of 250,002 rows (the tokenizer, trained here on
   NTREX-128, uses the first 8,000 of them);
2. scores N NTREX-128 triples (hypothesis = the reference with one perturbation) with
   unbabel-comet (subprocess, reference venv, ``predict(batch_size=16, gpus=0)``), then with
   the harness (subprocess, this venv), then again with the harness through its per-segment
   cache (SQLite) — each process reports its wall time and peak RSS;
3. prints segments/s, speed-up, the largest score difference, the load average, as JSON.

Measured 2026-12-02 on the shared 2-core machine (load average 10-15 from other jobs), 40
segments (500 would take about 2 h for the two at this load):
unbabel-comet 0.11 seg/s, 4.9 GB peak RSS; harness 0.17 seg/s (1.45x), 2.8 GB; cached rerun
0.41 s (590x); largest score difference 2.1e-7. The harness ran 21 of the 24 encoder layers
(the checkpoint's sparsemax gives the top 3 weight 0) and encoded 119 distinct texts for 120.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NTREX = HERE.parent / ".." / "shared" / "data" / "ntrex128"


def triples(n: int) -> list[dict[str, str]]:
    src = (NTREX / "newstest2019-src.eng.txt").read_text(encoding="utf-8").splitlines()
    ref = (NTREX / "newstest2019-ref.vie.txt").read_text(encoding="utf-8").splitlines()
    rng = random.Random(1234)
    rows = []
    for s, r in zip(src[:n], ref[:n], strict=True):
        words = r.split()
        k = rng.randrange(len(words))
        kind = rng.randrange(3)
        if kind == 0 and len(words) > 1:
            del words[k]  # a word dropped
        elif kind == 1 and len(words) > 1:
            j = min(k + 1, len(words) - 1)
            words[k], words[j] = words[j], words[k]  # two words swapped
        else:
            words[k] = words[k].upper()  # a word changed
        rows.append({"src": s, "mt": " ".join(words), "ref": r})
    return rows


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def role_build(folder: Path) -> None:
    """Reference venv: the large-shape checkpoint, built with COMET's RegressionMetric."""
    import torch
    from comet.models import RegressionMetric
    from transformers import XLMRobertaConfig

    sys.path.insert(0, str(HERE))
    import make_comet_goldens as mk

    encoder = folder / "encoder"
    mk.build_tokenizer(encoder, vocab_size=8000, lines=1997)
    XLMRobertaConfig(
        vocab_size=250002,
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        intermediate_size=4096,
        max_position_embeddings=514,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        layer_norm_eps=1e-5,
    ).save_pretrained(str(encoder))
    torch.manual_seed(5)
    os.chdir(folder)
    model = RegressionMetric(
        pretrained_model="./encoder",
        load_pretrained_weights=False,
        local_files_only=True,
        layer_transformation="sparsemax",
        layer_norm=False,
    )
    with torch.no_grad():
        for p in model.layerwise_attention.scalar_parameters:
            p.copy_(torch.randn(1))
    mk.save_hub_layout(model, folder)


def role_reference(folder: Path, data: Path, out: Path) -> None:
    import comet

    rows = json.loads(data.read_text(encoding="utf-8"))
    os.chdir(folder)
    t0 = time.perf_counter()
    model = comet.load_from_checkpoint("checkpoints/model.ckpt")
    t1 = time.perf_counter()
    pred = model.predict(rows, batch_size=16, gpus=0, progress_bar=False)
    t2 = time.perf_counter()
    out.write_text(
        json.dumps(
            {
                "load_s": t1 - t0,
                "score_s": t2 - t1,
                "scores": pred.scores,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def role_harness(folder: Path, data: Path, out: Path, cache_path: Path) -> None:
    from harness.metrics.neural import SqliteSegmentCache, load_comet

    rows = json.loads(data.read_text(encoding="utf-8"))
    src, mt, ref = ([r[k] for r in rows] for k in ("src", "mt", "ref"))
    t0 = time.perf_counter()
    scorer = load_comet(str(folder), device="cpu")
    t1 = time.perf_counter()
    cache = SqliteSegmentCache(cache_path)
    first = scorer.score(src, mt, ref, cache=cache)
    t2 = time.perf_counter()
    again = scorer.score(src, mt, ref, cache=cache)
    t3 = time.perf_counter()
    assert again.scores == first.scores
    out.write_text(
        json.dumps(
            {
                "load_s": t1 - t0,
                "score_s": t2 - t1,
                "cached_s": t3 - t2,
                "scores": first.scores,
                "peak_rss_mb": peak_rss_mb(),
                "encoder_layers_run": scorer.net.layers_run,
            }
        )
    )


def run(python: str, *args: str) -> None:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": str(HERE.parent),
    }
    subprocess.run([python, str(Path(__file__).resolve()), *args], check=True, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=500)
    parser.add_argument("--reference-python", default="/work/venvs/comet/bin/python")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-comet"))
    parser.add_argument("--role", choices=["main", "build", "reference", "harness"], default="main")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    folder = args.workdir / "comet-large-shape"
    if args.role == "build":
        role_build(folder)
        return 0
    if args.role == "reference":
        role_reference(folder, args.data, args.out)
        return 0
    if args.role == "harness":
        role_harness(folder, args.data, args.out, args.workdir / "metric-cache.sqlite")
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    if not (folder / "checkpoints" / "model.ckpt").is_file():
        run(args.reference_python, "--role", "build", "--workdir", str(args.workdir))
    data = args.workdir / f"triples-{args.segments}.json"
    data.write_text(json.dumps(triples(args.segments), ensure_ascii=False))
    (args.workdir / "metric-cache.sqlite").unlink(missing_ok=True)
    results, loads = {}, {"start": os.getloadavg()}
    for name, python in (("unbabel-comet", args.reference_python), ("harness", sys.executable)):
        out = args.workdir / f"{name}.json"
        run(
            python,
            "--role",
            "reference" if name != "harness" else "harness",
            "--workdir",
            str(args.workdir),
            "--data",
            str(data),
            "--out",
            str(out),
        )
        results[name] = json.loads(out.read_text())
        loads[f"after {name}"] = os.getloadavg()
    report(results, loads, args.segments)
    return 0


def report(results: dict, loads: dict, n: int) -> None:
    ref, ours = results["unbabel-comet"], results["harness"]
    diff = max(abs(a - b) for a, b in zip(ref["scores"], ours["scores"], strict=True))
    summary = {
        "segments": n,
        "unbabel-comet": {
            "load_s": round(ref["load_s"], 1),
            "score_s": round(ref["score_s"], 1),
            "segments_per_s": round(n / ref["score_s"], 2),
            "peak_rss_mb": round(ref["peak_rss_mb"]),
        },
        "harness": {
            "load_s": round(ours["load_s"], 1),
            "score_s": round(ours["score_s"], 1),
            "segments_per_s": round(n / ours["score_s"], 2),
            "cached_rerun_s": round(ours["cached_s"], 3),
            "peak_rss_mb": round(ours["peak_rss_mb"]),
            "encoder_layers_run": ours.get("encoder_layers_run"),
        },
        "speedup_vs_comet": round(ref["score_s"] / ours["score_s"], 2),
        "cached_rerun_speedup": round(ours["score_s"] / max(ours["cached_s"], 1e-9)),
        "max_abs_score_diff": diff,
        "loadavg": {k: [round(x, 2) for x in v] for k, v in loads.items()},
        "cpus": os.cpu_count(),
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    raise SystemExit(main())
