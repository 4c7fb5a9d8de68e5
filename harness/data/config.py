"""Config models for dataset sources, one per ``kind`` (a discriminated union)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from harness.configbase import StrictModel


class _Common(StrictModel):
    name: str | None = None  # label in run folders and tables; defaults per kind
    limit: int | None = Field(default=None, gt=0)  # first N segments
    sample: int | None = Field(default=None, gt=0)  # seeded random subset of N segments
    seed: int = 0


class BenchmarkDataset(_Common):
    """A named benchmark from the registry (``harness datasets`` lists them)."""

    kind: Literal["benchmark"] = "benchmark"
    benchmark: str
    path: str | None = None  # local copy, for benchmarks that are not redistributable


class InterleavedDataset(_Common):
    """A bilingual document: English paragraphs each followed by their Vietnamese translation."""

    kind: Literal["interleaved"]
    path: str


class FilesDataset(_Common):
    """Line-aligned plain-text files: one source file and one or more reference files."""

    kind: Literal["files"]
    source: str
    references: list[str] = Field(min_length=1)


DatasetConfig = Annotated[
    BenchmarkDataset | InterleavedDataset | FilesDataset,
    Field(discriminator="kind"),
]
