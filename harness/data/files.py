"""Line-aligned plain-text files: line N of the source goes with line N of each reference."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.data.base import RawLoad, RawRecord
from harness.data.textfile import TextLines, read_lines
from harness.errors import DatasetError


@dataclass(frozen=True)
class FilesSource:
    """One source file and one or more reference files; segment ids are line numbers."""

    source: Path
    references: tuple[Path, ...]

    def input_files(self) -> tuple[Path, ...]:
        return (self.source, *self.references)

    def load(self) -> RawLoad:
        src = read_lines(self.source)
        refs = [read_lines(p) for p in self.references]
        for ref in refs:
            _check_counts(src, ref)
        records = [
            RawRecord(
                id=str(number),
                source=text,
                references=tuple(ref.lines[number - 1] for ref in refs),
                where=f"{self.source}:{number}",
                file=str(self.source),
                line=number,
                ref_where=tuple(f"{p}:{number}" for p in self.references),
            )
            for number, text in enumerate(src.lines, start=1)
        ]
        load = RawLoad(records=records, records_in=len(records))
        every = (src, *refs)
        load.repairs.update(bom=sum(f.bom for f in every), crlf=sum(f.crlf for f in every))
        load.provenance.update(
            source={"path": str(src.path), "sha256": src.sha256},
            references=[{"path": str(r.path), "sha256": r.sha256} for r in refs],
        )
        return load


def _check_counts(src: TextLines, ref: TextLines) -> None:
    if len(src.lines) != len(ref.lines):
        raise DatasetError(
            f"line counts differ: {src.path} has {len(src.lines)} lines, "
            f"{ref.path} has {len(ref.lines)}; line-aligned files must match line for line"
        )
