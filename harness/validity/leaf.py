"""One (model, dataset) leaf's outputs, post-processed and checked, ready to score and write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.segments import Segment
from harness.textnorm import normalize_boundary
from harness.validity.checks import FlagMemo, all_segment_flags
from harness.validity.postprocess import PostprocessConfig, apply
from harness.validity.report import ValidityReport


@dataclass(frozen=True)
class CheckedOutputs:
    """``hypotheses`` are what gets scored; ``raw`` the model's text, where post-processing
    ran (else None); ``flags`` per segment, in input order."""

    hypotheses: list[str]
    raw: list[str] | None
    flags: list[tuple[str, ...]]
    report: ValidityReport

    @property
    def postprocessed(self) -> int:
        """Segments whose text post-processing changed."""
        if self.raw is None:
            return 0
        return sum(r != h for r, h in zip(self.raw, self.hypotheses, strict=True))

    def segment_fields(self, i: int, written_hypothesis: str) -> dict[str, Any]:
        """Extra segments.jsonl fields of segment ``i``: ``flags``, and ``raw_hypothesis``
        (NFC, like the hypothesis written) when it differs from ``written_hypothesis``."""
        fields: dict[str, Any] = {"flags": list(self.flags[i])}
        if self.raw is not None:
            raw = normalize_boundary(self.raw[i])
            if raw != written_hypothesis:
                fields["raw_hypothesis"] = raw
        return fields


def check_outputs(
    segments: Sequence[Segment],
    outputs: Sequence[str],
    translator_flags: Sequence[Sequence[str]],
    postprocess: PostprocessConfig | None = None,
    memo: FlagMemo | None = None,
) -> CheckedOutputs:
    """Post-process ``outputs`` (if configured) and flag every segment (text flags
    remembered in ``memo`` when given)."""
    raw = list(outputs)
    hyps = raw
    if postprocess is not None and postprocess.active:
        hyps = [apply(text, postprocess) for text in raw]
    sources = [seg.source for seg in segments]
    flags = all_segment_flags(sources, hyps, translator_flags, memo)
    report = ValidityReport.build([seg.id for seg in segments], flags)
    return CheckedOutputs(hyps, raw if hyps is not raw else None, flags, report)
