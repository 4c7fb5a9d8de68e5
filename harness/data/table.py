"""TSV, CSV and JSONL files with named columns (a header row, or JSON object keys)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.data.base import RawLoad
from harness.data.rows import ColumnMap, Row, check_columns, rows_to_load
from harness.data.textfile import TextLines, read_lines
from harness.errors import DatasetError

TableFormat = Literal["tsv", "csv", "jsonl"]
_BY_SUFFIX: dict[str, TableFormat] = {
    ".tsv": "tsv",
    ".tab": "tsv",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def infer_format(path: Path, given: TableFormat | None) -> TableFormat:
    """``given``, or the format the file extension names."""
    if given is not None:
        return given
    fmt = _BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise DatasetError(
            f"{path}: cannot tell the table format from the extension {path.suffix!r}; "
            "set `format:` to tsv, csv or jsonl"
        )
    return fmt


@dataclass(frozen=True)
class TableSource:
    """Rows of a TSV/CSV/JSONL file; segment ids come from ``id_column`` or the line number."""

    path: Path
    format: TableFormat | None
    columns: ColumnMap

    def input_files(self) -> tuple[Path, ...]:
        return (self.path,)

    def load(self) -> RawLoad:
        fmt = infer_format(self.path, self.format)
        text = read_lines(self.path)
        rows = _jsonl_rows(text) if fmt == "jsonl" else _delimited_rows(text, fmt, self.columns)
        load = rows_to_load(rows, self.columns)
        load.repairs.update(bom=int(text.bom), crlf=text.crlf)
        load.provenance.update(
            path=str(self.path),
            sha256=text.sha256,
            format=fmt,
            columns=dict(self.columns.named()),
        )
        return load


def _jsonl_rows(text: TextLines) -> Iterator[Row]:
    for number, line in enumerate(text.lines, start=1):
        if not line.strip():
            continue  # a blank line holds no record
        where = f"{text.path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from e
        if not isinstance(data, dict):
            raise DatasetError(f"{where}: expected a JSON object, got {type(data).__name__}")
        yield Row(data, str(number), where, file=str(text.path), line=number)


def _delimited_rows(text: TextLines, fmt: TableFormat, cmap: ColumnMap) -> Iterator[Row]:
    # TSV fields are taken literally: a quote character in a TSV cell is text, not quoting.
    # CSV follows RFC 4180, so a quoted cell may span lines; line_num tracks where rows start.
    if fmt == "tsv":
        reader = csv.reader(
            (line + "\n" for line in text.lines), delimiter="\t", quoting=csv.QUOTE_NONE
        )
    else:
        reader = csv.reader(line + "\n" for line in text.lines)
    try:
        header = next(reader, None)
        if not header:
            raise DatasetError(f"{text.path}:1: expected a header row naming the columns")
        _check_header(header, text.path)
        check_columns(header, cmap, str(text.path))
        start = reader.line_num + 1
        for fields in reader:
            if fields:  # csv yields [] for a blank line, which holds no record
                yield _delimited_row(fields, header, text.path, start)
            start = reader.line_num + 1
    except csv.Error as e:
        raise DatasetError(f"{text.path}:{reader.line_num}: malformed {fmt.upper()}: {e}") from e


def _check_header(header: list[str], path: Path) -> None:
    seen: set[str] = set()
    for name in header:
        if not name.strip():
            raise DatasetError(f"{path}:1: the header has an empty column name")
        if name in seen:
            raise DatasetError(f"{path}:1: the header names column {name!r} twice")
        seen.add(name)


def _delimited_row(fields: list[str], header: list[str], path: Path, line: int) -> Row:
    where = f"{path}:{line}"
    if len(fields) != len(header):
        raise DatasetError(
            f"{where}: {len(fields)} fields, but the header has {len(header)} "
            "(a stray tab or comma inside a cell?)"
        )
    return Row(dict(zip(header, fields, strict=True)), str(line), where, file=str(path), line=line)
