"""COMET, CometKiwi and xCOMET scores with plain transformers + torch (no Lightning, no comet).

``load_comet(model, revision)`` reads a published checkpoint (see :mod:`.checkpoint`), builds
the encoder its hparams name and COMET's heads over it, and loads the weights. ``score``:
- regression_metric (wmt22-comet-da): each distinct text (sources, hypotheses, references) is
  encoded once, pooled, and the head sees [mt, ref, mt*ref, |mt-ref|, mt*src, |mt-src|];
- unified_metric (CometKiwi) / xcomet_metric (xCOMET): joint inputs ``<s> mt </s></s> src
  </s>`` (and with a reference ``mt+ref`` and ``mt+src+ref``), first-token embedding to the
  head, word-level tags decoded to error spans, combined as COMET combines them.
Sequences from all inputs are pooled, length-sorted and batched under a token budget.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import MetricError
from harness.metrics.neural.cache import SegmentCache
from harness.metrics.neural.checkpoint import CometCheckpoint, load_checkpoint
from harness.metrics.neural.encoder import resolve_encoder

log = logging.getLogger(__name__)

DEFAULT_CHECKPOINTS = {
    "comet": "Unbabel/wmt22-comet-da",
    "cometkiwi": "Unbabel/wmt22-cometkiwi-da",
    "xcomet": "Unbabel/XCOMET-XL",
}


@dataclass(frozen=True)
class NeuralScores:
    """Segment scores in input order; xCOMET (word-level models) also give error spans."""

    scores: list[float]
    error_spans: list[list[dict[str, Any]]] | None = None

    @property
    def system_score(self) -> float:
        """COMET's system score: the plain mean of the segment scores."""
        return sum(self.scores) / len(self.scores) if self.scores else float("nan")


@dataclass(frozen=True)
class ScoringOptions:
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 16
    max_tokens: int | None = 16384  # padded tokens per batch
    encoder: str | None = None  # replaces pretrained_model (e.g. a local copy of the encoder)


def load_comet(
    model: str,
    revision: str | None = None,
    *,
    device: str = "auto",
    dtype: str = "auto",
    batch_size: int = 16,
    max_tokens: int | None = 16384,
    encoder: str | None = None,
    base_dir: Path | None = None,
) -> CometScorer:
    """A scorer for a COMET-family checkpoint: hub id (+ revision) or local hub-layout folder."""
    if batch_size < 1:
        raise MetricError(f"metric batch_size must be at least 1, got {batch_size}")
    checkpoint = load_checkpoint(model, revision, base_dir)
    options = ScoringOptions(device, dtype, batch_size, max_tokens, encoder)
    return CometScorer(checkpoint, options)


def segment_key(
    identity_key: str, uses_references: bool, src: str, hyp: str, ref: str | None
) -> str:
    """The per-segment cache key of a COMET-family scorer (its identity key and the texts)."""
    if not uses_references:
        ref = None  # a reference-free model's score does not depend on it
    blob = json.dumps([identity_key, src, hyp, ref], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class CometScorer:
    """Scores (source, hypothesis[, reference]) triples; one model in memory."""

    def __init__(self, checkpoint: CometCheckpoint, options: ScoringOptions) -> None:
        from harness.metrics.neural.network import CometNetwork

        self.checkpoint = checkpoint
        self.options = options
        hp = checkpoint.hparams
        self.encoder_source = resolve_encoder(
            options.encoder or str(hp["pretrained_model"]), checkpoint.folder
        )
        self.net = CometNetwork(checkpoint, self.encoder_source, options)
        # The network owns the weights now; keeping the dict would pin a CPU copy of them.
        self.checkpoint = dataclasses.replace(checkpoint, state_dict={})
        self.kind = checkpoint.class_identifier
        self.word_level = self.kind == "xcomet_metric" or (
            self.kind == "unified_metric" and bool(hp.get("word_level_training"))
        )
        self.segments = list(hp.get("input_segments") or ["mt", "src", "ref"])

    @property
    def requires_references(self) -> bool:
        return self.kind == "regression_metric" or self.segments == ["mt", "ref"]

    @property
    def uses_references(self) -> bool:
        return self.kind == "regression_metric" or "ref" in self.segments

    def identity(self) -> dict[str, Any]:
        """Everything that decides the numbers, for signatures and cache keys."""
        import harness
        from harness.versions import version_or_absent

        return {
            "checkpoint": self.checkpoint.model_id,
            "revision": self.checkpoint.revision,
            "model_class": self.kind,
            "encoder": self.encoder_source.name,
            "encoder_revision": self.net.encoder_revision,
            "dtype": str(self.net.dtype).removeprefix("torch."),
            "harness": harness.__version__,
            "torch": version_or_absent("torch"),
            "transformers": version_or_absent("transformers"),
        }

    def identity_key(self) -> str:
        """A hash of :meth:`identity` (the per-segment cache key's prefix)."""
        blob = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def signature(self, name: str = "comet", nrefs: int = 1) -> str:
        """``comet:Unbabel/wmt22-comet-da@<sha>|encoder:xlm-roberta-large|nrefs:1|...``."""
        ident = self.identity()
        revision = ident["revision"]
        short = revision[:19] if revision.startswith("sha256:") else revision[:12]
        return (
            f"{name}:{ident['checkpoint']}@{short}|encoder:{ident['encoder']}"
            f"|nrefs:{nrefs if self.uses_references else 0}|dtype:{ident['dtype']}"
            f"|harness:{ident['harness']}"
        )

    def score(
        self,
        sources: Sequence[str],
        hypotheses: Sequence[str],
        references: Sequence[str] | None = None,
        *,
        cache: SegmentCache | None = None,
    ) -> NeuralScores:
        """Scores in input order; only segments missing from ``cache`` are computed."""
        refs = self._check(sources, hypotheses, references)
        keys = [
            self._segment_key(s, h, r) for s, h, r in zip(sources, hypotheses, refs, strict=True)
        ]
        hits = cache.get_many(keys) if cache is not None else {}
        todo = [i for i, k in enumerate(keys) if k not in hits]
        if todo:
            fresh = self._compute(
                [sources[i] for i in todo],
                [hypotheses[i] for i in todo],
                None if references is None else [refs[i] for i in todo],
            )
            new = {keys[i]: value for i, value in zip(todo, fresh, strict=True)}
            if cache is not None:
                cache.put_many(new)
            hits = {**hits, **new}
        values = [hits[k] for k in keys]
        spans = [v["error_spans"] for v in values] if self.word_level else None
        return NeuralScores([float(v["score"]) for v in values], spans)

    def _check(self, sources, hypotheses, references) -> list[str | None]:
        if len(sources) != len(hypotheses):
            raise MetricError(
                f"{len(hypotheses)} hypotheses for {len(sources)} sources: counts must match"
            )
        if references is None:
            if self.requires_references:
                raise MetricError(
                    f"metric checkpoint {self.checkpoint.model_id!r} ({self.kind}) needs "
                    "references, and the dataset has none"
                )
            return [None] * len(sources)
        if len(references) != len(sources):
            raise MetricError(
                f"{len(references)} references for {len(sources)} sources: counts must match"
            )
        return list(references)

    def _segment_key(self, src: str, hyp: str, ref: str | None) -> str:
        return segment_key(self.identity_key(), self.uses_references, src, hyp, ref)

    def _compute(self, sources, hypotheses, references) -> list[dict[str, Any]]:
        import torch

        with torch.inference_mode():
            if self.kind == "regression_metric":
                scores = self.net.regression(sources, hypotheses, references)
                return [{"score": s} for s in scores]
            return self._unified(sources, hypotheses, references)

    def _unified(self, sources, hypotheses, references) -> list[dict[str, Any]]:
        from harness.metrics.neural import spans as span_ops  # imports torch

        use_src = "src" in self.segments
        use_ref = references is not None and "ref" in self.segments
        outputs = self.net.unified(
            hypotheses,
            sources if use_src else None,
            references if use_ref else None,
            self.word_level,
        )
        score_tensors = outputs.scores  # one tensor per input, in COMET's order
        if not self.word_level:
            combined = span_ops.unified_scores(score_tensors).tolist()
            return [{"score": s} for s in combined]
        id_to_label = span_ops.labels(self.checkpoint.hparams["error_labels"])
        error_spans = []
        for i in range(len(hypotheses)):
            probs = span_ops.combine_probs([p[i] for p in outputs.probs])
            error_spans.append(
                span_ops.decode(
                    probs,
                    outputs.mt_ids[i],
                    outputs.mt_offsets[i],
                    id_to_label,
                    self.net.tokenizer,
                )
            )
        if self.kind == "xcomet_metric":
            mqm = span_ops.mqm_scores(error_spans)
            combined = span_ops.xcomet_scores(score_tensors, mqm).tolist()
        else:
            combined = span_ops.unified_scores(score_tensors).tolist()
        return [{"score": s, "error_spans": e} for s, e in zip(combined, error_spans, strict=True)]
