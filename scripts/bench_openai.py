"""backend: openai against a local server that answers every request after a fixed delay.

The server (tests/openai_server.py) runs in its own process, so this process's CPU time is the
harness's and the client's alone. 1,000 segments at max_concurrency 32 with a 200 ms server:
the ideal wall time is 1,000 / 32 x 0.2 s = 6.25 s; the issue asks for at most 1.25x that.
Every answer is committed to a real SQLite translation cache, as in a run.

Two rows against the same server, one after the other: a bare baseline (httpx2, the HTTP
library the openai client uses, 32 requests in flight under a semaphore, nothing else), then
the harness (OpenAITranslator + cache commits). On a machine too loaded to reach the ideal,
the difference between the rows is what the harness adds.

Reported per row: wall time and its ratio to the ideal; overhead per request, as
(wall - ideal) x concurrency / requests (the time each request slot spent beyond the server's
delay); this process's CPU time per request.

Usage: python scripts/bench_openai.py [--n 1000] [--concurrency 32] [--delay 0.2] [--json out]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def start_server(delay: float) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "openai_server.py"), "--delay", str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def sources_for(n: int) -> list[str]:
    return [f"Benchmark sentence number {i}, of moderate length." for i in range(n)]


def baseline(n: int, concurrency: int, base_url: str) -> tuple[float, float]:
    """Wall and CPU seconds of the same requests sent by bare httpx2 (no client, no cache)."""
    import asyncio

    import httpx2

    async def run() -> None:
        gate = asyncio.Semaphore(concurrency)
        async with httpx2.AsyncClient(base_url=base_url, timeout=60) as client:

            async def one(source: str) -> None:
                body = {"model": "bench", "messages": [{"role": "user", "content": source}]}
                async with gate:
                    response = await client.post("/chat/completions", json=body)
                    response.raise_for_status()
                    json.loads(response.content)

            await asyncio.gather(*(one(s) for s in sources_for(concurrency)))  # warm
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.gather(*(one(s) for s in sources_for(n)))
            times.extend([time.perf_counter() - wall0, time.process_time() - cpu0])

    times: list[float] = []
    asyncio.run(run())
    return times[0], times[1]


def row(name: str, n: int, concurrency: int, delay: float, wall: float, cpu: float) -> dict:
    ideal = n / concurrency * delay
    return {
        "row": name,
        "wall_s": round(wall, 3),
        "ratio_to_ideal": round(wall / ideal, 3),
        "overhead_ms_per_request": round((wall - ideal) * concurrency / n * 1000, 2),
        "cpu_ms_per_request": round(cpu / n * 1000, 2),
    }


def bench(n: int, concurrency: int, delay: float, base_url: str) -> dict:
    from harness.cache import TranslationCache
    from harness.translators.base import BuildOptions
    from harness.translators.openai_backend import OpenAITranslator
    from harness.translators.openai_config import OpenAIModelConfig

    cfg = OpenAIModelConfig(
        backend="openai",
        model="bench",
        base_url=base_url,
        api_key_env=None,
        max_concurrency=concurrency,
    )
    sources = sources_for(n)
    with tempfile.TemporaryDirectory() as tmp:
        cache = TranslationCache(Path(tmp) / "translations.sqlite")
        translator = OpenAITranslator(cfg, BuildOptions(cache_dir=Path(tmp), progress=False))

        def on_batch(positions, outputs):
            cache.put_many(
                "bench", [(sources[p], h) for p, h in zip(positions, outputs, strict=True)]
            )

        translator.translate(sources[:concurrency])  # warm: imports, connections
        cache_rows_before = cache.count("bench")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        outputs = translator.translate(sources, on_batch=on_batch)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        stats = translator.provenance()["throughput"]
        assert len(outputs) == n and cache.count("bench") - cache_rows_before == n
        translator.close()
        cache.close()
    return {
        **row("harness", n, concurrency, delay, wall, cpu),
        "requests_per_s": stats["requests_per_s"],
        "latency_p50_s": stats["latency_p50_s"],
        "latency_p95_s": stats["latency_p95_s"],
    }


def harness_run(n: int, concurrency: int, base_url: str) -> dict:
    """``harness run`` end to end in a fresh process (files dataset, bleu): its whole wall
    time, and the translate phase as results.json records it."""
    import yaml

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sources = sources_for(n)
        (root / "src.en").write_text("\n".join(sources) + "\n", encoding="utf-8")
        (root / "ref.vi").write_text("\n".join(sources) + "\n", encoding="utf-8")
        config = {
            "name": "bench",
            "output_dir": str(root / "runs"),
            "cache_dir": str(root / "cache"),
            "datasets": [
                {
                    "kind": "files",
                    "source": str(root / "src.en"),
                    "references": [str(root / "ref.vi")],
                }
            ],
            "models": [
                {
                    "name": "bench",
                    "backend": "openai",
                    "model": "bench",
                    "base_url": base_url,
                    "api_key_env": None,
                    "max_concurrency": concurrency,
                }
            ],
            "metrics": ["bleu"],
        }
        (root / "c.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "harness", "run", str(root / "c.yaml"), "-q"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - start
        results = json.loads(next((root / "runs").rglob("results.json")).read_text())
    return {"translate_s": results["timing"]["translate_seconds"], "process_wall_s": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    server, base_url = start_server(args.delay)
    try:
        base_wall, base_cpu = baseline(args.n, args.concurrency, base_url)
        result = bench(args.n, args.concurrency, args.delay, base_url)
        run = harness_run(args.n, args.concurrency, base_url)
    finally:
        server.kill()
        server.wait()
    ideal = args.n / args.concurrency * args.delay
    base = row("bare httpx2", args.n, args.concurrency, args.delay, base_wall, base_cpu)
    print(
        f"{args.n} requests, max_concurrency {args.concurrency}, server delay {args.delay} s: "
        f"ideal {ideal:.2f} s; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    for r in (base, result):
        print("  ".join(f"{k} {v}" for k, v in r.items()))
    extra = (result["wall_s"] - base["wall_s"]) * args.concurrency / args.n * 1000
    print(f"harness minus bare: {extra:.2f} ms per request slot")
    run_ratio = run["translate_s"] / ideal
    print(
        f"harness run (fresh process, cache and scoring included): translate phase "
        f"{run['translate_s']:.2f} s ({run_ratio:.3f}x ideal), whole process "
        f"{run['process_wall_s']:.2f} s"
    )
    ok = result["ratio_to_ideal"] <= 1.25 and run_ratio <= 1.25
    print(f"harness within 1.25x of ideal: {'yes' if ok else 'NO'}")
    if args.json:
        rows = {
            "ideal_s": ideal,
            "rows": [base, result],
            "harness_minus_bare_ms": extra,
            "harness_run": run,
        }
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
