"""Installed package versions, read from the distributions' metadata without importing them."""

from __future__ import annotations

import functools
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
