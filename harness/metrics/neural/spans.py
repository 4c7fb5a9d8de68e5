"""Word-level tags to error spans, and how UnifiedMetric / xCOMET combine their inputs.

Follows ``UnifiedMetric.decode`` and ``XCOMETMetric.predict_step`` of unbabel-comet 2.2.7,
quirks included, because the spans are compared with COMET's exactly:
- the subwords scanned are the hypothesis's own, ``<s>`` and ``</s>`` included (offsets 0, 0);
- a span opens on an ``I-*`` tag, keeps its first severity while tags stay ``I-*`` (of any
  severity), and is only recorded when an ``O`` tag closes it: a span still open at ``</s>``
  is dropped;
- ``text`` is the tokenizer's decoding of the span's subwords, ``confidence`` the mean of their
  top probabilities, ``start``/``end`` character offsets into the hypothesis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

# UnifiedMetric.input_weights_spans and XCOMETMetric.score_weights, in the order of COMET's
# three inputs: (mt + src, mt + ref, mt + src + ref).
SPAN_WEIGHTS = (0.1667, 0.3333, 0.5)
XCOMET_SCORE_WEIGHTS = (0.12, 0.33, 0.33, 0.22)
MQM_PENALTY = {"minor": 1, "major": 5, "critical": 10}


def labels(error_labels: Sequence[str]) -> dict[int, str]:
    """COMET's LabelSet: 0 is "O", then "I-<label>" in the checkpoint's order."""
    return {0: "O", **{i + 1: f"I-{name}" for i, name in enumerate(error_labels)}}


def combine_probs(probs: Sequence[torch.Tensor]) -> torch.Tensor:
    """One input: its probabilities; three: the weighted sum COMET uses for decoding."""
    if len(probs) == 1:
        return probs[0]
    weights = torch.tensor(SPAN_WEIGHTS)
    return torch.sum(torch.stack([p * w for w, p in zip(weights, probs, strict=True)]), dim=0)


def decode(
    probs: torch.Tensor,
    ids: Sequence[int],
    offsets: Sequence[tuple[int, int]],
    id_to_label: dict[int, str],
    tokenizer: Any,
) -> list[dict[str, Any]]:
    """Error spans of one hypothesis from its subword probabilities ``(len(ids), classes)``."""
    top_prob, top_label = torch.topk(probs, 1, dim=1)
    spans: list[dict[str, Any]] = []
    span: dict[str, Any] = {}
    for k, (token_id, offset) in enumerate(zip(ids, offsets, strict=True)):
        label = id_to_label[int(top_label[k, 0])]
        if label.startswith("I"):
            if not span:
                span = {
                    "tokens": [token_id],
                    "severity": label.split("-")[1],
                    "offset": list(offset),
                    "confidence": [top_prob[k]],
                }
            else:
                span["tokens"].append(token_id)
                span["confidence"].append(top_prob[k])
                span["offset"][1] = offset[1]
        elif span:
            spans.append(span)
            span = {}
    return [
        {
            "text": tokenizer.decode(s["tokens"]),
            "confidence": torch.concat(s["confidence"]).mean().item(),
            "severity": s["severity"],
            "start": s["offset"][0],
            "end": s["offset"][1],
        }
        for s in spans
    ]


def mqm_scores(error_spans: Sequence[Sequence[dict[str, Any]]]) -> torch.Tensor:
    """xCOMET's MQM-like score from spans: (25 - min(25, penalties)) / 25."""
    totals = []
    for spans in error_spans:
        total = sum(MQM_PENALTY.get(s["severity"], 0) for s in spans)
        totals.append(min(total, 25))
    return (torch.tensor(totals) * -1 + 25) / 25


def xcomet_scores(scores: Sequence[torch.Tensor], mqm: torch.Tensor) -> torch.Tensor:
    """xCOMET's final score: capped regression scores, weighted, plus the weighted MQM score."""
    w = XCOMET_SCORE_WEIGHTS
    if len(scores) == 3:
        regression = torch.stack(
            [torch.where(s > 1.0, 1.0, s) * wk for s, wk in zip(scores, w[:3], strict=True)],
            dim=0,
        ).sum(dim=0)
        return regression + mqm * w[3]
    capped = torch.where(scores[0] > 1.0, 1.0, scores[0])
    return capped * sum(w[:3]) + mqm * w[3]


def unified_scores(scores: Sequence[torch.Tensor]) -> torch.Tensor:
    """UnifiedMetric: the mean of its inputs' scores (one or three)."""
    if len(scores) == 1:
        return scores[0]
    return torch.stack(list(scores), dim=0).mean(dim=0)
