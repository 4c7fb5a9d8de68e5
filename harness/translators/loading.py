"""Where a model comes from: a local folder or the Hugging Face cache, never a surprise download.

Resolving the source first (instead of handing the id straight to ``from_pretrained``) gives
three things: the exact revision for provenance, a clear error naming the config key when a
local folder is missing, and the two-line "not in the local cache" error when the hub cannot
be reached.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from harness.errors import ModelNotFoundError, TranslatorError
from harness.filehash import folder_fingerprint
from harness.translators.config import looks_like_local_path
from harness.translators.presets import Preset, resolve_preset

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class ModelSource:
    """A model id as configured, and how to load it.

    ``load_path`` goes to ``from_pretrained``: the local folder, or the hub id (then
    ``load_revision`` too). ``revision`` is what provenance records: the commit sha of a hub
    snapshot, ``sha256:<hex>`` over every file of a local folder (:mod:`harness.filehash`), or
    ``"unresolved"``.
    """

    model_id: str
    load_path: str
    load_revision: str | None
    revision: str
    kind: str  # "local" | "hub-cache" | "hub"
    config_key: str


def _where(config_key: str | None, model: str) -> str:
    return f"{config_key}.model" if config_key else f"model {model!r}"


def not_found_error(model: str) -> ModelNotFoundError:
    """The two-line error for a hub id that is neither cached nor downloadable."""
    return ModelNotFoundError(
        f"model '{model}' is not in the local cache and the hub is unreachable\n"
        "pass a local folder as model: in the config (e.g. one saved with save_pretrained) "
        "or set HF_HOME to a cache that has it"
    )


def _cached_snapshot(model: str, revision: str | None) -> Path | None:
    """The snapshot folder of a cached hub model, or None when it is not cached."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        hit = try_to_load_from_cache(model, "config.json", revision=revision)
    except HFValidationError:
        return None
    return Path(hit).parent if isinstance(hit, str) else None


def resolve_model_source(
    model: str,
    revision: str | None = None,
    *,
    base_dir: Path | None = None,
    config_key: str | None = None,
) -> ModelSource:
    """Decide how ``model`` will be loaded; relative folders are taken from ``base_dir`` (cwd).

    Raises :class:`TranslatorError` naming ``<config_key>.model`` for a folder that does not
    exist. A hub id that is not cached resolves to ``kind="hub"``: loading it may download.
    """
    where = _where(config_key, model)
    candidate = Path(os.path.expanduser(model))
    if not candidate.is_absolute() and base_dir is not None:
        candidate = base_dir / candidate
    if candidate.is_dir():
        if not (candidate / "config.json").is_file():
            raise TranslatorError(f"{where}: folder '{candidate}' has no config.json")
        if revision is not None:
            log.warning("%s: revision %r ignored for a local folder", where, revision)
        return ModelSource(
            model, str(candidate), None, folder_fingerprint(candidate), "local", where
        )
    if candidate.exists():
        raise TranslatorError(f"{where}: '{candidate}' is not a folder")
    if looks_like_local_path(model):
        raise TranslatorError(f"{where}: local folder '{candidate}' does not exist")
    snapshot = _cached_snapshot(model, revision)
    if snapshot is not None:
        return ModelSource(model, str(snapshot), None, snapshot.name, "hub-cache", where)
    return ModelSource(model, model, revision, "unresolved", "hub", where)


def is_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause chain) says the files are neither cached nor fetchable."""
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, LocalEntryNotFoundError | OfflineModeIsEnabled):
            return True
        text = str(seen)
        if "couldn't connect to" in text or "outgoing traffic has been disabled" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def load_with_errors(source: ModelSource, what: str, loader: Callable[..., T], **kwargs: Any) -> T:
    """Call ``loader(source.load_path, ...)`` and turn library errors into harness errors.

    ``what`` names the part being loaded ("tokenizer", "model") for the message.
    """
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    if source.load_revision is not None:
        kwargs["revision"] = source.load_revision
    try:
        return loader(source.load_path, **kwargs)
    except (RepositoryNotFoundError, RevisionNotFoundError) as e:
        raise TranslatorError(
            f"{source.config_key}: {source.model_id!r} (revision {source.load_revision or 'main'})"
            f" was not found on the hub, or is gated: {e}"
        ) from e
    except (OSError, ValueError, KeyError) as e:
        if source.kind == "hub" and is_unreachable(e):
            raise not_found_error(source.model_id) from e
        raise TranslatorError(
            f"{source.config_key}: could not load the {what} of {source.model_id!r}: {e}"
        ) from e


def refresh_after_download(source: ModelSource) -> ModelSource:
    """After a hub download, record the snapshot sha that ``from_pretrained`` used."""
    if source.kind != "hub":
        return source
    snapshot = _cached_snapshot(source.model_id, source.load_revision)
    if snapshot is None:
        return source
    return ModelSource(
        source.model_id, str(snapshot), None, snapshot.name, "hub-cache", source.config_key
    )


@dataclass(frozen=True)
class ModelParts:
    """What is known before the weights load: source, config, tokenizer and resolved preset."""

    source: ModelSource
    config: Any  # transformers.PretrainedConfig
    tokenizer: Any
    preset: Preset


def load_parts(cfg: Any, source: ModelSource) -> ModelParts:
    """Load a model's config and tokenizer and resolve its preset (no weights yet)."""
    from transformers import AutoConfig, AutoTokenizer

    remote = cfg.trust_remote_code
    config = load_with_errors(
        source, "config", AutoConfig.from_pretrained, trust_remote_code=remote
    )
    tokenizer = load_with_errors(
        source, "tokenizer", AutoTokenizer.from_pretrained, trust_remote_code=remote
    )
    return parts_from(cfg, source, config, tokenizer)


def parts_from(cfg: Any, source: ModelSource, config: Any, tokenizer: Any) -> ModelParts:
    """The parts of a model whose config and tokenizer are loaded: its preset resolved."""
    preset = resolve_preset(
        cfg,
        model_type=str(getattr(config, "model_type", "")),
        is_encoder_decoder=bool(getattr(config, "is_encoder_decoder", False)),
        vocab=tokenizer_vocab(tokenizer),
        model_id=cfg.model,
    )
    return ModelParts(source, config, tokenizer, preset)


def tokenizer_vocab(tokenizer: Any) -> dict[str, int]:
    """Every token string the tokenizer maps to an id, language codes included.

    ``M2M100Tokenizer.get_vocab()`` leaves out its ``__xx__`` language tokens, which presets
    must see.
    """
    vocab = dict(tokenizer.get_vocab())
    vocab.update(getattr(tokenizer, "lang_token_to_id", None) or {})
    return vocab
