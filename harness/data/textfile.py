"""Strict reading of UTF-8 text files, line by line, with errors that name the line.

Only ``\\n`` ends a line. ``str.splitlines`` would also split on U+2028, U+0085, form feeds and
lone ``\\r``, which can occur inside a sentence and would shift every later line against its
reference file.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DatasetError


@dataclass(frozen=True)
class TextLines:
    """A decoded file: ``lines[i]`` is line ``i + 1`` without its line end."""

    path: Path
    lines: tuple[str, ...]
    sha256: str  # of the bytes on disk
    bom: bool  # a UTF-8 byte-order mark was removed
    crlf: int  # lines that ended in \r\n (the \r was removed)


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or a :class:`DatasetError` saying why they cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError as e:
        raise DatasetError(f"{path}: file not found") from e
    except IsADirectoryError as e:
        raise DatasetError(f"{path}: is a folder, expected a file") from e
    except OSError as e:
        raise DatasetError(f"{path}: cannot read: {e.strerror or e}") from e


def read_lines(path: Path) -> TextLines:
    """Decode ``path`` as UTF-8; a BOM and CRLF line ends are accepted and counted.

    A final line end closes the last line rather than opening an empty one. Raises
    :class:`DatasetError` with the file and 1-based line of the first invalid byte.
    """
    data = read_bytes(path)
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DatasetError(
            f"{path}: is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8"
        )
    bom = data.startswith(codecs.BOM_UTF8)
    if bom:
        data = data[len(codecs.BOM_UTF8) :]
    chunks = data.split(b"\n")
    if chunks[-1] == b"":
        chunks.pop()
    lines: list[str] = []
    crlf = 0
    for number, chunk in enumerate(chunks, start=1):
        if chunk.endswith(b"\r"):
            chunk = chunk[:-1]
            crlf += 1
        lines.append(_decode(chunk, path, number))
    return TextLines(path=path, lines=tuple(lines), sha256=digest, bom=bom, crlf=crlf)


def _decode(chunk: bytes, path: Path, number: int) -> str:
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = chunk[e.start : e.start + 4]
        raise DatasetError(
            f"{path}:{number}: invalid UTF-8 (byte {e.start + 1} of the line, {bad!r}); "
            "re-encode the file as UTF-8"
        ) from e
