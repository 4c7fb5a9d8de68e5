"""Error analysis: scores by source length, worst segments, largest differences between systems.

Bucket scores are exact corpus scores of each bucket's segments: the bucket's per-segment
sufficient statistics (harness.metrics.stats) are summed and scored, as sacrebleu's
``corpus_score`` on that subset would. Buckets follow compare-mt's sentence-length buckets
(cut-offs 10, 20, ..., 60), counted in whitespace-separated source words.

Segment-level rankings take any per-segment scores (sentence chrF here; a neural metric's
segment scores fit the same way) with their direction, via :class:`SegmentScores`.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import RunFolderError
from harness.metrics.registry import get_metric

if TYPE_CHECKING:
    from harness.metrics.evaluate import Evaluation
    from harness.segments import Segment

BUCKET_EDGES = (10, 20, 30, 40, 50, 60)
TOP_K = 10


@dataclass(frozen=True)
class SegmentScores:
    """One score per segment (input order) and whether higher is better."""

    values: Sequence[float]
    higher_is_better: bool = True


def bucket_labels(edges: Sequence[int] = BUCKET_EDGES) -> list[tuple[str, int, int | None]]:
    """(label, min words, max words or None) per bucket: ``<10``, ``10-19``, ..., ``>=60``."""
    out: list[tuple[str, int, int | None]] = [(f"<{edges[0]}", 0, edges[0] - 1)]
    out += [(f"{lo}-{hi - 1}", lo, hi - 1) for lo, hi in pairwise(edges)]
    return [*out, (f">={edges[-1]}", edges[-1], None)]


def bucket_index(sources: Sequence[str], edges: Sequence[int] = BUCKET_EDGES) -> np.ndarray:
    """The bucket of each source, by its number of whitespace-separated words."""
    return np.array([bisect.bisect_right(edges, len(s.split())) for s in sources], dtype=int)


def length_buckets(
    sources: Sequence[str],
    stats: Mapping[str, np.ndarray],
    edges: Sequence[int] = BUCKET_EDGES,
) -> list[dict[str, Any]]:
    """Per bucket: its label, word range, segment count and the corpus score of every metric
    in ``stats`` (``{}`` for an empty bucket)."""
    index = bucket_index(sources, edges)
    for name, array in stats.items():
        if len(array) != len(sources):
            raise ValueError(f"{name}: {len(array)} statistics rows for {len(sources)} sources")
    rows = []
    for b, (label, lo, hi) in enumerate(bucket_labels(edges)):
        mask = index == b
        n = int(mask.sum())
        scores = {
            name: float(
                get_metric(name).scores_from_totals(array[mask].sum(axis=0, keepdims=True))[0]
            )
            for name, array in stats.items()
        }
        rows.append(
            {
                "bucket": label,
                "min_words": lo,
                "max_words": hi,
                "segments": n,
                "scores": scores if n else {},
            }
        )
    return rows


def worst_segments(
    ids: Sequence[str], scores: Mapping[str, SegmentScores], k: int = TOP_K
) -> dict[str, list[dict[str, Any]]]:
    """Per metric, the ``k`` worst segments (lowest, or highest where lower is better);
    ties in input order."""
    out = {}
    for name, seg in scores.items():
        values = _aligned(ids, seg, name)
        sign = 1.0 if seg.higher_is_better else -1.0
        order = sorted(range(len(ids)), key=lambda i: (sign * values[i], i))[:k]
        out[name] = [{"id": ids[i], "index": i, "score": values[i]} for i in order]
    return out


def largest_differences(
    ids: Sequence[str], a: SegmentScores, b: SegmentScores, k: int = TOP_K
) -> list[dict[str, Any]]:
    """The ``k`` segments where ``b - a`` is largest in absolute value (zero differences left
    out; ties in input order). ``difference`` is ``b - a`` as scored, whatever the direction."""
    va, vb = _aligned(ids, a, "a"), _aligned(ids, b, "b")
    diffs = [y - x for x, y in zip(va, vb, strict=True)]
    order = sorted((i for i in range(len(ids)) if diffs[i] != 0), key=lambda i: (-abs(diffs[i]), i))
    return [
        {"id": ids[i], "index": i, "a": va[i], "b": vb[i], "difference": diffs[i]}
        for i in order[:k]
    ]


def _aligned(ids: Sequence[str], seg: SegmentScores, name: str) -> list[float]:
    if len(seg.values) != len(ids):
        raise ValueError(f"{name}: {len(seg.values)} segment scores for {len(ids)} segments")
    return [float(v) for v in seg.values]


def analyse_leaf(
    segments: Sequence[Segment],
    evaluation: Evaluation,
    extra_scores: Mapping[str, SegmentScores] | None = None,
) -> dict[str, Any]:
    """results.json["analysis"] for one system on one dataset."""
    ids = [seg.id for seg in segments]
    scores = {"chrf": SegmentScores(evaluation.segment_chrf), **(extra_scores or {})}
    return {
        "length_buckets": {
            "by": "source words",
            "edges": list(BUCKET_EDGES),
            "buckets": length_buckets([seg.source for seg in segments], evaluation.stats),
        },
        "worst_segments": worst_segments(ids, scores),
    }


def _bucket_score(metric: str, rows: np.ndarray) -> float:
    totals = rows.sum(axis=0, keepdims=True)
    return float(get_metric(metric).scores_from_totals(totals)[0])


def leaf_segment_scores(stats: Mapping[str, np.ndarray]) -> dict[str, SegmentScores]:
    """Per-segment scores derivable from a leaf's statistics (metrics whose registry entry
    has segment scores: every one but BLEU)."""
    out = {}
    for name, array in stats.items():
        spec = get_metric(name)
        if spec.segment_scores is not None:
            values = [float(x) for x in spec.segment_scores(array)]
            out[name] = SegmentScores(values, higher_is_better=spec.higher_is_better)
    return out


def dataset_analysis(
    systems: Sequence[tuple[str, Path, Mapping[str, np.ndarray]]], metric: str = "chrf"
) -> dict[str, Any]:
    """Analysis across systems on one dataset: ``(label, leaf folder, stats)`` each, all on
    the same data. Buckets per system, worst segments per system, and for every pair the
    segments whose ``metric`` differs most (``metric`` must have per-segment scores)."""
    if not systems:
        return {}
    ids, sources = _read_segments(systems[0][1])
    per_system = {label: leaf_segment_scores(stats) for label, _, stats in systems}
    if any(metric not in scores for scores in per_system.values()):
        metric = "chrf" if all("chrf" in s for s in per_system.values()) else ""
    pairs = []
    if metric:
        for (la, _, _), (lb, _, _) in combinations(systems, 2):
            a, b = per_system[la][metric], per_system[lb][metric]
            pairs.append(
                {
                    "a": la,
                    "b": lb,
                    "metric": metric,
                    "higher_is_better": a.higher_is_better,
                    "segments": largest_differences(ids, a, b),
                }
            )
    return {
        "length_buckets": {
            "by": "source words",
            "edges": list(BUCKET_EDGES),
            "systems": {label: length_buckets(sources, stats) for label, _, stats in systems},
        },
        "worst_segments": {label: worst_segments(ids, per_system[label]) for label, *_ in systems},
        "differences": pairs,
    }


def _read_segments(leaf: Path) -> tuple[list[str], list[str]]:
    path = leaf / "segments.jsonl"
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as e:
        raise RunFolderError(f"cannot read {path}: {e}") from e
    ids, sources = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            ids.append(str(row["id"]))
            sources.append(str(row["source"]))
        except (ValueError, KeyError, TypeError) as e:
            raise RunFolderError(f"{path}:{number}: no segment id and source ({e})") from e
    return ids, sources


def analysis_markdown(analysis: Mapping[str, Any], top: int = 5) -> str:
    """The length-bucket table (chrF, else the first metric) and the top differences."""
    if not analysis:
        return ""
    systems = analysis["length_buckets"]["systems"]
    first = next(iter(systems.values()))
    metrics = [m for b in first for m in b["scores"]]
    metric = "chrf" if "chrf" in metrics else (metrics[0] if metrics else None)
    lines = []
    if metric is not None:
        head = [b["bucket"] for b in first]
        lines += [
            f"Scores by source length ({get_metric(metric).display_name}; segments in brackets):",
            "",
            "| system | " + " | ".join(head) + " |",
            "|---|" + "---:|" * len(head),
        ]
        for label, buckets in systems.items():
            cells = [
                f"{b['scores'][metric]:.1f} ({b['segments']})" if b["segments"] else "–"
                for b in buckets
            ]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for pair in analysis.get("differences", []):
        shown = pair["segments"][:top]
        if shown:
            name = get_metric(pair["metric"]).display_name
            lines += ["", f"Largest segment {name} differences, {pair['b']} − {pair['a']}:"]
            lines += [
                f"- {s['id']}: {s['a']:.1f} → {s['b']:.1f} ({s['difference']:+.1f})" for s in shown
            ]
    return "\n".join(lines) + "\n"
