"""SQLite translation cache: every finished batch is committed, so an interrupted run resumes.

Rows are keyed by (translator key, source text). The translator key is a hash of every setting
that changes the output (model, revision, preset, decoding settings, ...), not of settings that
only change speed (batch size, threads, device), so a resumed run may use a different batch size.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from harness.errors import HarnessError

# Settings that change speed but not the text produced.
SPEED_ONLY_KEYS = frozenset(
    {
        "name",
        "batch_size",
        "max_tokens_per_batch",
        "device",
        "torch_compile",
        "inter_threads",
        "intra_threads",
        "progress",
    }
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS translations (
    translator_key TEXT NOT NULL,
    source_sha TEXT NOT NULL,
    source TEXT NOT NULL,
    hypothesis TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (translator_key, source_sha)
);
CREATE TABLE IF NOT EXISTS translators (
    translator_key TEXT PRIMARY KEY,
    provenance TEXT NOT NULL
);
"""


def translator_key(settings: Mapping[str, Any]) -> str:
    """A stable hash of the output-affecting part of a translator's settings."""
    kept = {k: v for k, v in settings.items() if k not in SPEED_ONLY_KEYS}
    blob = json.dumps(kept, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class TranslationStore(Protocol):
    """Where finished translations go: the SQLite cache, or a process's shard file
    (:mod:`harness.shards`) in a multi-process run."""

    def get_many(self, key: str, sources: Sequence[str]) -> dict[str, str]: ...

    def put_many(self, key: str, pairs: Iterable[tuple[str, str]]) -> None: ...


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class TranslationCache:
    """A small key-value store of finished translations in one SQLite file."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """``read_only``: look up an existing file without creating or changing it (a process
        of a multi-process run reading its own node's cache, which process 0 does not own)."""
        self.path = path
        try:
            if read_only:
                uri = path.resolve().as_uri() + "?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: autocommit; writes are explicit transactions in put_many.
            self._db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise HarnessError(
                f"translation cache {path} is unusable ({e}); delete it or pass --no-cache"
            ) from e

    def get_many(self, key: str, sources: Sequence[str]) -> dict[str, str]:
        """Cached hypotheses for the given sources (source text -> hypothesis)."""
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(sources))
        for start in range(0, len(unique), 500):  # stay under SQLite's parameter limit
            chunk = unique[start : start + 500]
            by_sha = {_sha(s): s for s in chunk}
            marks = ",".join("?" * len(by_sha))
            rows = self._db.execute(
                f"SELECT source_sha, source, hypothesis FROM translations "
                f"WHERE translator_key = ? AND source_sha IN ({marks})",
                [key, *by_sha],
            )
            for sha, source, hypothesis in rows:
                if by_sha.get(sha) == source:  # guard against a hash collision
                    found[source] = hypothesis
        return found

    def put_many(self, key: str, pairs: Iterable[tuple[str, str]]) -> None:
        """Store (source, hypothesis) pairs in one transaction."""
        now = time.time()
        rows = [(key, _sha(s), s, h, now) for s, h in pairs]
        self._db.execute("BEGIN")
        try:
            self._db.executemany("INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?)", rows)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def put_provenance(self, key: str, provenance: Mapping[str, Any]) -> None:
        """Remember how a translator was made, so a fully cached rerun can still report it."""
        blob = json.dumps(dict(provenance), sort_keys=True, ensure_ascii=False, default=str)
        self._db.execute("INSERT OR REPLACE INTO translators VALUES (?, ?)", (key, blob))

    def get_provenance(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT provenance FROM translators WHERE translator_key = ?", (key,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def count(self, key: str) -> int:
        (n,) = self._db.execute(
            "SELECT COUNT(*) FROM translations WHERE translator_key = ?", (key,)
        ).fetchone()
        return int(n)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TranslationCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
