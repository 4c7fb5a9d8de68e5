"""Run folders: atomic writes, and reading finished results back for tables and comparisons.

Layout (see docs/run-folder.md)::

    <output_dir>/<run>/config.yaml, summary.json
    <output_dir>/<run>/<model slug>/<dataset slug>/hypotheses.txt, segments.jsonl,
                                                  results.json, stats.npz
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from harness.errors import RunFolderError

log = logging.getLogger(__name__)

RESULTS_FILE = "results.json"
SUMMARY_FILE = "summary.json"
CONFIG_FILE = "config.yaml"
SCHEMA_VERSION = 1


def default_mode(directory: bool = False) -> int:
    """The mode a plain open() would give under the current umask (mkstemp gives 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it into place, so that
    readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``path`` to fill; when the block ends without an
    error it is renamed to ``path`` (replacing an earlier folder of that name), otherwise it
    is removed. A reader sees a complete folder or none, never one with half its files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, default_mode(directory=True))
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old)  # a folder cannot be renamed over a non-empty one
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def writing(what: str, where: Path) -> Iterator[None]:
    """Turn an OSError while writing ``what`` into a two-line :class:`RunFolderError`."""
    try:
        yield
    except OSError as e:
        reason = e.strerror or str(e)
        hint = "free some space" if e.errno in (errno.ENOSPC, errno.EDQUOT) else "fix that"
        raise RunFolderError(
            f"cannot write {what} to {where}: {reason}\n"
            f"nothing half-written is left there; {hint} (or set output_dir) and rerun: "
            "finished translations are in the cache"
        ) from e


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` as UTF-8 with ``\n`` line ends, atomically."""
    return write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def write_json_atomic(path: Path, payload: Any) -> Path:
    return write_text_atomic(path, json.dumps(payload, ensure_ascii=False, indent=2) + "\n")


def write_lines_atomic(path: Path, lines: Iterable[str]) -> Path:
    """One item per line; a newline inside an item would shift every later line, so it is
    replaced by a space here (the JSONL file keeps the exact text)."""
    return write_text_atomic(path, "".join(_one_line(s) + "\n" for s in lines))


def _one_line(text: str) -> str:
    return " ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text


# json.dumps(row, ensure_ascii=False) builds an encoder per call; one row per segment.
_ROW_ENCODER = json.JSONEncoder(ensure_ascii=False)


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    encode = _ROW_ENCODER.encode
    return write_text_atomic(path, "".join(encode(row) + "\n" for row in rows))


@dataclass(frozen=True)
class ResultLeaf:
    """One finished (model, dataset) evaluation read back from a run folder."""

    path: Path  # the leaf folder
    results: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.results["model"]["name"])

    @property
    def dataset(self) -> str:
        return str(self.results["dataset"]["name"])


def find_result_leaves(roots: Sequence[Path]) -> list[ResultLeaf]:
    """Every results.json under the given folders (a run root, a model folder, or a leaf).

    The order is stable: folders in the order given, then sorted paths inside each.
    """
    leaves: list[ResultLeaf] = []
    for root in roots:
        root = Path(root)
        if not root.exists():
            raise RunFolderError(f"run folder not found: {root}")
        found = [root / RESULTS_FILE] if (root / RESULTS_FILE).is_file() else []
        found = found or _listed_in_summary(root) or _results_under(root)
        if not found:
            raise RunFolderError(f"no {RESULTS_FILE} under {root}: not a finished run folder")
        leaves.extend(ResultLeaf(path=p.parent, results=read_results(p)) for p in found)
    return leaves


def _results_under(root: Path) -> list[Path]:
    """Every results.json below ``root``, leaving out hidden folders (a result folder being
    written, or left by a run that was killed; see :func:`atomic_dir`)."""
    found = [
        p
        for p in sorted(root.rglob(RESULTS_FILE))
        if not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    if found and (root / CONFIG_FILE).is_file():
        # A run root without its summary: an unfinished run, or leftovers of earlier ones.
        log.warning(
            "%s has no %s (the run did not finish?): reading all %d results found under it, "
            "which may include folders from earlier runs of that name",
            root, SUMMARY_FILE, len(found),
        )  # fmt: skip
    return found


def _listed_in_summary(root: Path) -> list[Path]:
    """The results a finished run lists in its summary.json, in config order.

    A run folder reused under the same name can still hold model folders from an earlier
    config; the summary says which ones belong to the last run.
    """
    summary = root / SUMMARY_FILE
    if not summary.is_file():
        return []
    try:
        rows = json.loads(summary.read_text(encoding="utf-8"))["results"]
        paths = [root / row["path"] / RESULTS_FILE for row in rows]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise RunFolderError(f"cannot read {summary}: {e}") from e
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise RunFolderError(f"{summary} lists {missing[0]}, which does not exist")
    return paths


def read_results(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunFolderError(f"cannot read {path}: {e}") from e
    version = payload.get("schema_version") if isinstance(payload, dict) else None
    if version != SCHEMA_VERSION:
        raise RunFolderError(
            f"{path}: schema_version {version!r}, this harness reads {SCHEMA_VERSION}"
        )
    return payload
