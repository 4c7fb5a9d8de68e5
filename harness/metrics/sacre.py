"""Adapters over sacrebleu's metric classes: the ONE place references are reshaped.

The harness passes references item-major (``refs[i]`` = the references of segment ``i``), which
is how datasets hold them. sacrebleu wants them stream-major (one list per reference *set*) and
does not check lengths: three hypotheses against two references silently score as if the third
did not exist. Everything here checks alignment first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.errors import MetricError

if TYPE_CHECKING:
    from sacrebleu.metrics.base import Metric as SacreMetric

# The sacrebleu metrics this module builds, as (class in sacrebleu.metrics, constructor
# arguments): the sacrebleu command line's defaults; chrF++ is chrF with word order 2. With
# sacrebleu's version, this decides every number and signature (see string_metrics' identity).
# The list of metrics is harness.metrics.registry.
SACRE_RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "bleu": ("BLEU", {}),
    "chrf": ("CHRF", {}),
    "chrf++": ("CHRF", {"word_order": 2}),
    "ter": ("TER", {}),
}
SACRE_NAMES = tuple(SACRE_RECIPES)

# Column names per metric: the shape contract of stats.npz.
COLUMNS: dict[str, tuple[str, ...]] = {
    "bleu": (
        "hyp_len",
        "ref_len",
        *(f"correct_{n}" for n in range(1, 5)),
        *(f"total_{n}" for n in range(1, 5)),
    ),
    "chrf": tuple(f"{k}_c{n}" for n in range(1, 7) for k in ("hyp", "ref", "match")),
    "chrf++": tuple(
        f"{k}_{o}"
        for o in (*(f"c{n}" for n in range(1, 7)), "w1", "w2")
        for k in ("hyp", "ref", "match")
    ),
    "ter": ("edits", "avg_ref_len"),
}


@dataclass(frozen=True)
class MetricResult:
    """A corpus score with the sacrebleu signature that says how it was computed."""

    name: str  # harness name: bleu | chrf | chrf++ | ter
    score: float
    signature: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        return self.name != "ter"


def make_metric(name: str, references: Sequence[Sequence[str | None]] | None = None) -> SacreMetric:
    """A sacrebleu metric object with the same defaults as the ``sacrebleu`` command line."""
    if name not in SACRE_RECIPES:
        raise MetricError(
            f"unknown sacrebleu metric {name!r}; choose from {', '.join(SACRE_NAMES)}"
        )
    from sacrebleu import metrics

    class_name, options = SACRE_RECIPES[name]
    return getattr(metrics, class_name)(references=references, **options)


def to_streams(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Check alignment and reshape item-major references to sacrebleu's stream-major form.

    A segment with fewer references than the most-referenced one gets ``None`` in the missing
    streams, which sacrebleu skips for that segment.
    """
    if len(hyps) != len(refs):
        raise MetricError(f"{len(hyps)} hypotheses but {len(refs)} reference entries")
    if not hyps:
        raise MetricError("nothing to score: 0 hypotheses")
    for i, seg_refs in enumerate(refs):
        if isinstance(seg_refs, str):
            raise MetricError(f"references of segment {i} is a string; expected a list of strings")
        if not seg_refs:
            raise MetricError(f"segment {i} has no reference")
    n_streams = max(len(r) for r in refs)
    return [[r[k] if k < len(r) else None for r in refs] for k in range(n_streams)]


def corpus_score(name: str, hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> MetricResult:
    """Score a whole corpus with one metric; ``refs`` is item-major."""
    streams = to_streams(hyps, refs)
    metric = make_metric(name)
    result = metric.corpus_score(list(hyps), streams)
    details: dict[str, Any] = {}
    if name == "bleu":
        details = {
            "precisions": [round(p, 4) for p in result.precisions],
            "bp": round(result.bp, 4),
            "sys_len": result.sys_len,
            "ref_len": result.ref_len,
        }
    return MetricResult(
        name=name,
        score=float(result.score),
        signature=str(metric.get_signature().format()),
        details=details,
    )


def sentence_scores(name: str, hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> list[float]:
    """Per-segment scores (e.g. chrF per segment for segments.jsonl); ``refs`` is item-major."""
    to_streams(hyps, refs)  # alignment checks only
    metric = make_metric(name)
    return [float(metric.sentence_score(h, list(r)).score) for h, r in zip(hyps, refs, strict=True)]
