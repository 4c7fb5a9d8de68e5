"""Named-column records (JSONL objects, CSV/TSV rows, hub dataset rows) to raw records.

Column names may be dotted paths into nested objects: ``translation.vi`` reads
``row["translation"]["vi"]``, the layout of IWSLT'15 and OPUS-100 on the hub.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.data.base import RawLoad, RawRecord
from harness.errors import DatasetError
from harness.segments import LoadIssue


@dataclass(frozen=True)
class ColumnMap:
    """Which columns hold the source, the references, the id, and exclusion flags."""

    source: str
    references: tuple[str, ...]
    id: str | None = None
    exclude_if: tuple[str, ...] = ()

    def named(self) -> list[tuple[str, str]]:
        """(config key, column) for every column this map reads."""
        named = [("source_column", self.source)]
        named += [(f"reference_columns[{i}]", c) for i, c in enumerate(self.references)]
        if self.id is not None:
            named.append(("id_column", self.id))
        named += [(f"exclude_if[{i}]", c) for i, c in enumerate(self.exclude_if)]
        return named


def column_names(row: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every column of ``row`` as a dotted path (nested mappings are walked)."""
    names: list[str] = []
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            names.extend(column_names(value, prefix=f"{name}."))
        else:
            names.append(name)
    return names


_MISSING = object()


def lookup(row: Mapping[str, Any], column: str) -> Any:
    """The value at dotted path ``column``, or ``_MISSING``; a literal dotted key wins."""
    if column in row:
        return row[column]
    node: Any = row
    for part in column.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _missing(have: Iterable[str], key: str, column: str, where: str) -> DatasetError:
    return DatasetError(
        f"{where}: {key} names column {column!r}, which does not exist; "
        f"columns: {', '.join(have) or '(none)'}"
    )


def require_columns(available: Iterable[str], named: Iterable[tuple[str, str]], where: str) -> None:
    """Raise if a ``(config key, column)`` names a column not in ``available`` (listing those)."""
    have = list(available)
    for key, column in named:
        if column not in have:
            raise _missing(have, key, column, where)


def check_columns(available: Iterable[str], cmap: ColumnMap, where: str) -> None:
    """Raise if ``cmap`` names a column that is not in ``available`` (listing those that are)."""
    require_columns(available, cmap.named(), where)


def _text(row: Mapping[str, Any], key: str, column: str, where: str) -> str:
    value = lookup(row, column)
    if value is _MISSING:
        raise _missing(column_names(row), key, column, where)
    if value is None:
        return ""  # a null cell is an empty text; validation reports it with `where`
    if isinstance(value, str):
        return value
    if key == "id_column" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise DatasetError(
        f"{where}: {key} column {column!r} holds {type(value).__name__} {str(value)[:40]!r}, "
        "expected text"
    )


def map_row(
    row: Mapping[str, Any], cmap: ColumnMap, default_id: str, where: str, **origin: Any
) -> RawRecord:
    """One named-column record as a :class:`RawRecord`; ``origin`` is its file and line."""
    source = _text(row, "source_column", cmap.source, where)
    refs = tuple(
        _text(row, f"reference_columns[{i}]", col, where) for i, col in enumerate(cmap.references)
    )
    rid = default_id if cmap.id is None else _text(row, "id_column", cmap.id, where)
    return RawRecord(id=rid, source=source, references=refs, where=where, **origin)


def excluded_by(row: Mapping[str, Any], cmap: ColumnMap, where: str) -> str | None:
    """The first ``exclude_if`` column that is true for ``row``, or None."""
    for i, column in enumerate(cmap.exclude_if):
        value = lookup(row, column)
        if value is _MISSING:
            raise _missing(column_names(row), f"exclude_if[{i}]", column, where)
        if value not in (None, False, True):
            raise DatasetError(
                f"{where}: exclude_if[{i}] column {column!r} holds {value!r}, expected true/false"
            )
        if value:
            return column
    return None


@dataclass(frozen=True)
class Row:
    """One named-column record and where it is (``line`` for files, None for hub rows)."""

    data: Mapping[str, Any]
    default_id: str
    where: str
    file: str | None = None
    line: int | None = None


def rows_to_load(rows: Iterable[Row], cmap: ColumnMap) -> RawLoad:
    """Map rows in order; a row excluded by a flag column is reported, never silently lost."""
    load = RawLoad(records=[], records_in=0)
    for row in rows:
        load.records_in += 1
        record = map_row(row.data, cmap, row.default_id, row.where, file=row.file, line=row.line)
        flag = excluded_by(row.data, cmap, row.where)
        if flag is None:
            load.records.append(record)
            continue
        reason = f"excluded because {flag} is true" + ("" if row.line else f" ({row.where})")
        load.unpaired.append(
            LoadIssue(reason=reason, text=record.source, file=row.file, line=row.line)
        )
    return load
