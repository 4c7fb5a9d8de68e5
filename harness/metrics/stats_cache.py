"""SQLite cache of per-segment metric statistics, beside the translation cache.

A row is one segment's statistics for one metric, keyed by

* the **metric key**: a hash of the metric's name, its columns, the statistics format, the
  options in its config, what its spec's ``identity`` says decides the numbers (sacrebleu's
  signature, with the sacrebleu version; a neural metric's checkpoint pin) and the tag of the
  normalization that made the scored text;
* the **item key**: a sha256 over the scored hypothesis, its references and (for metrics that
  read it) its source.

Beside the rows, ``text_flags`` keeps the validity checks' text flags, and ``remembered``
what was computed from whole statistics arrays (corpus scores, bootstrap intervals, a corpus's
signature, a run's paired tests against its baseline), keyed by a hash of everything that
decides it (:func:`remembered_key`): a rerun on the same statistics computes none of it, and
never imports sacrebleu. ``leaf_scores`` keeps,
per run-folder leaf, the last numbers written there with a hash of everything they were made
from (:mod:`harness.leaf_scores`): one row per leaf, replaced when its inputs change.

The bytes stored are the row's own (``ndarray.tobytes()``) and the dtype is stored with the
metric, so a cached row reads back byte-identical to a fresh extraction: int64 counts for BLEU
and chrF, float64 for TER.

The file is ``<cache_dir>/metric-stats.sqlite``, in WAL mode like the translation cache, so
several runs may read and write it at once; rows are only ever inserted (``OR IGNORE``: a row's
value is fixed by its key), each batch in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

log = logging.getLogger(__name__)

FILE_NAME = "metric-stats.sqlite"
FORMAT = 1  # bump when the meaning of stored rows changes
_BATCH = 900  # keys per SELECT: under SQLite's parameter limit everywhere

_SCHEMA = """
CREATE TABLE IF NOT EXISTS metrics (
    metric_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    identity TEXT NOT NULL,
    signature TEXT NOT NULL,
    dtype TEXT NOT NULL,
    n_columns INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS segment_stats (
    metric_key TEXT NOT NULL,
    item_key BLOB NOT NULL,
    stats BLOB NOT NULL,
    PRIMARY KEY (metric_key, item_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS text_flags (
    item_key BLOB PRIMARY KEY,
    flags TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS remembered (
    key BLOB PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leaf_scores (
    leaf TEXT PRIMARY KEY,
    inputs BLOB NOT NULL,
    value TEXT NOT NULL,
    stats BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class MetricEntry:
    """What the cache knows about one metric key: enough to decode its rows."""

    signature: str
    dtype: str  # numpy dtype string, e.g. "<i8"
    n_columns: int


def metric_key(identity: Mapping[str, Any]) -> str:
    blob = json.dumps(dict(identity), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def item_key(hypothesis: str, references: Sequence[str] | None, source: str | None) -> bytes:
    """sha256 over one segment's scored text (JSON: unambiguous whatever the text holds)."""
    blob = json.dumps([hypothesis, None if references is None else list(references), source])
    return hashlib.sha256(blob.encode()).digest()


def remembered_key(kind: str, parts: Any, blobs: Iterable[bytes] = ()) -> bytes:
    """sha256 over what decides a remembered value: its kind, JSON ``parts`` (names,
    signatures, settings, versions) and raw ``blobs`` (statistics bytes)."""
    digest = hashlib.sha256(json.dumps([FORMAT, kind, parts], sort_keys=True).encode())
    for blob in blobs:
        digest.update(len(blob).to_bytes(8, "little"))  # unambiguous boundaries
        digest.update(blob)
    return digest.digest()


class StatsCache:
    """Per-segment statistics in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, safe
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise HarnessError(
                f"metric statistics cache {self.path} is unusable ({e}); delete it or pass "
                "--no-cache"
            ) from e

    @classmethod
    def in_dir(cls, cache_dir: Path) -> StatsCache:
        return cls(Path(cache_dir) / FILE_NAME)

    def entry(self, key: str) -> MetricEntry | None:
        row = self._db.execute(
            "SELECT signature, dtype, n_columns FROM metrics WHERE metric_key = ?", (key,)
        ).fetchone()
        return None if row is None else MetricEntry(str(row[0]), str(row[1]), int(row[2]))

    def get_many(self, key: str, items: Iterable[bytes]) -> dict[bytes, bytes]:
        """Stored rows (item key -> row bytes) among ``items``."""
        unique = list(dict.fromkeys(items))
        found: dict[bytes, bytes] = {}
        for start in range(0, len(unique), _BATCH):
            chunk = unique[start : start + _BATCH]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT item_key, stats FROM segment_stats "
                f"WHERE metric_key = ? AND item_key IN ({marks})",
                [key, *chunk],
            )
            found.update((bytes(k), bytes(v)) for k, v in rows)
        return found

    def put_many(
        self,
        key: str,
        entry: MetricEntry,
        identity: Mapping[str, Any],
        name: str,
        rows: Iterable[tuple[bytes, bytes]],
    ) -> None:
        """Store rows (item key, row bytes) of one metric key in one transaction."""
        blob = json.dumps(dict(identity), sort_keys=True, ensure_ascii=False, default=str)
        values = [(key, k, v) for k, v in rows]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT OR IGNORE INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, name, blob, entry.signature, entry.dtype, entry.n_columns, time.time()),
            )
            self._db.executemany("INSERT OR IGNORE INTO segment_stats VALUES (?, ?, ?)", values)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def get_text_flags(self, keys: Sequence[bytes]) -> dict[bytes, tuple[str, ...]]:
        """Validity text flags by :func:`harness.validity.checks.text_key` (those stored)."""
        unique = list(dict.fromkeys(keys))
        found: dict[bytes, tuple[str, ...]] = {}
        for start in range(0, len(unique), _BATCH):
            chunk = unique[start : start + _BATCH]
            rows = self._db.execute(
                f"SELECT item_key, flags FROM text_flags WHERE item_key IN "
                f"({','.join('?' * len(chunk))})",
                chunk,
            )
            found.update((bytes(k), tuple(json.loads(v))) for k, v in rows)
        return found

    def put_text_flags(self, rows: Mapping[bytes, Sequence[str]]) -> None:
        values = [(k, json.dumps(list(v))) for k, v in rows.items()]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR IGNORE INTO text_flags VALUES (?, ?)", values)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def recall(self, key: bytes) -> Any | None:
        """The JSON value remembered under ``key`` (see :func:`remembered_key`), or None."""
        row = self._db.execute("SELECT value FROM remembered WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def remember(self, key: bytes, value: Any) -> None:
        # Floats go through JSON as repr, which reads back to the same double.
        blob = json.dumps(value, ensure_ascii=False, allow_nan=True)
        self._keep("INSERT OR IGNORE INTO remembered VALUES (?, ?)", (key, blob), "a value")

    def recall_leaf(self, leaf: str, inputs: bytes) -> tuple[Any, bytes] | None:
        """The JSON value and statistics bytes last kept for ``leaf``, if made from ``inputs``."""
        row = self._db.execute(
            "SELECT inputs, value, stats FROM leaf_scores WHERE leaf = ?", (leaf,)
        ).fetchone()
        if row is None or bytes(row[0]) != inputs:
            return None
        return json.loads(row[1]), bytes(row[2])

    def remember_leaf(self, leaf: str, inputs: bytes, value: Any, stats: bytes) -> None:
        blob = json.dumps(value, ensure_ascii=False, allow_nan=True)
        sql = "INSERT OR REPLACE INTO leaf_scores VALUES (?, ?, ?, ?)"
        self._keep(sql, (leaf, inputs, blob, stats), f"the numbers of {leaf}")

    def _keep(self, sql: str, params: tuple[Any, ...], what: str) -> None:
        """Write a remembered value; a read-only or full cache keeps nothing. Those values are
        only shortcuts (the run folder has them, and a rerun computes them again), unlike the
        statistics rows, whose writes fail loudly."""
        try:
            self._db.execute(sql, params)
        except sqlite3.OperationalError as e:
            log.debug("cannot keep %s in %s: %s", what, self.path, e)

    def forget(self, key: str) -> None:
        """Drop a metric key's rows (its stored dtype or shape no longer fits)."""
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("DELETE FROM segment_stats WHERE metric_key = ?", (key,))
        self._db.execute("DELETE FROM metrics WHERE metric_key = ?", (key,))
        self._db.execute("COMMIT")

    def count(self, key: str | None = None) -> int:
        if key is None:
            (n,) = self._db.execute("SELECT COUNT(*) FROM segment_stats").fetchone()
        else:
            (n,) = self._db.execute(
                "SELECT COUNT(*) FROM segment_stats WHERE metric_key = ?", (key,)
            ).fetchone()
        return int(n)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StatsCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
