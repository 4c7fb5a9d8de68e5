"""Which code made a number: installed package versions (read from the distributions'
metadata without importing them) and digests of the harness's own source."""

from __future__ import annotations

import functools
import hashlib
from importlib import metadata


@functools.cache
def installed_version(name: str) -> str | None:
    """The version of the installed distribution ``name`` (None when it is not installed).

    The same answer as ``importlib.metadata.version``, which parses the whole METADATA file
    with the email package (the parser alone takes 15 ms to import, and every harness process
    records a dozen versions). Only the header's ``Version:`` line is read here; metadata
    without one goes to importlib. Cached: packages do not change under a running process.
    """
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    for line in text.splitlines():
        if not line.strip():  # the headers end at the first blank line
            break
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() == "version":
            return value.strip()
    return dist.version


def version_or_absent(name: str) -> str:
    """:func:`installed_version`, ``"absent"`` for a package that is not installed (the
    spelling identity records use)."""
    return installed_version(name) or "absent"


@functools.cache
def code_digest(*patterns: str) -> str:
    """sha256 over the source of the harness modules matching ``patterns`` (globs relative to
    the package folder, e.g. ``"data/*.py"``): what remembers a result of that code keys on it,
    so an edited checker or scorer makes entries of its own instead of serving old ones, with
    no version to remember to bump."""
    from pathlib import Path

    package = Path(__file__).resolve().parent
    files = sorted({path for pattern in patterns for path in package.glob(pattern)})
    digest = hashlib.sha256()
    for path in files:
        relative = path.relative_to(package).as_posix()
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
