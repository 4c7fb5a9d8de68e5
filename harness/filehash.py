"""Content hashes of model folders, remembered while the files' sizes and times stay.

A local model folder is pinned by a sha256 over the relative name and bytes of **every** file in
it, subfolders included (transformers 5 keeps the chat template in ``chat_template.jinja``, some
exports keep tokenizers or shards in subfolders, tiktoken models ship ``.tiktoken`` files).
Hidden files and folders (``.git``, ``.cache`` written by ``hf download --local-dir``) are left
out: they hold metadata, not weights.

Hashing multi-GB weights takes a while, so each file's hash is remembered, in this process and
in ``<cache_dir>/file-hashes.json`` when a cache folder is known, keyed by its absolute path,
size and mtime; a file rewritten in place gets a new mtime and is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_STORE_NAME = "file-hashes.json"
_lock = threading.Lock()
_memory: dict[tuple[str, int, int], str] = {}
_dirty: set[tuple[str, int, int]] = set()  # hashed in this process, not yet in the store
_store_path: Path | None = None
_store_loaded = False


def remember_in(cache_dir: Path | None) -> None:
    """Keep file hashes in ``cache_dir`` from now on (None: in this process only)."""
    global _store_path, _store_loaded
    with _lock:
        new = None if cache_dir is None else Path(cache_dir) / _STORE_NAME
        if new != _store_path:
            _store_path, _store_loaded = new, False


def model_files(folder: Path) -> list[Path]:
    """Every file that decides what a model folder computes, in a stable order."""
    out = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).parts
        if any(part.startswith(".") for part in relative) or not path.is_file():
            continue
        out.append(path)
    return out


def folder_fingerprint(folder: Path) -> str:
    """``sha256:<hex>`` over the relative names and contents of every file of ``folder``."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in model_files(folder):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(file_sha256(path).encode() + b"\n")
    _save()
    return "sha256:" + digest.hexdigest()


def file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _lock:
        _load()
        known = _memory.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _lock:
        _memory[key] = value
        _dirty.add(key)
    return value


def _load() -> None:
    """Read the store once (caller holds the lock); a damaged store is ignored, not fatal:
    it only saves time."""
    global _store_loaded
    if _store_loaded or _store_path is None:
        return
    _store_loaded = True
    try:
        rows = json.loads(_store_path.read_text(encoding="utf-8"))
        for row in rows:
            _memory[(str(row[0]), int(row[1]), int(row[2]))] = str(row[3])
    except FileNotFoundError:
        return
    except (OSError, ValueError, TypeError, IndexError) as e:
        log.warning("ignoring unreadable file-hash store %s: %s", _store_path, e)


def _save() -> None:
    """Write newly hashed files to the store; a store that cannot be written only costs
    hashing again next time."""
    from harness.store import write_text_atomic

    with _lock:
        if _store_path is None or not _dirty:
            return
        rows = [[*key, sha] for key, sha in sorted(_memory.items())]
        _dirty.clear()
        path = _store_path
    try:
        write_text_atomic(path, json.dumps(rows))
    except OSError as e:
        log.warning("could not remember file hashes in %s: %s", path, e)
