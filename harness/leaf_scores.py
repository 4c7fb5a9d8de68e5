"""A leaf's numbers as its files hold them: computed, or remembered from the run before.

What a leaf's files say about its scores (results.json's ``scores``, ``normalization`` and
``analysis``, the per-segment scores in segments.jsonl, stats.npz) depends only on the text
that was scored and how it was scored. :func:`score_leaf` hashes exactly that
(:func:`inputs_key`: the segments' fingerprint (ids, sources, references) and every
hypothesis; each metric's config and identity; the normalization, the resamples and seed;
the numpy and harness versions and the source of the code that scores) and keeps the numbers
in the statistics cache under the leaf's folder, one row per leaf. A rerun whose inputs are
all as before writes them back without extracting, resampling, or importing numpy; any change
scores the leaf again (per-segment statistics still come from the statistics cache) and
replaces the row.

A metric whose registry entry cannot say what decides its numbers (no ``identity``: the
model-based metrics, whose per-segment scores are cached by checkpoint pin in
``neural-scores.sqlite``) keeps its leaf out of this: such a leaf is scored every time.

Fresh numbers take the same JSON round trip as remembered ones, so a leaf's files are the
same either way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness
from harness.metrics.registry import MetricConfig, get_metric
from harness.segments import fingerprint
from harness.versions import code_digest, installed_version

if TYPE_CHECKING:
    from harness.metrics.stats_cache import StatsCache
    from harness.segments import Segment
    from harness.textnorm import NormalizationSpec

FORMAT = 1
_BLOCK = 1024  # segments hashed per update


@dataclass(frozen=True)
class LeafInputs:
    """One system's output on one dataset, and how it is scored."""

    segments: Sequence[Segment]
    hypotheses: Sequence[str]  # what is scored (post-processed if configured), not normalized
    metrics: Sequence[MetricConfig]
    spec: NormalizationSpec
    resamples: int
    seed: int
    # harness.segments.fingerprint(segments), when the dataset has it already.
    fingerprint: str | None = None


@dataclass(frozen=True)
class LeafScores:
    """The numbers of one leaf, as JSON values, and its stats.npz as bytes."""

    scores: dict[str, Any]  # results.json["scores"]
    normalization: dict[str, Any]  # results.json["normalization"]
    analysis: dict[str, Any]  # results.json["analysis"]
    segment_numbers: list[dict[str, Any]]  # per segment, its score fields in segments.jsonl
    stats_npz: bytes

    @property
    def headline(self) -> dict[str, float]:
        return {name: float(record["score"]) for name, record in self.scores.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "scores": self.scores,
            "normalization": self.normalization,
            "analysis": self.analysis,
            "segment_numbers": self.segment_numbers,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any], stats_npz: bytes) -> LeafScores:
        return cls(
            dict(value["scores"]),
            dict(value["normalization"]),
            dict(value["analysis"]),
            list(value["segment_numbers"]),
            stats_npz,
        )


def score_leaf(
    inputs: LeafInputs,
    leaf: str,
    *,
    stats_cache: StatsCache | None = None,
    cache_dir: Path | None = None,
    precomputed: Mapping[str, Any] | None = None,
    progress_label: str | None = None,
) -> LeafScores:
    """The numbers of ``inputs``: remembered under ``leaf`` (the leaf's folder) in
    ``stats_cache`` when they were made from the same inputs, else computed (and kept there).
    ``cache_dir``, ``precomputed`` and ``progress_label`` go to
    :func:`harness.metrics.evaluate.evaluate`."""
    key = inputs_key(inputs) if stats_cache is not None else None
    if stats_cache is not None and key is not None:
        stored = stats_cache.recall_leaf(leaf, key)
        remembered = None if stored is None else _remembered(stored, len(inputs.segments))
        if remembered is not None:
            return remembered
    fresh = _compute(inputs, stats_cache, cache_dir, precomputed, progress_label)
    if stats_cache is not None and key is not None:
        stats_cache.remember_leaf(leaf, key, fresh.to_json(), fresh.stats_npz)
    return fresh


def _remembered(stored: tuple[Any, bytes], n_segments: int) -> LeafScores | None:
    """The stored row as LeafScores; None when it does not fit (then scored again)."""
    try:
        scores = LeafScores.from_json(*stored)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return scores if len(scores.segment_numbers) == n_segments else None


def inputs_key(inputs: LeafInputs) -> bytes | None:
    """sha256 over everything the numbers of ``inputs`` are made from; None when a metric
    cannot say what decides its numbers (its registry entry has no ``identity``), or the
    hypotheses do not match the segments (evaluate() then says what is wrong)."""
    if len(inputs.hypotheses) != len(inputs.segments):
        return None
    metrics = []
    for config in inputs.metrics:
        spec = get_metric(config.name)
        if spec.identity is None:
            return None
        metrics.append([config.model_dump(mode="json"), dict(spec.identity(config))])
    head = {
        "format": FORMAT,
        "harness": harness.__version__,
        "numpy": installed_version("numpy"),  # its generator draws the resamples
        "code": code_digest("metrics/**/*.py", "analysis.py", "leaf_scores.py", "textnorm.py"),
        "metrics": metrics,
        "normalization": inputs.spec.tag,
        "resamples": inputs.resamples,
        "seed": inputs.seed,
        "segments": inputs.fingerprint or fingerprint(inputs.segments),
    }
    digest = hashlib.sha256(json.dumps(head, sort_keys=True, default=str).encode())
    hypotheses = list(inputs.hypotheses)
    for start in range(0, len(hypotheses), _BLOCK):  # a JSON list per block: unambiguous
        block = json.dumps(hypotheses[start : start + _BLOCK], ensure_ascii=False)
        digest.update(block.encode() + b"\n")
    return digest.digest()


def _compute(
    inputs: LeafInputs,
    stats_cache: StatsCache | None,
    cache_dir: Path | None,
    precomputed: Mapping[str, Any] | None,
    progress_label: str | None,
) -> LeafScores:
    from harness.analysis import analyse_leaf
    from harness.metrics import evaluate

    segments = inputs.segments
    evaluation = evaluate(
        inputs.hypotheses,
        [list(s.references) for s in segments],
        metrics=inputs.metrics,
        spec=inputs.spec,
        bootstrap_resamples=inputs.resamples,
        seed=inputs.seed,
        sources=[s.source for s in segments],
        progress_label=progress_label,
        cache_dir=cache_dir,
        precomputed=precomputed,
        stats_cache=stats_cache,
    )
    value = {
        "scores": evaluation.to_json(),
        "normalization": evaluation.normalization_json(),
        "analysis": analyse_leaf(segments, evaluation),
        "segment_numbers": _segment_numbers(evaluation),
    }
    # What a rerun reads back from the cache: the same values, the same files.
    value = json.loads(json.dumps(value, ensure_ascii=False, allow_nan=True))
    return LeafScores.from_json(value, evaluation.stats_npz())


def _segment_numbers(evaluation: Any) -> list[dict[str, Any]]:
    """Per segment: sentence chrF, the segment scores of the model-based metrics (COMET,
    MetricX, ...) and their extras (xCOMET's error spans), as segments.jsonl holds them."""
    extra_scores = {
        name: values
        for name, values in evaluation.segment_values().items()
        if get_metric(name).kind != "string"
    }
    return [
        {
            "chrf": round(score, 4),
            **{name: round(values[i], 6) for name, values in extra_scores.items()},
            **{
                (key if len(evaluation.extras) == 1 else f"{name}_{key}"): items[i]
                for name, extra in evaluation.extras.items()
                for key, items in extra.items()
            },
        }
        for i, score in enumerate(evaluation.segment_chrf)
    ]
