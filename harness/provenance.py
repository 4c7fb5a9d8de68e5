"""Facts about the environment that every results file records."""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import harness

PACKAGES = (
    "torch",
    "transformers",
    "tokenizers",
    "sentencepiece",
    "huggingface_hub",
    "datasets",
    "accelerate",
    "ctranslate2",
    "sacrebleu",
    "numpy",
    "pydantic",
)


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed versions, read from package metadata (no heavy imports)."""
    return dict(_package_versions(names))


@functools.cache
def _package_versions(names: tuple[str, ...]) -> dict[str, str | None]:
    # Each lookup scans sys.path (tens of ms); packages do not change under a running process.
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@functools.cache
def harness_git_commit() -> str | None:
    """The commit of the harness checkout, when it runs from one (editable installs); asked
    once per process (two git calls), not once per results file."""
    root = Path(harness.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def environment() -> dict[str, Any]:
    return {
        "harness_version": harness.__version__,
        "harness_commit": harness_git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
    }
