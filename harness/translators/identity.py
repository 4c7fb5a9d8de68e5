"""Translator identity: everything that determines a translator's output, stated before it
translates anything.

The translation cache key is a hash of the identity, and ``results.json`` records the identity
itself (``model.identity``), so a cached hypothesis is reused only by a translator that would
write it again: same backend, model and weights pin (a hub snapshot sha, or a sha256 over every
file of a local folder), resolved preset (input prefix, language codes, forced tokens, output
clean-up), decoding settings, prompt and few-shot fingerprint, device kind and effective dtype or
compute type, the harness version and the versions of the libraries that produce the text.
Settings that only change speed (batch size, threads, the GPU index) are left out.

Each backend builds its identity (:mod:`harness.translators.backends`); this module holds what
they share and the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness

# Config fields that change speed but not the text produced (kept out of the identity).
SPEED_ONLY_KEYS = frozenset(
    {
        "name",
        "batch_size",
        "max_tokens_per_batch",
        "device",
        "torch_compile",
        "inter_threads",
        "intra_threads",
        "progress",
    }
)


def harness_version() -> str:
    """The harness version an identity records (a release that changes outputs bumps it)."""
    return harness.__version__


def library_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of the libraries that produce a backend's text ("absent" if none)."""
    from harness.translators.runtime import package_versions

    return package_versions(names)


# A memo: (kind, key, compute) -> value; the cache keeps resolved presets across runs.
Memo = Callable[[str, str, Callable[[], dict[str, Any]]], dict[str, Any]]


def no_memo(kind: str, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return compute()


@dataclass(frozen=True)
class IdentityContext:
    """What a backend may use to state its identity besides its own config.

    ``few_shot`` is the fingerprint of the few-shot examples (None without); ``memo``
    remembers values that are costly to work out but fixed by what the key already holds (a
    model's resolved preset is fixed by its weights pin and the library versions).
    """

    base_dir: Path
    config_key: str
    few_shot: str | None = None
    memo: Memo = no_memo
    cache_dir: Path | None = None  # where hashes of local model files are remembered


@dataclass(frozen=True)
class TranslatorIdentity:
    """A translator's identity: a JSON-able mapping and the cache key hashed from it."""

    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return identity_key(self.fields)

    def to_json(self) -> dict[str, Any]:
        return json.loads(canonical_json(self.fields))

    @property
    def model(self) -> str:
        return str(self.fields.get("model", ""))


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def identity_key(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(fields)).encode()).hexdigest()[:32]


def output_settings(cfg: Any, *, drop: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A model config's output-affecting settings: everything but speed-only keys, ``drop``
    and the model id (which the identity holds under its own key)."""
    settings = cfg.model_dump(mode="json")
    return {
        k: v
        for k, v in settings.items()
        if k not in SPEED_ONLY_KEYS and k not in drop and k not in ("model", "backend")
    }
