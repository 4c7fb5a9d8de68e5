"""The validity checks on human references: length bands, and every flag's false alarms.

    .venv/bin/python scripts/measure_validity.py [--data ../shared/data]

Part 1, the ``length_ratio`` band.
On every NTREX-128 and IWSLT'15 tst2013 pair, a reference of r characters for a source of n is
outside the band (low, high, slack) when r < low*n - slack or r > high*n + slack. The chosen band
(harness.validity.checks.LENGTH_*) should leave almost every human reference inside: the check
is meant for broken output (dropped content, loops, chatter), not for free translations.

Part 2: every text check run on the references as if they were system output (each a correct
translation, so every flag raised is a false alarm), with the checks' speed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.validity import checks  # noqa: E402

CANDIDATES = [(0.5, 2.0, 0), (0.6, 1.8, 0), (0.5, 2.0, 10), (0.6, 1.8, 15), (0.7, 1.6, 15)]


def pairs(data: Path) -> list[tuple[str, str]]:
    files = [
        ("ntrex128/newstest2019-src.eng.txt", "ntrex128/newstest2019-ref.vie.txt"),
        ("iwslt15-tst2013/tst2013.en", "iwslt15-tst2013/tst2013.vi"),
    ]
    out = []
    for src, ref in files:
        s = (data / src).read_text("utf-8").splitlines()
        r = (data / ref).read_text("utf-8").splitlines()
        out += [
            (a.strip(), b.strip()) for a, b in zip(s, r, strict=True) if a.strip() and b.strip()
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    data = pairs(parser.parse_args().data)
    chosen = (checks.LENGTH_LOW, checks.LENGTH_HIGH, checks.LENGTH_SLACK)
    print(f"{len(data)} pairs; chosen band {chosen}")
    for low, high, slack in [*CANDIDATES, chosen]:
        out = [
            (s, r) for s, r in data if not low * len(s) - slack <= len(r) <= high * len(s) + slack
        ]
        print(
            f"low {low} high {high} slack {slack}: {len(out)} outside ({len(out) / len(data):.2%})"
        )
    checks.segment_flags("warm up", "Khởi động mô hình nhận dạng ngôn ngữ.")
    start = time.perf_counter()
    flags = [checks.segment_flags(s, r) for s, r in data]
    seconds = time.perf_counter() - start
    counts = Counter(f for fl in flags for f in fl)
    flagged = sum(bool(fl) for fl in flags)
    print(f"references flagged: {flagged} of {len(data)}; by flag: {dict(counts)}")
    print(f"checks: {len(data) / seconds:.0f} segments/s")
    for (s, r), fl in zip(data, flags, strict=True):
        if fl:
            print(f"  {fl}: {s[:60]!r} -> {r[:60]!r}")


if __name__ == "__main__":
    main()
