"""Time ``harness compare`` against ``sacrebleu --paired-bs`` on NTREX-128 (1,997 segments).

    .venv/bin/python scripts/bench_compare.py [--data ../shared/data/ntrex128] [--out DIR]

NTREX-128 is not in the repository: ``--data`` is a folder with ``newstest2019-src.eng.txt`` and
``newstest2019-ref.vie.txt`` from https://github.com/MicrosoftTranslator/NTREX (``NTREX-128/``).

The four "systems" are the NTREX-128 Vietnamese reference perturbed at noise levels 10, 10,
10.5 and 13 % (that share of words dropped or replaced by a random corpus word, half as many
swapped with their neighbour; ``random.Random(k * 100000 + i)`` for system k, segment i, so
every run builds the same files). Each is written as a finished run folder through
``harness.metrics.evaluate`` (BLEU and chrF, 1,000 bootstrap resamples) and ``save_stats``,
laid out as docs/run-folder.md says.

Then it times, on the same machine and the same outputs:

* ``compare_runs`` + ``render_comparison`` in-process (median of 5), and
* ``python -m harness compare RUN1..RUN4 --metrics bleu,chrf`` as a subprocess (median of 3),
* ``python -m sacrebleu REF -i SYS1..SYS4 -m bleu chrf --paired-bs -f text -w 4`` (once; the
  width only changes how many decimals it prints),

and prints the times, the ratios, and means / intervals / p-values side by side.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import store  # noqa: E402
from harness.compare import compare_runs, render_comparison  # noqa: E402
from harness.metrics import evaluate  # noqa: E402
from harness.score_files import read_lines  # noqa: E402
from harness.segments import Segment, fingerprint  # noqa: E402
from harness.textnorm import NormalizationSpec, normalize_boundary  # noqa: E402

# Close levels on purpose: sys2 is sys1's noise level with other draws (no real difference),
# sys3 a little noisier, sys4 clearly noisier, so the p-values are not all at their floor.
LEVELS = (0.10, 0.10, 0.105, 0.13)
METRICS = ("bleu", "chrf")


def perturb(text: str, rng: random.Random, vocab: list[str], rate: float) -> str:
    words, out = text.split(), []
    for word in words:
        r = rng.random()
        if r >= rate:
            out.append(word)
        elif r >= rate / 2:
            out.append(rng.choice(vocab))
    for i in range(len(out) - 1):
        if rng.random() < rate / 2:
            out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out) or (words[0] if words else "")


def build_runs(data: Path, out: Path) -> tuple[Path, list[Path], list[Path]]:
    """Write the reference, 4 system files and 4 run folders; return their paths."""
    src = read_lines(data / "newstest2019-src.eng.txt")
    # NFC like the harness's dataset loaders (one NTREX reference line has a decomposed
    # character), so sacrebleu reads exactly the text the run folders were scored on.
    ref = [normalize_boundary(r) for r in read_lines(data / "newstest2019-ref.vie.txt")]
    segments = [
        Segment(f"ntrex-{i}", s, (r,)) for i, (s, r) in enumerate(zip(src, ref, strict=True))
    ]
    vocab = sorted({w for line in ref for w in line.split()})
    ref_file = out / "ref.vi.txt"
    store.write_lines_atomic(ref_file, ref)
    sys_files, run_dirs = [], []
    for k, level in enumerate(LEVELS, start=1):
        hyps = [perturb(r, random.Random(k * 100_000 + i), vocab, level) for i, r in enumerate(ref)]
        sys_files.append(store.write_lines_atomic(out / f"sys{k}.vi.txt", hyps))
        ev = evaluate(hyps, [[r] for r in ref], METRICS, NormalizationSpec(), 1000, 12345)
        leaf = out / f"run{k}" / f"sys{k}" / "ntrex128"
        store.write_jsonl_atomic(
            leaf / "segments.jsonl",
            (
                {**s.to_json(), "hypothesis": h, "chrf": round(c, 4)}
                for s, h, c in zip(segments, hyps, ev.segment_chrf, strict=True)
            ),
        )
        store.write_lines_atomic(leaf / "hypotheses.txt", hyps)
        ev.save_stats(leaf / "stats.npz")
        store.write_json_atomic(
            leaf / "results.json",
            {
                "schema_version": 1,
                "run": f"run{k}",
                "model": {"name": f"sys{k}"},
                "dataset": {
                    "name": "ntrex128",
                    "fingerprint": fingerprint(segments),
                    "segments": len(segments),
                },
                "normalization": ev.normalization_json(),
                "scores": ev.to_json(),
            },
        )
        run_dirs.append(out / f"run{k}")
    return ref_file, sys_files, run_dirs


def time_in_process(run_dirs: list[Path], repeats: int = 5):
    times, comparison = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        comparison = compare_runs(run_dirs, "sys1", list(METRICS), 1000, 12345, "bootstrap")
        render_comparison(comparison, "markdown")
        times.append(time.perf_counter() - start)
    return statistics.median(times), comparison


def time_cli(cmd: list[str], repeats: int, env: dict[str, str]) -> tuple[float, str]:
    times, stdout = [], ""
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, check=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - start)
        stdout = done.stdout.decode("utf-8")
    return statistics.median(times), stdout


_CELL = re.compile(r"([\d.]+) \(([\d.]+) ± ([\d.]+)\)")
_P = re.compile(r"\(p = ([\d.]+)\)")


def parse_sacrebleu(table: str) -> dict[str, dict[str, tuple]]:
    """{system: {metric: (score, mean, ci, p)}} from sacrebleu's fancy_grid output."""
    parsed: dict[str, dict[str, tuple]] = {}
    current = None
    for line in table.splitlines():
        if "│" not in line or "System" in line:
            continue
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if cells[0]:
            current = Path(cells[0].removeprefix("Baseline: ")).stem.split(".")[0]
            parsed[current] = {
                m: (*map(float, _CELL.match(c).groups()), None)
                for m, c in zip(METRICS, cells[1:], strict=True)
            }
        elif current:
            for m, c in zip(METRICS, cells[1:], strict=True):
                p = _P.search(c)
                parsed[current][m] = (*parsed[current][m][:3], float(p.group(1)) if p else None)
    return parsed


def side_by_side(comparison, sacre: dict[str, dict[str, tuple]]) -> str:
    d = comparison.datasets[0]
    lines = [f"{'system':8} {'metric':6} {'harness score (mean ± ci) p':44} sacrebleu"]
    for m in d.metrics:
        for label, r in m.results.items():
            p = "" if r.p_bootstrap is None else f"p={r.p_bootstrap:.4f}"
            ours = f"{r.score:.4f} ({r.interval.mean:.4f} ± {r.interval.plus_minus:.4f}) {p}"
            s = sacre.get(label, {}).get(m.metric)
            theirs = (
                "-"
                if s is None
                else (
                    f"{s[0]:.4f} ({s[1]:.4f} ± {s[2]:.4f})"
                    + ("" if s[3] is None else f" p={s[3]:.4f}")
                )
            )
            lines.append(f"{label:8} {m.metric:6} {ours:44} {theirs}")
    return "\n".join(lines)


# A clone has no ../shared/data: say where the data comes from instead of failing bare.
NTREX_MISSING = """\
bench_compare: NTREX-128 not found in {folder}
It is not in the repository: get newstest2019-src.eng.txt and newstest2019-ref.vie.txt from
the NTREX-128 folder of https://github.com/MicrosoftTranslator/NTREX (CC BY-SA 4.0), e.g.
  git clone --depth 1 https://github.com/MicrosoftTranslator/NTREX /tmp/NTREX
and pass --data /tmp/NTREX/NTREX-128
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "ntrex128")
    parser.add_argument("--out", type=Path, default=None, help="keep the run folders here")
    args = parser.parse_args(argv)
    if not (args.data / "newstest2019-ref.vie.txt").is_file():
        parser.exit(2, NTREX_MISSING.format(folder=args.data))
    if args.out:
        return run(args.data, args.out)
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        return run(args.data, Path(tmp))


def run(data: Path, out: Path) -> int:
    start = time.perf_counter()
    ref_file, sys_files, run_dirs = build_runs(data, out)
    print(f"built 4 runs in {out} ({time.perf_counter() - start:.1f} s)")
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    in_proc, comparison = time_in_process(run_dirs)
    cli_cmd = [
        sys.executable,
        "-m",
        "harness",
        "compare",
        *map(str, run_dirs),
        "--baseline",
        "sys1",
        "--metrics",
        ",".join(METRICS),
        "--resamples",
        "1000",
        "--seed",
        "12345",
    ]
    via_cli, _ = time_cli(cli_cmd, 3, env)
    sacre_cmd = [
        sys.executable,
        "-m",
        "sacrebleu",
        str(ref_file),
        "-i",
        *map(str, sys_files),
        "-m",
        *METRICS,
        "--paired-bs",
        "-f",
        "text",
        "-q",
        "-w",
        "4",
    ]
    sacre_s, sacre_out = time_cli(sacre_cmd, 1, env)
    print(f"harness compare, in-process (median of 5): {in_proc:.3f} s")
    print(f"python -m harness compare (median of 3):   {via_cli:.3f} s")
    print(f"sacrebleu --paired-bs -f text -w 4:        {sacre_s:.3f} s")
    print(f"ratio in-process / sacrebleu: {in_proc / sacre_s:.4f} (1/{sacre_s / in_proc:.0f})")
    print(f"ratio CLI / sacrebleu:        {via_cli / sacre_s:.4f} (1/{sacre_s / via_cli:.0f})")
    print()
    print(side_by_side(comparison, parse_sacrebleu(sacre_out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
