"""Wall time of `harness run` in 1 process and under torchrun in N processes, side by side.

Each run gets a fresh cache dir (so every segment is translated) and its own output dir; the
runs alternate, and the script checks that every run folder holds the same hypotheses.

Usage: python scripts/bench_processes.py [--config configs/smoke.yaml] [--procs 2]
       [--repeat 3] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "smoke.yaml")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    if args.config.name == "smoke.yaml" and not (REPO / "models" / "tiny-marian-en-vi").is_dir():
        subprocess.run([sys.executable, "scripts/make_tiny_model.py"], check=True, cwd=REPO)
    sets = [x for o in args.overrides for x in ("--set", o)]
    harness = ["-m", "harness", "run", str(args.config), "-q", *sets]
    commands = {
        "1 process": [sys.executable, *harness],
        f"{args.procs} processes": [
            *(sys.executable, "-m", "torch.distributed.run", "--standalone"),
            *("--nproc-per-node", str(args.procs), *harness),
        ],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    outputs: dict[str, set[str]] = {}  # leaf -> the hypotheses every run wrote there
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for name, command in commands.items():
                work = Path(tmp) / f"{i}-{name.split()[0]}"
                env = {
                    **os.environ,
                    "HARNESS_CACHE_DIR": str(work / "cache"),
                    "PYTHONPATH": str(REPO),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
                }
                out = ["--set", f"output_dir={work / 'runs'}"]
                start = time.perf_counter()
                subprocess.run([*command, *out], env=env, check=True, stdout=subprocess.DEVNULL)
                times[name].append(time.perf_counter() - start)
                for p in (work / "runs").rglob("hypotheses.txt"):
                    leaf = p.relative_to(work / "runs").as_posix()
                    outputs.setdefault(leaf, set()).add(p.read_text(encoding="utf-8"))
    print(f"{args.config} ({os.cpu_count()} CPUs), {args.repeat} runs each, wall seconds:")
    print("| launch | median | min | max |\n|---|---:|---:|---:|")
    for name, values in times.items():
        print(
            f"| {name} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} |"
        )
    print("same hypotheses in every run:", all(len(v) == 1 for v in outputs.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
