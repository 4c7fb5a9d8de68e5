"""Facts about the environment that every results file records."""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import harness
from harness.versions import installed_version

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


def _package_versions(names: tuple[str, ...]) -> dict[str, str | None]:
    return {name: installed_version(name) for name in names}


@functools.cache
def harness_git_commit() -> str | None:
    """The commit of the harness checkout, when it runs from one (editable installs), with
    ``-dirty`` when tracked files differ from it; asked once per process, in one git call
    (porcelain v2 names the commit in its ``# branch.oid`` header), not once per results file."""
    root = Path(harness.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "status",
                "--porcelain=v2",
                "--branch",
                "--untracked-files=no",
            ],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.splitlines()
    commit = next((line.split()[2] for line in lines if line.startswith("# branch.oid ")), None)
    if commit is None or commit == "(initial)":  # a repository with no commit yet
        return None
    dirty = any(not line.startswith("#") for line in lines)
    return commit + ("-dirty" if dirty else "")


def environment() -> dict[str, Any]:
    return {
        "harness_version": harness.__version__,
        "harness_commit": harness_git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
    }
