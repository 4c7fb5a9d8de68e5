"""The data that flows between datasets, translators and metrics."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Segment:
    """One EN→VI test item: an English source and one or more Vietnamese references (NFC)."""

    id: str
    source: str
    references: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "references": list(self.references)}


@dataclass(frozen=True)
class LoadIssue:
    """A line or record that a loader could not use, or repaired; ``line`` is 1-based."""

    reason: str
    text: str = ""
    file: str | None = None
    line: int | None = None

    def describe(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        snippet = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return f"{where + ': ' if where else ''}{self.reason}" + (
            f": {snippet!r}" if snippet else ""
        )


@dataclass(frozen=True)
class LoadReport:
    """What a loader saw: records read, segments produced, and everything it skipped or repaired.

    ``repairs`` counts silent-looking changes made on purpose (e.g. ``{"nfc": 3, "bom": 1}``);
    ``unpaired`` lists lines that could not become a segment. Nothing is dropped without a row
    here.
    """

    records_in: int
    segments_out: int
    unpaired: tuple[LoadIssue, ...] = ()
    repairs: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "records_in": self.records_in,
            "segments_out": self.segments_out,
            "unpaired": [issue.__dict__ for issue in self.unpaired],
            "repairs": dict(self.repairs),
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LoadReport:
        return cls(
            records_in=int(data["records_in"]),
            segments_out=int(data["segments_out"]),
            unpaired=tuple(LoadIssue(**issue) for issue in data["unpaired"]),
            repairs={str(k): int(v) for k, v in data["repairs"].items()},
            notes=tuple(str(n) for n in data["notes"]),
        )


# What json.dumps(..., ensure_ascii=False, sort_keys=True) builds on every call, built once.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def fingerprint(segments: Sequence[Segment]) -> str:
    """sha256 over the normalized pairs, in order: equal fingerprints mean identical test data.

    Each pair is one line of sorted-key JSON; lines are hashed a block at a time, which
    gives the same digest as hashing them one by one."""
    digest = hashlib.sha256()
    encode = _CANONICAL.encode
    for start in range(0, len(segments), 1024):
        block = segments[start : start + 1024]
        digest.update("".join(encode(seg.to_json()) + "\n" for seg in block).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadedDataset:
    """A dataset ready for evaluation, with how it was made."""

    name: str
    segments: tuple[Segment, ...]
    report: LoadReport
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def fingerprint(self) -> str:
        # Asked for by the cache, the results and the report: the segments never change.
        return fingerprint(self.segments)

    def to_json(self) -> dict[str, Any]:
        """Everything, the fingerprint included (see :meth:`from_json`)."""
        return {
            "name": self.name,
            "segments": [[s.id, s.source, list(s.references)] for s in self.segments],
            "report": self.report.to_json(),
            "provenance": dict(self.provenance),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LoadedDataset:
        """The dataset :meth:`to_json` wrote; ValueError if its segment count does not add up."""
        segments = tuple(
            Segment(str(id_), str(source), tuple(str(r) for r in refs))
            for id_, source, refs in data["segments"]
        )
        report = LoadReport.from_json(data["report"])
        if report.segments_out != len(segments):
            raise ValueError(f"{len(segments)} segments, the report says {report.segments_out}")
        loaded = cls(str(data["name"]), segments, report, dict(data["provenance"]))
        # Written by the cached property's own computation when the dataset was loaded.
        loaded.__dict__["fingerprint"] = str(data["fingerprint"])
        return loaded
