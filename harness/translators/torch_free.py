"""A model's config and tokenizer loaded without importing torch, for CTranslate2.

CTranslate2 runs no torch, but transformers' ``AutoConfig`` and ``AutoTokenizer`` import it
(``configuration_utils`` imports ``modeling_rope_utils``, which imports torch): about 1 s of
a 5 s CT2 run on 256 segments, measured. This module gives the same :class:`ModelParts`
without that import, exactly:

- The tokenizer class ``AutoTokenizer`` picks depends only on the model's files and the
  transformers version, so it is worked out once by ``AutoTokenizer`` itself and remembered
  in ``<cache_dir>/tokenizer-classes.json``, keyed by the model folder, its weights pin (the
  commit of a hub snapshot, a sha256 over every file of a local folder) and the versions of
  transformers and tokenizers. Later runs import that class alone and call its
  ``from_pretrained`` on the same folder, as ``AutoTokenizer`` does.
- The few model-config fields the harness reads (``model_type``, ``is_encoder_decoder``,
  ``max_position_embeddings``) come straight from ``config.json``; any other attribute, or
  one of these that the file does not hold (the config class would supply a default), loads
  the real config through ``AutoConfig``, so no value can differ.

Remote code (``trust_remote_code``), a hub model not in the local cache, or a tokenizer class
from outside transformers go through :func:`load_parts` as before.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
from pathlib import Path
from typing import Any

from harness.translators.loading import (
    ModelParts,
    ModelSource,
    load_parts,
    load_with_errors,
    parts_from,
)

log = logging.getLogger(__name__)

_STORE_NAME = "tokenizer-classes.json"
# Read from config.json when present; the values the config classes keep as they are.
_JSON_FIELDS = frozenset({"model_type", "is_encoder_decoder", "max_position_embeddings"})


class JsonModelConfig:
    """A model config read from ``config.json``; anything beyond :data:`_JSON_FIELDS` comes
    from the real ``AutoConfig`` (loaded on first need)."""

    def __init__(self, source: ModelSource, data: dict[str, Any], trust_remote_code: bool):
        self._source, self._data, self._remote = source, data, trust_remote_code
        self._full: Any = None

    def full(self) -> Any:
        """The ``transformers`` config object (imports torch)."""
        if self._full is None:
            from transformers import AutoConfig

            self._full = load_with_errors(
                self._source, "config", AutoConfig.from_pretrained, trust_remote_code=self._remote
            )
        return self._full

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in _JSON_FIELDS and name in self._data:
            return self._data[name]
        return getattr(self.full(), name)


def load_parts_without_torch(cfg: Any, source: ModelSource, cache_dir: Path | None) -> ModelParts:
    """What :func:`load_parts` returns, importing no torch once the tokenizer class is known."""
    folder = Path(source.load_path)
    if (
        cfg.trust_remote_code
        or source.kind not in ("local", "hub-cache")
        or not (folder / "config.json").is_file()
    ):
        return load_parts(cfg, source)
    key = _key(source)
    tokenizer_class = _remembered(cache_dir).get(key)
    if tokenizer_class is None:
        parts = load_parts(cfg, source)
        _remember(cache_dir, key, type(parts.tokenizer))
        return parts
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return load_parts(cfg, source)  # load_parts says what is wrong with the file
    module, _, name = tokenizer_class.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):  # a store edited by hand: learn the class again
        return load_parts(cfg, source)
    tokenizer = load_with_errors(source, "tokenizer", cls.from_pretrained)
    return parts_from(cfg, source, JsonModelConfig(source, data, False), tokenizer)


def _key(source: ModelSource) -> str:
    from harness.translators.runtime import package_versions

    versions = package_versions(("transformers", "tokenizers"))
    text = json.dumps([str(Path(source.load_path).resolve()), source.revision, versions])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _store(cache_dir: Path | None) -> Path | None:
    return None if cache_dir is None else Path(cache_dir) / _STORE_NAME


def _remembered(cache_dir: Path | None) -> dict[str, str]:
    """The store's contents; a missing or damaged store is empty (it only saves time)."""
    path = _store(cache_dir)
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("ignoring unreadable tokenizer-class store %s: %s", path, e)
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if str(v).startswith("transformers.")}


def _remember(cache_dir: Path | None, key: str, cls: type) -> None:
    """Remember a tokenizer class from transformers itself (remote code is never remembered)."""
    from harness.store import write_text_atomic

    path = _store(cache_dir)
    if path is None or not cls.__module__.startswith("transformers."):
        return
    known = _remembered(cache_dir)
    known[key] = f"{cls.__module__}.{cls.__qualname__}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(known, indent=1, sort_keys=True))
    except OSError as e:
        log.warning("could not remember the tokenizer class in %s: %s", path, e)
