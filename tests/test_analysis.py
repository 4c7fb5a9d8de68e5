"""Error analysis: bucket scores equal sacrebleu's corpus scores on each bucket's segments;
rankings and pairwise differences follow sacrebleu's sentence scores."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import sacrebleu

from harness import store
from harness.analysis import (
    SegmentScores,
    analysis_markdown,
    bucket_labels,
    dataset_analysis,
    largest_differences,
    length_buckets,
    worst_segments,
)
from harness.cli import main
from harness.metrics.evaluate import evaluate
from harness.textnorm import NormalizationSpec

VI_WORDS = [
    "tôi",
    "bạn",
    "nhà",
    "trường",
    "sách",
    "người",
    "nước",
    "ngày",
    "năm",
    "mới",
    "đẹp",
    "lớn",
    "nhỏ",
    "đi",
    "về",
    "có",
    "là",
    "của",
]
EN_WORDS = [
    "the",
    "a",
    "house",
    "school",
    "book",
    "people",
    "water",
    "day",
    "year",
    "new",
    "big",
    "small",
    "go",
    "come",
    "have",
]


def _corpus(seed: int = 7, n: int = 45) -> tuple[list[str], list[str], list[str], list[str]]:
    """Sources of 3..67 words; references; two systems dropping/replacing words at random."""
    rng = random.Random(seed)
    sources, refs, sys_a, sys_b = [], [], [], []
    for i in range(n):
        length = (3, 12, 25, 33, 45, 55, 65)[i % 7] + i % 3  # every bucket gets some
        sources.append(" ".join(rng.choice(EN_WORDS) for _ in range(length)))
        ref = [rng.choice(VI_WORDS) for _ in range(max(1, length - rng.randint(0, 3)))]
        refs.append(" ".join(ref))
        for out, noise in ((sys_a, 0.2), (sys_b, 0.4)):
            out.append(" ".join(w if rng.random() > noise else rng.choice(VI_WORDS) for w in ref))
    return sources, refs, sys_a, sys_b


def test_bucket_scores_equal_sacrebleu_on_each_bucket() -> None:
    sources, refs, hyps, _ = _corpus()
    ev = evaluate(hyps, [[r] for r in refs], ["bleu", "chrf", "ter"], NormalizationSpec(), 0)
    buckets = length_buckets(sources, ev.stats)
    assert [b["bucket"] for b in buckets] == [label for label, _, _ in bucket_labels()]
    assert [b["bucket"] for b in buckets][:2] == ["<10", "10-19"]
    assert sum(b["segments"] for b in buckets) == len(sources)
    for b in buckets:
        hi = b["max_words"] if b["max_words"] is not None else 10**9
        idx = [i for i, s in enumerate(sources) if b["min_words"] <= len(s.split()) <= hi]
        assert b["segments"] == len(idx) > 0
        sub_h, sub_r = [hyps[i] for i in idx], [[refs[i] for i in idx]]
        assert b["scores"]["bleu"] == pytest.approx(sacrebleu.corpus_bleu(sub_h, sub_r).score)
        assert b["scores"]["chrf"] == pytest.approx(sacrebleu.corpus_chrf(sub_h, sub_r).score)
        assert b["scores"]["ter"] == pytest.approx(sacrebleu.corpus_ter(sub_h, sub_r).score)


def test_an_empty_bucket_has_no_scores() -> None:
    stats = {"chrf": np.ones((2, 18), dtype=np.int64)}
    buckets = length_buckets(["one two", "three"], stats)
    assert buckets[0]["segments"] == 2 and buckets[-1] == {
        "bucket": ">=60",
        "min_words": 60,
        "max_words": None,
        "segments": 0,
        "scores": {},
    }


def test_worst_segments_and_largest_differences_follow_sentence_scores() -> None:
    _, refs, sys_a, sys_b = _corpus(n=30)
    ids = [f"s{i}" for i in range(len(refs))]
    chrf_a = [sacrebleu.sentence_chrf(h, [r]).score for h, r in zip(sys_a, refs, strict=True)]
    chrf_b = [sacrebleu.sentence_chrf(h, [r]).score for h, r in zip(sys_b, refs, strict=True)]
    worst = worst_segments(ids, {"chrf": SegmentScores(chrf_a)}, k=3)["chrf"]
    assert [w["score"] for w in worst] == sorted(chrf_a)[:3]
    assert all(ids[w["index"]] == w["id"] for w in worst)
    ter = [sacrebleu.sentence_ter(h, [r]).score for h, r in zip(sys_a, refs, strict=True)]
    worst_ter = worst_segments(ids, {"ter": SegmentScores(ter, higher_is_better=False)}, k=2)
    assert [w["score"] for w in worst_ter["ter"]] == sorted(ter, reverse=True)[:2]
    diffs = largest_differences(ids, SegmentScores(chrf_a), SegmentScores(chrf_b), k=5)
    expected = sorted(range(len(ids)), key=lambda i: -abs(chrf_b[i] - chrf_a[i]))[:5]
    assert [d["index"] for d in diffs] == expected
    assert diffs[0]["difference"] == pytest.approx(chrf_b[expected[0]] - chrf_a[expected[0]])
    with pytest.raises(ValueError, match="segment scores for"):
        largest_differences(ids, SegmentScores(chrf_a[:-1]), SegmentScores(chrf_b))


def _write_leaf(run: Path, model: str, sources, refs, hyps) -> Path:
    """A finished leaf written the way the runner writes it (results, segments, stats)."""
    leaf = run / model / "synthetic"
    leaf.mkdir(parents=True)
    ev = evaluate(hyps, [[r] for r in refs], ["bleu", "chrf"], NormalizationSpec(), 0)
    ev.save_stats(leaf / "stats.npz")
    rows = [
        {"id": str(i + 1), "source": s, "references": [r], "hypothesis": h, "chrf": c}
        for i, (s, r, h, c) in enumerate(zip(sources, refs, hyps, ev.segment_chrf, strict=True))
    ]
    store.write_jsonl_atomic(leaf / "segments.jsonl", rows)
    results = {
        "schema_version": store.SCHEMA_VERSION,
        "run": run.name,
        "model": {"name": model},
        "dataset": {"name": "synthetic", "fingerprint": "f" * 64, "segments": len(hyps)},
        "scores": ev.to_json(),
    }
    store.write_json_atomic(leaf / "results.json", results)
    return leaf


def test_compare_reports_buckets_worst_segments_and_pairwise_differences(tmp_path, capsys):
    sources, refs, sys_a, sys_b = _corpus(n=40)
    run = tmp_path / "run"
    leaf_a = _write_leaf(run, "a", sources, refs, sys_a)
    _write_leaf(run, "b", sources, refs, sys_b)
    assert main(["compare", str(run), "--format", "json", "--resamples", "20"]) == 0
    analysis = json.loads(capsys.readouterr().out)["datasets"][0]["analysis"]
    assert set(analysis["length_buckets"]["systems"]) == {"a", "b"}
    bucket = analysis["length_buckets"]["systems"]["a"][1]
    idx = [i for i, s in enumerate(sources) if 10 <= len(s.split()) <= 19]
    sub = sacrebleu.corpus_chrf([sys_a[i] for i in idx], [[refs[i] for i in idx]]).score
    assert bucket["scores"]["chrf"] == pytest.approx(sub)
    (pair,) = analysis["differences"]
    assert (pair["a"], pair["b"], pair["metric"]) == ("a", "b", "chrf")
    chrf = {
        name: [sacrebleu.sentence_chrf(h, [r]).score for h, r in zip(hyps, refs, strict=True)]
        for name, hyps in (("a", sys_a), ("b", sys_b))
    }
    top = max(range(len(refs)), key=lambda i: (abs(chrf["b"][i] - chrf["a"][i]), -i))
    assert pair["segments"][0]["id"] == str(top + 1)
    assert analysis["worst_segments"]["b"]["chrf"][0]["score"] == pytest.approx(min(chrf["b"]))
    assert main(["compare", str(run), "--resamples", "20"]) == 0
    text = capsys.readouterr().out
    assert "Scores by source length (chrF2" in text and "| a | " in text
    assert f"Largest segment chrF2 differences, b − a:\n- {top + 1}: " in text
    direct = dataset_analysis([("a", leaf_a, {})])
    assert direct["differences"] == [] and analysis_markdown({}) == ""
