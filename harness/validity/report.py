"""Counts and segment ids per validity flag, for results.json, logs and tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.validity.checks import FLAGS, TEXT_FLAGS, signature

# Short names for tables and log lines ("3 trunc, 1 off-target").
SHORT_NAMES = {
    "empty": "empty",
    "untranslated": "untransl",
    "off_target": "off-target",
    "repetition": "rep",
    "chatter": "chatter",
    "length_ratio": "len",
    "truncated": "trunc",
    "source_truncated": "src-trunc",
}


@dataclass(frozen=True)
class ValidityReport:
    """Per flag, the ids of the segments that have it (in segment order).

    ``flags`` lists the flags that were checked: every flag for a run, the text flags only
    for ``harness score`` (the translator's own reports are not known there).
    """

    segments: Mapping[str, tuple[str, ...]]
    total: int
    flags: tuple[str, ...] = FLAGS
    signature: str = field(default_factory=signature)

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        per_segment: Sequence[Sequence[str]],
        flags: tuple[str, ...] = FLAGS,
    ) -> ValidityReport:
        """From per-segment flag lists aligned with ``ids``; flags outside ``flags`` that a
        translator reported are kept too, after them."""
        names = list(flags) + sorted({f for fl in per_segment for f in fl} - set(flags))
        by_flag: dict[str, list[str]] = {name: [] for name in names}
        for seg_id, seg_flags in zip(ids, per_segment, strict=True):
            for name in seg_flags:
                by_flag[name].append(seg_id)
        return cls({k: tuple(v) for k, v in by_flag.items()}, len(ids), tuple(names))

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(self.segments.get(name, ())) for name in self.flags}

    @property
    def flagged(self) -> int:
        """Segments with at least one flag."""
        return len({seg for ids in self.segments.values() for seg in ids})

    def summary(self) -> str:
        """``"12 truncated, 3 repetition"``; empty when nothing was flagged."""
        return ", ".join(f"{n} {name}" for name, n in self.counts.items() if n)

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "segments": {name: list(self.segments.get(name, ())) for name in self.flags},
            "flagged_segments": self.flagged,
            "total_segments": self.total,
            "signature": self.signature,
        }

    def counts_json(self) -> dict[str, int]:
        """The ``harness score`` form: counts of the text flags only."""
        return {name: n for name, n in self.counts.items() if name in TEXT_FLAGS}


def issues_text(results: Mapping[str, Any]) -> str:
    """The compact table cell for one results.json: ``"issues: 3 trunc, 1 off-target"``,
    ``"issues: none"``, or ``""`` for results written before validity checks existed."""
    validity = results.get("validity")
    if not isinstance(validity, Mapping) or not isinstance(validity.get("counts"), Mapping):
        return ""
    parts = [f"{n} {SHORT_NAMES.get(name, name)}" for name, n in validity["counts"].items() if n]
    return "issues: " + (", ".join(parts) if parts else "none")
