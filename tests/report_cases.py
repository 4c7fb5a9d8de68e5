"""Run folders for the report tests, written directly (no model, no scoring): three systems on
one dataset, per-segment scores and flags given by simple rules, so that a test can compute
what the page must show from these rules independently of the report code.

Strings that would run script if any part of the report inserted them as markup go through
every field: model and dataset names, sources, references and outputs. Each payload would set
``window.__pwned``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import store

HOSTILE = (
    "<script>window.__pwned='script'</script>",
    '"><img src=x onerror="window.__pwned=\'img\'">',
    "</script><script>window.__pwned='close'</script>",
    "<!-- <svg onload=\"window.__pwned='svg'\"> -->",
    "'><iframe srcdoc=\"<script>parent.__pwned='iframe'</script>\">",
)
SYSTEMS = ("sys-a", "sys-b", HOSTILE[1] + "sys-c")
DATASET = "ds" + HOSTILE[0]
N_SEGMENTS = 60
SIG = "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0|textnorm:nfc"


def source(i: int) -> str:
    text = f"Source sentence number {i} about topic {i % 7}."
    return text + (" " + HOSTILE[0] if i == 1 else "")


def reference(i: int) -> str:
    return f"Câu tham chiếu số {i} về chủ đề {i % 7}." + (" " + HOSTILE[2] if i == 2 else "")


def output(k: int, i: int) -> str:
    text = f"Câu dịch {k} số {i} về chủ đề {i % 7}."
    if (k, i) == (0, 3):
        text += " " + HOSTILE[1]
    if (k, i) == (2, 4):
        text += " " + HOSTILE[3] + " " + HOSTILE[4]
    return text


def chrf(k: int, i: int) -> float:
    """Distinct per system and segment, so sort orders are unambiguous."""
    return round(((i * 37 + k * 11) % 97) + k * 0.01 + i * 0.0001, 4)


def flags(k: int, i: int) -> list[str]:
    out = []
    if k == 0 and i % 10 == 3:
        out.append("truncated")
    if k == 1 and i % 15 == 0:
        out.append("repetition")
    if k == 2 and i % 20 == 7:
        out += ["off_target", "length_ratio"]
    return out


def _validity(k: int) -> dict[str, Any]:
    names = ("empty", "untranslated", "off_target", "repetition", "chatter", "length_ratio")
    names += ("truncated", "source_truncated")
    ids = {f: [str(i) for i in range(N_SEGMENTS) if f in flags(k, i)] for f in names}
    return {
        "counts": {f: len(v) for f, v in ids.items()},
        "segments": ids,
        "flagged_segments": sum(1 for i in range(N_SEGMENTS) if flags(k, i)),
        "total_segments": N_SEGMENTS,
    }


def _analysis(k: int) -> dict[str, Any]:
    buckets = [
        {"bucket": "<10", "min_words": 0, "max_words": 9, "segments": N_SEGMENTS,
         "scores": {"chrf": 40.0 + k, "bleu": 10.0 + k}},
        {"bucket": "10-19", "min_words": 10, "max_words": 19, "segments": 0, "scores": {}},
    ]  # fmt: skip
    return {"length_buckets": {"by": "source words", "edges": [10], "buckets": buckets}}


def write_run(root: Path, with_validity: bool = True) -> Path:
    """A finished run folder ``root/run`` with one leaf per system; returns the run folder."""
    run = root / "run"
    for k, name in enumerate(SYSTEMS):
        leaf = run / f"m{k}" / "ds"
        rows = [
            {
                "id": str(i),
                "source": source(i),
                "references": [reference(i)],
                "hypothesis": output(k, i),
                "chrf": chrf(k, i),
                **({"flags": flags(k, i)} if with_validity else {}),
            }
            for i in range(N_SEGMENTS)
        ]
        store.write_jsonl_atomic(leaf / "segments.jsonl", rows)
        results: dict[str, Any] = {
            "schema_version": store.SCHEMA_VERSION,
            "run": "run",
            "model": {"name": name, "model": f"/models/{name}", "revision": "sha256:" + "ab" * 32},
            "dataset": {"name": DATASET, "fingerprint": "f" * 64, "segments": N_SEGMENTS},
            "scores": {
                "chrf": {"score": 40.0 + k, "plus_minus": 1.5, "signature": SIG},
                "bleu": {"score": 10.0 + 2 * k, "plus_minus": 0.8, "signature": "nrefs:1"},
            },
            "significance": {
                "baseline": SYSTEMS[0],
                "is_baseline": k == 0,
                "metrics": {
                    m: {"p_bootstrap_holm": None if k == 0 else 0.01 * k, "p_ar_holm": 0.02}
                    for m in ("chrf", "bleu")
                },
            },
            "environment": {"harness_version": "0.1.0", "python": "3.11.7"},
        }
        if with_validity:
            results["validity"] = _validity(k)
            results["analysis"] = _analysis(k)
        store.write_json_atomic(leaf / "results.json", results)
    return run
