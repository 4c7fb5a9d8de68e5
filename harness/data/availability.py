"""Which named benchmarks can be loaded on this machine right now, without the hub.

Looked up on disk only (no hub request, no ``datasets`` import): the Hugging Face hub cache
(``$HF_HUB_CACHE``, else ``$HF_HOME/hub``) holds ``datasets--org--name`` folders, the datasets
cache (``$HF_DATASETS_CACHE``, else ``$HF_HOME/datasets``) ``org___name`` folders. Either is
what an offline load reads from.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.data.registry import BenchmarkInfo


def _hf_home() -> Path:
    return Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")).expanduser()


def _caches(repo_id: str) -> list[Path]:
    hub = Path(os.environ.get("HF_HUB_CACHE", _hf_home() / "hub")).expanduser()
    data = Path(os.environ.get("HF_DATASETS_CACHE", _hf_home() / "datasets")).expanduser()
    return [hub / f"datasets--{repo_id.replace('/', '--')}", data / repo_id.replace("/", "___")]


def availability(info: BenchmarkInfo) -> str:
    """``bundled``, ``cached`` (loads offline), ``not cached`` (needs the hub once), or
    ``needs path:`` (your own copy: not downloadable)."""
    if info.origin == "bundled":
        return "bundled"
    if info.needs_path or "/" not in info.origin:
        return "needs path:"
    return "cached" if any(p.is_dir() for p in _caches(info.origin)) else "not cached"
