"""A process's own translations in a multi-process run, on its own node's disk.

In a run under torchrun only process 0 writes the SQLite translation cache (SQLite's WAL mode
does not work when processes on different hosts share a database file over a network
filesystem). Every other process keeps what it translates in memory, for the gather to
process 0, and appends each finished batch to a shard file of its own under its cache dir:
``<cache_dir>/shards/<host>-r<rank>-<pid>.jsonl``, one JSON object per line
(``{"k": translator key, "s": source, "h": hypothesis}``). The name is unique to one process,
so no file is ever written by two hosts, even when the cache dir is a shared folder.

Once process 0 has the translations in its cache, the shard is deleted. When the run breaks
first (a process killed, the network gone), the shard stays, and the next run on that node,
in one process or several, reads it: nothing finished is lost.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.cache import TranslationCache

log = logging.getLogger(__name__)

SHARD_DIR = "shards"
CACHE_ID_FILE = "cache-id"


def cache_identity(cache_dir: Path) -> str:
    """A random id stored in ``cache_dir``, created once: two processes that read the same id
    use the same folder (the same host, or a folder shared between hosts), which their paths
    alone cannot tell. Created with O_EXCL, so two hosts racing to create it agree."""
    path = cache_dir / CACHE_ID_FILE
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    new = uuid.uuid4().hex
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(new + "\n")
    return new


class ShardWriter:
    """This process's shard: every batch kept in memory and appended to its file (created on
    the first batch, so a process that translates nothing leaves no file)."""

    def __init__(self, cache_dir: Path, host: str, rank: int) -> None:
        self.path = cache_dir / SHARD_DIR / f"{_safe(host)}-r{rank}-{os.getpid()}.jsonl"
        self.rows: dict[str, dict[str, str]] = {}  # translator key -> source -> hypothesis
        # The translator's flags (truncated, ...) of this process's outputs. They stay on this
        # process: the gather to process 0 carries hypotheses only (a known gap).
        self.flags: dict[str, dict[str, tuple[str, ...]]] = {}
        self.provenance: dict[str, dict[str, Any]] = {}

    def get_many(self, key: str, sources: Sequence[str]) -> dict[str, str]:
        mine = self.rows.get(key, {})
        return {s: mine[s] for s in sources if s in mine}

    def put_provenance(self, key: str, provenance: Mapping[str, Any]) -> None:
        """Process 0 records provenance; another process's is only kept for its own use."""
        self.provenance[key] = dict(provenance)

    def get_flags(self, key: str, sources: Sequence[str]) -> dict[str, tuple[str, ...]]:
        mine = self.flags.get(key, {})
        return {s: mine[s] for s in sources if s in mine}

    def put_many(
        self,
        key: str,
        pairs: Iterable[tuple[str, str]],
        flags: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        pairs = list(pairs)
        self.rows.setdefault(key, {}).update(pairs)
        for source, seg_flags in (flags or {}).items():
            if seg_flags:
                self.flags.setdefault(key, {})[source] = tuple(seg_flags)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(
            json.dumps({"k": key, "s": s, "h": h}, ensure_ascii=False) + "\n" for s, h in pairs
        )
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(lines)
            fh.flush()
            os.fsync(fh.fileno())  # a batch takes seconds; this takes a millisecond

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)


def _safe(host: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in host) or "host"


def read_shards(cache_dir: Path) -> tuple[dict[str, dict[str, str]], list[Path]]:
    """Every row of every shard file left in ``cache_dir`` (translator key -> source ->
    hypothesis), and the files read. A line cut short by a crash is skipped: only the batch
    that was being written is lost."""
    rows: dict[str, dict[str, str]] = {}
    files = sorted((cache_dir / SHARD_DIR).glob("*.jsonl"))
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                try:
                    row = json.loads(line)
                    rows.setdefault(str(row["k"]), {})[str(row["s"])] = str(row["h"])
                except (ValueError, KeyError, TypeError):
                    log.warning("%s:%d: unreadable shard line skipped", path, number)
    return rows, files


def import_shards(cache: TranslationCache, cache_dir: Path) -> int:
    """Move the rows of shard files left in ``cache_dir`` by a broken multi-process run into
    the SQLite cache (rows of every model, not only this run's), then delete the files.
    Only the process that owns ``cache`` calls this. Returns the number of rows imported."""
    rows, files = read_shards(cache_dir)
    for key, pairs in rows.items():
        cache.put_many(key, pairs.items())
    for path in files:
        path.unlink(missing_ok=True)
    count = sum(len(pairs) for pairs in rows.values())
    if count:
        log.info("imported %d translations left by an earlier multi-process run", count)
    return count


def shard_keys(path: Path) -> list[str]:
    """The translator keys of a shard file's rows."""
    keys = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                keys.append(str(json.loads(line)["k"]))
            except (ValueError, KeyError, TypeError):
                continue
    return keys


def lookup(cache: TranslationCache, key: str, sources: Sequence[str]) -> dict[str, str]:
    """``cache.get_many`` on a node's own cache, which only adds to a run: one that cannot be
    read (another version's file, say) is skipped with a warning, not fatal."""
    try:
        return cache.get_many(key, sources)
    except sqlite3.DatabaseError as e:
        log.warning("%s: not used (%s)", cache.path, e)
        return {}
