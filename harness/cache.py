"""SQLite translation cache: every finished batch is committed, so an interrupted run resumes.

Rows are keyed by (translator key, source text). The translator key is a hash of the
translator's identity (:mod:`harness.translators.identity`: model, weights pin, resolved preset,
decoding settings, device kind and dtype, harness and library versions), not of settings that
only change speed (batch size, threads, the GPU index), so a resumed run may use another batch
size. The identity itself is stored beside the rows (``identities``), which is what
``harness cache info`` lists.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from harness.errors import CacheError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS translations (
    translator_key TEXT NOT NULL,
    source_sha TEXT NOT NULL,
    source TEXT NOT NULL,
    hypothesis TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (translator_key, source_sha)
);
CREATE TABLE IF NOT EXISTS segment_flags (
    translator_key TEXT NOT NULL,
    source_sha TEXT NOT NULL,
    flags TEXT NOT NULL,
    PRIMARY KEY (translator_key, source_sha)
);
CREATE TABLE IF NOT EXISTS translators (
    translator_key TEXT PRIMARY KEY,
    provenance TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS identities (
    translator_key TEXT PRIMARY KEY,
    identity TEXT NOT NULL,
    model TEXT NOT NULL,
    labels TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS memo (
    kind TEXT NOT NULL,
    memo_key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, memo_key)
);
"""


# Words in sqlite3.OperationalError messages that mean a write cannot be done here.
_WRITE_FAILURES = ("readonly", "full", "disk I/O")


class TranslationStore(Protocol):
    """Where finished translations go: the SQLite cache, or a process's shard file
    (:mod:`harness.shards`) in a multi-process run."""

    def get_many(self, key: str, sources: Sequence[str]) -> dict[str, str]: ...

    def get_flags(self, key: str, sources: Sequence[str]) -> dict[str, tuple[str, ...]]: ...

    def put_provenance(self, key: str, provenance: Mapping[str, Any]) -> None: ...

    def put_many(
        self,
        key: str,
        pairs: Iterable[tuple[str, str]],
        flags: Mapping[str, Sequence[str]] | None = None,
    ) -> None: ...


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
            # In WAL mode, NORMAL still keeps every committed transaction through a crash of
            # the process (kill -9); only an OS crash or power loss can drop the last few.
            # FULL fsyncs each commit: 9 ms here, which serialized an API run's per-answer
            # commits to about 110 answers/s whatever the server could do (measured).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise CacheError(
                f"translation cache {path} is unusable ({e})\n"
                "delete it (its translations are made again), set cache_dir to another "
                "folder, or pass --no-cache"
            ) from e

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """SQLite errors after opening (damage deep inside the file is found only when a
        query reaches it; a read-only file only at the first write) as a CacheError that
        names the file and what to do."""
        try:
            yield
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            raise  # a bug in the caller (e.g. a None hypothesis), not the file's fault
        except sqlite3.OperationalError as e:
            if not any(word in str(e) for word in _WRITE_FAILURES):
                raise CacheError(f"translation cache {self.path}: {e}") from e
            raise CacheError(
                f"cannot write to the translation cache {self.path} ({e})\n"
                "the translations cached before this batch are kept; make the file writable "
                "or free space, set cache_dir to another folder, or pass --no-cache"
            ) from e
        except sqlite3.DatabaseError as e:  # e.g. "database disk image is malformed"
            raise CacheError(
                f"translation cache {self.path} is damaged ({e})\n"
                "delete it (its translations are made again), set cache_dir to another "
                "folder, or pass --no-cache"
            ) from e

    def writable(self) -> bool:
        """Whether a write would succeed (a read-only file, or one on a read-only mount,
        opens and reads fine and fails only at the first commit)."""
        with self._guard():
            began = False
            try:
                self._db.execute("BEGIN IMMEDIATE")
                began = True
                self._db.execute("INSERT OR REPLACE INTO translators VALUES ('', '{}')")
            except sqlite3.OperationalError as e:
                if "readonly" in str(e):
                    return False
                raise
            finally:
                if began:
                    self._db.execute("ROLLBACK")
        return True

    def get_many(self, key: str, sources: Sequence[str]) -> dict[str, str]:
        """Cached hypotheses for the given sources (source text -> hypothesis)."""
        with self._guard():
            return self._get_many(key, sources)

    def _get_many(self, key: str, sources: Sequence[str]) -> dict[str, str]:
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

    def put_many(
        self,
        key: str,
        pairs: Iterable[tuple[str, str]],
        flags: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Store (source, hypothesis) pairs in one transaction, with the translator's flags
        for some of the sources (source -> e.g. ``("truncated",)``; only non-empty kept)."""
        now = time.time()
        rows = [(key, _sha(s), s, h, now) for s, h in pairs]
        flags = flags or {}
        flag_rows = [
            (key, sha, json.dumps(list(flags[s]))) for _, sha, s, _, _ in rows if flags.get(s)
        ]
        with self._guard():
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?)", rows
                )
                # A row replaced without flags must not keep the old row's.
                self._db.executemany(
                    "DELETE FROM segment_flags WHERE translator_key = ? AND source_sha = ?",
                    [(key, sha) for _, sha, _, _, _ in rows],
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO segment_flags VALUES (?, ?, ?)", flag_rows
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get_flags(self, key: str, sources: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The translator's flags stored for these sources (only those that have any)."""
        found: dict[str, tuple[str, ...]] = {}
        unique = list(dict.fromkeys(sources))
        for start in range(0, len(unique), 500):
            by_sha = {_sha(s): s for s in unique[start : start + 500]}
            marks = ",".join("?" * len(by_sha))
            rows = self._db.execute(
                f"SELECT source_sha, flags FROM segment_flags "
                f"WHERE translator_key = ? AND source_sha IN ({marks})",
                [key, *by_sha],
            )
            for sha, blob in rows:
                found[by_sha[sha]] = tuple(json.loads(blob))
        return found

    def put_provenance(self, key: str, provenance: Mapping[str, Any]) -> None:
        """Remember how a translator was made, so a fully cached rerun can still report it."""
        blob = json.dumps(dict(provenance), sort_keys=True, ensure_ascii=False, default=str)
        with self._guard():
            self._db.execute("INSERT OR REPLACE INTO translators VALUES (?, ?)", (key, blob))

    def get_provenance(self, key: str) -> dict[str, Any] | None:
        with self._guard():
            row = self._db.execute(
                "SELECT provenance FROM translators WHERE translator_key = ?", (key,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put_identity(self, key: str, identity: Mapping[str, Any], label: str) -> None:
        """Remember what a translator key stands for (and the names it was run under)."""
        blob = json.dumps(dict(identity), sort_keys=True, ensure_ascii=False, default=str)
        with self._guard():
            row = self._db.execute(
                "SELECT labels FROM identities WHERE translator_key = ?", (key,)
            ).fetchone()
            labels = sorted({*json.loads(row[0]), label}) if row else [label]
            self._db.execute(
                "INSERT OR REPLACE INTO identities VALUES (?, ?, ?, ?, "
                "COALESCE((SELECT created FROM identities WHERE translator_key = ?), ?))",
                (key, blob, str(identity.get("model", "")), json.dumps(labels), key, time.time()),
            )

    def memo(self, kind: str, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``compute()``, remembered under (kind, key): for values fixed by what the key holds,
        e.g. a model's resolved preset, which would otherwise need its tokenizer loaded."""
        with self._guard():
            row = self._db.execute(
                "SELECT value FROM memo WHERE kind = ? AND memo_key = ?", (kind, key)
            ).fetchone()
        if row:
            return dict(json.loads(row[0]))
        value = compute()
        blob = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
        # A read-only cache keeps working: the memo only saves loading a tokenizer next time.
        with contextlib.suppress(sqlite3.OperationalError):
            self._db.execute("INSERT OR REPLACE INTO memo VALUES (?, ?, ?)", (kind, key, blob))
        return value

    def count(self, key: str) -> int:
        with self._guard():
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
