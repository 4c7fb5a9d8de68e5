"""Time to open a 20,000-segment HTML report in headless Chromium, and to filter and sort it.

    .venv/bin/python scripts/bench_report.py [--segments 20000] [--systems 3] [--repeats 3]
                                            [--data ../shared/data] [--out DIR]

The dataset is the 3,264 real EN-VI pairs of NTREX-128 and IWSLT'15 tst2013 cycled to
``--segments`` (ids made unique). Each system is the reference perturbed as in
scripts/bench_compare.py (noise 10, 15, 20 %; ``random.Random(k * 100000 + i)``); every 40th
output of system 2 is cut in half and flagged ``truncated``, every 50th of system 3 gets a
repeated tail and is flagged ``repetition``, so the flag filter has something to show. Each
system is scored for real (``harness.metrics.evaluate``, chrF, no bootstrap) and written as a
run folder; then ``harness.report.run_reports.write_report`` writes one report of all of them.

Measured (medians over ``--repeats`` loads, each in a fresh Chromium process):

* the report's size, and the seconds Python takes to write it;
* Chromium: from ``Page.navigate`` to the load event (the inline script has parsed the data and
  rendered the first page by then), and the script's own finish time (``performance.now()``);
* in the page: typing a filter word (re-filters all segments) and sorting by the difference
  between two systems (re-sorts all of them), each including the re-render.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))  # bench_compare, however this script is started

from bench_compare import perturb  # noqa: E402

from harness import store  # noqa: E402
from harness.devtools.chromium import Browser, chromium_version, find_chromium  # noqa: E402
from harness.metrics import evaluate  # noqa: E402
from harness.report.run_reports import write_report  # noqa: E402
from harness.score_files import read_lines  # noqa: E402
from harness.segments import Segment, fingerprint  # noqa: E402
from harness.textnorm import NormalizationSpec, normalize_boundary  # noqa: E402

LEVELS = (0.10, 0.15, 0.20)


def load_pairs(data: Path) -> list[tuple[str, str]]:
    pairs = []
    ntrex, iwslt = data / "ntrex128", data / "iwslt15-tst2013"
    for src, ref in (
        (ntrex / "newstest2019-src.eng.txt", ntrex / "newstest2019-ref.vie.txt"),
        (iwslt / "tst2013.en", iwslt / "tst2013.vi"),
    ):
        en, vi = read_lines(src), read_lines(ref)
        pairs += [
            (normalize_boundary(e), normalize_boundary(v)) for e, v in zip(en, vi, strict=True)
        ]
    return [(e, v) for e, v in pairs if e.strip() and v.strip()]


def system_output(k: int, i: int, ref: str, vocab: list[str]) -> tuple[str, list[str]]:
    hyp = perturb(ref, random.Random(k * 100_000 + i), vocab, LEVELS[(k - 1) % len(LEVELS)])
    if k == 2 and i % 40 == 0:
        return hyp[: len(hyp) // 2], ["truncated"]
    if k == 3 and i % 50 == 0:
        tail = " ".join(hyp.split()[-2:])
        return " ".join([hyp] + [tail] * 6), ["repetition"]
    return hyp, []


def build_runs(data: Path, out: Path, n: int, n_systems: int) -> list[Path]:
    pairs = load_pairs(data)
    segments = []
    for i in range(n):
        en, vi = pairs[i % len(pairs)]
        segments.append(Segment(f"{i % len(pairs)}#{i // len(pairs)}", en, (vi,)))
    refs = [s.references[0] for s in segments]
    vocab = sorted({w for r in refs[: len(pairs)] for w in r.split()})
    runs = []
    for k in range(1, n_systems + 1):
        made = [system_output(k, i, r, vocab) for i, r in enumerate(refs)]
        hyps = [h for h, _ in made]
        started = time.perf_counter()
        ev = evaluate(hyps, [[r] for r in refs], ("chrf",), NormalizationSpec(), 0, 12345)
        print(f"scored sys{k}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        leaf = out / f"run{k}" / f"sys{k}" / "bench"
        store.write_jsonl_atomic(
            leaf / "segments.jsonl",
            (
                {**s.to_json(), "hypothesis": h, "chrf": round(c, 4), "flags": f}
                for s, (h, f), c in zip(segments, made, ev.segment_chrf, strict=True)
            ),
        )
        flagged = {
            name: [s.id for s, (_, f) in zip(segments, made, strict=True) if name in f]
            for name in ("truncated", "repetition")
        }
        store.write_json_atomic(
            leaf / "results.json",
            {
                "schema_version": store.SCHEMA_VERSION,
                "run": f"run{k}",
                "model": {"name": f"sys{k}"},
                "dataset": {"name": "bench", "fingerprint": fingerprint(segments), "segments": n},
                "scores": ev.to_json(),
                "validity": {
                    "counts": {name: len(ids) for name, ids in flagged.items()},
                    "segments": flagged,
                },
            },
        )
        runs.append(out / f"run{k}")
    return runs


_INTERACT = """
(async () => {
  const view = '#browser-d0';
  const settle = () => new Promise(r => setTimeout(r, 0));
  const q = document.querySelector(view + ' .q');
  let t = performance.now();
  window.__report.views.d0.set({text: 'the'});  // what the debounced input handler calls
  const filter = performance.now() - t;
  const matched = +document.querySelector(view + ' .status').dataset.count;
  window.__report.views.d0.set({text: ''});
  const sort = document.querySelector(view + ' .sort');
  t = performance.now();
  sort.value = 'diff'; sort.dispatchEvent(new Event('change'));
  const sorted = performance.now() - t;
  await settle();
  return {filter, sorted, matched, q: !!q};
})()
"""


def measure(path: Path, repeats: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"load": [], "script": [], "filter": [], "sort": []}
    for _ in range(repeats):
        with Browser(width=1400, height=900) as browser:
            out["load"].append(browser.goto(path.as_uri(), timeout=120))
            if browser.console_errors():
                raise SystemExit(f"errors in the page: {browser.console_errors()}")
            out["script"].append(browser.evaluate("window.__report.ready") / 1000)
            shown = browser.evaluate("document.querySelectorAll('article.seg').length")
            result = browser.evaluate(_INTERACT, await_promise=True)
            out["filter"].append(result["filter"] / 1000)
            out["sort"].append(result["sorted"] / 1000)
    out["shown"] = [shown]
    out["matched"] = [result["matched"]]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segments", type=int, default=20_000)
    parser.add_argument("--systems", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=None, help="keep the runs and report here")
    args = parser.parse_args()
    exe = find_chromium()
    if exe is None:
        raise SystemExit("no Chromium found: apt-get install -y chromium")
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-report-"))
    runs = build_runs(args.data, out, args.segments, args.systems)
    started = time.perf_counter()
    report = write_report(runs, out / "report.html", "bench")
    write_seconds = time.perf_counter() - started
    times = measure(report, args.repeats)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{chromium_version(exe)}; {args.segments:,} segments × {args.systems} systems")
    print(
        f"report: {report} ({report.stat().st_size / 1e6:.1f} MB), written in {write_seconds:.2f} s"
    )
    each = ", ".join(f"{t:.2f}" for t in times["load"])
    print(f"open (navigate → load event), median of {args.repeats}: {med['load']:.2f} s ({each})")
    print(f"  report script done at {med['script']:.2f} s; {int(med['shown'])} segments rendered")
    print(
        f"filter 'the' over all segments: {med['filter'] * 1000:.0f} ms "
        f"({int(med['matched']):,} match); sort by difference B − A: {med['sort'] * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
