"""Per-segment score cache hook: a rerun, or a new system in a run, scores only what is new.

Keys are sha256 hashes of (scorer identity, source, hypothesis, reference), computed by the
scorer; values are JSON-able dicts (``score``, and ``error_spans`` for word-level models).
The harness's SQLite metric cache can implement :class:`SegmentCache`; :class:`SqliteSegmentCache`
is a small self-contained one (one table, WAL, one transaction per ``put_many``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from harness.errors import MetricError


class SegmentCache(Protocol):
    def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]: ...
    def put_many(self, items: Mapping[str, dict[str, Any]]) -> None: ...


class MemorySegmentCache:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {k: self.items[k] for k in keys if k in self.items}

    def put_many(self, items: Mapping[str, dict[str, Any]]) -> None:
        self.items.update(items)


class SqliteSegmentCache:
    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS segment_scores (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        # What a loaded scorer said about itself (identity key, signatures), by a key made
        # without loading it (harness.metrics.neural.remembered): a rerun whose segments are
        # all cached then loads no model.
        "CREATE TABLE IF NOT EXISTS scorer_facts (key TEXT PRIMARY KEY, facts TEXT NOT NULL);"
    )

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path))
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(self._SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise MetricError(f"{path}: cannot open the metric cache: {e}") from e

    def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):  # SQLite caps the number of parameters
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT key, value FROM segment_scores WHERE key IN ({marks})", chunk
            )
            out.update((k, json.loads(v)) for k, v in rows)
        return out

    def put_many(self, items: Mapping[str, dict[str, Any]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO segment_scores (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, ensure_ascii=False)) for k, v in items.items()],
            )

    def get_facts(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT facts FROM scorer_facts WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put_facts(self, key: str, facts: Mapping[str, Any]) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO scorer_facts (key, facts) VALUES (?, ?)",
                (key, json.dumps(dict(facts), ensure_ascii=False, sort_keys=True)),
            )

    def close(self) -> None:
        self.db.close()
