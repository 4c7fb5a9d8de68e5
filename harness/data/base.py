"""What every dataset source hands to validation: raw records plus what it saw on the way."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.segments import LoadIssue


@dataclass(frozen=True)
class RawRecord:
    """One candidate segment as read, before boundary normalization and checks.

    ``where`` says where it came from (``file:line`` or ``dataset (...) row N``) so that a
    later error can point at it; ``ref_where`` does the same per reference when references
    come from other files. ``file``/``line`` fill the report's :class:`LoadIssue` rows.
    """

    id: str
    source: str
    references: tuple[str, ...]
    where: str
    file: str | None = None
    line: int | None = None
    ref_where: tuple[str, ...] | None = None


@dataclass
class RawLoad:
    """A source's output: records in input order, and everything it could not use.

    ``records_in`` counts what the source read in its own unit (lines, rows); every one of them
    is either in ``records`` or in ``unpaired`` (interleaved files: a pair uses two lines).
    """

    records: list[RawRecord]
    records_in: int
    unpaired: list[LoadIssue] = field(default_factory=list)
    repairs: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)


class DatasetSource(Protocol):
    """One way of reading test data (files, a table, a hub dataset, ...)."""

    def load(self) -> RawLoad:
        """Read everything; raise :class:`harness.errors.DatasetError` on unusable input."""
        ...

    def input_files(self) -> tuple[Path, ...] | None:
        """Every file :meth:`load` reads, when those files alone decide what it returns (the
        dataset memo keys on their stamps); None when they do not (a hub data set)."""
        ...


def file_provenance(paths: Mapping[str, Path], digests: Mapping[str, str]) -> dict[str, Any]:
    """``{"role": {"path": ..., "sha256": ...}}`` for results.json."""
    return {role: {"path": str(p), "sha256": digests[role]} for role, p in paths.items()}
