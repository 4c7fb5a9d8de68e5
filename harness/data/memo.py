"""Loaded datasets remembered while the files they were read from stay as they were.

Loading checks every pair (Moses signs, boundary normalization, content notes, the
fingerprint): about 40 ms for NTREX-128's 1,997 pairs, seconds for a set of 100,000, on every
run. A rerun on unchanged files reads the finished :class:`~harness.segments.LoadedDataset`
back from ``<cache_dir>/datasets/<key>.json`` instead.

The file name is a digest of the dataset's config, the folder relative paths are taken from,
and the code that loads (the ``harness.data`` package, normalization and segments: an edited
checker makes its own entries, with no version to bump). Inside, each file the source reads is
listed with its size, mtime, ctime, inode and device: any write to a file, a rename over it or
a ``touch`` changes one of them, and the dataset is read again and the entry replaced. A
source that cannot name its files (a hub data set) is never remembered.

The memo is only ever a shortcut: an entry that cannot be read or written is ignored (logged
at debug level), and the dataset is loaded as if it were not there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import __version__, store
from harness.segments import LoadedDataset
from harness.versions import code_digest

log = logging.getLogger(__name__)

FOLDER = "datasets"
_FORMAT = 1


def entry_path(memo_dir: Path, config: dict[str, Any], base_dir: Path) -> Path:
    """Where the dataset ``config`` (its JSON dump) read relative to ``base_dir`` is kept."""
    blob = json.dumps(
        [_FORMAT, __version__, _code_digest(), str(base_dir), config],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return memo_dir / f"{hashlib.sha256(blob.encode()).hexdigest()[:32]}.json"


def file_stamps(files: Sequence[Path]) -> list[list[Any]] | None:
    """Each file's absolute path, size, mtime, ctime, inode and device; None if one is gone."""
    out = []
    for path in files:
        try:
            st = os.stat(path)
        except OSError:
            return None
        out.append(
            [str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino,
             st.st_dev]
        )  # fmt: skip
    return out


def recall(entry: Path, stamps: list[list[Any]]) -> LoadedDataset | None:
    """The dataset kept in ``entry`` if its files still have ``stamps``, else None."""
    try:
        stored = json.loads(entry.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.debug("dataset memo %s unreadable (%s): loading the dataset", entry, e)
        return None
    if not isinstance(stored, dict) or stored.get("files") != stamps:
        return None
    try:
        return LoadedDataset.from_json(stored["dataset"])
    except (KeyError, TypeError, ValueError) as e:
        log.debug("dataset memo %s does not fit (%s): loading the dataset", entry, e)
        return None


def remember(entry: Path, stamps: list[list[Any]], data: LoadedDataset) -> None:
    try:
        store.write_text_atomic(
            entry, json.dumps({"files": stamps, "dataset": data.to_json()}, ensure_ascii=False)
        )
    except (OSError, store.RunFolderError) as e:  # a read-only or full cache folder
        log.debug("cannot keep the dataset memo %s (%s)", entry, e)


def _code_digest() -> str:
    """The source of the modules that turn files into a LoadedDataset."""
    return code_digest("data/*.py", "textnorm.py", "segments.py")
